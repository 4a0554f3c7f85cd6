"""Scraping the main image of product pages: per-product policy, shards, checkpoints.

A shard is a list of product IDs handled by one task with a few threads. Every product
ends with one recorded outcome and every HTTP attempt with one attempt row; both are
checkpointed to Parquet part files (written to a temp name, then renamed), so a killed
worker loses at most the requests in flight and a re-run resumes where it stopped.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqid.files import write_parquet_atomic
from sqid.retry import RetryPolicy, decide
from sqid.runs import done_keys
from sqid.scrape.drift import DriftBaseline, DriftGuard, DriftLimits
from sqid.scrape.fetch import (
    REDIRECT_ERRORS,
    AdaptiveThrottle,
    FetchOutcome,
    HostLimiter,
    PageFetcher,
)
from sqid.scrape.pages import analyse_page
from sqid.scrape.records import (
    ATTEMPT_SCHEMA,
    CAPTCHA,
    DEGRADED,
    HTTP_ERROR,
    INVALID_ID,
    NETWORK_ERROR,
    NO_IMAGE,
    NOT_FOUND,
    OK,
    OUTCOME_SCHEMA,
    PRODUCT,
    RETRYABLE_STATUSES,
    TOO_LARGE,
    UNRECOGNISED,
    Attempt,
    ProductOutcome,
    is_valid_product_id,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScrapeConfig:
    base_url: str = "https://www.amazon.com"
    requests_per_second: float = 1.0
    concurrency: int = 2
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    request_deadline: float = 60.0
    """Wall-clock limit of one request, body included (a dripping body is a timeout)."""
    max_redirects: int = 3
    max_body_bytes: int = 8_000_000
    max_attempts: int = 4
    backoff_base: float = 2.0
    backoff_max: float = 120.0
    max_retry_after: float = 120.0
    """The longest ``Retry-After`` a thread waits for; a longer one ends the product's
    attempts with a retryable status for a later run."""
    captcha_pause: float = 30.0
    """Seconds every thread of the shard pauses after a captcha."""
    captcha_breaker: int = 5
    """Consecutive captchas that stop the shard (retryable: a later run resumes)."""
    throttle_breaker: int = 10
    """Consecutive 429 responses that stop the shard, like captchas."""
    throttle_error_delay: float = 1.0
    """Delay between requests after a failure, doubled on each further failure."""
    throttle_max_delay: float = 60.0
    checkpoint_every: int = 50
    raw_page_dir: str | None = None
    proxies: dict[str, str] | None = None
    drift_tolerance: float = DriftLimits.tolerance
    """Layout-drift guard: how far above its historical share the share of unrecognised
    pages (or of no-image pages no placeholder explains) may rise before the shard stops."""
    drift_window: int = DriftLimits.window
    drift_min_pages: int = DriftLimits.min_pages

    @classmethod
    def resolve(
        cls,
        params: Mapping[str, Any],
        site: Any = None,
        proxy: Any = None,
        env: Mapping[str, str] = os.environ,
    ) -> ScrapeConfig:
        """The configuration of a run, every source in one place, later ones winning:
        these defaults; ``SQID_PRODUCT_BASE_URL`` and ``SQID_RAW_PAGE_DIR``; the site
        connection (``schema``, ``host``, ``port``; any field of this class in its
        extra); the proxy connection (``host``, ``port``, ``login``, ``password``); the
        run's Params (``requests_per_second``, ``concurrency``, ``drift_tolerance``).
        Connections are any objects with those attributes (Airflow's ``Connection``)."""
        values: dict[str, Any] = {
            "base_url": env.get("SQID_PRODUCT_BASE_URL", cls.base_url),
            "raw_page_dir": env.get("SQID_RAW_PAGE_DIR") or None,
        }
        if site is not None and site.host:
            port = f":{site.port}" if site.port else ""
            values["base_url"] = f"{site.schema or 'https'}://{site.host}{port}"
            values.update(
                {k: v for k, v in site.extra_dejson.items() if k in cls.__dataclass_fields__}
            )
        if proxy is not None and proxy.host:
            auth = f"{proxy.login}:{proxy.password}@" if proxy.login else ""
            url = f"http://{auth}{proxy.host}:{proxy.port or 80}"
            values["proxies"] = {"http": url, "https": url}
        for key in ("requests_per_second", "concurrency"):
            if params.get(key):  # 0: keep the connection's pacing
                values[key] = params[key]
        if params.get("drift_tolerance") is not None:
            values["drift_tolerance"] = params["drift_tolerance"]
        return cls(**values)

    def product_url(self, product_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/dp/{product_id}"

    def drift_limits(self) -> DriftLimits:
        return DriftLimits(
            tolerance=self.drift_tolerance, window=self.drift_window, min_pages=self.drift_min_pages
        )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            max_retry_after=self.max_retry_after,
        )


class ShardStopped(RuntimeError):
    """The shard stopped early after checkpointing; a retry of the task resumes it."""


class CircuitOpen(ShardStopped):
    """Too many captchas in a row."""


class RateLimited(ShardStopped):
    """Too many 429 responses in a row."""


class LayoutDrift(ShardStopped):
    """Too many pages not understood: the site's markup has probably changed."""


CAPTCHA_CIRCUIT_OPEN = "captcha_circuit_open"
RATE_LIMITED = "rate_limited"
LAYOUT_DRIFT = "layout_drift"


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


def _now() -> datetime:
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
    if kind in (PRODUCT, NO_IMAGE, NOT_FOUND, CAPTCHA):
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
        return ProductOutcome(str(product_id), INVALID_ID, _now(), run_id, error=error), [], None
    policy = config.retry_policy()
    attempts: list[Attempt] = []
    url = config.product_url(product_id)
    for number in range(1, policy.max_attempts + 1):
        pause = state.paused_until - time.monotonic()
        if pause > 0:
            sleep(pause)
        limiter.wait()
        fetched_at = _now()
        result = fetcher.fetch(url)
        analysis = None
        if result.body is not None and result.error is None and result.status != 429:
            # A 429 is throttling whatever its body says (often nothing): its status decides.
            analysis = analyse_page(result.body, result.status)
        kind = analysis.page_kind if analysis else None
        attempts.append(
            Attempt(
                attempt_id=f"{run_id}:{product_id}:{number}",
                product_id=product_id,
                attempt=number,
                fetched_at=fetched_at,
                http_status=result.status,
                page_kind=kind,
                latency_ms=round(result.latency * 1000, 1),
                bytes=len(result.body or b""),
                error=result.error,
                run_id=run_id,
                final_url=result.final_url,
            )
        )
        answered = kind in (PRODUCT, NO_IMAGE, NOT_FOUND)
        limiter.throttle.observe(result.latency, ok=answered)
        state.record(kind, result.status, config.captcha_pause)
        retry, delay, reason = next_step(policy, number, kind, result)
        if retry:
            sleep(delay)
            continue
        if config.raw_page_dir and kind in (PRODUCT, NO_IMAGE, NOT_FOUND, DEGRADED, UNRECOGNISED):
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


def store_raw_page(root: Path, product_id: str, fetched_at: datetime, body: bytes) -> Path:
    """Keep a page for re-parsing without re-fetching (never a captcha or error page)."""
    path = root / product_id[:2] / product_id / f"{fetched_at:%Y%m%dT%H%M%S%fZ}.html.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(body, compresslevel=6))
    os.replace(tmp, path)
    return path


def shard_dir(run_dir: Path, shard: int) -> Path:
    return Path(run_dir) / f"shard-{shard:05d}"


def done_products(directory: Path) -> set[str]:
    """Products with an outcome already checkpointed in ``directory``."""
    return done_keys(directory, "outcomes-*.parquet", "product_id")


@dataclass
class ShardSummary:
    shard: int
    directory: str
    selected: int
    skipped_done: int
    scraped: int
    statuses: dict[str, int]
    requests: int
    retries: int
    captchas: int
    seconds: float
    throttled: int = 0
    """Responses with HTTP 429."""
    stopped: str | None = None
    """``captcha_circuit_open`` or ``layout_drift`` when the shard stopped early."""
    drift: dict[str, Any] | None = None
    """What tripped the layout-drift guard: shares, limits, sample products and pages."""

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requests_per_second": round(self.requests_per_second, 3)}


def run_shard(
    product_ids: Iterable[str],
    run_dir: Path,
    shard: int,
    config: ScrapeConfig,
    run_id: str,
    *,
    baseline: DriftBaseline | None = None,
    progress_every: float = 30.0,
) -> ShardSummary:
    """Scrape ``product_ids`` into ``run_dir/shard-NNNNN``, resuming a previous attempt.

    Raises :class:`CircuitOpen` when captchas persist and :class:`LayoutDrift` when too
    many pages are not understood (``baseline``: the product set's history), both after
    checkpointing and writing ``summary.json``.
    """
    directory = shard_dir(run_dir, shard)
    directory.mkdir(parents=True, exist_ok=True)
    ids = list(dict.fromkeys(product_ids))
    done = done_products(directory)
    todo = [p for p in ids if p not in done]
    part = len(list(directory.glob("outcomes-*.parquet")))
    state = ShardState(config.captcha_breaker, config.throttle_breaker)
    guard = DriftGuard(config.drift_limits(), baseline or DriftBaseline())
    limiter = HostLimiter(
        config.requests_per_second,
        burst=max(1.0, config.concurrency),
        throttle=AdaptiveThrottle(
            target_concurrency=config.concurrency,
            error_delay=config.throttle_error_delay,
            max_delay=config.throttle_max_delay,
        ),
    )
    fetcher = PageFetcher(
        timeout=(config.connect_timeout, config.read_timeout),
        deadline=config.request_deadline,
        max_body_bytes=config.max_body_bytes,
        max_redirects=config.max_redirects,
        pool_size=config.concurrency,
        proxies=config.proxies,
    )
    # pyarrow imports pandas on its first array conversion (seconds): pay that before
    # the threads start rather than stall them at the first checkpoint.
    pa.array([0])
    counts: Counter[str] = Counter()
    pending_outcomes: list[dict[str, Any]] = []
    pending_attempts: list[dict[str, Any]] = []
    stats = Counter()
    lock = threading.Lock()
    start = last_progress = time.monotonic()

    def flush() -> None:
        nonlocal part, pending_outcomes, pending_attempts
        if not pending_outcomes:
            return
        # Attempts first: an outcome file on disk means its attempts are there too.
        write_parquet_atomic(
            pending_attempts, ATTEMPT_SCHEMA, directory / f"attempts-{part:05d}.parquet"
        )
        write_parquet_atomic(
            pending_outcomes, OUTCOME_SCHEMA, directory / f"outcomes-{part:05d}.parquet"
        )
        part += 1
        pending_outcomes, pending_attempts = [], []

    def work(product_id: str) -> None:
        nonlocal last_progress
        if state.stopped or guard.tripped:
            return
        outcome, attempts, page = scrape_product(
            product_id, fetcher, limiter, config, state, run_id
        )
        with lock:
            stats["requests"] += len(attempts)
            stats["captchas"] += sum(a.page_kind == CAPTCHA for a in attempts)
            stats["throttled"] += sum(a.http_status == 429 for a in attempts)
            if guard.tripped or (state.stopped and outcome.status in RETRYABLE_STATUSES):
                # The shard stopped on or during this product: left for the resumed run.
                return
            counts[outcome.status] += 1
            stats["retries"] += max(0, len(attempts) - 1)
            pending_outcomes.append(asdict(outcome))
            pending_attempts.extend(asdict(a) for a in attempts)
            guard.observe(
                product_id, outcome.page_kind, outcome.status, outcome.default_reason, page
            )
            if len(pending_outcomes) >= config.checkpoint_every:
                flush()
            now = time.monotonic()
            if now - last_progress >= progress_every:
                last_progress = now
                finished = sum(counts.values())
                rate = stats["requests"] / (now - start)
                eta = (len(todo) - finished) / (finished / (now - start)) if finished else 0
                log.info(
                    "shard %d: %d/%d products, %.2f req/s, ETA %.0fs, %s",
                    shard,
                    finished,
                    len(todo),
                    rate,
                    eta,
                    dict(counts),
                )

    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            list(pool.map(work, todo))
    finally:
        with lock:
            flush()
        fetcher.close()
    summary = ShardSummary(
        shard=shard,
        directory=str(directory),
        selected=len(ids),
        skipped_done=len(ids) - len(todo),
        scraped=sum(counts.values()),
        statuses=dict(counts),
        requests=stats["requests"],
        retries=stats["retries"],
        captchas=stats["captchas"],
        throttled=stats["throttled"],
        seconds=round(time.monotonic() - start, 3),
        stopped=state.stopped,
    )
    if guard.tripped and not state.stopped:
        summary.stopped = LAYOUT_DRIFT
        summary.drift = {
            **guard.tripped,
            "sample_pages": [
                str(store_raw_page(directory / "drift-pages", pid, _now(), body))
                for pid, _, body in guard.samples
            ],
        }
    log.info("shard %d finished: %s", shard, summary.to_dict())
    tmp = directory / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary.to_dict(), indent=2))
    os.replace(tmp, directory / "summary.json")
    remaining = len(todo) - summary.scraped
    if state.stopped == CAPTCHA_CIRCUIT_OPEN:
        raise CircuitOpen(
            f"shard {shard}: {config.captcha_breaker} captchas in a row; stopped after "
            f"{summary.scraped} products, a retry resumes the remaining {remaining}"
        )
    if state.stopped == RATE_LIMITED:
        raise RateLimited(
            f"shard {shard}: {config.throttle_breaker} responses in a row were HTTP 429 "
            f"(too many requests); stopped after {summary.scraped} products, a retry "
            f"resumes the remaining {remaining}. Lower requests_per_second or the "
            "sqid_scrape pool if this repeats"
        )
    if summary.stopped == LAYOUT_DRIFT:
        drift = summary.drift
        raise LayoutDrift(
            f"shard {shard}: layout drift, too many pages not understood in the latest "
            f"{drift['window_pages']}: shares {drift['shares']} over limits {drift['limits']} "
            f"(history: {drift['baseline']}); stopped after {summary.scraped} products, a "
            f"retry resumes the remaining {remaining}. Sample products "
            f"{drift['sample_product_ids']}, pages saved in {directory / 'drift-pages'}; "
            "check them with `sqid parse-page`"
        )
    return summary
