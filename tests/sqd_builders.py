"""Hand-built SQD files with known answers, for tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from sqid.ingest.load import IngestFloors, LoadedFile, derive_sets, load_sqd
from sqid.ingest.sample import EXAMPLES_SCHEMA, PRODUCTS_SCHEMA, write_sqd_files
from sqid.ingest.sqd import FILE_NAMES, FileSpec

CASE_FLOORS = IngestFloors(min_rows=0, max_row_loss=1.0, min_title_share=0.0)
"""Hand-written cases test other rules: they may have no product rows or titles."""


def example_rows(rows: list[tuple]) -> pa.Table:
    """Rows of (query_id, product_id, locale, label, small_version, split)."""
    return pa.table(
        {
            "example_id": list(range(len(rows))),
            "query": [f"query {r[0]}" for r in rows],
            "query_id": [r[0] for r in rows],
            "product_id": [r[1] for r in rows],
            "product_locale": [r[2] for r in rows],
            "esci_label": [r[3] for r in rows],
            "small_version": [r[4] for r in rows],
            "large_version": [1] * len(rows),
            "split": [r[5] for r in rows],
        },
        schema=EXAMPLES_SCHEMA,
    )


def product_rows(rows: list[tuple[str, str, str | None]]) -> pa.Table:
    """Rows of (product_id, locale, title)."""
    return pa.table(
        {
            "product_id": [r[0] for r in rows],
            "product_title": [r[2] for r in rows],
            "product_description": [None] * len(rows),
            "product_bullet_point": [None] * len(rows),
            "product_brand": ["Brand"] * len(rows),
            "product_color": [None] * len(rows),
            "product_locale": [r[1] for r in rows],
        },
        schema=PRODUCTS_SCHEMA,
    )


def write_case(
    out_dir: Path,
    examples: list[tuple],
    products: list[tuple[str, str, str | None]],
) -> dict[str, FileSpec]:
    query_ids = sorted({r[0] for r in examples})
    return write_sqd_files(
        out_dir, example_rows(examples), product_rows(products), [(q, "other") for q in query_ids]
    )


def ingest_case(
    root: Path,
    examples: list[tuple],
    products: list[tuple[str, str, str | None]],
    db_path: Path | None = None,
    **derive: object,
) -> tuple[Path, dict[str, object]]:
    """Write a case's SQD files under ``root/sqd``, load, derive and publish them into a
    DuckDB file (``root/sqid.duckdb`` by default); return its path and the set counts."""
    specs = write_case(root / "sqd", examples, products)
    files = {
        n: LoadedFile(root / "sqd" / n, f"file://{n}", specs[n].size, specs[n].sha256)
        for n in FILE_NAMES
    }
    db_path = db_path or root / "sqid.duckdb"
    load_sqd(db_path, files)
    return db_path, derive_sets(db_path, floors=CASE_FLOORS, **derive)
