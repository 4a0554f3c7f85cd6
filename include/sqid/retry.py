"""Retry policy as a pure function: (attempt, outcome) -> retry after N seconds, or give up.

Kept free of I/O so that downloads and the scraper share one tested rule and so the
behaviour can be read in one place. Defaults follow common crawler practice: retry
transient HTTP statuses and network errors with exponential backoff and jitter, and
honour ``Retry-After`` when the server sends one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sqid.http import parse_header_int

RETRY_HTTP_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
RETRY_ERRORS: frozenset[str] = frozenset({"connection", "timeout", "truncated"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_factor: float = 2.0
    backoff_max: float = 120.0
    jitter: float = 0.5
    """Fraction of the delay that is randomised (0 = none, 1 = full jitter)."""
    max_retry_after: float = 300.0
    """The longest ``Retry-After`` waited for in place. A server asking for more gets no
    retry now: the caller records a retryable failure and a later run tries again,
    rather than hold a worker for hours."""
    retry_statuses: frozenset[int] = RETRY_HTTP_STATUSES
    retry_errors: frozenset[str] = RETRY_ERRORS


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float
    reason: str


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None
    for an absent or malformed value (never raises)."""
    if not value:
        return None
    seconds = parse_header_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff for the wait after the ``attempt``-th try (1-based), with jitter."""
    raw = min(policy.backoff_max, policy.backoff_base * policy.backoff_factor ** (attempt - 1))
    if policy.jitter <= 0:
        return raw
    low = raw * (1.0 - min(policy.jitter, 1.0))
    return (rng or random).uniform(low, raw)


def decide(
    policy: RetryPolicy,
    attempt: int,
    *,
    status: int | None = None,
    error: str | None = None,
    retry_after: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """Whether to try again after ``attempt`` tries ended with ``status`` or ``error``.

    ``error`` names a failure with no HTTP status (``connection``, ``timeout``,
    ``truncated``, ...). A success (2xx/3xx without error) is never retried.
    """
    if error is not None:
        retryable, reason = error in policy.retry_errors, error
    elif status is not None:
        retryable, reason = status in policy.retry_statuses, f"http_{status}"
        if status < 400:
            return Decision(False, 0.0, "ok")
    else:
        raise ValueError("decide() needs a status or an error")
    if not retryable:
        return Decision(False, 0.0, reason)
    if attempt >= policy.max_attempts:
        return Decision(False, 0.0, f"gave_up_{reason}")
    delay = backoff_delay(policy, attempt, rng)
    server_wait = parse_retry_after(retry_after, now)
    if server_wait is not None:
        if server_wait > policy.max_retry_after:
            return Decision(False, 0.0, f"{reason}_retry_after_{server_wait:.0f}s")
        delay = max(delay, server_wait)
    return Decision(True, delay, reason)
