"""A release's report as a reader's browser shows it: offline, every image loads, the
plot is drawn. (The Airflow trigger form is checked in test_standalone.py, where an
api-server runs.)"""

from __future__ import annotations

import pytest
from sqid.ingest.sqd import EXAMPLES
from sqid.release.assemble import ReleaseConfig
from sqid.release.steps import run_release

from .browser import chromium
from .test_release import pipeline  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def release_with_cache(pipeline):  # noqa: F811
    root, db_path, _ = pipeline
    config = ReleaseConfig(release_dir=root / "browser-releases", coverage_threshold=0.5)
    outcome = run_release(db_path, config, examples=root / "sqd" / EXAMPLES,
                          image_cache=root / "image-cache")  # fmt: skip
    assert outcome.published, outcome.reason
    return outcome.published


def test_report_renders_offline_with_images_and_plot(release_with_cache):
    with chromium() as browser:
        page = browser.new_page()
        remote: list[str] = []

        def only_local(route):
            url = route.request.url
            if url.startswith(("file:", "data:")):
                return route.continue_()
            remote.append(url)
            return route.abort()

        page.route("**/*", only_local)
        page.goto((release_with_cache / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            ".grid img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])"
        )
        missing = page.locator(".grid .missing").count()
        plot = page.locator("svg").first.bounding_box()
        axis_text = page.eval_on_selector_all("svg text", "els => els.map(e => e.textContent)")
        title = page.title()

    assert remote == [], f"the report loaded from the network: {remote}"
    assert images and missing == 0, (images, missing)
    assert all(complete and width > 0 for _, complete, width in images), images
    assert plot and plot["width"] > 200 and plot["height"] > 100
    words = " ".join(axis_text)
    for label in ("weight of the text score", "nDCG", "random order", "text only", "image only"):
        assert label in words, (label, words)
    assert "SQID" in title
