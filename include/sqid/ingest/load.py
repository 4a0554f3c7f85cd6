"""Load verified SQD files into DuckDB and derive the SQID product and query sets.

A load goes to the ``staging`` schema with DuckDB's native parquet/CSV readers; the
live tables change only when the staged data passes the ingest gate. The gate runs the
same checks as the DAG's check tasks plus sanity floors (rows, rows lost against the
live tables, share of products with a title), and the swap happens in the gate's own
transaction. So a file that matches its checksum but holds nothing useful (an empty
products file, a truncated examples file) fails the run and leaves the previous tables
as they were. Schemas are checked before anything is written: a missing or retyped
column fails with a message that names it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sqid import db
from sqid.config import load_settings
from sqid.files import pinned, sha256_file
from sqid.ingest.sqd import EXAMPLES, PRODUCTS, SOURCES
from sqid.scrape.records import PRODUCT_ID_PATTERN
from sqid.setting import default_of
from sqid.settings import INGEST

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

DEFAULT_MIN_SUPP_JUDGEMENTS: int = default_of(INGEST, "min_supp_judgements")
GATE_CHECKS = ("checks/sqd_examples_valid", "checks/sqid_products_valid",
               "checks/sqid_queries_valid")  # fmt: skip
"""Check files (one row of booleans each) the staged data must pass before the swap."""


@dataclass(frozen=True)
class IngestFloors:
    """Sanity floors of the ingest gate: what a new load must at least hold."""

    min_rows: int = default_of(INGEST, "min_rows")
    """Rows each raw SQD table and the SQID product set must have."""
    max_row_loss: float = default_of(INGEST, "max_row_loss")
    """The largest share of a live table's rows a new load may lose (1.0: no limit)."""
    min_title_share: float = default_of(INGEST, "min_title_share")
    """The least share of SQID products with a title."""


class IngestCheckError(ValueError):
    """The staged data failed the ingest gate; the live tables were not changed."""


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
    """A file to load, with the size and sha256 it was verified to have: the load reads
    it only if it still has them."""

    path: Path
    url: str
    size: int
    sha256: str

    @classmethod
    def as_found(cls, path: Path, url: str | None = None) -> LoadedFile:
        """A local file taken as it is now (no manifest to check it against)."""
        path = Path(path)
        return cls(path, url or path.as_uri(), path.stat().st_size, sha256_file(path))


def _require_unique_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Fail the load, naming one key per file, if a staged table repeats a key."""
    rows = db.run(con, "checks/sqd_duplicate_keys").fetchall()
    problems = [f"{name}: violates a key of its table: {n:,} duplicated keys, e.g. {key}"
                for name, n, key in rows if n]  # fmt: skip
    if problems:
        raise ValueError("; ".join(problems))


def load_sqd(db_path: Path, files: dict[str, LoadedFile]) -> dict[str, int]:
    """Stage the raw SQD tables from ``files``; return the staged row counts.

    Nothing live changes here: :func:`derive_sets` checks the staged data and swaps it in.
    """
    missing = set(EXPECTED_COLUMNS) - set(files)
    if missing:
        raise ValueError(f"load_sqd needs all SQD files, missing {sorted(missing)}")
    # Each file is read through the descriptor it was hashed on: what is loaded is
    # exactly what was verified, even if the file is swapped or edited meanwhile.
    with contextlib.ExitStack() as pins:
        paths = {name: pins.enter_context(pinned(f.path, f.size, f.sha256))
                 for name, f in files.items()}  # fmt: skip
        con = db.connect(db_path)
        try:
            for name in files:
                check_schema(con, name, paths[name])
            with db.transaction(con):
                db.run_script(con, "ingest/create_staging")
                db.run_script(con, "ingest/use_staging")
                db.run_script(con, "ingest/create_sqd_tables")
                for name, statement in (
                    (EXAMPLES, "ingest/insert_sqd_examples"),
                    (PRODUCTS, "ingest/insert_sqd_products"),
                    (SOURCES, "ingest/insert_sqd_sources"),
                ):
                    f = files[name]
                    try:
                        db.run(con, statement, {"path": paths[name]})
                    except duckdb.ConstraintException as exc:
                        raise ValueError(
                            f"{name}: violates a constraint of its table: {exc}"
                        ) from exc
                    except duckdb.Error as exc:
                        raise SchemaError(f"{name}: cannot load {f.path}: {exc}") from exc
                    db.run(
                        con,
                        "ingest/record_sqd_file",
                        {"file_name": name, "url": f.url, "size": f.size, "sha256": f.sha256},
                    )
                _require_unique_keys(con)
            counts = db.fetch_dict(con, "ingest/count_sqd_tables")
        finally:
            con.close()
    log.info("staged SQD tables: %s", counts)
    return counts


def _live_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int] | None:
    """Row counts of the live tables, or None before the first successful ingest."""
    try:
        return db.fetch_dict(con, "checks/ingest_floors")
    except duckdb.CatalogException:
        return None


def gate_problems(
    con: duckdb.DuckDBPyConnection, floors: IngestFloors, live: dict[str, Any] | None
) -> list[str]:
    """What the data the connection's schema points at fails, in words ([] if nothing)."""
    problems = []
    for name in GATE_CHECKS:
        row = db.fetch_dict(con, name)
        problems += [
            f"{name.split('/')[-1]}: {column} is false" for column, ok in row.items() if not ok
        ]
    ids = db.fetch_dict(con, "checks/sqid_product_ids", {"pattern": PRODUCT_ID_PATTERN})
    if ids["bad_ids"]:
        problems.append(
            f"sqid_products: {ids['bad_ids']:,} product ids are neither an ASIN nor an "
            f"ISBN-10, e.g. {', '.join(ids['examples'])}"
        )
    now = db.fetch_dict(con, "checks/ingest_floors")
    for table in ("examples", "products", "sources", "sqid_products"):
        if now[table] < floors.min_rows:
            problems.append(f"{table}: {now[table]} rows, fewer than min_rows={floors.min_rows}")
        if live and live[table] and now[table] < live[table] * (1 - floors.max_row_loss):
            problems.append(
                f"{table}: {now[table]} rows would replace {live[table]}, losing more than "
                f"max_row_loss={floors.max_row_loss:.0%}"
            )
    if now["title_share"] < floors.min_title_share:
        problems.append(
            f"sqid_products: {now['title_share']:.1%} have a title, fewer than "
            f"min_title_share={floors.min_title_share:.0%}"
        )
    return problems


