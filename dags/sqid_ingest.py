"""
### sqid_ingest: the Shopping Queries Dataset into DuckDB

Downloads the three SQD files (examples and products parquet, sources CSV), verifies
each by size and sha256, and stages them in DuckDB (schema `staging`) with its native
readers. It then derives the SQID product set (`test` + `supp`) and the benchmark
queries in staging and checks them: accepted values, set rules and sanity floors. Only
if every check passes are the live tables replaced, in the same transaction. Finally it
announces the `sqid.sqd_tables` and `sqid.sqid_sets` Assets.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from sqid.ingest.sqd import FILE_NAMES
from sqid.orchestration import (
    DEFAULT_ARGS,
    DUCKDB_POOL,
    SQD_TABLES,
    SQID_SETS,
    TEMPLATE_SEARCHPATH,
    TIMEOUT_DOWNLOAD,
    TIMEOUT_QUICK,
    TIMEOUT_TABLES,
    cron,
    fail_run_when_a_task_fails,
)
from sqid.orchestration.checks import published_count_checks, sqid_set_checks
from sqid.orchestration.lineage import SETS, SQD, tables
from sqid.orchestration.params import ingest_params, with_params_table


@dag(
    dag_id="sqid_ingest",
    description="Download and verify the SQD files, load them into DuckDB behind a gate, and derive the SQID product and query sets",
    # No start_date: unpausing waits for the next 1st of the month instead of
    # starting a run for the month just past.
    schedule=cron("0 0 1 * *"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sqid", "ingest"],
    doc_md=with_params_table(__doc__, "ingest"),
    template_searchpath=TEMPLATE_SEARCHPATH,
    params=ingest_params(),
)
def sqid_ingest():
    @task(retries=3, execution_timeout=TIMEOUT_DOWNLOAD)
    def download(name: str, params=None) -> dict:
        from sqid.orchestration.ingest import download

        return download(name, params)

    @task(pool=DUCKDB_POOL, outlets=tables(SQD, schema="staging"), execution_timeout=TIMEOUT_TABLES)
    def load(downloads: list[dict]) -> dict:
        from sqid.orchestration.ingest import load

        return load(downloads)

    @task(pool=DUCKDB_POOL, inlets=tables(SQD, schema="staging"),
          outlets=[SQD_TABLES, *tables(SQD, SETS)],
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def derive(params=None) -> dict:
        from sqid.orchestration.ingest import derive

        return derive(params)

    @task.short_circuit(ignore_downstream_trigger_rules=False, execution_timeout=TIMEOUT_QUICK)
    def published_counts_expected(downloads: list[dict], params=None) -> bool:
        from sqid.orchestration.ingest import published_counts_expected

        return published_counts_expected(downloads, params)

    @task(outlets=[SQID_SETS], trigger_rule="none_failed", execution_timeout=TIMEOUT_QUICK)
    def announce(loaded: dict, derived: dict, *, outlet_events=None) -> dict:
        outlet_events[SQID_SETS].extra = {**loaded, **derived}
        return {**loaded, **derived}

    downloads = download.expand(name=list(FILE_NAMES))
    loaded = load(downloads)
    derived = derive()
    quality = sqid_set_checks()
    gate = published_counts_expected(downloads)
    published_checks = published_count_checks()
    loaded >> derived >> quality >> gate >> published_checks
    done = announce(loaded, derived)
    quality >> done
    published_checks >> done


fail_run_when_a_task_fails(sqid_ingest())
