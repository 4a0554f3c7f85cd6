"""The tasks of ``sqid_scrape``: one function per task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqid.orchestration import (
    AMAZON_CONN_ID,
    PROXY_CONN_ID,
    fail_fast,
    optional_connection,
    run_dir_for,
    run_is_active,
)
from sqid.orchestration.lineage import files

if TYPE_CHECKING:
    from sqid.scrape.config import ScrapeConfig


def scrape_config(params: dict) -> ScrapeConfig:
    """ScrapeConfig from the ``sqid_amazon``/``sqid_proxy`` connections and run Params."""
    from sqid.scrape.config import ScrapeConfig

    return ScrapeConfig.resolve(
        params, optional_connection(AMAZON_CONN_ID), optional_connection(PROXY_CONN_ID)
    )


@fail_fast
def plan_scrape(params: dict, run_id: str) -> list[dict]:
    """Select the products of this run, claim them and describe its shards."""
    import logging
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowSkipException

    from sqid.config import load_settings
    from sqid.orchestration.params import require_declared, scrape_params
    from sqid.scrape.plan import Selection, plan_run, sqid_sets_exist

    require_declared(params, scrape_params)
    db_path = load_settings().duckdb_path
    if not sqid_sets_exist(db_path):
        raise AirflowSkipException("no SQID product set yet: sqid_ingest has not run")
    selection = Selection(
        product_ids=params["product_ids"], statuses=params["statuses"], force=params["force"],
        limit=params["limit"], retry_age_hours=params["retry_age_hours"],
    )  # fmt: skip
    shards, why = plan_run(
        Path(run_dir_for("scrape", run_id)), db_path, run_id, selection,
        shard_size=params["shard_size"], is_active=run_is_active("sqid_scrape"),
    )  # fmt: skip
    logging.getLogger(__name__).info("%s; %d shards", why, len(shards))
    files(writes=[run_dir_for("scrape", run_id)])
    return shards


@fail_fast
def scrape_shard(shard: dict, params: dict, run_id: str) -> dict:
    """One mapped shard, paced by the connection and this run's Params."""
    from sqid.scrape.shard import scrape_planned_shard

    result = scrape_planned_shard(shard, scrape_config(params), run_id)
    files(reads=[shard["run_dir"]], writes=[result["directory"]])
    return result


def merge_scrape(run_id: str) -> dict:
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowSkipException

    from sqid.config import load_settings
    from sqid.scrape.merge import merge_run
    from sqid.scrape.plan import WORKLIST

    run_dir = Path(run_dir_for("scrape", run_id))
    if not (run_dir / WORKLIST).exists():
        raise AirflowSkipException("this run planned no work")
    files(reads=[run_dir])
    return merge_run(run_dir, load_settings().duckdb_path)


def scrape_summary(merged: dict, defaults: dict) -> dict:
    """The ``sqid.product_images`` event of a run; a run that scraped nothing emits none,
    so the daily retry pass does not start embed and release runs when it found no work."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not merged["run"]["products"]:
        raise AirflowSkipException("no product was scraped in this run: nothing to announce")
    return {**merged["run"], "statuses_now": merged["statuses"], **defaults}


def flag_defaults(run_id: str) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.scrape.merge import detect_shared_defaults

    run_dir = Path(run_dir_for("scrape", run_id))
    return detect_shared_defaults(load_settings().duckdb_path, run_dir / "shared_images.json")
