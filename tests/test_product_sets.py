"""The SQID set rules on a hand-built case whose answers are known."""

import duckdb
import pytest
from sqid.ingest.load import derive_sets

from .sqd_builders import CASE_FLOORS, ingest_case

# (query_id, product_id, locale, label, small_version, split)
EXAMPLES = [
    (1, "B0TESTONLY", "us", "E", 1, "test"),  # judged once, in test -> test
    (1, "B0TRAINTST", "us", "S", 1, "test"),  # in test and train -> test, not supp
    (2, "B0TRAINTST", "us", "E", 1, "train"),
    (2, "B0TWOJUDGE", "us", "E", 1, "train"),  # two train judgements -> supp
    (3, "B0TWOJUDGE", "us", "C", 1, "train"),
    (2, "B0ONEJUDGE", "us", "I", 1, "train"),  # one judgement -> neither
    (4, "B0SPANISH1", "es", "E", 1, "test"),  # not US -> neither
    (5, "B0SPANISH1", "es", "E", 1, "train"),
    (6, "B0LARGEONL", "us", "E", 0, "test"),  # only in the large version -> neither
    (7, "B0LARGEONL", "us", "E", 0, "train"),
    (8, "0306406152", "us", "E", 1, "test"),  # ISBN-10, no product row -> test, no title
]
PRODUCTS = [
    ("B0TESTONLY", "us", "Only in test"),
    ("B0TRAINTST", "us", "In train and test"),
    ("B0TWOJUDGE", "us", "Judged twice"),
    ("B0TWOJUDGE", "jp", "同じ ID の別の商品"),
    ("B0ONEJUDGE", "us", "Judged once"),
    ("B0SPANISH1", "es", "Producto español"),
    ("B0LARGEONL", "us", "Large only"),
]


@pytest.fixture(scope="module")
def case_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("case")
    db_path, counts = ingest_case(root, EXAMPLES, PRODUCTS)
    con = duckdb.connect(str(db_path), read_only=True)
    yield con, counts
    con.close()


def test_set_membership(case_db):
    con, counts = case_db
    rows = dict(con.execute("SELECT product_id, product_set FROM sqid_products").fetchall())
    assert rows == {
        "B0TESTONLY": "test",
        "B0TRAINTST": "test",
        "0306406152": "test",
        "B0TWOJUDGE": "supp",
    }
    assert counts == {"test_products": 3, "supp_products": 1, "test_queries": 2}


def test_titles_join_on_locale_and_id(case_db):
    con, _ = case_db
    titles = dict(con.execute("SELECT product_id, title FROM sqid_products").fetchall())
    assert titles["B0TWOJUDGE"] == "Judged twice"  # the US row, not the JP one
    assert titles["0306406152"] is None  # judged but absent from the products file


def test_judgement_counts(case_db):
    con, _ = case_db
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT product_id, n_queries, n_judgements FROM sqid_products"
        ).fetchall()
    }
    assert rows["B0TRAINTST"] == (2, 2)
    assert rows["B0TWOJUDGE"] == (2, 2)


def test_queries_are_the_us_task1_test_queries(case_db):
    con, _ = case_db
    rows = con.execute(
        "SELECT query_id, query, n_judgements FROM sqid_queries ORDER BY 1"
    ).fetchall()
    assert rows == [(1, "query 1", 2), (8, "query 8", 1)]


def test_rule_is_recorded_and_configurable(tmp_path, case_db):
    con, _ = case_db
    assert con.execute("SELECT min_supp_judgements FROM sqid_set_rule").fetchall() == [(2,)]
    db_path, counts = ingest_case(tmp_path, EXAMPLES, PRODUCTS, min_supp_judgements=1)
    assert counts["supp_products"] == 2
    assert derive_sets(db_path, min_supp_judgements=3, floors=CASE_FLOORS)["supp_products"] == 0


def test_the_gate_refuses_product_ids_that_are_not_asin_or_isbn(tmp_path):
    """ "NaN" and "" from a malformed file would reach the live set and then block every
    release; the gate refuses them before the swap, with a count and examples."""
    import pytest
    from sqid.ingest.load import IngestCheckError

    from .sqd_builders import ingest_case

    good = [(1, f"B0{i:08d}", "us", "E", 1, "test") for i in range(4)]
    db_path, _ = ingest_case(tmp_path / "good", good, [])
    bad = [*good, (1, "NaN", "us", "E", 1, "test"), (1, "", "us", "E", 1, "test"),
           (1, "0306406152", "us", "E", 1, "test"), (1, "b0lowercase", "us", "E", 1, "test")]  # fmt: skip
    with pytest.raises(IngestCheckError) as refused:
        ingest_case(tmp_path / "bad", bad, [], db_path=db_path)
    message = str(refused.value)
    assert "3 product ids are neither an ASIN nor an ISBN-10" in message
    assert '""' in message and '"NaN"' in message and '"b0lowercase"' in message
    assert "0306406152" not in message  # an ISBN-10 is a product id
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM sqid_products").fetchone() == (4,)
