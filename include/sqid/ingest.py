"""Load verified SQD files into DuckDB and derive the SQID product and query sets.

Loading uses DuckDB's native parquet/CSV readers inside one transaction, so a failed
load leaves the previous tables untouched and a re-run replaces rather than appends.
Schemas are checked before anything is written: a missing or retyped column fails
with a message that names it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sqid import db
from sqid.config import load_settings
from sqid.sqd import EXAMPLES, PRODUCTS, SOURCES

log = logging.getLogger(__name__)

INTEGER = "integer"
STRING = "string"
_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}

EXPECTED_COLUMNS: dict[str, dict[str, str]] = {
    EXAMPLES: {
        "example_id": INTEGER,
        "query": STRING,
        "query_id": INTEGER,
        "product_id": STRING,
        "product_locale": STRING,
        "esci_label": STRING,
        "small_version": INTEGER,
        "large_version": INTEGER,
        "split": STRING,
    },
    PRODUCTS: {
        "product_id": STRING,
        "product_title": STRING,
        "product_description": STRING,
        "product_bullet_point": STRING,
        "product_brand": STRING,
        "product_color": STRING,
        "product_locale": STRING,
    },
    SOURCES: {"query_id": INTEGER, "source": STRING},
}

DEFAULT_MIN_SUPP_JUDGEMENTS = 2


class SchemaError(ValueError):
    """A source file does not have the columns and types the loader expects."""


def _type_family(duckdb_type: str) -> str:
    base = duckdb_type.split("(")[0].upper()
    if base in _INTEGER_TYPES:
        return INTEGER
    if base == "VARCHAR":
        return STRING
    return base.lower()


def check_schema(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """Raise :class:`SchemaError` naming every missing or retyped column of ``path``."""
    statement = "ingest/describe_csv" if name.endswith(".csv") else "ingest/describe_parquet"
    try:
        rows = db.run(con, statement, {"path": str(path)}).fetchall()
    except duckdb.Error as exc:
        raise SchemaError(f"{name}: cannot read {path}: {exc}") from exc
    actual = {row[0]: row[1] for row in rows}
    problems = []
    for column, family in EXPECTED_COLUMNS[name].items():
        if column not in actual:
            problems.append(f"missing column {column!r}")
        elif (found := _type_family(actual[column])) != family and not (
            # An all-empty CSV column sniffs as VARCHAR; numbers are cast on load.
            name.endswith(".csv") and family == INTEGER and found == STRING
        ):
            problems.append(f"column {column!r} should be {family}, found {actual[column]}")
    if problems:
        raise SchemaError(f"{name}: " + "; ".join(problems))
    extra = sorted(set(actual) - set(EXPECTED_COLUMNS[name]))
    if extra:
        log.info("%s: ignoring extra columns %s", name, extra)


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    url: str
    size: int
    sha256: str


def load_sqd(db_path: Path, files: dict[str, LoadedFile]) -> dict[str, int]:
    """Replace the raw SQD tables with the contents of ``files``; return row counts."""
    missing = set(EXPECTED_COLUMNS) - set(files)
    if missing:
        raise ValueError(f"load_sqd needs all SQD files, missing {sorted(missing)}")
    con = db.connect(db_path)
    try:
        for name, f in files.items():
            check_schema(con, name, f.path)
        with db.transaction(con):
            db.run_script(con, "ingest/create_sqd_tables")
            for name, statement in (
                (EXAMPLES, "ingest/insert_sqd_examples"),
                (PRODUCTS, "ingest/insert_sqd_products"),
                (SOURCES, "ingest/insert_sqd_sources"),
            ):
                f = files[name]
                try:
                    db.run(con, statement, {"path": str(f.path)})
                except duckdb.ConstraintException as exc:
                    raise ValueError(f"{name}: violates a key of its table: {exc}") from exc
                except duckdb.Error as exc:
                    raise SchemaError(f"{name}: cannot load {f.path}: {exc}") from exc
                db.run(
                    con,
                    "ingest/record_sqd_file",
                    {"file_name": name, "url": f.url, "size": f.size, "sha256": f.sha256},
                )
        counts = db.fetch_dict(con, "ingest/count_sqd_tables")
    finally:
        con.close()
    log.info("loaded SQD tables: %s", counts)
    return counts


def derive_sets(
    db_path: Path | None = None, min_supp_judgements: int = DEFAULT_MIN_SUPP_JUDGEMENTS
) -> dict[str, Any]:
    """Rebuild ``sqid_products`` and ``sqid_queries`` from the raw tables; return counts."""
    con = db.connect(db_path or load_settings().duckdb_path)
    try:
        with db.transaction(con):
            db.run_script(con, "derive/create_sqid_sets")
            db.run(con, "derive/insert_sqid_products", {"min_supp_judgements": min_supp_judgements})
            db.run(con, "derive/insert_sqid_queries")
            db.run(con, "derive/insert_sqid_set_rule", {"min_supp_judgements": min_supp_judgements})
        counts = db.fetch_dict(con, "derive/count_sqid_sets")
    finally:
        con.close()
    log.info("derived SQID sets: %s", counts)
    return counts


def load_downloads(downloads: list[dict[str, Any]], db_path: Path | None = None) -> dict[str, int]:
    """Load the files described by :func:`sqid.acquire.download_sqd_file` results."""
    files = {
        d["name"]: LoadedFile(Path(d["path"]), d["url"], int(d["size"]), d["sha256"])
        for d in downloads
    }
    return load_sqd(db_path or load_settings().duckdb_path, files)
