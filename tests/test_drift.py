"""The layout-drift guard: a shard whose pages stop being understood stops, and says why."""

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.drift import DriftBaseline, DriftGuard, DriftLimits, suspect_class
from sqid.scrape.merge import merge_run, summarise_shards
from sqid.scrape.pages import analyse_page
from sqid.scrape.plan import drift_baseline
from sqid.scrape.shard import LayoutDrift, run_shard

from .test_scrape import fast_config, outcomes

LIMITS = DriftLimits(tolerance=0.2, window=20, min_pages=10, sample=3)


def feed(guard, outcomes_):
    """(status, page_kind, default_reason) per product; True if any trips the guard."""
    return any(
        guard.observe(f"B{i:09d}", kind, status, reason, b"<html></html>")
        for i, (status, kind, reason) in enumerate(outcomes_)
    )


OK = ("ok", "product", None)
UNRECOGNISED = ("unrecognised", "unrecognised", None)
PLACEHOLDER = ("no_image", "no_image", "placeholder")
DECLARED_NONE = ("no_image", "no_image", None)
CAPTCHA = ("captcha", "captcha", None)


def test_suspect_classes():
    assert suspect_class("unrecognised", "unrecognised", None) == "unrecognised"
    assert suspect_class("no_image", "no_image", None) == "unexplained_no_image"
    assert suspect_class("no_image", "no_image", "placeholder") is None
    assert suspect_class("product", "ok", None) is None
    assert suspect_class("captcha", "captcha", None) is None
    assert suspect_class(None, "network_error", None) is None


def test_trips_when_pages_stop_being_understood():
    guard = DriftGuard(LIMITS)
    assert not feed(guard, [OK] * 30)
    assert not feed(guard, [UNRECOGNISED] * 4)  # 4 of the latest 20 = 0.2: at the limit
    assert feed(guard, [UNRECOGNISED])  # 5 of 20 = 0.25 > 0.0 + 0.2
    assert guard.tripped["classes"] == ["unrecognised"]
    assert guard.tripped["shares"]["unrecognised"] == pytest.approx(0.25)
    assert len(guard.tripped["sample_product_ids"]) == 3


def test_judges_only_after_enough_pages():
    guard = DriftGuard(LIMITS)
    assert not feed(guard, [UNRECOGNISED] * 9)
    assert feed(guard, [UNRECOGNISED])


def test_known_defaults_and_other_mechanisms_do_not_count():
    guard = DriftGuard(LIMITS)
    assert not feed(guard, [PLACEHOLDER] * 30 + [CAPTCHA] * 30 + [OK] * 5)
    assert len(guard.recent) == 20 and guard.tripped is None


def test_unexplained_no_image_counts():
    guard = DriftGuard(LIMITS)
    assert feed(guard, [OK] * 10 + [DECLARED_NONE] * 6)
    assert guard.tripped["classes"] == ["unexplained_no_image"]


def test_the_limit_follows_the_product_sets_history():
    history = DriftBaseline(unrecognised=0.3, pages=1000)
    calm = DriftGuard(LIMITS, history)
    assert not feed(calm, [OK, OK, UNRECOGNISED] * 10)  # a third, as usual plus a bit
    assert calm.limit("unrecognised") == pytest.approx(0.5)
    assert feed(DriftGuard(LIMITS, history), [OK, UNRECOGNISED, UNRECOGNISED] * 10)


def drifting_site(ids, layout):
    return SiteConfig(layouts=dict.fromkeys(ids, layout))


def test_a_shard_stops_on_layout_drift_and_resumes_when_the_site_is_understood(tmp_path):
    ids = [f"B0{i:08d}" for i in range(80)]
    config_kw = dict(drift_window=20, drift_min_pages=10, concurrency=1)
    # A layout the analyser does not know: JavaScript shells, HTTP 200, no image markup.
    with ProductSite(drifting_site(ids, "js_shell")) as site:
        config = fast_config(site, **config_kw)
        with pytest.raises(LayoutDrift, match="layout drift") as stopped:
            run_shard(ids, tmp_path, 0, config, "r1")
    assert "Sample products" in str(stopped.value)
    summary = json.loads((tmp_path / "shard-00000" / "summary.json").read_text())
    assert summary["stopped"] == "layout_drift"
    drift = summary["drift"]
    assert drift["classes"] == ["unrecognised"] and drift["window_pages"] == 10
    assert len(drift["sample_product_ids"]) == len(drift["sample_pages"]) == 5
    for path in drift["sample_pages"]:  # the saved pages re-analyse as they were judged
        assert analyse_page(gzip.decompress(Path(path).read_bytes())).page_kind == "unrecognised"
    recorded = outcomes(tmp_path)
    read = [r for r in recorded if not (r["error"] or "").startswith("layout_drift:")]
    assert len(read) == 10  # the rest of the shard was not spent on a broken layout
    assert summarise_shards(tmp_path)["stopped"][0]["reason"] == "layout_drift"

    assert sorted(drift["held_product_ids"]) == sorted(r["product_id"] for r in read)
    assert len(recorded) == 20  # each suspect page's outcome, then the one superseding it

    with ProductSite(SiteConfig()) as site:
        resumed = run_shard(ids, tmp_path, 0, fast_config(site, **config_kw), "r1")
    assert resumed.stopped is None and resumed.skipped_done == 0  # the held pages read again
    assert resumed.statuses == {"ok": 80}


