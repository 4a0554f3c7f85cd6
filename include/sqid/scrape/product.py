"""One product page to one recorded outcome: fetch, analyse, retry or stop.

The retry policy (:func:`next_step`) and the recorded status (:func:`final_status`) are
pure functions of the attempt; :class:`ShardState` carries what a shard's threads share
(the captcha and 429 breakers and the pause they impose on every thread).
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqid.retry import RetryPolicy, decide
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.fetch import REDIRECT_ERRORS, FetchOutcome, HostLimiter, PageFetcher
from sqid.scrape.pages import PageAnalysis, analyse_page
from sqid.scrape.records import (
    CAPTCHA,
    DEGRADED,
    HTTP_ERROR,
    INVALID_ID,
    NETWORK_ERROR,
    NOT_FOUND,
    OK,
    PRODUCT,
    TOO_LARGE,
    UNRECOGNISED,
    Attempt,
    ProductOutcome,
    is_valid_product_id,
)
from sqid.scrape.vocabulary import ANALYSED_KINDS, ANSWERED_KINDS

CAPTCHA_CIRCUIT_OPEN = "captcha_circuit_open"
RATE_LIMITED = "rate_limited"


@dataclass
class ShardState:
    """Shared by a shard's threads: the captcha and 429 breakers and the shared pause."""

    captcha_breaker: int
    throttle_breaker: int = 10
    consecutive_captchas: int = 0
    consecutive_throttled: int = 0
    paused_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, page_kind: str | None, http_status: int | None, pause: float) -> None:
        """Count one attempt. A captcha or a 429 pauses every thread of the shard."""
        with self.lock:
            if page_kind == CAPTCHA:
                self.consecutive_captchas += 1
                self.paused_until = max(self.paused_until, time.monotonic() + pause)
            elif page_kind is not None:
                self.consecutive_captchas = 0
            if http_status == 429:
                self.consecutive_throttled += 1
                self.paused_until = max(self.paused_until, time.monotonic() + pause)
            elif http_status is not None:
                self.consecutive_throttled = 0

    @property
    def stopped(self) -> str | None:
        """Why the shard must stop, or None."""
        if self.consecutive_captchas >= self.captcha_breaker:
            return CAPTCHA_CIRCUIT_OPEN
        if self.consecutive_throttled >= self.throttle_breaker:
            return RATE_LIMITED
        return None


def now_utc() -> datetime:
    return datetime.now(UTC)


def next_step(
    policy: RetryPolicy, number: int, kind: str | None, result: FetchOutcome
) -> tuple[bool, float, str]:
    """(retry now?, delay, reason) after attempt ``number``: the scraper's retry policy.

    Product, no-image and not-found pages are answers. A captcha is never retried at
    once (it pauses the whole shard instead), nor is an odd 200 page (degraded,
    unrecognised): the product keeps a retryable status for a later run. HTTP errors,
    service-error pages and network failures follow :func:`sqid.retry.decide`.
    """
    if kind in ANSWERED_KINDS or kind == CAPTCHA:
        return False, 0.0, kind
    if kind in (DEGRADED, UNRECOGNISED) and result.status == 200:
        return False, 0.0, kind
    if result.error == "too_large":
        return False, 0.0, TOO_LARGE
    if result.error in REDIRECT_ERRORS:
        return False, 0.0, result.error
    if result.error:
        decision = decide(policy, number, error=result.error)
    else:
        status = result.status if (result.status or 0) >= 400 or kind is None else 503
        decision = decide(policy, number, status=status, retry_after=result.retry_after)
    return decision.retry, decision.delay, decision.reason


def final_status(kind: str | None, result: FetchOutcome) -> str:
    """The product's recorded status once no more attempts are made."""
    if kind == PRODUCT:
        return OK
    if kind is not None:
        return kind
    if result.error == "too_large":
        return TOO_LARGE
    if result.error in REDIRECT_ERRORS:
        return HTTP_ERROR
    if result.error:
        return NETWORK_ERROR
    if result.status == 404:
        return NOT_FOUND
    return HTTP_ERROR


def scrape_product(
    product_id: str,
    fetcher: PageFetcher,
    limiter: HostLimiter,
    config: ScrapeConfig,
    state: ShardState,
    run_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[ProductOutcome, list[Attempt], bytes | None]:
    """Fetch one product page until a terminal answer or the retry policy gives up.

    Returns the outcome, every attempt, and the last page body (for diagnosis).
    """
    if not is_valid_product_id(product_id):
        error = "not a 10-character ASIN or ISBN-10"
        return ProductOutcome(str(product_id), INVALID_ID, now_utc(), run_id, error=error), [], None
    policy = config.retry_policy()
    attempts: list[Attempt] = []
    url = config.product_url(product_id)
    for number in range(1, policy.max_attempts + 1):
        pause = state.paused_until - time.monotonic()
        if pause > 0:
            sleep(pause)
        limiter.wait()
        fetched_at = now_utc()
        result = fetcher.fetch(url)
        analysis = _analysis(result)
        kind = analysis.page_kind if analysis else None
        attempts.append(_attempt(run_id, product_id, number, fetched_at, result, kind))
        answered = kind in ANSWERED_KINDS
        # A page served as a page, understood or not, is no sign of a strained server:
        # only captchas, error pages, 429s and network failures slow the host down.
        limiter.throttle.observe(result.latency, ok=kind in ANALYSED_KINDS)
        state.record(kind, result.status, config.captcha_pause)
        retry, delay, reason = next_step(policy, number, kind, result)
        if retry:
            sleep(delay)
            continue
        if config.raw_page_dir and kind in ANALYSED_KINDS:
            store_raw_page(Path(config.raw_page_dir), product_id, fetched_at, result.body or b"")
        outcome = ProductOutcome(
            product_id,
            final_status(kind, result),
            fetched_at,
            run_id,
            attempts=number,
            page_kind=kind,
            http_status=result.status,
            error=None if answered else (result.error or reason),
            **(analysis.main_image() if analysis is not None else {}),
        )
        return outcome, attempts, result.body
    raise AssertionError("unreachable: the retry policy always ends the loop")


def _analysis(result: FetchOutcome) -> PageAnalysis | None:
    """What the page is, when a page came back; a 429 is throttling whatever its body
    says (often nothing): its status decides."""
    if result.body is not None and result.error is None and result.status != 429:
        return analyse_page(result.body, result.status)
    return None


def _attempt(run_id: str, product_id: str, number: int, fetched_at: datetime,
             result: FetchOutcome, kind: str | None) -> Attempt:  # fmt: skip
    return Attempt(
        attempt_id=f"{run_id}:{product_id}:{number}", product_id=product_id, attempt=number,
        fetched_at=fetched_at, http_status=result.status, page_kind=kind,
        latency_ms=round(result.latency * 1000, 1), bytes=len(result.body or b""),
        error=result.error, run_id=run_id, final_url=result.final_url,
    )  # fmt: skip


def store_raw_page(root: Path, product_id: str, fetched_at: datetime, body: bytes) -> Path:
    """Keep a page for re-parsing without re-fetching (never a captcha or error page)."""
    path = root / product_id[:2] / product_id / f"{fetched_at:%Y%m%dT%H%M%S%fZ}.html.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(body, compresslevel=6))
    os.replace(tmp, path)
    return path
