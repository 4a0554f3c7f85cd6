"""Airflow glue shared by the DAG files: Assets, pools, default arguments, connections.

The only part of the package that imports Airflow. What a DAG file needs when it is
parsed lives here and is light; what a task does lives in one module per stage
(``orchestration.ingest``, ``.scrape``, ``.embed``, ``.release``), one function per
task, imported inside the task so that parsing stays fast.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta

from airflow.sdk import Asset

from sqid.config import DUCKDB_CONN_ID as DUCKDB_CONN_ID
from sqid.config import SQL_DIR

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


SCRAPE_POOL = "sqid_scrape"
POOLS[SCRAPE_POOL] = (4, "Scrape shards running at once across the cluster (politeness)")
SCRAPE_RETRY_DELAY = timedelta(seconds=float(os.environ.get("SQID_SCRAPE_RETRY_DELAY", "300")))
"""Wait before a failed or lost scrape shard runs again (doubling on each retry); a
retried shard resumes from its checkpoint. Long by default: a shard stopped by captchas
needs the site to cool down."""
AMAZON_CONN_ID = "sqid_amazon"
"""Connection (type ``generic``) to the product site: schema, host, port; extra:
requests_per_second, concurrency and other ScrapeConfig fields."""
PROXY_CONN_ID = "sqid_proxy"
"""Optional HTTP proxy for the scraper (host, port, login, password)."""
PRODUCT_IMAGES = Asset(name="sqid.product_images", uri="sqid://duckdb/product_images", group="sqid")
"""Scraped main-image outcomes (product_images, scrape_attempts) in DuckDB."""
EMBED_POOL = "sqid_embed"
POOLS[EMBED_POOL] = (1, "Embedding shards at once (one per GPU in the production stack)")
EMBED_QUEUE = os.environ.get("SQID_EMBED_QUEUE", "default")
"""Celery queue of the embedding tasks: ``gpu`` in the production stack."""
EMBEDDINGS = Asset(name="sqid.embeddings", uri="sqid://duckdb/embeddings", group="sqid")
"""CLIP vectors (image_embeddings, text_embeddings, image_fetches) in DuckDB."""
RELEASE = Asset(name="sqid.release", uri="sqid://releases/latest", group="sqid")
"""The newest published SQID release (row counts as Asset metadata)."""


def optional_connection(conn_id: str):
    """The Airflow connection ``conn_id``, or None where it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def run_dir_for(kind: str, run_id: str) -> str:
    """A filesystem-safe folder for one DAG run's shard files."""
    from sqid.config import load_settings

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return str(load_settings().data_dir / kind / safe)
