"""Scraper benchmarks, each a ratio measured in one run.

(a) Page analysis: our bounded pre-scan vs a full ``BeautifulSoup(html, "html.parser")``
    parse of the same page, on the largest fixture (a 2 MB product page).
(b) Politeness at speed: requests/s achieved by one shard against the local product site
    with 50 ms latency per response, vs the configured rate limit.

    python bench/bench_scrape.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bs4 import BeautifulSoup
from sqid.localserve.pages import render
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.pages import analyse_page
from sqid.scrape import ScrapeConfig, run_shard


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_parse(size: int = 2_000_000, repeat: int = 5) -> None:
    page = render("landing", "B07XYZ1234", "Stainless steel kettle", size=size)
    assert analyse_page(page) == analyse_page(page, full_parse=True)
    ours = best_of(lambda: analyse_page(page), repeat)
    naive = best_of(lambda: BeautifulSoup(page, "html.parser"), max(2, repeat // 2))
    print(f"(a) page analysis on a {len(page) / 1e6:.1f} MB page")
    print(f"    analyse_page (pre-scan)            {ours * 1000:8.1f} ms")
    print(f"    BeautifulSoup(html, 'html.parser') {naive * 1000:8.1f} ms  (parse only)")
    print(f"    ratio: {naive / ours:.1f}x faster than a full parse")


def bench_rate(rate: float = 20.0, products: int = 300, latency: float = 0.05) -> None:
    ids = [f"B0{i:08d}" for i in range(products)]
    with ProductSite(SiteConfig(latency=latency, page_size=100_000)) as site:
        config = ScrapeConfig(base_url=site.base_url, requests_per_second=rate, concurrency=4)
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_shard(ids, Path(tmp), 0, config, "bench")
        gaps = [b[0] - a[0] for a, b in zip(site.log, site.log[1:], strict=False)]
    achieved = summary.requests / summary.seconds
    print(
        f"(b) one shard, {products} products, {latency * 1000:.0f} ms latency, limit {rate:g} req/s"
    )
    print(f"    achieved {achieved:.2f} req/s, median gap {statistics.median(gaps) * 1000:.1f} ms")
    print(f"    ratio: {achieved / rate:.1%} of the configured rate limit")


if __name__ == "__main__":
    bench_parse()
    bench_rate()
