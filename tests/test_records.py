"""Each scrape record is written in four places (dataclass, Arrow schema, DDL, merge
SQL); these tests prove the four agree, field for field, through a real merge."""

from dataclasses import asdict, fields
from datetime import UTC, datetime

import duckdb
from sqid.files import write_parquet_atomic
from sqid.scrape.checkpoints import shard_dir
from sqid.scrape.merge import merge_run
from sqid.scrape.plan import ensure_tables
from sqid.scrape.records import ATTEMPT_SCHEMA, OUTCOME_SCHEMA, Attempt, ProductOutcome

WHEN = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def columns(db_path, table):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
            " ORDER BY ordinal_position",
            [table],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_names_agree(tmp_path):
    db_path = tmp_path / "sqid.duckdb"
    ensure_tables(db_path)
    outcome = {f.name for f in fields(ProductOutcome)}
    assert outcome == set(OUTCOME_SCHEMA.names) == set(columns(db_path, "product_images"))
    attempt = {f.name for f in fields(Attempt)}
    assert attempt == set(ATTEMPT_SCHEMA.names) == set(columns(db_path, "scrape_attempts"))


def test_every_field_survives_the_merge(tmp_path):
    outcome = ProductOutcome(
        "B000000001", "ok", WHEN, "run-1", attempts=2, page_kind="product",
        image_id="71abcdefghL", image_key="71abcdefghL",
        image_url="https://m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg",
        hires_url="https://m.media-amazon.com/images/I/71abcdefghL._AC_SL1500_.jpg",
        original_url="https://m.media-amazon.com/images/I/71abcdefghL.jpg",
        source="landingImage.data-old-hires", default_reason=None, http_status=200, error=None,
    )  # fmt: skip
    attempt = Attempt("run-1:B000000001:2", "B000000001", 2, WHEN, 200, "product", 12.5, 4096,
                      None, "run-1", final_url="https://www.amazon.com/dp/B000000001")  # fmt: skip
    directory = shard_dir(tmp_path / "run", 0)
    write_parquet_atomic([asdict(attempt)], ATTEMPT_SCHEMA, directory / "attempts-00000.parquet")
    write_parquet_atomic([asdict(outcome)], OUTCOME_SCHEMA, directory / "outcomes-00000.parquet")
    db_path = tmp_path / "sqid.duckdb"
    merge_run(tmp_path / "run", db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for query, record in (
            ("SELECT * FROM product_images", outcome),
            ("SELECT * FROM scrape_attempts", attempt),
        ):
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description]
            (row,) = cursor.fetchall()
            stored = dict(zip(names, row, strict=True))
            for name, value in asdict(record).items():
                got = stored[name]
                if isinstance(value, datetime):
                    got = got.astimezone(UTC)
                assert got == value, (query, name)
    finally:
        con.close()


def test_a_page_analysis_hands_every_image_field_to_the_outcome():
    from sqid.scrape.pages import PageAnalysis
    from sqid.scrape.records import IMAGE_FIELDS

    analysis = {f.name for f in fields(PageAnalysis)} - {"page_kind", "signals"}
    assert set(IMAGE_FIELDS) == analysis  # both inherit them from MainImage
    assert set(IMAGE_FIELDS) <= {f.name for f in fields(ProductOutcome)}


def test_the_readme_status_table_is_the_vocabulary():
    """The statuses, their order and which are final: one vocabulary for the code, the
    Params' enum and the README."""
    import re
    from pathlib import Path

    from sqid.scrape.vocabulary import STATUSES, TERMINAL_STATUSES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Statuses (`product_images.status`)", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|.*?\| (yes|no) \|", section, flags=re.M)
    assert [name for name, _ in rows] == list(STATUSES)
    assert {name for name, final in rows if final == "yes"} == TERMINAL_STATUSES
