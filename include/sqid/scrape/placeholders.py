"""Default and placeholder images: a page that shows one has no product image.

Two rules. A maintained list (the "no image available" placeholders, the default
digital-video art) plus the ``/images/G/`` furniture rule; and a data-driven rule
applied across a whole run: an image ID shared by many products whose titles have
little in common is a placeholder nobody listed. Product variants (sizes, colours)
share images legitimately and have near-identical titles, so they are not flagged.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pyarrow as pa

from sqid.imageurl import canonical_mask, is_furniture, parse_image_url

KNOWN_PLACEHOLDER_IDS: frozenset[str] = frozenset(
    {
        "01RmK+J4pJL",  # "No image available", US
        "01QFb8SNuTL",  # other marketplaces
        "01PkLIhTX3L",
        "01MKUOLsA5L",
        "31CTP6oiIBL",
    }
)
DEFAULT_VIDEO_IMAGE = (
    "https://m.media-amazon.com/images/G/01/digital/video/web/"
    "Default_Background_Art_LTR._SX1080_FMjpg_.jpg"
)
KNOWN_PLACEHOLDER_PATHS: tuple[str, ...] = (
    "/x-site/icons/no-img-sm",
    "/x-site/icons/no-img-lg",
    "/misc/no-img-lg",
    "/nav2/dp/no-image-avail-img-map",
    "/x-locale/detail/thumb-no-image",
)
"""Older "no image" placeholders, which live among the ``/images/G/`` site furniture."""

FINAL_DEFAULT_REASONS = frozenset({"placeholder", "default_video"})
"""Reasons that prove a page has no product image. Other furniture as a page's main
image (a spacer, a spinner) means the markup was not understood, not that there is
no image."""


def default_reason(url: str | None) -> str | None:
    """Why ``url`` is a known default image (``placeholder``, ``default_video``,
    ``furniture``), or None if it is not one."""
    if not url:
        return None
    if is_furniture(url):
        if "Default_Background_Art" in url:
            return "default_video"
        if any(fragment in url for fragment in KNOWN_PLACEHOLDER_PATHS):
            return "placeholder"
        return "furniture"
    ref = parse_image_url(url)
    if ref is not None and ref.image_id in KNOWN_PLACEHOLDER_IDS:
        return "placeholder"
    return None


def known_defaults(urls: pa.Array) -> np.ndarray:
    """:func:`default_reason` is not None, for a whole column. A certainly canonical URL
    (:func:`sqid.imageurl.canonical_mask`) is a catalogue image, never furniture, so only
    its image ID (the last path segment up to its first dot) needs a look."""
    fast = canonical_mask(urls)
    values = urls.to_pylist()
    return np.array([
        (url.rsplit("/", 1)[1].split(".", 1)[0] in KNOWN_PLACEHOLDER_IDS) if is_fast
        else default_reason(url) is not None
        for url, is_fast in zip(values, fast, strict=True)
    ], dtype=bool)  # fmt: skip


@dataclass(frozen=True)
class SharedImageRule:
    min_products: int = 5
    """An image ID must be shared by at least this many products to be suspect."""
    max_title_similarity: float = 0.25
    """... and their titles must be this dissimilar (mean pairwise Jaccard of words)."""
    sample_titles: int = 40


@dataclass
class SharedImage:
    image_id: str
    product_ids: list[str]
    title_similarity: float | None
    """None when titles were not available."""
    is_default: bool = field(default=False)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)


_WORD = re.compile(r"\w+", re.UNICODE)


def _words(title: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(title))


def title_similarity(titles: list[str]) -> float | None:
    """Mean pairwise Jaccard similarity of the titles' word sets (None if < 2 titles)."""
    sets = [_words(t) for t in titles if t]
    if len(sets) < 2:
        return None
    scores = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(sets, 2)]
    return sum(scores) / len(scores)


def find_shared_images(
    rows: Iterable[tuple[str, str | None, str | None]],
    rule: SharedImageRule | None = None,
) -> list[SharedImage]:
    """Images shared by at least ``rule.min_products`` products, most shared first.

    ``rows`` are (product_id, image_key, title); ``title`` may be None everywhere, in which
    case sharing alone decides. ``is_default`` marks the ones the rule flags.
    """
    rule = rule or SharedImageRule()
    by_image: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for product_id, image_id, title in rows:
        if image_id:
            by_image[image_id].append((product_id, title))
    shared = []
    for image_id, members in by_image.items():
        if len(members) < rule.min_products:
            continue
        members.sort()
        titles = [t for _, t in members[: rule.sample_titles] if t]
        similarity = title_similarity(titles)
        flagged = similarity is None or similarity <= rule.max_title_similarity
        shared.append(SharedImage(image_id, [p for p, _ in members], similarity, flagged))
    shared.sort(key=lambda s: (-s.n_products, s.image_id))
    return shared


def audit_image_urls(
    rows: Iterable[tuple[str, str]], rule: SharedImageRule | None = None
) -> dict[str, object]:
    """Audit ``(product_id, image_url)`` pairs (e.g. a published SQID CSV): empty URLs,
    known defaults by reason, URLs that are not product images, and shared image IDs."""
    rule = rule or SharedImageRule()
    total = empty = unparsable = 0
    by_reason: dict[str, list[str]] = defaultdict(list)
    triples = []
    for product_id, url in rows:
        total += 1
        if not url:
            empty += 1
            continue
        reason = default_reason(url)
        if reason:
            by_reason[reason].append(product_id)
            continue
        ref = parse_image_url(url)
        if ref is None:
            unparsable += 1
            continue
        triples.append((product_id, ref.image_key, None))
    shared = find_shared_images(triples, rule)
    return {
        "rows": total,
        "empty_image_url": empty,
        "known_defaults": {k: len(v) for k, v in sorted(by_reason.items())},
        "known_default_products": {k: sorted(v)[:20] for k, v in sorted(by_reason.items())},
        "not_a_product_image_url": unparsable,
        "shared_image_ids": [
            {"image_id": s.image_id, "n_products": s.n_products, "product_ids": s.product_ids}
            for s in shared
        ],
        "rule": {"min_products": rule.min_products},
    }
