"""Layout-drift guard: stop a shard whose pages stop being understood.

When Amazon changes its markup, every page of a run can come back ``unrecognised`` (or,
worse, as a ``no_image`` that no known placeholder explains). Without a guard a full
run would spend 192k requests writing that. The guard watches the latest pages of a
shard and trips when the share of such suspect outcomes rises more than a tolerance
above what the product set's history shows. The shard then stops with a retryable
error that names the shares, a sample of product IDs and where their pages were saved,
and names every suspect page of the window (:meth:`DriftGuard.suspects`): their
outcomes, a ``no_image`` among them final, were read while the layout drifted, so the
shard supersedes them and reads those pages again.

Pure policy, no I/O: the shard decides what to do when it trips.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from sqid.scrape.records import NO_IMAGE, UNRECOGNISED
from sqid.scrape.vocabulary import ANALYSED_KINDS
from sqid.setting import default_of
from sqid.settings import SITE

"""Page kinds of fetched and analysed pages: the guard's denominator. Captchas, error
pages and network failures have mechanisms of their own (breaker, retries)."""
UNEXPLAINED_NO_IMAGE = "unexplained_no_image"
SUSPECT_CLASSES = (UNRECOGNISED, UNEXPLAINED_NO_IMAGE)
HELD_PREFIX = "layout_drift:"
"""How the error of an outcome superseding a suspect page of a tripped window begins:
such an outcome says nothing about the product, so the baseline leaves it out."""


def suspect_class(page_kind: str | None, status: str, default_reason: str | None) -> str | None:
    """Which suspect class an outcome falls in: ``unrecognised``, ``unexplained_no_image``
    (no image, and no known placeholder to say why), or None."""
    if page_kind not in ANALYSED_KINDS:
        return None
    if status == UNRECOGNISED:
        return UNRECOGNISED
    if status == NO_IMAGE and default_reason is None:
        return UNEXPLAINED_NO_IMAGE
    return None


@dataclass(frozen=True)
class DriftBaseline:
    """Shares of each suspect class among the product set's analysed pages so far."""

    unrecognised: float = 0.0
    unexplained_no_image: float = 0.0
    pages: int = 0
    """How many outcomes the shares were computed from (0: no history yet)."""

    def share(self, cls: str) -> float:
        return getattr(self, cls)


@dataclass(frozen=True)
class DriftLimits:
    tolerance: float = default_of(SITE, "drift_tolerance")
    """How far above its historical share a suspect class may rise in a shard's window."""
    window: int = default_of(SITE, "drift_window")
    """Latest analysed pages the shares are measured over."""
    min_pages: int = default_of(SITE, "drift_min_pages")
    """Analysed pages needed before the guard judges."""
    sample: int = 5
    """Suspect pages kept for diagnosis."""


@dataclass
class DriftGuard:
    """Per shard; not thread-safe on its own (the shard calls it under its lock)."""

    limits: DriftLimits = field(default_factory=DriftLimits)
    baseline: DriftBaseline = field(default_factory=DriftBaseline)
    recent: deque[tuple[str, str | None]] = field(init=False)
    """(product_id, suspect class or None) of the latest analysed pages."""
    samples: deque[tuple[str, str, bytes]] = field(init=False)
    """(product_id, suspect class, page) of the latest suspect pages."""
    tripped: dict[str, Any] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.recent = deque(maxlen=self.limits.window)
        self.samples = deque(maxlen=self.limits.sample)

    def limit(self, cls: str) -> float:
        return min(1.0, self.baseline.share(cls) + self.limits.tolerance)

    def shares(self) -> dict[str, float]:
        n = len(self.recent)
        return {
            cls: (sum(c == cls for _, c in self.recent) / n if n else 0.0)
            for cls in SUSPECT_CLASSES
        }

    def suspects(self) -> list[tuple[str, str]]:
        """(product_id, suspect class) of each suspect page in the window, oldest first."""
        return [(pid, cls) for pid, cls in self.recent if cls is not None]

    def observe(
        self,
        product_id: str,
        page_kind: str | None,
        status: str,
        default_reason: str | None,
        page: bytes | None,
    ) -> bool:
        """Count one outcome; True when this outcome trips the guard."""
        if self.tripped is not None or page_kind not in ANALYSED_KINDS:
            return False
        cls = suspect_class(page_kind, status, default_reason)
        self.recent.append((product_id, cls))
        if cls is not None and page is not None:
            self.samples.append((product_id, cls, page))
        if len(self.recent) < self.limits.min_pages:
            return False
        shares = self.shares()
        over = [cls for cls in SUSPECT_CLASSES if shares[cls] > self.limit(cls)]
        if not over:
            return False
        self.tripped = {
            "classes": over,
            "shares": {k: round(v, 4) for k, v in shares.items()},
            "limits": {cls: round(self.limit(cls), 4) for cls in SUSPECT_CLASSES},
            "window_pages": len(self.recent),
            "baseline": asdict(self.baseline),
            "sample_product_ids": [pid for pid, _, _ in self.samples],
        }
        return True
