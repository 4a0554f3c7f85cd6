"""One shard of a scrape run: its products on a few threads, checkpointed as it goes.

A shard is a list of product IDs handled by one task. Every product ends with one
recorded outcome (:mod:`sqid.scrape.product`) and every HTTP attempt with one attempt
row; both are checkpointed (:mod:`sqid.scrape.checkpoints`: Parquet part files renamed into place),
so a killed worker loses at most the requests in flight and a re-run resumes where it
stopped. Captchas, 429s and layout drift stop the shard early with a retryable error.

When layout drift stops a shard, the pages of the guard's window that it judged suspect
were read while the site's markup was not understood: each gets a newer outcome,
``unrecognised`` with a ``layout_drift:`` error, so no ``no_image`` read then stays
final in ``product_images``, and a resumed shard reads those pages again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqid.progress import LOG_EVERY, Ticker
from sqid.runs import read_slice
from sqid.scrape.checkpoints import Checkpoints, done_products, drift_holds, shard_dir
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.drift import DriftBaseline, DriftGuard
from sqid.scrape.fetch import AdaptiveThrottle, HostLimiter, PageFetcher
from sqid.scrape.plan import WORKLIST, read_drift_baseline
from sqid.scrape.product import (
    CAPTCHA_CIRCUIT_OPEN,
    RATE_LIMITED,
    ShardState,
    now_utc,
    scrape_product,
    store_raw_page,
)
from sqid.scrape.records import CAPTCHA, RETRYABLE_STATUSES, ProductOutcome
from sqid.urlgate import UrlGate

log = logging.getLogger(__name__)


class ShardStopped(RuntimeError):
    """The shard stopped early after checkpointing; a retry of the task resumes it."""


class CircuitOpen(ShardStopped):
    """Too many captchas in a row."""


class RateLimited(ShardStopped):
    """Too many 429 responses in a row."""


class LayoutDrift(ShardStopped):
    """Too many pages not understood: the site's markup has probably changed."""


LAYOUT_DRIFT = "layout_drift"
ERROR_PAGES = "error-pages"


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
    progress_every: float = LOG_EVERY,
) -> ShardSummary:
    """Scrape ``product_ids`` into ``run_dir/shard-NNNNN``, resuming a previous attempt.

    Raises :class:`CircuitOpen` when captchas persist and :class:`LayoutDrift` when too
    many pages are not understood (``baseline``: the product set's history), both after
    checkpointing and writing ``summary.json``.
    """
    run = _ShardRun(product_ids, shard_dir(run_dir, shard), shard, config, run_id,
                    baseline or DriftBaseline(), progress_every)  # fmt: skip
    try:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            list(pool.map(run.work, run.todo))
    finally:
        run.close()
    summary = run.summary()
    _write_summary(run.directory, summary)
    _raise_if_stopped(summary, config, remaining=len(run.todo) - summary.scraped)
    return summary


class _ShardRun:
    """One scrape shard while it runs: the products left to do, the breakers and the
    drift guard its threads share, and its counts. Threads call :meth:`work`; what they
    record goes through one lock."""

    def __init__(self, product_ids: Iterable[str], directory: Path, shard: int,
                 config: ScrapeConfig, run_id: str, baseline: DriftBaseline,
                 progress_every: float) -> None:  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.number, self.config, self.run_id = directory, shard, config, run_id
        self.ids = list(dict.fromkeys(product_ids))
        done = done_products(directory)
        self.todo = [p for p in self.ids if p not in done]
        self.state = ShardState(config.captcha_breaker, config.throttle_breaker)
        self.guard = DriftGuard(config.drift_limits(), baseline)
        self.limiter, self.fetcher = _host_limiter(config), _page_fetcher(config)
        # pyarrow imports pandas on its first array conversion (seconds): pay that before
        # the threads start rather than stall them at the first checkpoint.
        pa.array([0])
        self.checkpoints = Checkpoints(directory, config.checkpoint_every)
        self.counts: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.start, self.ticker = time.monotonic(), Ticker(progress_every)
        self.seen: set[str] = {p.name for p in (directory / ERROR_PAGES).glob("*")}

    def work(self, product_id: str) -> None:
        if self.state.stopped or self.guard.tripped:
            return
        outcome, attempts, page = scrape_product(
            product_id, self.fetcher, self.limiter, self.config, self.state, self.run_id
        )
        with self.lock:
            self._record(product_id, outcome, attempts, page)

    def _record(self, product_id: str, outcome: ProductOutcome, attempts: list, page) -> None:
        stats = self.stats
        stats["requests"] += len(attempts)
        stats["captchas"] += sum(a.page_kind == CAPTCHA for a in attempts)
        stats["throttled"] += sum(a.http_status == 429 for a in attempts)
        if self.guard.tripped or (self.state.stopped and outcome.status in RETRYABLE_STATUSES):
            return  # the shard stopped on or during this product: left for the resumed run
        self.counts[outcome.status] += 1
        stats["retries"] += max(0, len(attempts) - 1)
        held = []
        if self.guard.observe(
            product_id, outcome.page_kind, outcome.status, outcome.default_reason, page
        ):
            held = drift_holds(self.guard.suspects(), self.run_id)
        self.checkpoints.add(outcome, attempts, held)
        self._keep_first_error_page(outcome, page)
        if self.ticker.due():
            _log_progress(self.number, self.counts, stats["requests"], len(self.todo), self.start)

    def _keep_first_error_page(self, outcome: ProductOutcome, page: bytes | None) -> None:
        """The first page of each retryable status in this shard, for ``sqid parse-page``
        (``error-pages/<status>/``, the raw-page store's layout)."""
        if outcome.status in RETRYABLE_STATUSES and page and outcome.status not in self.seen:
            self.seen.add(outcome.status)
            store_raw_page(self.directory / ERROR_PAGES / outcome.status, outcome.product_id,
                           outcome.scraped_at, page)  # fmt: skip

    def close(self) -> None:
        with self.lock:
            self.checkpoints.flush()
        self.fetcher.close()

    def summary(self) -> ShardSummary:
        ids, counts, stats = self.ids, self.counts, self.stats
        summary = ShardSummary(
            shard=self.number, directory=str(self.directory), selected=len(ids),
            skipped_done=len(ids) - len(self.todo), scraped=sum(counts.values()),
            statuses=dict(counts), requests=stats["requests"], retries=stats["retries"],
            captchas=stats["captchas"], throttled=stats["throttled"],
            seconds=round(time.monotonic() - self.start, 3), stopped=self.state.stopped,
        )  # fmt: skip
        if self.guard.tripped and not self.state.stopped:
            summary.stopped = LAYOUT_DRIFT
            summary.drift = _drift_report(self.guard, self.directory)
        return summary


