from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.fetch import AdaptiveThrottle, PageFetcher, TokenBucket


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_token_bucket_holds_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=2.0, clock=clock, sleep=clock.sleep)
    for _ in range(42):
        bucket.acquire()
    # 2 tokens of burst, then 40 more at 4/s.
    assert abs(clock.now - 10.0) < 1e-9


def test_throttle_never_speeds_up_on_errors():
    throttle = AdaptiveThrottle(target_concurrency=2.0, error_delay=0.5, max_delay=8.0)
    assert throttle.observe(0.2, ok=True) == 0.05
    delays = [throttle.observe(0.2, ok=False) for _ in range(6)]
    assert delays == sorted(delays) and delays[-1] == 8.0
    recovering = [throttle.observe(0.2, ok=True) for _ in range(4)]
    assert recovering == sorted(recovering, reverse=True) and recovering[-1] > 0.1


def test_fetcher_bounds_body_and_reports_failures():
    config = SiteConfig(
        faults={"B000000001": ["huge"], "B000000002": ["reset"], "B000000003": ["slow"]},
        slow_seconds=1.5,
    )
    with ProductSite(config) as site:
        fetcher = PageFetcher(timeout=(2.0, 0.5), max_body_bytes=2_000_000)
        ok = fetcher.fetch(f"{site.base_url}/dp/B000000000")
        huge = fetcher.fetch(f"{site.base_url}/dp/B000000001")
        reset = fetcher.fetch(f"{site.base_url}/dp/B000000002")
        slow = fetcher.fetch(f"{site.base_url}/dp/B000000003")
        fetcher.close()
    assert ok.status == 200 and ok.body and ok.error is None
    assert huge.error == "too_large" and huge.body is None
    assert reset.error == "connection"
    assert slow.error in ("timeout", "connection")
