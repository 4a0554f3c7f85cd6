"""The scrape stage's one vocabulary: page kinds and product statuses.

Plain constants with no imports, so that DAG files (the Params' enums) can use them
without loading anything heavy; :mod:`sqid.scrape.records` re-exports them.
"""

# What a page is (PageAnalysis.page_kind).
PRODUCT = "product"
NO_IMAGE = "no_image"
CAPTCHA = "captcha"
NOT_FOUND = "not_found"
SERVICE_ERROR = "service_error"
DEGRADED = "degraded"
UNRECOGNISED = "unrecognised"
PAGE_KINDS = (PRODUCT, NO_IMAGE, CAPTCHA, NOT_FOUND, SERVICE_ERROR, DEGRADED, UNRECOGNISED)
ANSWERED_KINDS = frozenset({PRODUCT, NO_IMAGE, NOT_FOUND})
"""Pages that answer the question about the product: no retry asks it again."""
ANALYSED_KINDS = ANSWERED_KINDS | {DEGRADED, UNRECOGNISED}
"""Pages whose markup was read for an answer: the raw-page store keeps them and the
layout-drift guard judges them (captchas and error pages have their own mechanisms)."""

# Final status of a product (product_images.status).
OK = "ok"
INVALID_ID = "invalid_id"
HTTP_ERROR = "http_error"
NETWORK_ERROR = "network_error"
TOO_LARGE = "too_large"
STATUSES = (
    OK, NO_IMAGE, NOT_FOUND, INVALID_ID, TOO_LARGE,
    CAPTCHA, SERVICE_ERROR, DEGRADED, UNRECOGNISED, HTTP_ERROR, NETWORK_ERROR,
)  # fmt: skip
TERMINAL_STATUSES = frozenset({OK, NO_IMAGE, NOT_FOUND, INVALID_ID, TOO_LARGE})
RETRYABLE_STATUSES = frozenset(STATUSES) - TERMINAL_STATUSES

MEANINGS = {
    OK: "a product page with its main image",
    NO_IMAGE: "a product page without a product image (a placeholder, the default video "
    "art, or no images declared)",
    NOT_FOUND: "the product page is gone (HTTP 404 or Amazon's 404 page, no outage sign)",
    INVALID_ID: "not a 10-character ASIN or ISBN-10; never requested",
    TOO_LARGE: "the page exceeded the size limit",
    CAPTCHA: "a robot check answered every attempt; retried by a later run",
    SERVICE_ERROR: "an error page after all retries; retried later",
    DEGRADED: "a degraded product page; retried later",
    UNRECOGNISED: "a page not understood; retried later (never read as no image)",
    HTTP_ERROR: "another HTTP error after all retries; retried later",
    NETWORK_ERROR: "resets, timeouts or truncated bodies after all retries; retried later",
}
"""One line per status, for the dataset card (the README's table says more)."""
