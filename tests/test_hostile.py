"""A hostile server, replayed through the real fetchers: every case ends with a recorded
status (or a clear error) within a bounded time, and nothing reaches a private address."""

from __future__ import annotations

import hashlib
import io
import socket
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from PIL import Image
from sqid.embed.decode import decode_rgb
from sqid.embed.images import ImagePolicy, fetch_image, image_session
from sqid.http import public_addresses
from sqid.ingest.download import DownloadError, fetch_file
from sqid.ingest.sqd import FileSpec
from sqid.localserve import LoopbackServer, QuietHandler
from sqid.retry import RetryPolicy
from sqid.scrape.pages import analyse_page
from sqid.scrape.shard import RateLimited, run_shard

from .test_scrape import fast_config, outcomes

PAGE = (
    b'<html><body><span id="productTitle">Kettle</span><img id="landingImage" '
    b'src="https://m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg"></body></html>'
)


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 30, 200)).save(out, "JPEG", quality=30)
    return out.getvalue()


class Hostile(LoopbackServer):
    """Routes ``/<name>/dp/<id>`` and ``/images/<name>.<ext>`` to ``route_<name>``;
    ``hits`` counts requests per path."""

    host_name = "localhost"

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.internal_port = 0
        """Where a redirect aims at an internal service (``route_to_internal``)."""
        super().__init__()

    def _handler(self):
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                parts = path.strip("/").split("/")
                name = parts[-1].split(".")[0] if parts[0] == "images" else parts[0]
                getattr(self, "route_" + name.replace("-", "_"), self.route_page)()

            def head(self, status: int, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()

            def route_page(self) -> None:
                self.head(200, {"Content-Length": str(len(PAGE))})
                self.wfile.write(PAGE)

            def route_superscript_length(self) -> None:  # int("²") raises; "²".isdigit() is True
                self.head(200, {"Content-Length": "²", "Connection": "close"})
                self.wfile.write(PAGE)

            def route_superscript_retry(self) -> None:
                self.head(429, {"Retry-After": "²", "Content-Length": "0"})

            def route_hour_retry(self) -> None:
                self.head(503, {"Retry-After": "3600", "Content-Length": "0"})

            def route_empty_429(self) -> None:
                self.head(429, {"Content-Length": "0"})

            def route_drip(self) -> None:
                self.head(200, {"Content-Length": "100000"})
                try:
                    for _ in range(50):
                        self.wfile.write(b"<p")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass  # the client gave up: expected

            def route_offsite(self) -> None:
                self.head(
                    302, {"Location": "http://other.example/dp/B000000000", "Content-Length": "0"}
                )

            def route_to_internal(self) -> None:
                # urlsplit reads the site's host after the backslash; requests would
                # connect to 127.0.0.1:<internal port>.
                internal = server.internal_port
                location = (
                    f"http://127.0.0.1:{internal}\\@localhost:{server.port}/page/dp/B000000001"
                )
                self.head(302, {"Location": location, "Content-Length": "0"})

            def route_to_other_port(self) -> None:
                location = f"http://localhost:{server.internal_port}/page/dp/B000000001"
                self.head(302, {"Location": location, "Content-Length": "0"})

            def route_to_credentials(self) -> None:
                location = f"http://user@localhost:{server.port}/page/dp/B000000001"
                self.head(302, {"Location": location, "Content-Length": "0"})

            def route_to_backslash(self) -> None:
                location = f"https://127.0.0.1:{server.port}\\@m.media-amazon.com/images/I/x.jpg"
                self.head(302, {"Location": location, "Content-Length": "0"})

            def route_image(self) -> None:
                body = jpeg(64, 64)
                self.head(200, {"Content-Type": "image/jpeg", "Content-Length": str(len(body))})
                self.wfile.write(body)

            def route_image_superscript(self) -> None:
                body = jpeg(64, 64)
                self.head(200, {"Content-Type": "image/jpeg", "Content-Length": "²",
                                "Connection": "close"})  # fmt: skip
                self.wfile.write(body)

            def route_image_drip(self) -> None:
                self.route_drip()

        return Handler


@pytest.fixture
def hostile():
    with Hostile() as server:
        yield server


def scrape_one(server, tmp_path, path: str, **config):
    """Scrape product ``B000000001`` served at ``<server>/<path>/dp/...``."""
    config = fast_config(server, base_url=f"{server.base_url}/{path}", **config)
    start = time.monotonic()
    summary = run_shard(["B000000001"], tmp_path, 0, config, "r1")
    (row,) = outcomes(tmp_path)
    return row, summary, time.monotonic() - start


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("superscript-length", "ok", None),  # the length is ignored, the body still read whole
        ("superscript-retry", "http_error", "gave_up_http_429"),
        ("empty-429", "http_error", "gave_up_http_429"),  # a status, not an unrecognised page
        ("offsite", "http_error", "offsite_redirect"),
    ],
)
def test_scraper_records_a_status(hostile, tmp_path, path, status, error):
    row, summary, seconds = scrape_one(hostile, tmp_path, path, max_attempts=2)
    assert (row["status"], row["error"]) == (status, error)
    assert summary.scraped == 1 and seconds < 10


