"""Scrape shards against the local product site, with faults on."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.merge import merge_run
from sqid.scrape.plan import plan_shards, select_products
from sqid.scrape.records import is_valid_product_id
from sqid.scrape.shard import CircuitOpen, run_shard, scrape_planned_shard

from .sqd_builders import ingest_case


def fast_config(site, **overrides):
    values = dict(
        base_url=site.base_url,
        requests_per_second=200.0,
        concurrency=4,
        read_timeout=0.5,
        backoff_base=0.01,
        backoff_max=0.05,
        captcha_pause=0.01,
        throttle_error_delay=0.001,
        throttle_max_delay=0.01,
        checkpoint_every=5,
    )
    values.update(overrides)
    return ScrapeConfig(**values)


def outcomes(directory):
    files = sorted(Path(directory).glob("shard-*/outcomes-*.parquet"))
    return pq.read_table(files).to_pylist() if files else []


@pytest.mark.parametrize(
    ("product_id", "valid"),
    [("B07XYZ1234", True), ("0306406152", True), ("030640615X", True), ("b07xyz1234", False),
     ("B07XYZ123", False), ("B07XYZ12345", False), ("../etc/pwd", False), ("", False), (None, False)],
)  # fmt: skip
def test_product_id_validation(product_id, valid):
    assert is_valid_product_id(product_id) is valid


def test_every_product_ends_with_a_status(tmp_path):
    ids = [f"B0{i:08d}" for i in range(30)] + ["bad id", "B0notvalid", "B0GONE0000"]
    faults = {
        "B000000001": ["503", "503", "ok"],
        "B000000002": ["reset", "ok"],
        "B000000003": ["truncate", "ok"],
        "B000000004": ["slow", "ok"],
        "B000000005": ["redirect"],
        "B000000006": ["huge"],
        "B000000007": ["captcha"],
        "B000000008": ["500"] * 10,
        "B000000009": ["429", "ok"],
    }
    config = SiteConfig(
        faults=faults, layouts={"B0GONE0000": "not_found"}, slow_seconds=1.0, retry_after="0"
    )
    with ProductSite(config) as site:
        summary = run_shard(ids, tmp_path, 0, fast_config(site, max_body_bytes=3_000_000), "r1")
        requested = dict(site.requests)
    rows = {r["product_id"]: r for r in outcomes(tmp_path)}
    assert set(rows) == set(ids)
    assert "bad id" not in requested and "B0notvalid" not in requested
    assert rows["bad id"]["status"] == "invalid_id" and rows["bad id"]["attempts"] == 0
    expected = {
        "B000000001": ("ok", 3), "B000000002": ("ok", 2), "B000000003": ("ok", 2),
        "B000000004": ("ok", 2), "B000000005": ("ok", 1), "B000000006": ("too_large", 1),
        "B000000007": ("captcha", 1), "B000000008": ("service_error", 4),
        "B000000009": ("ok", 2), "B0GONE0000": ("not_found", 1),
    }  # fmt: skip
    for pid, (status, attempts) in expected.items():
        assert (rows[pid]["status"], rows[pid]["attempts"]) == (status, attempts), pid
    assert rows["B000000008"]["error"] == "gave_up_http_500"
    assert summary.scraped == len(ids) and summary.captchas == 1
    assert sum(summary.statuses.values()) == len(ids)
    assert all(r["image_id"] for r in rows.values() if r["status"] == "ok")


def test_retry_after_is_respected(tmp_path):
    config = SiteConfig(faults={"B000000001": ["503", "ok"]}, retry_after="1")
    with ProductSite(config) as site:
        run_shard(["B000000001"], tmp_path, 0, fast_config(site), "r1")
        times = [t for t, pid, _ in site.log if pid == "B000000001"]
    assert len(times) == 2 and times[1] - times[0] >= 1.0


def test_captcha_circuit_breaker_stops_and_resumes(tmp_path):
    ids = [f"B0{i:08d}" for i in range(20)]
    always_captcha = SiteConfig(rates={"captcha": 1.0})
    with (
        ProductSite(always_captcha) as site,
        pytest.raises(CircuitOpen, match="3 captchas in a row"),
    ):
        run_shard(ids, tmp_path, 0, fast_config(site, captcha_breaker=3, concurrency=1), "r1")
    partial = outcomes(tmp_path)
    assert len(partial) < len(ids)
    with ProductSite(SiteConfig()) as site:
        summary = run_shard(ids, tmp_path, 0, fast_config(site, concurrency=1), "r1")
    assert summary.skipped_done == len(partial)
    rows = outcomes(tmp_path)
    assert sorted(r["product_id"] for r in rows) == sorted(ids)  # nothing lost, nothing twice


KILLABLE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sqid.scrape.config import ScrapeConfig
    from sqid.scrape.shard import run_shard
    ids = [f"B0{i:08d}" for i in range(120)]
    config = ScrapeConfig(base_url=sys.argv[1], requests_per_second=40, concurrency=2,
                          checkpoint_every=5, backoff_base=0.01)
    run_shard(ids, Path(sys.argv[2]), 0, config, "r1")
    """
)


def _product_images(db_path):
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute(
        "SELECT product_id, status, image_id, image_url, source FROM product_images ORDER BY 1"
    ).fetchall()
    n_attempts, n_unique = con.execute(
        "SELECT count(*), count(DISTINCT attempt_id) FROM scrape_attempts"
    ).fetchone()
    con.close()
    return rows, n_attempts, n_unique


