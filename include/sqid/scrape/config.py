"""One scrape run's configuration: every default, and where each setting comes from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqid.retry import RetryPolicy
from sqid.scrape.drift import DriftLimits
from sqid.setting import check_all, default_of
from sqid.settings import SITE


def _site(name: str):
    return default_of(SITE, name)


@dataclass(frozen=True)
class ScrapeConfig:
    """A scrape run's settings; each one the connection's extra may set is declared in
    :data:`sqid.settings.SITE` (its default, bounds and meaning)."""

    base_url: str = "https://www.amazon.com"
    raw_page_dir: str | None = None
    proxies: dict[str, str] | None = None
    requests_per_second: float = _site("requests_per_second")
    concurrency: int = _site("concurrency")
    connect_timeout: float = _site("connect_timeout")
    read_timeout: float = _site("read_timeout")
    request_deadline: float = _site("request_deadline")
    max_redirects: int = _site("max_redirects")
    max_body_bytes: int = _site("max_body_bytes")
    max_attempts: int = _site("max_attempts")
    backoff_base: float = _site("backoff_base")
    backoff_max: float = _site("backoff_max")
    max_retry_after: float = _site("max_retry_after")
    captcha_pause: float = _site("captcha_pause")
    captcha_breaker: int = _site("captcha_breaker")
    throttle_breaker: int = _site("throttle_breaker")
    throttle_error_delay: float = _site("throttle_error_delay")
    throttle_max_delay: float = _site("throttle_max_delay")
    checkpoint_every: int = _site("checkpoint_every")
    drift_tolerance: float = _site("drift_tolerance")
    drift_window: int = _site("drift_window")
    drift_min_pages: int = _site("drift_min_pages")

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
        connection (``schema``, ``host``, ``port``; in its extra, any setting of
        :data:`~sqid.settings.SITE`, checked against its declaration, an unknown key
        refused); the proxy connection (``host``, ``port``, ``login``, ``password``); the
        run's Params (``requests_per_second``, ``concurrency``, ``drift_tolerance``).
        Connections are any objects with those attributes (Airflow's ``Connection``)."""
        values: dict[str, Any] = {
            "base_url": env.get("SQID_PRODUCT_BASE_URL", cls.base_url),
            "raw_page_dir": env.get("SQID_RAW_PAGE_DIR") or None,
        }
        if site is not None and site.host:
            port = f":{site.port}" if site.port else ""
            values["base_url"] = f"{site.schema or 'https'}://{site.host}{port}"
            values.update(check_all(SITE, site.extra_dejson, "the sqid_amazon connection's extra"))
        if proxy is not None and proxy.host:
            auth = f"{proxy.login}:{proxy.password}@" if proxy.login else ""
            url = f"http://{auth}{proxy.host}:{proxy.port or 80}"
            values["proxies"] = {"http": url, "https": url}
        for key in ("requests_per_second", "concurrency", "drift_tolerance"):
            if params.get(key) is not None:  # empty: keep the connection's
                values[key] = params[key]
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
