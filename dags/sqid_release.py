"""
### sqid_release: versioned SQID releases behind a validation gate

First compares a fingerprint of the release's inputs (computed in DuckDB from key
columns) with the newest release's: when nothing changed the run stops there, having
written nothing. Otherwise assembles the release in a hidden staging folder next to the published ones, in the
published SQID layout (`product_image_urls.csv`, `supp_product_image_urls.csv`,
`product_features.parquet`, `query_features.parquet`) plus `product_image_status.parquet`,
`manifest.json`, `SHA256SUMS`, `croissant.json`, a dataset card, `CHANGELOG.md` against
the previous release, `evaluation.json` and `report.html`, and a search index of its
image and title vectors (`index/`, recall@10 against exact search gated). Table checks against DuckDB
and file checks on the staged files gate publishing; publishing is one rename (an
existing version is never overwritten) and `latest` is switched last.

Runs when `sqid_embed` updates `sqid.embeddings`.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from sqid.orchestration import (
    DEFAULT_ARGS,
    DUCKDB_POOL,
    EMBEDDINGS,
    RELEASE,
    TEMPLATE_SEARCHPATH,
    TIMEOUT_QUICK,
    TIMEOUT_TABLES,
    fail_run_when_a_task_fails,
)
from sqid.orchestration.checks import sql_check
from sqid.orchestration.lineage import EMBEDDED, SCRAPED, SETS, SQD, tables
from sqid.orchestration.params import release_params, with_params_table


@dag(
    dag_id="sqid_release",
    description="Versioned SQID releases: stage, evaluate, document, validate and publish; nothing when nothing changed",
    schedule=[EMBEDDINGS],
    catchup=False,
    # Runs only when the stage before it changed data: active from the start, so one
    # trigger of sqid_ingest carries through the whole chain.
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sqid", "release"],
    doc_md=with_params_table(__doc__, "release"),
    template_searchpath=TEMPLATE_SEARCHPATH,
    params=release_params(),
)
def sqid_release():
    check_tables = sql_check("check_release_tables", "release_tables", [*SETS, *SCRAPED, *EMBEDDED])

    # A short circuit skips only the task after it; the rest follow their trigger rules,
    # so the run's verdict task still sees every failure.
    @task.short_circuit(
        pool=DUCKDB_POOL, ignore_downstream_trigger_rules=False, execution_timeout=TIMEOUT_TABLES
    )
    def inputs_changed(params=None) -> bool:
        from sqid.orchestration.release import inputs_changed

        return inputs_changed(params)

    @task(pool=DUCKDB_POOL, inlets=tables(SQD, SETS, SCRAPED, EMBEDDED),
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def assemble(params=None, run_id=None) -> dict:
        from sqid.orchestration.release import assemble_release

        return assemble_release(params, run_id)

    @task(pool=DUCKDB_POOL, inlets=tables(["sqid_products"]), execution_timeout=TIMEOUT_TABLES)
    def index(staged: dict) -> dict:
        from sqid.orchestration.release import index_staged

        return index_staged(staged)

    @task(execution_timeout=TIMEOUT_TABLES)
    def evaluate(staged: dict) -> dict:
        from sqid.orchestration.release import evaluate_staged

        return evaluate_staged(staged)

    @task(execution_timeout=TIMEOUT_TABLES)
    def document(staged: dict, evaluation: dict) -> dict:
        from sqid.orchestration.release import document_staged

        return document_staged(staged, evaluation)

    # A failed check is a data problem: retrying cannot fix it.
    @task(retries=0, execution_timeout=TIMEOUT_TABLES)
    def validate(staged: dict, params=None) -> dict:
        from sqid.orchestration.release import validate_staged

        return validate_staged(staged, params)

    @task.short_circuit(ignore_downstream_trigger_rules=False, execution_timeout=TIMEOUT_QUICK)
    def publishing(staged: dict, params=None) -> bool:
        from sqid.orchestration.release import should_publish

        return should_publish(staged, params)

    @task(retries=0, execution_timeout=TIMEOUT_QUICK)
    def publish(staged: dict) -> str:
        from sqid.orchestration.release import publish_staged

        return publish_staged(staged)

    @task(outlets=[RELEASE], execution_timeout=TIMEOUT_QUICK)
    def update_latest(published: str, staged: dict, *, outlet_events=None) -> dict:
        from sqid.orchestration.release import point_latest

        return point_latest(published, staged, outlet_events)

    assembled = assemble()
    check_tables >> inputs_changed() >> assembled
    staged = index(assembled)
    evaluation = evaluate(staged)
    documented = document(staged, evaluation)
    valid = validate(staged)
    documented >> valid
    gate = publishing(staged)
    valid >> gate
    published = publish(staged)
    gate >> published
    update_latest(published, staged)


fail_run_when_a_task_fails(sqid_release())
