"""Every network request ends by its deadline, also against a server that drips its
status line or headers a byte at a time (a read timeout alone never fires then)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
from sqid import http


class DripServer:
    """A loopback server that answers every connection one byte every ``gap`` seconds,
    for at most ``limit`` seconds, and never finishes its headers."""

    def __init__(self, gap: float = 0.05, limit: float = 8.0) -> None:
        self.gap, self.limit = gap, limit
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dp/B000000001"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        payload = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000
        end = time.monotonic() + self.limit
        with conn:
            for byte in payload:
                if self.stop.is_set() or time.monotonic() > end:
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(self.gap)


@pytest.fixture
def drip():
    with DripServer() as server:
        yield server


def test_a_plain_read_timeout_does_not_end_a_dripping_server(drip):
    """Why the deadline exists: each byte comes well inside the read timeout."""
    with pytest.raises(requests.Timeout), http.within(time.monotonic() + 1.0):
        http.session(public_only=False).get(drip.url, timeout=(1, 0.5))
    # Without the deadline the same request would still be reading headers after 1 s.
    start = time.monotonic()
    box: dict[str, object] = {}

    def unbounded() -> None:
        try:
            requests.get(drip.url, timeout=(1, 0.5))
        except requests.RequestException as exc:
            box["error"] = exc

    worker = threading.Thread(target=unbounded, daemon=True)
    worker.start()
    worker.join(timeout=1.5)
    assert worker.is_alive() and time.monotonic() - start >= 1.5


def test_the_scraper_gives_up_on_dripped_headers_at_its_deadline(drip):
    from sqid.scrape.fetch import PageFetcher

    fetcher = PageFetcher(timeout=(1.0, 0.5), deadline=1.0)
    start = time.monotonic()
    outcome = fetcher.fetch(drip.url)
    took = time.monotonic() - start
    fetcher.close()
    assert outcome.error == "timeout"
    assert took < 2.5, took


def test_image_downloads_give_up_on_dripped_headers_at_their_deadline(drip):
    from sqid.embed.images import NETWORK_ERROR, ImagePolicy, fetch_image, image_session
    from sqid.retry import RetryPolicy

    policy = ImagePolicy.with_mirror(
        f"http://localhost:{drip.port}",
        deadline=1.0,
        timeout=(1.0, 0.5),
        retry=RetryPolicy(max_attempts=1),
    )
    session = image_session(policy)
    start = time.monotonic()
    fetched = fetch_image(f"http://localhost:{drip.port}/images/I/41abcdEFGHL.jpg", session, policy)
    took = time.monotonic() - start
    assert (fetched.status, fetched.error) == (NETWORK_ERROR, "timeout")
    assert took < 2.5, took


def test_dataset_downloads_give_up_on_dripped_headers(drip, tmp_path):
    from sqid.ingest.download import DownloadError, fetch_file
    from sqid.ingest.sqd import FileSpec
    from sqid.retry import RetryPolicy

    start = time.monotonic()
    with pytest.raises(DownloadError, match="timeout"):
        fetch_file(
            drip.url,
            tmp_path / "f.csv",
            FileSpec("f.csv", 10, "0" * 64),
            policy=RetryPolicy(max_attempts=1),
            timeout=(0.5, 0.5),
        )
    assert time.monotonic() - start < 2.5