def _host_limiter(config: ScrapeConfig) -> HostLimiter:
    return HostLimiter(
        config.requests_per_second,
        burst=max(1.0, config.concurrency),
        throttle=AdaptiveThrottle(
            target_concurrency=config.concurrency,
            error_delay=config.throttle_error_delay,
            max_delay=config.throttle_max_delay,
        ),
    )


def _page_fetcher(config: ScrapeConfig) -> PageFetcher:
    return PageFetcher(
        timeout=(config.connect_timeout, config.read_timeout),
        deadline=config.request_deadline,
        max_body_bytes=config.max_body_bytes,
        max_redirects=config.max_redirects,
        pool_size=config.concurrency,
        proxies=config.proxies,
        gate=UrlGate.for_site(config.base_url),
    )


def _log_progress(shard: int, counts: Counter[str], requests: int, todo: int, start: float):
    elapsed = time.monotonic() - start
    finished = sum(counts.values())
    rate = requests / elapsed if elapsed else 0.0
    eta = (todo - finished) / (finished / elapsed) if finished and elapsed else 0
    log.info("shard %d: %d/%d products, %.2f req/s, ETA %.0fs, %s",
             shard, finished, todo, rate, eta, dict(counts))  # fmt: skip


def _drift_report(guard: DriftGuard, directory: Path) -> dict[str, Any]:
    """The guard's finding, the pages it holds for the retry, and the sample pages
    saved for ``sqid parse-page``."""
    return {
        **guard.tripped,
        "held_product_ids": [pid for pid, _ in guard.suspects()],
        "sample_pages": [
            str(store_raw_page(directory / "drift-pages", pid, now_utc(), body))
            for pid, _, body in guard.samples
        ],
    }


def _write_summary(directory: Path, summary: ShardSummary) -> None:
    log.info("shard %d finished: %s", summary.shard, summary.to_dict())
    tmp = directory / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary.to_dict(), indent=2))
    os.replace(tmp, directory / "summary.json")


def _raise_if_stopped(summary: ShardSummary, config: ScrapeConfig, remaining: int) -> None:
    """A stopped shard fails its task with what to do, so Airflow retries it later and
    the retry resumes from the checkpoints."""
    shard, scraped = summary.shard, summary.scraped
    if summary.stopped == CAPTCHA_CIRCUIT_OPEN:
        raise CircuitOpen(
            f"shard {shard}: {config.captcha_breaker} captchas in a row; stopped after "
            f"{scraped} products, a retry resumes the remaining {remaining}"
        )
    if summary.stopped == RATE_LIMITED:
        raise RateLimited(
            f"shard {shard}: {config.throttle_breaker} responses in a row were HTTP 429 "
            f"(too many requests); stopped after {scraped} products, a retry "
            f"resumes the remaining {remaining}. Lower requests_per_second or the "
            "sqid_scrape pool if this repeats"
        )
    if summary.stopped == LAYOUT_DRIFT:
        drift = summary.drift
        raise LayoutDrift(
            f"shard {shard}: layout drift, too many pages not understood in the latest "
            f"{drift['window_pages']}: shares {drift['shares']} over limits {drift['limits']} "
            f"(history: {drift['baseline']}); stopped after {scraped} products, a "
            f"retry resumes the remaining {remaining} and reads again the "
            f"{len(drift['held_product_ids'])} pages judged suspect. Sample products "
            f"{drift['sample_product_ids']}, pages saved in {Path(summary.directory) / 'drift-pages'}; "
            "check them with `sqid parse-page`"
        )


def scrape_planned_shard(
    shard: dict[str, Any], config: ScrapeConfig, run_id: str
) -> dict[str, Any]:
    run_dir = Path(shard["run_dir"])
    chunk = read_slice(run_dir / WORKLIST, ["product_id"], shard["offset"], shard["count"])[
        "product_id"
    ]
    baseline = read_drift_baseline(run_dir)
    return run_shard(chunk, run_dir, shard["shard"], config, run_id, baseline=baseline).to_dict()
