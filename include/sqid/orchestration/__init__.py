"""Airflow glue shared by the DAG files: Assets, default arguments, pools, connections.

This is the only part of the package that imports Airflow; the DAG files stay wiring
only and the core modules stay testable without a scheduler.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

from sqid.config import DUCKDB_CONN_ID
from sqid.db import SQL_DIR

OWNER = "sqid"
DUCKDB_POOL = "sqid_duckdb"
"""One slot: every task that opens the DuckDB file takes it, since DuckDB has one writer."""

POOLS: dict[str, tuple[int, str]] = {
    DUCKDB_POOL: (1, "Serialises tasks that open the SQID DuckDB file (single writer)"),
}

SQD_TABLES = Asset(name="sqid.sqd_tables", uri="sqid://duckdb/sqd_tables", group="sqid")
"""The raw SQD tables (sqd_examples, sqd_products, sqd_sources) in DuckDB."""
SQID_SETS = Asset(name="sqid.sqid_sets", uri="sqid://duckdb/sqid_sets", group="sqid")
"""The derived SQID sets (sqid_products, sqid_queries) in DuckDB."""

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

TEMPLATE_SEARCHPATH = [str(SQL_DIR)]

__all__ = [
    "DEFAULT_ARGS",
    "DUCKDB_CONN_ID",
    "DUCKDB_POOL",
    "OWNER",
    "POOLS",
    "SQD_TABLES",
    "SQID_SETS",
    "TEMPLATE_SEARCHPATH",
]
