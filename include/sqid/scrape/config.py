"""One scrape run's configuration: every default, and where each setting comes from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqid.retry import RetryPolicy
from sqid.scrape.drift import DriftLimits


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
