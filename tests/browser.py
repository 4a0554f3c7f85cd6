"""Headless Chromium for the tests that look at pages as a user's browser does.

Debian's ``chromium`` (``make browser-deps``) driven by Playwright's Python package
through ``executable_path``: Playwright's own browser download is not needed. Where
either is missing, the tests skip and say why; with ``SQID_REQUIRE_BROWSER=1`` (CI)
they fail instead, so a missing browser never passes unnoticed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

# Chromium reaches for Google's update, sync and field-trial hosts at start-up; on a
# machine without internet those connections only slow it down.
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    return (
        os.environ.get("SQID_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def unavailable() -> str | None:
    """Why no browser test can run here, or None. Fails the test instead where
    ``SQID_REQUIRE_BROWSER=1``."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright's Python package is not installed (pip install playwright)"
    if reason is None and chromium_path() is None:
        reason = "no Chromium on PATH (make browser-deps installs Debian's chromium)"
    if reason and os.environ.get("SQID_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SQID_REQUIRE_BROWSER=1 but {reason}")
    return reason


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser (Playwright's ``Browser``); skips the test if none."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


def open_trigger_form(browser, base: str, token: str, dag_id: str):
    """The Airflow UI's Trigger dialog of ``dag_id``, as a logged-in user opens it
    (``token``: a JWT from ``/auth/token``, the UI's ``_token`` cookie); returns
    ``(page, dialog, trigger_button)``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "_token", "value": token, "url": base}])
    page = context.new_page()
    page.goto(f"{base}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    page.wait_for_timeout(300)  # the form validates its fields as they render
    return page, dialog, dialog.get_by_role("button", name="Trigger", exact=True)
