"""The scrape stage's records, and (from :mod:`sqid.scrape.vocabulary`) its vocabulary.

A page has a kind (what :mod:`sqid.scrape.pages` read it as); a product ends with a
status (``product_images.status``), which is its last page's kind or a fetch failure;
every request is an attempt (``scrape_attempts``). Each record is written here once,
as a dataclass and the Arrow schema of its shard files; ``sql/scrape/`` holds its table,
and ``tests/test_records.py`` proves the four agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime

import pyarrow as pa

from sqid.scrape.vocabulary import (
    CAPTCHA,
    DEGRADED,
    HTTP_ERROR,
    INVALID_ID,
    NETWORK_ERROR,
    NO_IMAGE,
    NOT_FOUND,
    OK,
    PAGE_KINDS,
    PRODUCT,
    RETRYABLE_STATUSES,
    SERVICE_ERROR,
    STATUSES,
    TERMINAL_STATUSES,
    TOO_LARGE,
    UNRECOGNISED,
)

PRODUCT_ID_PATTERN = r"[A-Z0-9]{10}|[0-9]{9}[0-9X]"
"""A 10-character ASIN (upper-case letters and digits) or an ISBN-10: the one rule,
used here and by the ingest gate (``sql/checks/sqid_product_ids.sql``)."""
_PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)


def is_valid_product_id(product_id: object) -> bool:
    """A 10-character ASIN (upper-case letters and digits) or an ISBN-10."""
    return isinstance(product_id, str) and _PRODUCT_ID.fullmatch(product_id) is not None


@dataclass(frozen=True, kw_only=True)
class MainImage:
    """The main image of a product page: what a page analysis finds and an outcome keeps."""

    image_id: str | None = None
    image_key: str | None = None
    """Identity for comparing images: the ID, plus the inner ID of a composite."""
    image_url: str | None = None
    """Display-size URL: what a release's ``image_url`` column carries."""
    hires_url: str | None = None
    """The highest-resolution URL the page offered for the main image."""
    original_url: str | None = None
    """The modifier-free original of the image (any rendition can be built from it)."""
    source: str | None = None
    """Which markup the image came from, e.g. ``landingImage.data-old-hires``."""
    default_reason: str | None = None
    """Why the image is a default (``placeholder``, ``default_video``, ``shared_image``)."""

    def main_image(self) -> dict[str, str | None]:
        """These fields alone, to hand on to another record."""
        return {name: getattr(self, name) for name in IMAGE_FIELDS}


IMAGE_FIELDS = tuple(f.name for f in fields(MainImage))


@dataclass(frozen=True)
class ProductOutcome(MainImage):
    """A product's outcome (``product_images``): its status and its main image."""

    product_id: str
    status: str
    scraped_at: datetime
    run_id: str
    attempts: int = 0
    page_kind: str | None = None
    http_status: int | None = None
    error: str | None = None


@dataclass
class Attempt:
    attempt_id: str
    product_id: str
    attempt: int
    fetched_at: datetime
    http_status: int | None
    page_kind: str | None
    latency_ms: float
    bytes: int
    error: str | None
    run_id: str
    final_url: str | None = None


OUTCOME_SCHEMA = pa.schema(
    [
        ("product_id", pa.string()), ("status", pa.string()), ("page_kind", pa.string()),
        ("image_id", pa.string()), ("image_key", pa.string()), ("image_url", pa.string()), ("hires_url", pa.string()),
        ("original_url", pa.string()), ("source", pa.string()), ("default_reason", pa.string()),
        ("http_status", pa.int32()), ("attempts", pa.int32()), ("error", pa.string()),
        ("scraped_at", pa.int64()), ("run_id", pa.string()),
    ]
)  # fmt: skip
ATTEMPT_SCHEMA = pa.schema(
    [
        ("attempt_id", pa.string()), ("product_id", pa.string()), ("attempt", pa.int32()),
        ("fetched_at", pa.int64()), ("http_status", pa.int32()),
        ("page_kind", pa.string()), ("latency_ms", pa.float64()), ("bytes", pa.int64()),
        ("error", pa.string()), ("run_id", pa.string()), ("final_url", pa.string()),
    ]
)  # fmt: skip


__all__ = [
    "CAPTCHA",
    "DEGRADED",
    "HTTP_ERROR",
    "INVALID_ID",
    "NETWORK_ERROR",
    "NOT_FOUND",
    "NO_IMAGE",
    "OK",
    "PAGE_KINDS",
    "PRODUCT",
    "RETRYABLE_STATUSES",
    "SERVICE_ERROR",
    "STATUSES",
    "TERMINAL_STATUSES",
    "TOO_LARGE",
    "UNRECOGNISED",
]
