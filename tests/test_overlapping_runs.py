"""Overlapping runs (a backfill beside the daily run, two manual runs) do no work twice:
each plan claims its work, and a later plan leaves claimed work to the run that holds it
until that run has merged it (or has stopped without merging)."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.merge import merge_run
from sqid.scrape.plan import Selection, plan_run
from sqid.scrape.shard import scrape_planned_shard

from .sqd_builders import ingest_case

DEFAULT = Selection(product_ids=[], statuses=[], force=False, limit=0, retry_age_hours=24)


def _db(tmp_path, n=40):
    examples = [(1, f"B0{i:08d}", "us", "E", 1, "test") for i in range(n)]
    return ingest_case(tmp_path, examples, [])[0]


def _config(site) -> ScrapeConfig:
    return ScrapeConfig(base_url=site.base_url, requests_per_second=500, concurrency=2,
                        backoff_base=0.01, captcha_pause=0.01)  # fmt: skip


def _scrape(shards, site, run_id):
    for shard in shards:
        scrape_planned_shard(shard, _config(site), run_id)


def test_two_overlapping_scrape_runs_fetch_each_product_once(tmp_path):
    db_path = _db(tmp_path)
    stage = tmp_path / "scrape"
    # A small fault rate, as on the real site: retries within a shard are fine, a second
    # run fetching the same product is not.
    site_config = SiteConfig(rates={"503": 0.05}, retry_after="0")
    with ProductSite(site_config) as site:
        a_shards, a_why = plan_run(stage / "a", db_path, "a", DEFAULT, shard_size=7)
        # Run b plans while a is scraping (before a has merged): the backfill case.
        a_running = threading.Thread(target=_scrape, args=(a_shards, site, "a"))
        a_running.start()
        b_shards, b_why = plan_run(stage / "b", db_path, "b", DEFAULT, shard_size=7)
        _scrape(b_shards, site, "b")
        a_running.join()
        merge_run(stage / "b", db_path)
        merge_run(stage / "a", db_path)
        # A third run after both merged finds nothing due.
        c_shards, c_why = plan_run(stage / "c", db_path, "c", DEFAULT, shard_size=7)
        fetched_once = [p for p, n in site.requests.items() if n == 1]
    assert a_why.startswith("selected 40 products")
    assert sum(s["count"] for s in b_shards) == 0
    assert "40 left to runs still scraping them (a)" in b_why
    assert c_shards == [] and "40 final" in c_why
    # Every fetch of a product beyond the first is a retry inside run a (503s), never b.
    attempts = (
        duckdb.connect(str(db_path), read_only=True)
        .execute("SELECT run_id, count(DISTINCT product_id) FROM scrape_attempts GROUP BY run_id")
        .fetchall()
    )
    assert attempts == [("a", 40)]
    assert len(site.requests) == 40 and len(fetched_once) >= 30


def test_overlapping_runs_split_the_work_when_both_have_some(tmp_path):
    """With a limit, the first run claims part of the set; the second takes the rest."""
    db_path = _db(tmp_path)
    stage = tmp_path / "scrape"
    first = Selection(product_ids=[], statuses=[], force=False, limit=25, retry_age_hours=24)
    with ProductSite(SiteConfig()) as site:
        a_shards, _ = plan_run(stage / "a", db_path, "a", first, shard_size=10)
        b_shards, b_why = plan_run(stage / "b", db_path, "b", DEFAULT, shard_size=10)
        _scrape(b_shards, site, "b")
        _scrape(a_shards, site, "a")
        merge_run(stage / "a", db_path)
        merge_run(stage / "b", db_path)
        assert set(site.requests.values()) == {1}
        assert len(site.requests) == 40
    assert sum(s["count"] for s in a_shards) == 25
    assert sum(s["count"] for s in b_shards) == 15 and "25 left to runs" in b_why


def test_a_run_that_stopped_before_merging_holds_nothing(tmp_path):
    """The claim of a run Airflow no longer runs (failed, deleted) is ignored; one merged
    is settled; a retried plan of the same run reuses its own list."""
    db_path = _db(tmp_path, n=10)
    stage = tmp_path / "scrape"
    plan_run(stage / "dead", db_path, "dead", DEFAULT, shard_size=5)
    shards, why = plan_run(
        stage / "next", db_path, "next", DEFAULT, shard_size=5, is_active=lambda r: r != "dead"
    )
    assert sum(s["count"] for s in shards) == 10 and "left to" not in why
    again, why_again = plan_run(stage / "next", db_path, "next", DEFAULT, shard_size=5)
    assert again == shards and why_again.startswith("reusing this run's work list of 10")
    assert not Path(stage / "next" / "merged.json").exists()


def test_overlapping_embed_runs_download_each_image_once(tmp_path, tiny_clip, encoder):
    from sqid.embed.config import EmbedConfig
    from sqid.embed.merge import merge
    from sqid.embed.plan import plan
    from sqid.embed.shard import run_image_shard, run_text_shard
    from sqid.localserve.cdn import ImageCDN

    from .pipeline_builders import build_sets, scrape

    db_path, ids = build_sets(tmp_path)
    scrape(tmp_path, db_path, ids, SiteConfig(), "r1")
    stage = tmp_path / "embed"
    with ImageCDN() as cdn:
        config = EmbedConfig(model_id=str(tiny_clip), image_cdn=cdn.base_url, policy=cdn.policy())
        a = plan(db_path, stage / "a", config, shard_size=4, run_id="a")
        b = plan(db_path, stage / "b", config, shard_size=4, run_id="b")
        for planned in (a, b):
            for shard in planned["shards"]:
                if shard["kind"] == "image":
                    run_image_shard(shard, config, tmp_path / "cache", encoder)
                else:
                    run_text_shard(shard, config, encoder)
        merge(stage / "a", db_path)
        merge(stage / "b", db_path)
        assert cdn.requests and set(cdn.requests.values()) == {1}
    assert a["images"] > 0 and a["texts"] > 0
    assert (b["images"], b["texts"], b["left_to"]) == (0, 0, ["a"])