def test_killed_worker_resumes_to_the_same_tables(tmp_path):
    config = SiteConfig(rates={"503": 0.05}, retry_after="0", latency=0.005)
    with ProductSite(config) as site:
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLABLE, site.base_url, str(tmp_path / "run")]
        )
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "run").glob("shard-*/outcomes-*.parquet"))) < 4:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        done_before = len(outcomes(tmp_path / "run"))
        assert 0 < done_before < 120
        ids = [f"B0{i:08d}" for i in range(120)]
        resumed = run_shard(ids, tmp_path / "run", 0, fast_config(site), "r1")
        assert resumed.skipped_done == done_before
        run_shard(ids, tmp_path / "clean", 0, fast_config(site), "r2")
    merge_run(tmp_path / "run", tmp_path / "a.duckdb")
    merge_run(tmp_path / "run", tmp_path / "a.duckdb")  # a re-run of the merge changes nothing
    merge_run(tmp_path / "clean", tmp_path / "b.duckdb")
    resumed_rows, n_attempts, n_unique = _product_images(tmp_path / "a.duckdb")
    clean_rows, _, _ = _product_images(tmp_path / "b.duckdb")
    assert len(resumed_rows) == 120
    assert resumed_rows == clean_rows
    assert n_attempts == n_unique


@pytest.fixture
def scraped_db(tmp_path):
    examples = [(1, f"B0{i:08d}", "us", "E", 1, "test") for i in range(12)]
    return ingest_case(tmp_path, examples, [])[0]


def test_selection_and_planned_shards(scraped_db, tmp_path):
    everything = select_products(scraped_db)
    assert len(everything) == 12
    shards = plan_shards(tmp_path / "run", everything, shard_size=5)
    assert [s["count"] for s in shards] == [5, 5, 2]
    assert plan_shards(tmp_path / "run", [], shard_size=5) == shards  # re-planning reuses the list
    config = SiteConfig(layouts={"B000000003": "captcha_classic", "B000000004": "not_found"})
    with ProductSite(config) as site:
        for shard in shards:
            scrape_planned_shard(shard, fast_config(site), "r1")
    merged = merge_run(tmp_path / "run", scraped_db)
    assert merged["statuses"] == {"ok": 10, "captcha": 1, "not_found": 1}
    assert merged["run"]["products"] == 12 and merged["run"]["shards"] == 3

    assert select_products(scraped_db) == []  # nothing new, retryable ones not old enough
    assert select_products(scraped_db, retry_age_hours=0) == ["B000000003"]
    assert select_products(scraped_db, statuses=["not_found"]) == ["B000000004"]
    assert select_products(scraped_db, product_ids=["B000000001"]) == ["B000000001"]
    assert len(select_products(scraped_db, force=True, limit=4)) == 4


def test_config_sources_and_their_precedence():
    from types import SimpleNamespace

    site = SimpleNamespace(
        host="shop.example", schema="http", port=8080,
        extra_dejson={"requests_per_second": 3.0, "concurrency": 5},
    )  # fmt: skip
    proxy = SimpleNamespace(host="proxy.example", port=3128, login="u", password="p")
    env = {"SQID_PRODUCT_BASE_URL": "https://ignored.example", "SQID_RAW_PAGE_DIR": "/raw"}
    params = {"requests_per_second": None, "concurrency": 2}
    config = ScrapeConfig.resolve(params, site, proxy, env)
    assert config.base_url == "http://shop.example:8080"  # the connection over the environment
    assert config.requests_per_second == 3.0  # an empty Param keeps the connection's
    assert config.concurrency == 2  # a Param that is set wins
    assert config.proxies["https"] == "http://u:p@proxy.example:3128"
    assert config.raw_page_dir == "/raw"
    default = ScrapeConfig.resolve({}, env={})
    assert (default.base_url, default.proxies, default.drift_tolerance) == (
        "https://www.amazon.com", None, 0.2,
    )  # fmt: skip
    assert ScrapeConfig.resolve({"drift_tolerance": 0.0}, env={}).drift_tolerance == 0.0


def test_pages_not_understood_do_not_slow_the_host_down(tmp_path):
    """Degraded and unrecognised pages are pages the server served: the adaptive throttle
    backs off on captchas, error pages, 429s and network failures, not on them (a retry
    pass over such pages once crawled at one request a minute)."""
    from sqid.scrape.fetch import AdaptiveThrottle, HostLimiter, PageFetcher
    from sqid.scrape.product import ShardState, scrape_product

    ids = [f"B0{i:08d}" for i in range(4)]
    layouts = {ids[0]: "js_shell", ids[1]: "degraded", ids[2]: "service_error"}
    with ProductSite(SiteConfig(layouts=layouts)) as site:
        config = ScrapeConfig(base_url=site.base_url, max_attempts=1)
        throttle = AdaptiveThrottle(error_delay=5.0)
        limiter = HostLimiter(1000.0, throttle=throttle)
        fetcher = PageFetcher(pool_size=1)
        state = ShardState(config.captcha_breaker, config.throttle_breaker)
        try:
            for product_id, kind in ((ids[0], "unrecognised"), (ids[1], "degraded")):
                outcome, _, _ = scrape_product(product_id, fetcher, limiter, config, state, "r")
                assert outcome.page_kind == kind and throttle.delay < 1.0
            outcome, _, _ = scrape_product(ids[2], fetcher, limiter, config, state, "r")
            assert outcome.status == "service_error" and throttle.delay >= 5.0
        finally:
            fetcher.close()
