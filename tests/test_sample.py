"""The sample generator: real schemas, realistic shapes, deterministic by seed."""

import re

import duckdb
import pyarrow.parquet as pq
from sqid.ingest.load import EXPECTED_COLUMNS
from sqid.ingest.sample import EXAMPLES_SCHEMA, PRODUCTS_SCHEMA, generate
from sqid.ingest.sqd import EXAMPLES, PRODUCTS, SOURCES

ASIN = re.compile(r"^B0[0-9A-Z]{8}$")
ISBN10 = re.compile(r"^[0-9]{9}[0-9X]$")


def isbn10_valid(code: str) -> bool:
    digits = [10 if c == "X" else int(c) for c in code]
    return sum(d * w for d, w in zip(digits, range(10, 0, -1), strict=True)) % 11 == 0


def test_schemas_are_the_sqd_schemas(sample_sqd):
    assert pq.read_schema(sample_sqd.out_dir / EXAMPLES).remove_metadata() == EXAMPLES_SCHEMA
    assert pq.read_schema(sample_sqd.out_dir / PRODUCTS).remove_metadata() == PRODUCTS_SCHEMA
    assert set(EXAMPLES_SCHEMA.names) == set(EXPECTED_COLUMNS[EXAMPLES])
    header = (sample_sqd.out_dir / SOURCES).read_text().splitlines()[0]
    assert header == "query_id,source"


def test_value_shapes(sample_sqd):
    d = sample_sqd.out_dir
    con = duckdb.connect()
    stats = con.execute(
        "SELECT count(DISTINCT esci_label), count(DISTINCT product_locale),"
        " count(DISTINCT split), max(n), min(n) FROM ("
        "  SELECT *, count(*) OVER (PARTITION BY query_id) AS n FROM read_parquet($p))",
        {"p": str(d / EXAMPLES)},
    ).fetchone()
    labels, locales, splits, longest, shortest = stats
    assert (labels, locales, splits, shortest) == (4, 3, 2, 1)
    assert 1 < longest <= 40  # 1 to 40 judgements per query
    products = {"p": str(d / PRODUCTS)}
    ids = [
        r[0] for r in con.execute("SELECT product_id FROM read_parquet($p)", products).fetchall()
    ]
    assert all(ASIN.match(i) or (ISBN10.match(i) and isbn10_valid(i)) for i in ids)
    assert any(ISBN10.match(i) for i in ids) and any(ASIN.match(i) for i in ids)
    texts = con.execute(
        "SELECT count(*) FILTER (WHERE product_description IS NULL),"
        " count(*) FILTER (WHERE regexp_matches(product_title, '[^\\x00-\\x7F]'))"
        " FROM read_parquet($p)",
        products,
    ).fetchone()
    assert texts[0] > 0 and texts[1] > 0


def test_deterministic_by_seed(tmp_path):
    a = generate(tmp_path / "a", n_queries=200, seed=5)
    b = generate(tmp_path / "b", n_queries=200, seed=5)
    c = generate(tmp_path / "c", n_queries=200, seed=6)
    assert a.specs == b.specs
    assert a.specs[EXAMPLES].sha256 != c.specs[EXAMPLES].sha256