@pytest.mark.parametrize("path", ["to-internal", "to-other-port", "to-credentials"])
def test_redirects_pass_the_url_gate(hostile, tmp_path, path):
    """A redirect the gate refuses is a recorded http_error, never followed: the
    internal service behind the backslash trick is never reached, and its 404 never
    becomes a final not_found."""
    with Hostile() as internal:
        hostile.internal_port = internal.port
        row, _, _ = scrape_one(hostile, tmp_path, path)
        assert internal.hits == {}
    assert row["status"] == "http_error"
    assert row["error"] in ("forbidden_redirect", "offsite_redirect")
    if path == "to-internal":
        assert row["error"] == "forbidden_redirect"


def test_the_scraper_connects_only_to_public_addresses_for_a_public_site(hostile):
    """For the real site the gate allows no private address, and the session checks
    the addresses it connects to: a name or redirect that lands on loopback is refused."""
    from sqid.scrape.fetch import PageFetcher
    from sqid.urlgate import UrlGate

    gate = UrlGate.for_site("https://www.amazon.com")
    assert not gate.allow_private_addresses
    assert isinstance(gate.vet(f"http://localhost:{hostile.port}/dp/x"), str)
    assert isinstance(gate.vet("https://www.amazon.com@127.0.0.1/dp/x"), str)
    fetcher = PageFetcher(gate=gate, timeout=(1, 1), deadline=3)
    outcome = fetcher.fetch(f"http://localhost:{hostile.port}/page/dp/B000000001")
    fetcher.close()
    assert outcome.error == "connection" and hostile.hits == {}


def test_a_good_page_from_the_same_server(hostile, tmp_path):
    row, _, _ = scrape_one(hostile, tmp_path, "page")
    assert row["status"] == "ok" and row["image_id"] == "71abcdefghL"


def test_offsite_redirect_is_recorded_with_its_target(hostile, tmp_path):
    scrape_one(hostile, tmp_path, "offsite")
    attempts = sorted(Path(tmp_path).glob("shard-*/attempts-*.parquet"))
    (attempt,) = pq.read_table(attempts).to_pylist()
    assert attempt["final_url"] == "http://other.example/dp/B000000000"


def test_a_dripping_body_ends_at_the_deadline(hostile, tmp_path):
    row, _, seconds = scrape_one(
        hostile, tmp_path, "drip", request_deadline=1.0, read_timeout=5.0, max_attempts=1
    )
    assert (row["status"], row["error"]) == ("network_error", "timeout")
    assert seconds < 4


def test_a_long_retry_after_is_not_waited_for(hostile, tmp_path):
    row, _, seconds = scrape_one(hostile, tmp_path, "hour-retry", max_retry_after=60)
    assert row["status"] == "service_error" and row["error"] == "http_503_retry_after_3600s"
    assert row["attempts"] == 1 and seconds < 5


def test_repeated_429s_trip_the_breaker(hostile, tmp_path):
    ids = [f"B0{i:08d}" for i in range(30)]
    config = fast_config(
        hostile, base_url=f"{hostile.base_url}/empty-429", throttle_breaker=4, concurrency=1,
        max_attempts=1,
    )  # fmt: skip
    with pytest.raises(RateLimited, match="4 responses in a row were HTTP 429"):
        run_shard(ids, tmp_path, 0, config, "r1")
    assert hostile.hits["/empty-429/dp/" + ids[0]] == 1
    assert sum(hostile.hits.values()) < len(ids)


def image_policy(server, **overrides) -> ImagePolicy:
    quick = {"retry": RetryPolicy(max_attempts=2, backoff_base=0.01, jitter=0.0)}
    return ImagePolicy.with_mirror(server.base_url, **{**quick, **overrides})


def get_image(url: str, policy: ImagePolicy):
    with image_session(policy) as session:
        return fetch_image(url, session, policy, sleep=lambda s: None)


def test_image_with_a_superscript_length(hostile):
    got = get_image(f"{hostile.base_url}/images/image-superscript.jpg", image_policy(hostile))
    assert got.status == "ok"


def test_image_body_dripping_ends_at_the_deadline(hostile):
    start = time.monotonic()
    got = get_image(
        f"{hostile.base_url}/images/image-drip.jpg",
        image_policy(hostile, deadline=1.0, retry=RetryPolicy(max_attempts=1)),
    )
    assert (got.status, got.error) == ("network_error", "timeout")
    assert time.monotonic() - start < 4


@pytest.mark.parametrize(
    "template",
    [
        "https://127.0.0.1:{port}\\@m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg",
        "http://127.0.0.1:{port}\\@m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg",
        "http://user:pass@localhost:{port}/images/image.jpg",
        "http://localhost:{port}/images/to-backslash",
    ],
)
def test_no_request_reaches_a_private_address(hostile, template):
    # The default policy: Amazon hosts only; loopback must be unreachable however written.
    url = template.format(port=hostile.port)
    got = get_image(url, ImagePolicy(retry=RetryPolicy(max_attempts=1)))
    assert got.status == "forbidden_host"
    assert hostile.hits == {}


