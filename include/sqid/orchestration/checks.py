"""The DAGs' data-quality tasks: common-sql check operators over DuckDB, each running a
check file of ``sql/checks/`` (one row of booleans, or a count against a known value)
in the DuckDB pool. Built here so a DAG file only names which checks it runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLValueCheckOperator,
)

from sqid.config import DUCKDB_CONN_ID
from sqid.ingest.sqd import PUBLISHED_SUPP_PRODUCTS, PUBLISHED_TEST_PRODUCTS, PUBLISHED_TEST_QUERIES
from sqid.orchestration import DUCKDB_POOL, TIMEOUT_TABLES
from sqid.orchestration.lineage import SETS, tables

_ZERO = {"equal_to": 0}


def sql_check(task_id: str, check: str, reads: Iterable[str],
              timeout: timedelta = TIMEOUT_TABLES) -> SQLCheckOperator:  # fmt: skip
    """A task that fails unless every value of ``sql/checks/<check>.sql``'s row is true;
    ``reads``: the tables it reads (its lineage)."""
    return SQLCheckOperator(task_id=task_id, sql=f"checks/{check}.sql", conn_id=DUCKDB_CONN_ID,
                            pool=DUCKDB_POOL, execution_timeout=timeout,
                            inlets=tables(reads))  # fmt: skip


def sqid_set_checks() -> list:
    """The checks of the ingested SQD tables and the derived SQID sets."""
    columns = SQLColumnCheckOperator(
        task_id="check_sqid_products_columns",
        table="sqid_products",
        column_mapping={
            "product_id": {"null_check": _ZERO, "unique_check": _ZERO},
            "product_set": {"null_check": _ZERO, "distinct_check": {"leq_to": 2}},
        },
        conn_id=DUCKDB_CONN_ID,
        pool=DUCKDB_POOL,
        execution_timeout=TIMEOUT_TABLES,
        inlets=tables(["sqid_products"]),
    )
    return [
        sql_check("check_sqd_examples", "sqd_examples_valid", ["sqd_examples"]),
        columns,
        sql_check("check_sqid_products", "sqid_products_valid", SETS),
        sql_check("check_sqid_queries", "sqid_queries_valid", SETS),
    ]


def published_count_checks() -> list[SQLValueCheckOperator]:
    """The derived sets against SQID's published counts (only for the published files)."""
    return [
        SQLValueCheckOperator(
            task_id=f"check_published_{what}",
            sql=f"checks/count_{what}.sql",
            pass_value=value,
            conn_id=DUCKDB_CONN_ID,
            pool=DUCKDB_POOL,
            execution_timeout=TIMEOUT_TABLES,
            inlets=tables(SETS),
        )
        for what, value in (
            ("test_products", PUBLISHED_TEST_PRODUCTS),
            ("supp_products", PUBLISHED_SUPP_PRODUCTS),
            ("test_queries", PUBLISHED_TEST_QUERIES),
        )
    ]
