"""Scrape runs that find no work end quietly: skipped, with no Asset event downstream."""

import pytest
from airflow.sdk.exceptions import AirflowSkipException
from sqid.orchestration.scrape import merge_scrape, plan_scrape, scrape_summary
from sqid.scrape.plan import sqid_sets_exist

from .pipeline_builders import build_sets

PARAMS = {"product_ids": [], "statuses": [], "force": False, "limit": 0,
          "retry_age_hours": 24, "shard_size": 500}  # fmt: skip


def test_sqid_sets_exist_only_after_derive(tmp_path):
    assert not sqid_sets_exist(tmp_path / "missing.duckdb")
    db_path, _ = build_sets(tmp_path)
    assert sqid_sets_exist(db_path)


def test_a_scrape_before_the_first_ingest_is_skipped_not_failed(tmp_path, monkeypatch):
    # A fresh deployment: the daily scrape can fire before sqid_ingest ever ran.
    monkeypatch.setenv("SQID_HOME", str(tmp_path))
    monkeypatch.delenv("SQID_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("SQID_DATA_DIR", raising=False)
    with pytest.raises(AirflowSkipException, match="sqid_ingest has not run"):
        plan_scrape(PARAMS, "scheduled__2026-01-02T03:00:00+00:00")
    with pytest.raises(AirflowSkipException, match="planned no work"):
        merge_scrape("scheduled__2026-01-02T03:00:00+00:00")


def test_only_a_run_that_scraped_something_announces_it():
    merged = {"run": {"products": 0, "shards": 0}, "statuses": {"ok": 10}}
    with pytest.raises(AirflowSkipException):
        scrape_summary(merged, {"flagged": 0})
    merged["run"]["products"] = 3
    summary = scrape_summary(merged, {"flagged": 0})
    assert summary == {"products": 3, "shards": 0, "statuses_now": {"ok": 10}, "flagged": 0}


def test_deploy_creates_the_pools_and_connection_the_dags_use_and_can_rerun():
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from sqid.airflow_local import prepare
    from sqid.orchestration import AMAZON_CONN_ID, POOLS
    from sqid.orchestration.deploy import main

    prepare()
    for rps in ("1", "0.5"):  # airflow-init may run again on every `docker compose up`
        main(["--product-host", "www.amazon.com", "--requests-per-second", rps])
    with create_session() as session:
        conns = session.query(Connection).filter(Connection.conn_id == AMAZON_CONN_ID).all()
        assert len(conns) == 1
        assert (conns[0].host, conns[0].schema) == ("www.amazon.com", "https")
        assert conns[0].extra_dejson == {"requests_per_second": 0.5, "concurrency": 2}
        pools = {p.pool: p.slots for p in session.query(Pool).all()}
    assert {name: slots for name, (slots, _) in POOLS.items()}.items() <= pools.items()
