"""A local product site: ``/dp/<product_id>`` pages in every layout, with injectable faults.

Each product gets a layout chosen by a stable hash (or fixed per product), and each
request can misbehave: a latency, a 429/503 with ``Retry-After``, a captcha burst, a
connection reset, a truncated or slow body, a 404 dog page, a redirect, a huge page.
Faults are given per product as a sequence (one entry per request) or by rate, decided
by a hash of (product, request number) so that runs are reproducible.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlparse

from sqid.localserve import LoopbackServer, QuietHandler
from sqid.localserve.pages import LAYOUT_STATUS, PRODUCT_LAYOUTS, render

FAULTS = (
    "ok",
    "captcha",
    "429",
    "503",
    "500",
    "reset",
    "truncate",
    "slow",
    "404",
    "redirect",
    "huge",
)


@dataclass
class SiteConfig:
    latency: float = 0.0
    """Seconds added to every response."""
    layouts: dict[str, str] = field(default_factory=dict)
    """Fixed layout per product id; others get a layout by hash, from ``layout_weights``."""
    layout_weights: dict[str, float] = field(
        default_factory=lambda: {layout: 1.0 for layout in PRODUCT_LAYOUTS}
    )
    faults: dict[str, list[str]] = field(default_factory=dict)
    """Per product, the behaviour of its 1st, 2nd, ... request (then ``ok``): ``ok``,
    ``captcha``, ``429``, ``503``, ``500``, ``reset``, ``truncate``, ``slow``, ``404``,
    ``redirect``, ``huge``."""
    rates: dict[str, float] = field(default_factory=dict)
    """Fault name -> probability per request, e.g. ``{"503": 0.05, "captcha": 0.01}``."""
    retry_after: str = "1"
    page_size: int = 200_000
    slow_seconds: float = 3.0
    seed: str = "sqid"


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ProductSite(LoopbackServer):
    """``with ProductSite(config) as site: site.base_url``; ``site.requests`` counts hits."""

    def __init__(self, config: SiteConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        self.config = config or SiteConfig()
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []
        super().__init__(host, port)

    def connection_env(self, **extra: object) -> dict[str, str]:
        """``AIRFLOW_CONN_SQID_AMAZON`` pointing the scraper at this site."""
        conn = {"conn_type": "generic", "host": self.host_name, "port": self.port, "schema": "http",
                "extra": extra}  # fmt: skip
        return {"AIRFLOW_CONN_SQID_AMAZON": json.dumps(conn)}

    def layout_for(self, product_id: str) -> str:
        if product_id in self.config.layouts:
            return self.config.layouts[product_id]
        weights = self.config.layout_weights
        point = _unit(self.config.seed, product_id) * sum(weights.values())
        for layout, weight in weights.items():
            point -= weight
            if point < 0:
                return layout
        return next(iter(weights))

    def behaviour(self, product_id: str, number: int) -> str:
        planned = self.config.faults.get(product_id)
        if planned and number <= len(planned):
            return planned[number - 1]
        for fault, rate in sorted(self.config.rates.items()):
            if _unit(self.config.seed, product_id, number, fault) < rate:
                return fault
        return "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_SiteHandler,), {"site": self})


class _SiteHandler(QuietHandler):
    """Serves the product pages of :attr:`site` as its behaviours say."""

    site: ProductSite

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        parts = parsed.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "dp":
            return self._send(404, render("not_found", "-"))
        product_id = parts[1]
        redirected = "redirected=1" in parsed.query
        with self.site._lock:
            if not redirected:
                self.site.requests[product_id] += 1
            number = self.site.requests[product_id]
            behaviour = "ok" if redirected else self.site.behaviour(product_id, number)
            self.site.log.append((time.monotonic(), product_id, behaviour))
        if self.site.config.latency:
            time.sleep(self.site.config.latency)
        if not self._answer(product_id, behaviour):
            self._misbehave(product_id, behaviour)
        return None

    def _answer(self, product_id: str, behaviour: str) -> bool:
        """A whole response for ``behaviour``; False for the broken ones."""
        cfg = self.site.config
        if behaviour in ("ok", "huge"):
            layout = self.site.layout_for(product_id)
            size = cfg.page_size if behaviour == "ok" else 20_000_000
            self._send(LAYOUT_STATUS.get(layout, 200) if behaviour == "ok" else 200,
                       render(layout, product_id, size=size))  # fmt: skip
        elif behaviour == "captcha":
            self._send(200, render("captcha_classic", product_id))
        elif behaviour in ("429", "503", "500"):
            page = render("service_error", product_id)
            self._send(int(behaviour), page, {"Retry-After": cfg.retry_after})
        elif behaviour == "404":
            self._send(404, render("not_found", product_id))
        elif behaviour == "redirect":
            self._send(301, "", {"Location": f"/dp/{product_id}?redirected=1"})
        else:
            return False
        return True

    def _misbehave(self, product_id: str, behaviour: str) -> None:
        """A connection reset, a body cut short, or one that drips."""
        layout = self.site.layout_for(product_id)
        body = render(layout, product_id, size=self.site.config.page_size).encode()
        if behaviour == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
        elif behaviour == "truncate":
            self._head(200, len(body))
            self.wfile.write(body[: len(body) // 3])
            self.close_connection = True
            self.connection.shutdown(2)
        elif behaviour == "slow":
            self._head(200, len(body))
            self.wfile.write(body[:1000])
            self.wfile.flush()
            time.sleep(self.site.config.slow_seconds)
            with contextlib.suppress(OSError):  # the client gave up: expected
                self.wfile.write(body[1000:])
        else:
            raise ValueError(f"unknown behaviour {behaviour!r}")

    def _head(self, status: int, length: int, headers: dict[str, str] | None = None):
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, page: str, headers: dict[str, str] | None = None):
        body = page.encode()
        self._head(status, len(body), headers)
        self.wfile.write(body)
