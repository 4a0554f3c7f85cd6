"""DuckDB access: every statement comes from a file under ``sql/``, parameters bound.

Keeping SQL in files makes it reviewable on its own and keeps string formatting out of
queries: values always travel as bound ``$name`` parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from sqid.config import SQL_DIR


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>.sql`` (``name`` like ``ingest/insert_sqd_examples``)."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path} (set SQID_SQL_DIR if sql/ lives elsewhere)")
    return path.read_text()


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only)


def run(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Execute the single statement in ``sql/<name>.sql`` with named parameters."""
    return con.execute(sql_text(name), dict(params or {}))


def arrow_reader(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    batch_rows: int = 20_000,
):
    """Stream the rows of ``sql/<name>.sql`` as Arrow record batches (no extra copy)."""
    return con.sql(sql_text(name), params=dict(params or {})).to_arrow_reader(batch_rows)


def run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Execute a parameter-free, multi-statement file (DDL)."""
    con.execute(sql_text(name))


def apply_schema(path: Path | str, name: str) -> None:
    """Run the ``CREATE TABLE IF NOT EXISTS`` file ``sql/<name>.sql`` against ``path``."""
    con = connect(path)
    try:
        run_script(con, name)
    finally:
        con.close()


def fetch_dict(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """First row of a query as a dict (for counts and summaries)."""
    cur = run(con, name, params)
    row = cur.fetchone()
    cols = [d[0] for d in cur.description]
    return dict(zip(cols, row, strict=True)) if row else {}


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: readers see either the old tables or the new ones."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()