def test_no_image_read_while_the_layout_drifted_is_not_final(tmp_path):
    # Pages that declare no image, and no placeholder explains: final statuses, unless
    # read while the shard's pages drifted. They are superseded and read again.
    ids = [f"B0{i:08d}" for i in range(40)]
    config_kw = dict(drift_window=20, drift_min_pages=10, concurrency=1)
    site_config = SiteConfig(layouts=dict.fromkeys(ids[3:], "no_image_null"))
    stops = pytest.raises(LayoutDrift, match="reads again the 7 pages judged suspect")
    with ProductSite(site_config) as site, stops:
        run_shard(ids, tmp_path, 0, fast_config(site, **config_kw), "r1")
    db_path = tmp_path / "sqid.duckdb"
    merged = merge_run(tmp_path, db_path)  # what the DAG's merge (all_done) does
    assert merged["statuses"] == {"ok": 3, "unrecognised": 7}
    assert drift_baseline(db_path) == DriftBaseline(pages=3)  # the holds are no history
    assert [r["status"] for r in outcomes(tmp_path)].count("no_image") == 7  # kept as read
    with ProductSite(SiteConfig()) as site:
        resumed = run_shard(ids, tmp_path, 0, fast_config(site, **config_kw), "r1")
    assert resumed.skipped_done == 3 and resumed.statuses == {"ok": 37}
    assert merge_run(tmp_path, db_path)["statuses"] == {"ok": 40}


def test_baseline_from_the_merged_history(tmp_path):
    ids = [f"B0{i:08d}" for i in range(20)]
    layouts = {**dict.fromkeys(ids[:5], "js_shell"), ids[5]: "placeholder", ids[6]: "no_image_null"}
    with ProductSite(SiteConfig(layouts=layouts)) as site:
        run_shard(ids, tmp_path / "run", 0, fast_config(site), "r1")
    db_path = tmp_path / "sqid.duckdb"
    assert drift_baseline(db_path) == DriftBaseline()  # no history yet
    merge_run(tmp_path / "run", db_path)
    baseline = drift_baseline(db_path)
    assert baseline.pages == 20
    assert baseline.unrecognised == pytest.approx(5 / 20)
    assert baseline.unexplained_no_image == pytest.approx(1 / 20)
    assert pq.read_table(next((tmp_path / "run").glob("shard-*/outcomes-*"))).num_rows > 0


def test_a_retry_pass_expects_its_products_as_they_were(tmp_path):
    """A retry pass selects the pages not understood before: they are expected not to be
    understood again (no drift), while products never seen are expected to look like the
    product set."""
    ids = [f"B0{i:08d}" for i in range(20)]
    with ProductSite(SiteConfig(layouts=dict.fromkeys(ids[:5], "js_shell"))) as site:
        run_shard(ids, tmp_path / "run", 0, fast_config(site), "r1")
    db_path = tmp_path / "sqid.duckdb"
    merge_run(tmp_path / "run", db_path)
    assert drift_baseline(db_path, ids[:5]).unrecognised == pytest.approx(1.0)
    assert drift_baseline(db_path, ids[5:]).unrecognised == 0.0
    assert drift_baseline(db_path, ["B099999999"]).unrecognised == pytest.approx(5 / 20)
    assert drift_baseline(db_path, ids[:5]).pages == 20
    # The retry pass itself: the five pages, still not understood, stop nothing.
    with ProductSite(SiteConfig(layouts=dict.fromkeys(ids[:5], "js_shell"))) as site:
        again = run_shard(ids[:5], tmp_path / "retry", 0,
                          fast_config(site, drift_window=4, drift_min_pages=2),
                          "r2", baseline=drift_baseline(db_path, ids[:5]))  # fmt: skip
    assert again.stopped is None and again.statuses == {"unrecognised": 5}
