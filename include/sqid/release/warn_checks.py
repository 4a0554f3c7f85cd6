"""Warnings: numbers a reader of a release should see at a glance, which do not block
it (the gate's failures are in :mod:`sqid.release.file_checks` and its neighbours)."""

from __future__ import annotations

import json

from sqid.release.checked import CheckedRelease
from sqid.release.layout import (
    MANIFEST,
)
from sqid.scrape.records import RETRYABLE_STATUSES

WARN_UNRECOGNISED = 0.05
"""A share of test products whose pages were not understood above this is worth a look
(the scrape's layout-drift guard stops far earlier within a run)."""


WARN_RETRYABLE = 0.10


WARN_COVERAGE_DROP = 0.02


def status_warnings(release: CheckedRelease, test: dict[str, int]) -> None:
    """Warnings, not failures: what a reader of the release should know at a glance."""
    total = sum(test.values()) or 1
    release.measure(
        "status",
        "share of test products unrecognised",
        test.get("unrecognised", 0) / total,
        WARN_UNRECOGNISED,
        "warn",
        at_least=False,
    )
    retryable = sum(n for s, n in test.items() if s in RETRYABLE_STATUSES or s == "not_scraped")
    release.measure(
        "status",
        "share of test products without a final status",
        retryable / total,
        WARN_RETRYABLE,
        "warn",
        at_least=False,
    )
    previous = release.manifest.get("previous_release")
    path = release.directory.parent / str(previous) / MANIFEST if previous else None
    if path is not None and path.is_file() and not path.is_symlink():
        before = json.loads(path.read_text()).get("coverage", {}).get("test")
        now = release.manifest.get("coverage", {}).get("test")
        if isinstance(before, int | float) and isinstance(now, int | float):
            release.measure("coverage", f"coverage change since {previous}", now - before,
                            -WARN_COVERAGE_DROP, "warn")  # fmt: skip
