"""What a run did, kept: scrape and embed statistics in DuckDB with history, their
Parquet copy for the releases page, and the first page of each error kind."""

import gzip
import json

import duckdb
import pyarrow.parquet as pq
import pytest
from sqid.cli import main
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.merge import merge_run
from sqid.scrape.shard import run_shard

from .pipeline_builders import build_sets, embed


@pytest.fixture()
def telemetry_dir(tmp_path, monkeypatch):
    path = tmp_path / "telemetry"
    monkeypatch.setenv("SQID_TELEMETRY_DIR", str(path))
    return path


def _scrape(root, db_path, ids, site_config, run_id):
    with ProductSite(site_config) as site:
        config = ScrapeConfig(base_url=site.base_url, requests_per_second=200, concurrency=2,
                              backoff_base=0.01, captcha_pause=0.01, max_attempts=3,
                              throttle_error_delay=0.01)  # fmt: skip
        run_shard(ids, root / run_id, 0, config, run_id)
    return merge_run(root / run_id, db_path)


def _rows(db_path, sql, *params):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_scrape_run_is_counted_by_status_reason_and_host(tmp_path, telemetry_dir):
    db_path, ids = build_sets(tmp_path)
    site = SiteConfig(faults={ids[0]: ["503", "503", "503"], ids[1]: ["captcha", "ok"],
                              ids[2]: ["429", "ok"]}, retry_after="0")  # fmt: skip
    _scrape(tmp_path, db_path, ids, site, "run-a")
    [stats] = _rows(db_path, "SELECT items, requests, retries, captchas, bytes, finish_reason, "
                             "started_at <= finished_at FROM run_stats WHERE run_id = 'run-a'")  # fmt: skip
    items, requests, retries, captchas, size, finish, ordered = stats
    assert items == len(ids) and requests == len(ids) + 3 and retries == 3
    assert captchas == 1 and size > 0 and finish == "finished" and ordered
    counts = {(d, k): n for d, k, n in _rows(
        db_path, "SELECT dimension, key, n FROM run_counts WHERE run_id = 'run-a'")}  # fmt: skip
    assert counts[("http_status", "503")] == 3 and counts[("http_status", "429")] == 1
    assert counts[("retry_reason", "service_error")] == 2
    assert counts[("outcome", "service_error")] == 1
    assert counts[("error_page", "service_error")] == counts[("error_page", "captcha")] == 1
    [(host, n, p50, p95)] = _rows(
        db_path, "SELECT host, requests, p50_ms, p95_ms FROM run_latency WHERE run_id = 'run-a'"
    )
    assert host == "127.0.0.1" and n == requests and 0 < p50 <= p95
    # The first page of the error kind is kept, and parse-page reads it.
    [page] = (tmp_path / "run-a" / "error-pages" / "service_error").rglob("*.html.gz")
    (tmp_path / "page.html").write_bytes(gzip.decompress(page.read_bytes()))
    assert main(["parse-page", str(tmp_path / "page.html"), "--status", "503"]) == 0
    # The Parquet copy holds the same rows; a second merge replaces, never duplicates.
    exported = pq.read_table(telemetry_dir / "run_counts.parquet").num_rows
    merge_run(tmp_path / "run-a", db_path)
    assert pq.read_table(telemetry_dir / "run_counts.parquet").num_rows == exported
    assert _rows(db_path, "SELECT count(*) FROM run_stats")[0][0] == 1


def test_history_keeps_every_run_and_names_why_a_run_stopped(tmp_path, telemetry_dir):
    db_path, ids = build_sets(tmp_path)
    _scrape(tmp_path, db_path, ids[:4], SiteConfig(), "run-1")
    site = SiteConfig(rates={"captcha": 1.0})
    with pytest.raises(Exception, match="captchas in a row"):
        _scrape(tmp_path, db_path, ids[4:], site, "run-2")
    merge_run(tmp_path / "run-2", db_path)
    history = _rows(db_path, "SELECT run_id, finish_reason FROM run_stats ORDER BY recorded_at")
    assert history == [("run-1", "finished"), ("run-2", "captcha_circuit_open")]
    stats = pq.read_table(telemetry_dir / "run_stats.parquet").to_pylist()
    assert [s["run_id"] for s in stats] == ["run-1", "run-2"]


def test_an_embed_run_is_counted_with_its_cache_hits(tmp_path, telemetry_dir, tiny_clip, encoder):
    from .pipeline_builders import scrape

    db_path, ids = build_sets(tmp_path)
    scrape(tmp_path, db_path, ids, SiteConfig(), "s1")
    embed(tmp_path, db_path, tiny_clip, encoder, "e1")
    [(items, embedded, hits, per_second)] = _rows(
        db_path, "SELECT items, requests, cache_hits, per_second FROM run_stats "
                 "WHERE stage = 'embed' AND run_id = 'e1'")  # fmt: skip
    assert items >= 1 and embedded >= 1 and hits == 0 and per_second > 0
    outcome = dict(_rows(db_path, "SELECT key, n FROM run_counts WHERE run_id = 'e1' "
                                  "AND dimension = 'outcome'"))  # fmt: skip
    assert outcome.get("ok") == items
    summary = json.loads(next((tmp_path / "embed-e1").glob("image-*/summary.json")).read_text())
    assert summary["embedded"] == embedded
