"""The releases page as the project's dashboard: releases with their checks and changes,
the status mix and drift history as charts, each run's statistics, and search people
enjoy (links, more like this, the query in the URL, conflicts said, a status filter)."""

import os
import threading
import time
from urllib.parse import parse_qs, urlparse

import pyarrow.parquet as pq
import pytest
import requests
from sqid.airflow_rest import free_port
from sqid.ingest.sqd import EXAMPLES
from sqid.localserve.site import SiteConfig
from sqid.release.assemble import ReleaseConfig
from sqid.release.steps import run_release
from sqid.search.web import create_app

from .browser import chromium
from .pipeline_builders import build_sets, embed, scrape


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, tiny_clip, encoder):
    root = tmp_path_factory.mktemp("dashboard")
    telemetry = root / "telemetry"
    before = os.environ.get("SQID_TELEMETRY_DIR")
    os.environ["SQID_TELEMETRY_DIR"] = str(telemetry)
    try:
        db_path, ids = build_sets(root)
        site = SiteConfig(layouts={ids[1]: "placeholder", ids[2]: "not_found"},
                          faults={ids[3]: ["503", "ok"]}, retry_after="0")  # fmt: skip
        scrape(root, db_path, ids, site, "scheduled__2026-12-01T03:00:00+00:00")
        embed(root, db_path, tiny_clip, encoder, "e1")
        config = ReleaseConfig(release_dir=root / "releases", coverage_threshold=0.5)
        outcome = run_release(db_path, config, examples=root / "sqd" / EXAMPLES)
        assert outcome.published
    finally:
        if before is None:
            os.environ.pop("SQID_TELEMETRY_DIR")
        else:
            os.environ["SQID_TELEMETRY_DIR"] = before
    yield from _serve(root, telemetry, ids, outcome.published)


def _serve(root, telemetry, ids, release):
    import uvicorn

    app = create_app(root / "releases", root / "image-cache", telemetry=telemetry)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", ids, release
    server.should_exit = True
    thread.join(timeout=10)


RUN = "scheduled__2026-12-01T03:00:00+00:00"


def test_the_dashboard_shows_releases_checks_charts_and_runs(dashboard):
    base, _, release = dashboard
    page = requests.get(f"{base}/").text
    assert f'href="releases/{release.name}"' in page and "passed" in page
    assert 'aria-label="status mix of the test set per release"' in page
    assert 'aria-label="share of pages not understood per scrape run"' in page
    assert f'/dags/sqid_scrape/runs/{RUN}"' in page and f'href="runs/scrape/{RUN}"' in page
    assert len(page) < 100_000  # aggregates only, whatever the number of products
    checks = requests.get(f"{base}/releases/{release.name}").text
    for what in ("image coverage of the test set", "recall@10 of the image index",
                 "share of test products unrecognised", "History"):  # fmt: skip
        assert what in checks
    run = requests.get(f"{base}/runs/scrape/{RUN}").text
    assert "http status" in run and "<td>503</td>" in run and "Latency per host" in run
    assert requests.get(f"{base}/runs/scrape/nope").status_code == 404
    assert requests.get(f"{base}/releases/v9.9.9").status_code == 404
    assert requests.get(f"{base}/api/runs").json()[0]["run_id"] in (RUN, "e1")


def test_the_api_says_when_two_queries_conflict_and_filters_by_status(dashboard):
    base, ids, release = dashboard
    both = requests.post(f"{base}/api/search",
                         data={"version": release.name, "text": "red", "product": ids[0]}).json()  # fmt: skip
    assert both["by"] == "product ID" and "the text was left out" in both["note"]
    assert all(
        h["product_url"] == f"https://www.amazon.com/dp/{h['product_id']}" for h in both["hits"]
    )
    only = requests.post(f"{base}/api/search", data={"version": release.name, "text": "product",
                                                     "over": "title", "status": "not_found"}).json()  # fmt: skip
    assert [h["product_id"] for h in only["hits"]] == [ids[2]] and only["note"] is None


def test_the_dashboard_in_chromium_light_dark_and_a_shareable_search(dashboard):
    base, ids, release = dashboard
    with chromium() as browser:
        backgrounds = {}
        for scheme in ("light", "dark"):
            page = browser.new_page(color_scheme=scheme)
            page.goto(f"{base}/")
            backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert page.locator("svg.chart").count() == 2
            page.close()
        assert backgrounds["light"] != backgrounds["dark"]
        page = browser.new_page()
        page.goto(f"{base}/?version={release.name}&product={ids[0]}&k=3")  # a shared link
        page.wait_for_selector("#results figure")
        assert page.locator("#results figure").count() == 3
        first = page.locator("#results figcaption a").first
        assert first.get_attribute("href").startswith("https://www.amazon.com/dp/")
        target = page.locator("#results figcaption a").nth(1).inner_text()
        page.locator("#results button").nth(1).click()  # more like this
        page.wait_for_function(f"location.search.includes('product={target}')")
        page.wait_for_selector("#results figure")
        assert parse_qs(urlparse(page.url).query)["product"] == [target]
        page.goto(f"{base}/releases/{release.name}")
        assert page.locator("table").first.is_visible()


def test_statuses_are_in_the_catalogue(dashboard):
    _, ids, release = dashboard
    catalogue = pq.read_table(release / "index" / "catalogue.parquet").to_pylist()
    assert {r["product_id"]: r["status"] for r in catalogue}[ids[2]] == "not_found"
