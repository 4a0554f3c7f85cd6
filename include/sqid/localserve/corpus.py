"""The labelled corpus of real saved Amazon pages, for regression tests and benchmarks.

The corpus (gzipped pages plus ``labels.csv``) is not part of the project: it sits in
``../shared/data/amazon_pages`` beside a development checkout, or wherever
``SQID_PAGE_CORPUS`` points. Each label says what a reader of the markup saw; this
module maps it onto the page kinds of :mod:`sqid.scrape.pages` and judges an analysis.
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

from sqid.scrape.pages import PageAnalysis
from sqid.scrape.records import DEGRADED, PRODUCT, SERVICE_ERROR

CORPUS_ENV = "SQID_PAGE_CORPUS"
_BESIDE_CHECKOUT = Path(__file__).resolve().parents[3].parent / "shared/data/amazon_pages"

ACCEPTED_KINDS: dict[str, frozenset[str]] = {
    "product": frozenset({PRODUCT}),
    "book": frozenset({PRODUCT}),
    "ebook": frozenset({PRODUCT}),
    "no_image": frozenset({"no_image"}),
    "captcha": frozenset({"captcha"}),
    "not_found": frozenset({"not_found"}),
    "error": frozenset({SERVICE_ERROR, DEGRADED}),
}
"""Page kinds that answer a label correctly; ``other`` accepts anything but a product."""


@dataclass(frozen=True)
class LabelledPage:
    path: Path
    label: str
    expected_image_id: str
    notes: str

    @property
    def name(self) -> str:
        return self.path.name

    def html(self) -> bytes:
        return gzip.decompress(self.path.read_bytes())

    def judge(self, analysis: PageAnalysis) -> str | None:
        """None when ``analysis`` answers the label, else what is wrong."""
        kind = analysis.page_kind
        if self.label == "other":
            return f"a {self.label} page read as a product" if kind == PRODUCT else None
        accepted = ACCEPTED_KINDS.get(self.label)
        if accepted is None:
            return f"unknown label {self.label!r}"
        if kind not in accepted:
            return f"page kind {kind}, expected {' or '.join(sorted(accepted))}"
        if (analysis.image_id or "") != self.expected_image_id:
            return f"image {analysis.image_id}, expected {self.expected_image_id or None}"
        return None


def corpus_dir() -> Path:
    """Where the corpus is (it may not exist: check with :func:`available`)."""
    return Path(os.environ.get(CORPUS_ENV) or _BESIDE_CHECKOUT)


def available() -> bool:
    return (corpus_dir() / "labels.csv").is_file()


def load() -> list[LabelledPage]:
    """Every labelled page, in the order of ``labels.csv``."""
    root = corpus_dir()
    with (root / "labels.csv").open(newline="", encoding="utf-8") as f:
        return [
            LabelledPage(
                root / row["file"], row["page_kind"], row["expected_image_id"], row["notes"]
            )
            for row in csv.DictReader(f)
        ]