def derive_sets(
    db_path: Path | None = None,
    min_supp_judgements: int = DEFAULT_MIN_SUPP_JUDGEMENTS,
    floors: IngestFloors | None = None,
) -> dict[str, Any]:
    """Derive ``sqid_products`` and ``sqid_queries``, gate them, and publish; return counts.

    With a staged load, the sets are derived in staging and the gate's transaction swaps
    every staged table in; without one (a re-derive with another rule), they are derived
    from the live raw tables. Either way the live tables change only if the gate passes;
    else :class:`IngestCheckError` names every problem.
    """
    db_path = db_path or load_settings().duckdb_path
    floors = floors or IngestFloors()
    con = db.connect(db_path)
    try:
        live = _live_counts(con)
        staged = bool(db.run(con, "ingest/staging_exists").fetchone()[0])
        with db.transaction(con):
            if staged:
                db.run_script(con, "ingest/use_staging")
            db.run_script(con, "derive/create_sqid_sets")
            db.run(con, "derive/insert_sqid_products", {"min_supp_judgements": min_supp_judgements})
            db.run(con, "derive/insert_sqid_queries")
            db.run(con, "derive/insert_sqid_set_rule", {"min_supp_judgements": min_supp_judgements})
            problems = gate_problems(con, floors, live)
            if problems:
                where = (
                    "the staged load stays in schema 'staging' for inspection; " if staged else ""
                )
                raise IngestCheckError(
                    f"ingest gate: {'; '.join(problems)}. The live tables were not changed ({where}"
                    f"{db_path})"
                )
            if staged:
                db.run_script(con, "ingest/use_main")
                db.run_script(con, "ingest/create_sqd_tables")
                db.run_script(con, "derive/create_sqid_sets")
                db.run_script(con, "ingest/publish_staging")
        if staged:
            db.run_script(con, "ingest/drop_staging")
        counts = db.fetch_dict(con, "derive/count_sqid_sets")
    finally:
        con.close()
    log.info("derived and published SQID sets: %s", counts)
    return counts


def load_downloads(downloads: list[dict[str, Any]], db_path: Path | None = None) -> dict[str, int]:
    """Load the files described by :func:`sqid.ingest.sources.download_sqd_file` results."""
    files = {
        d["name"]: LoadedFile(Path(d["path"]), d["url"], int(d["size"]), d["sha256"])
        for d in downloads
    }
    return load_sqd(db_path or load_settings().duckdb_path, files)