def rebinding_dns(monkeypatch, first_answer: str, name: str = "localhost") -> None:
    """``name`` resolves to ``first_answer`` once, then to loopback: a name whose owner
    changes its answer between the check and the connection."""
    real = socket.getaddrinfo
    answers = iter([first_answer])

    def getaddrinfo(host, port, *args, **kwargs):
        return real(next(answers, "127.0.0.1") if host == name else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_cannot_reach_a_private_address(hostile, monkeypatch):
    policy = image_policy(hostile, allow_private_addresses=False, retry=RetryPolicy(max_attempts=1))
    url = f"{hostile.base_url}/images/image.jpg"
    rebinding_dns(monkeypatch, "93.184.216.34")
    with requests.Session() as plain:  # the check alone: the connection resolves again
        assert fetch_image(url, plain, policy).status == "ok"
    assert hostile.hits == {"/images/image.jpg": 1}
    rebinding_dns(monkeypatch, "93.184.216.34")
    got = get_image(url, policy)
    assert got.status == "forbidden_host" and "private or loopback address (127.0.0.1)" in got.error
    assert hostile.hits == {"/images/image.jpg": 1}  # no second request arrived


def test_dns_rebinding_is_refused_over_https_too(monkeypatch):
    # The default policy; the connection is refused before any byte is sent.
    rebinding_dns(monkeypatch, "93.184.216.34", "m.media-amazon.com")
    got = get_image("https://m.media-amazon.com/images/I/71abcdefghL.jpg", ImagePolicy())
    assert got.status == "forbidden_host" and "(127.0.0.1)" in got.error


def test_one_private_answer_is_enough_to_refuse_a_name(monkeypatch):
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 443)) for ip in ("93.184.216.34", "10.0.0.5")]  # fmt: skip
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(ValueError, match=r"private or loopback address \(10\.0\.0\.5\)"):
        public_addresses("images.example", 443)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers[:1])
    assert public_addresses("images.example", 443) == [(socket.AF_INET, ("93.184.216.34", 443))]


def test_a_redirect_to_a_backslash_url_is_refused(hostile):
    got = get_image(f"{hostile.base_url}/images/to-backslash", image_policy(hostile))
    assert got.status == "forbidden_host" and "backslash" in got.error
    assert set(hostile.hits) == {"/images/to-backslash"}


def test_a_page_cannot_smuggle_a_private_url_into_image_url():
    page = (
        '<span id="productTitle">x</span><img id="landingImage" data-old-hires='
        '"https://127.0.0.1:18932\\@m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg">'
    )
    result = analyse_page(page)
    assert result.page_kind == "unrecognised" and result.image_url is None


def test_sqd_download_with_a_superscript_length(hostile, tmp_path):
    spec = FileSpec("page.html", len(PAGE), hashlib.sha256(PAGE).hexdigest())
    result = fetch_file(f"{hostile.base_url}/superscript-length", tmp_path / "page.html", spec)
    assert result.path.read_bytes() == PAGE
    wrong = replace(spec, sha256="0" * 64)
    with pytest.raises(DownloadError):
        fetch_file(f"{hostile.base_url}/superscript-length", tmp_path / "other.html", wrong)


def test_huge_dimensions_decode_reduced():
    status, image, _ = decode_rgb(jpeg(6300, 6300), reduce_to=224)
    assert status == "ok" and 448 <= min(image.size) < 900


def test_tiny_images_are_not_embedded():
    assert decode_rgb(jpeg(1, 1))[0] == "too_small"


def _progressive(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, "JPEG", progressive=True)
    return out.getvalue()


def test_a_jpeg_scan_bomb_is_refused_before_decoding():
    """One scan repeated a thousand times: small on the wire, header and magic bytes
    fine, minutes of CPU to decode. It is refused in microseconds, as too_large."""
    from sqid.embed.decode import jpeg_scans
    from sqid.embed.images import TOO_LARGE

    data = _progressive(3000, 3000)
    sos, eoi = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    bomb = data[:eoi] + data[sos:eoi] * 1_000 + data[eoi:]
    assert jpeg_scans(bomb) == jpeg_scans(data) + 1_000
    start = time.monotonic()
    status, image, error = decode_rgb(bomb, reduce_to=224)
    assert (status, image) == (TOO_LARGE, None) and "scans" in error
    assert time.monotonic() - start < 0.5
    assert decode_rgb(data, reduce_to=224)[0] == "ok"  # the real progressive photo


def test_scans_of_an_embedded_thumbnail_are_not_counted():
    from sqid.embed.decode import jpeg_scans

    thumb = _progressive(64, 64)
    photo = _progressive(640, 480)
    app1 = b"\xff\xe1" + (len(thumb) + 2).to_bytes(2, "big") + thumb
    with_thumbnail = photo[:2] + app1 + photo[2:]
    assert jpeg_scans(with_thumbnail) == jpeg_scans(photo) > 1
    assert decode_rgb(with_thumbnail)[0] == "ok"
