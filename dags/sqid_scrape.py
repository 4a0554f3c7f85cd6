"""
### sqid_scrape: the main image URL of every SQID product page

Selects products from DuckDB, splits them into shards, and maps one task over the
shards. Each shard fetches `<base_url>/dp/<product_id>` politely (token bucket per
host, adaptive throttle, retries with backoff honouring `Retry-After`, a captcha
circuit breaker), classifies each page and extracts the main image, checkpointing
to Parquet as it goes. One merge task (DuckDB single writer) loads the shards into
`scrape_attempts` (every attempt) and `product_images` (latest outcome per product);
then a data-driven rule flags images shared by many unrelated products as defaults.

Runs daily to retry failed and stale products, and whenever `sqid_ingest` updates the
product set. The product site comes from the `sqid_amazon` connection (default
`https://www.amazon.com`), an optional proxy from `sqid_proxy`; the `sqid_scrape`
pool bounds how many shards run at once across the cluster.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from sqid.orchestration import (
    DEFAULT_ARGS,
    DUCKDB_POOL,
    PRODUCT_IMAGES,
    SCRAPE_POOL,
    SCRAPE_RETRY_DELAY,
    SQID_SETS,
    TIMEOUT_QUICK,
    TIMEOUT_SCRAPE_SHARD,
    TIMEOUT_TABLES,
    cron,
    fail_run_when_a_task_fails,
)
from sqid.orchestration.lineage import SCRAPED, SETS, TELEMETRY, tables
from sqid.orchestration.params import scrape_params, with_params_table


@dag(
    dag_id="sqid_scrape",
    description="Scrape each SQID product page for its main image URL: new products, and retryable statuses daily",
    # No start_date: unpausing waits for the next 03:00 UTC instead of starting a run
    # for the one just past.
    schedule=AssetOrTimeSchedule(timetable=cron("0 3 * * *"), assets=[SQID_SETS]),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sqid", "scrape"],
    doc_md=with_params_table(__doc__, "scrape"),
    params=scrape_params(),
)
def sqid_scrape():
    @task(pool=DUCKDB_POOL, inlets=tables(SETS, SCRAPED), execution_timeout=TIMEOUT_QUICK)
    def plan(params=None, run_id=None) -> list[dict]:
        from sqid.orchestration.scrape import plan_scrape

        return plan_scrape(params, run_id)

    @task(
        pool=SCRAPE_POOL,
        retries=4,
        retry_delay=SCRAPE_RETRY_DELAY,
        max_active_tis_per_dagrun=8,
        execution_timeout=TIMEOUT_SCRAPE_SHARD,
    )
    def scrape_shard(shard: dict, params=None, run_id=None) -> dict:
        from sqid.orchestration.scrape import scrape_shard as run

        return run(shard, params, run_id)

    @task(pool=DUCKDB_POOL, trigger_rule="all_done", outlets=tables(SCRAPED, TELEMETRY),
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def merge(run_id=None) -> dict:
        from sqid.orchestration.scrape import merge_scrape

        return merge_scrape(run_id)

    @task(pool=DUCKDB_POOL, inlets=tables(SETS, SCRAPED), outlets=tables(["product_images"]),
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def flag_shared_defaults(run_id=None) -> dict:
        from sqid.orchestration.scrape import flag_defaults

        return flag_defaults(run_id)

    @task(outlets=[PRODUCT_IMAGES], execution_timeout=TIMEOUT_QUICK)
    def announce(merged: dict, defaults: dict, *, outlet_events=None) -> dict:
        from sqid.orchestration.scrape import scrape_summary

        summary = scrape_summary(merged, defaults)
        outlet_events[PRODUCT_IMAGES].extra = summary
        return summary

    shards = plan()
    scraped = scrape_shard.expand(shard=shards)
    merged = merge()
    scraped >> merged
    defaults = flag_shared_defaults()
    merged >> defaults
    announce(merged, defaults)


fail_run_when_a_task_fails(sqid_scrape())
