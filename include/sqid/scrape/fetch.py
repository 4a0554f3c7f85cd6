"""HTTP fetching for the scraper: a pooled session, per-host rate limits, adaptive throttle.

The policy of *whether* to retry lives in :mod:`sqid.retry`; this module only fetches,
measures and paces. Pacing never speeds up on errors: a captcha, a 429 or a 5xx widens
the delay, and only successful responses let it shrink back towards what latency allows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

from sqid import http
from sqid.http import BodyError, read_body
from sqid.urlgate import UrlGate, UrlParts, split_url

BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Safari/537.36"
    ),
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate",
}


class TokenBucket:
    """``rate`` requests per second on average, bursts of at most ``burst``. Thread-safe."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.burst = rate, max(1.0, burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the time slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            self._sleep(wait)
        return wait


@dataclass
class AdaptiveThrottle:
    """Extra delay between requests that follows latency and backs off on trouble.

    Like crawler auto-throttles: the target delay is latency / target concurrency; a
    success moves the delay halfway to the target, but never below ``min_delay``; a
    failure (captcha, 429, 5xx, network error) doubles it, up to ``max_delay``.
    """

    target_concurrency: float = 2.0
    min_delay: float = 0.0
    max_delay: float = 60.0
    error_delay: float = 1.0
    """The least delay after a failure (a failure from no delay jumps here)."""
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, latency: float, ok: bool) -> float:
        with self._lock:
            if ok:
                target = max(self.min_delay, latency / self.target_concurrency)
                # Only successes can lower the delay, and only halfway at a time.
                self.delay = max(self.min_delay, (self.delay + target) / 2)
            else:
                self.delay = min(self.max_delay, max(self.delay * 2, self.error_delay, latency))
            return self.delay


class HostLimiter:
    """Token bucket plus adaptive throttle for one host, shared by a task's threads."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        throttle: AdaptiveThrottle | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = TokenBucket(rate, burst, sleep=sleep)
        self.throttle = throttle or AdaptiveThrottle()
        self._sleep = sleep

    def wait(self) -> None:
        self.bucket.acquire()
        if self.throttle.delay:
            self._sleep(self.throttle.delay)


@dataclass(frozen=True)
class FetchOutcome:
    url: str
    status: int | None
    body: bytes | None
    error: str | None
    """``connection``, ``timeout``, ``truncated``, ``too_large``, ``offsite_redirect``,
    ``too_many_redirects`` or None."""
    retry_after: str | None
    latency: float
    final_url: str | None = None
    """Where the page was served from after redirects (None when no response came)."""


REDIRECT_ERRORS = frozenset({"offsite_redirect", "forbidden_redirect", "too_many_redirects"})
"""A redirect to another host; one the URL gate refuses (credentials, a backslash, an
address or port the site does not use); more redirects than allowed."""


class PageFetcher:
    """One pooled ``requests.Session`` per worker, bounded in time and body size.

    Every request has a wall-clock ``deadline`` besides the connect and read timeouts
    (a body dripped a few bytes at a time never trips a read timeout). Redirects are
    followed by hand, at most ``max_redirects``, and only through ``gate`` (the site's
    own scheme, host and port, by :class:`sqid.urlgate.UrlGate`'s rules), to the URL
    rebuilt from the checked parts: a page that sends the scraper elsewhere is an
    error, not a page of that product. Connections go to public addresses only, unless
    the site itself is on a private one (the demo's).
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, 20.0),
        deadline: float = 60.0,
        max_body_bytes: int = 8_000_000,
        max_redirects: int = 3,
        pool_size: int = 4,
        proxies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        gate: UrlGate | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.gate = gate
        public_only = gate is not None and not gate.allow_private_addresses
        self.session = http.session(pool_size, public_only=public_only)
        self.session.headers.update(headers or BROWSER_HEADERS)
        if proxies:
            self.session.proxies.update(proxies)

    def close(self) -> None:
        self.session.close()

    def _vet_redirect(self, target: str, host: str | None) -> str:
        """The URL to follow, or the error a redirect to ``target`` is."""
        parts = split_url(target)
        if isinstance(parts, UrlParts) and parts.host != host:
            return "offsite_redirect"
        if self.gate is None:
            return target if isinstance(parts, UrlParts) else "forbidden_redirect"
        vetted = self.gate.vet(target)
        return "forbidden_redirect" if isinstance(vetted, str) else vetted.geturl()

    def fetch(self, url: str) -> FetchOutcome:
        start = time.monotonic()
        deadline = start + self.deadline
        host = urlsplit(url).hostname
        current = url

        def failed(error: str, status: int | None = None, where: str | None = None):
            return FetchOutcome(url, status, None, error, None, time.monotonic() - start, where)

        try:
            with http.within(deadline):
                for _ in range(self.max_redirects + 1):
                    with self.session.get(
                        current, timeout=self.timeout, stream=True, allow_redirects=False
                    ) as resp:
                        if resp.is_redirect:
                            target = urljoin(current, resp.headers.get("Location", ""))
                            vetted = self._vet_redirect(target, host)
                            if vetted in REDIRECT_ERRORS:
                                return failed(vetted, resp.status_code, target)
                            current = vetted
                            continue
                        try:
                            body = read_body(resp, max_bytes=self.max_body_bytes, deadline=deadline)
                        except BodyError as exc:
                            return failed(exc.kind, resp.status_code, current)
                        return FetchOutcome(
                            url,
                            resp.status_code,
                            body,
                            None,
                            resp.headers.get("Retry-After"),
                            time.monotonic() - start,
                            current,
                        )
                return failed("too_many_redirects", None, current)
        except requests.Timeout:
            return failed("timeout")
        except requests.exceptions.ChunkedEncodingError:
            return failed("truncated")
        except requests.RequestException:
            return failed("connection")
