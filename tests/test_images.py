"""Image download safety against a local server serving hostile files."""

import io
import struct
import zlib
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from sqid.embed.cache import ContentCache
from sqid.embed.decode import decode_rgb, png_data_complete
from sqid.embed.images import ImagePolicy, check_url, fetch_image, image_session, sniff
from sqid.localserve.cdn import ImageCDN, send
from sqid.retry import RetryPolicy

TEST_POLICY = ImagePolicy(
    allowed_hosts=frozenset({"localhost", "m.media-amazon.com"}),
    allow_http=True,
    allow_private_addresses=True,
    max_bytes=15_000_000,
    retry=RetryPolicy(max_attempts=3, backoff_base=0.01, jitter=0.0),
)


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def png(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A few hundred bytes claiming 900 megapixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return png(ihdr, zlib.compress(b"\x00" * 10_000, 9))


def palette_with_transparency() -> bytes:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    return encoded(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (30, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


RGB = Image.new("RGB", (64, 48), (10, 200, 30))
FILES = {
    "/ok.jpg": (encoded(RGB, "JPEG"), "image/jpeg"),
    "/truncated.jpg": (encoded(RGB, "JPEG", quality=95)[:400], "image/jpeg"),
    "/html.jpg": (b"<!doctype html><html><body>Not an image</body></html>", "image/jpeg"),
    "/bomb.png": (png_bomb(), "image/png"),
    "/palette.png": (palette_with_transparency(), "image/png"),
    "/cmyk.jpg": (encoded(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG"), "image/jpeg"),
    "/image.webp": (encoded(RGB, "WEBP"), "image/webp"),
    "/animated.gif": (animated_gif(), "image/gif"),
    "/sixteen.png": (encoded(Image.new("I;16", (16, 16), 40000), "PNG"), "image/png"),
    "/as-text.png": (encoded(RGB, "PNG"), "text/html"),
}


def serve_files(handler):
    body, ctype = FILES[handler.path]
    send(handler, 200, body, ctype)


def huge_body(handler):
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    block = b"\xff\xd8\xff" + b"\x00" * (1 << 20)
    try:
        for _ in range(50):
            handler.wfile.write(block)
    except OSError:
        pass


@pytest.fixture(scope="module")
def cdn():
    with ImageCDN() as server:
        for path in FILES:
            server.extra[path] = serve_files
        server.extra["/huge.jpg"] = huge_body
        server.extra["/to-loopback"] = lambda h: send(
            h, 302, b"", "text/plain", {"Location": f"http://127.0.0.1:{server.port}/ok.jpg"}
        )
        server.extra["/to-foreign"] = lambda h: send(
            h, 302, b"", "text/plain", {"Location": "http://evil.example/ok.jpg"}
        )
        server.extra["/to-ok"] = lambda h: send(h, 301, b"", "text/plain", {"Location": "/ok.jpg"})
        server.extra["/flaky"] = flaky(server)
        body, ctype = FILES["/ok.jpg"]
        for name, robots in (("noai", "noai"), ("noimageai", "noindex, NoImageAI"),
                             ("agent-noai", "otherbot: noai"), ("indexable", "noindex")):  # fmt: skip
            server.extra[f"/{name}.jpg"] = lambda h, r=robots: send(
                h, 200, body, ctype, {"X-Robots-Tag": r}
            )
        yield server


def flaky(server):
    calls = {"n": 0}

    def handler(h):
        calls["n"] += 1
        if calls["n"] < 3:
            return send(h, 503, b"busy", "text/plain", {"Retry-After": "0"})
        return serve_files_as(h, "/ok.jpg")

    return handler


def serve_files_as(handler, path):
    body, ctype = FILES[path]
    send(handler, 200, body, ctype)


def get(cdn, path):
    policy = replace(TEST_POLICY, allowed_ports=frozenset({cdn.port}))
    with image_session(policy) as session:
        return fetch_image(f"{cdn.base_url}{path}", session, policy, sleep=lambda s: None)


@pytest.mark.parametrize(
    ("path", "fetch_status", "decode_status"),
    [
        ("/ok.jpg", "ok", "ok"),
        ("/truncated.jpg", "ok", "decode_error"),
        ("/html.jpg", "not_image", None),
        ("/as-text.png", "not_image", None),
        ("/bomb.png", "ok", "too_large"),
        ("/huge.jpg", "too_large", None),
        ("/palette.png", "ok", "ok"),
        ("/cmyk.jpg", "ok", "ok"),
        ("/image.webp", "ok", "ok"),
        ("/animated.gif", "ok", "ok"),
        ("/sixteen.png", "ok", "ok"),
        ("/to-loopback", "forbidden_host", None),
        ("/to-foreign", "forbidden_host", None),
        ("/to-ok", "ok", "ok"),
        ("/flaky", "ok", "ok"),
        ("/missing.jpg", "http_error", None),
        ("/noai.jpg", "noai", None),
        ("/noimageai.jpg", "noai", None),
        ("/agent-noai.jpg", "noai", None),
        ("/indexable.jpg", "ok", "ok"),
    ],
)
def test_download_statuses(cdn, path, fetch_status, decode_status):
    result = get(cdn, path)
    assert result.status == fetch_status, result.error
    if decode_status:
        status, image, _ = decode_rgb(result.data, TEST_POLICY.max_pixels)
        assert status == decode_status
        if status == "ok":
            assert image.mode == "RGB"


def test_conversions_to_rgb(cdn):
    _, palette, _ = decode_rgb(get(cdn, "/palette.png").data)
    assert palette.getpixel((0, 0)) == (255, 255, 255)  # transparent over white
    assert palette.getpixel((20, 20)) == (0, 0, 255)
    _, cmyk, _ = decode_rgb(get(cdn, "/cmyk.jpg").data)
    red, green, blue = cmyk.getpixel((5, 5))
    assert red > 200 and green < 60 and blue < 60
    _, gif, _ = decode_rgb(get(cdn, "/animated.gif").data)
    assert gif.getpixel((5, 5))[0] > 200  # the first frame
    _, sixteen, _ = decode_rgb(get(cdn, "/sixteen.png").data)
    assert sixteen.getpixel((0, 0)) == (156, 156, 156)


def test_retries_then_succeeds(cdn):
    assert get(cdn, "/missing.jpg").attempts == 1  # a 404 is final
    assert cdn.requests["/flaky"] >= 3


ADAM7_PASSES = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                (1, 0, 2, 2), (0, 1, 1, 2))  # fmt: skip


def png_from_pixels(
    pixels: np.ndarray, *, interlaced: bool, keep_bytes: int | None = None
) -> bytes:
    """An 8-bit RGB (h, w, 3) or 1-bit grey (h, w) PNG, written here because Pillow
    cannot write an interlaced one. ``keep_bytes`` cuts the image data before
    compressing it: a valid stream that holds fewer rows than the header claims."""
    grey = pixels.ndim == 2
    height, width = pixels.shape[:2]

    def rows(sub: np.ndarray) -> bytes:
        if not sub.size:
            return b""  # an empty pass has no filter bytes either
        packed = np.packbits(sub, axis=1) if grey else sub.reshape(len(sub), -1)
        return np.hstack([np.zeros((len(sub), 1), np.uint8), packed]).tobytes()

    passes = ADAM7_PASSES if interlaced else ((0, 0, 1, 1),)
    raw = b"".join(rows(pixels[y::dy, x::dx]) for x, y, dx, dy in passes)
    ihdr = struct.pack(">IIBBBBB", width, height, 1 if grey else 8, 0 if grey else 2, 0, 0,
                       int(interlaced))  # fmt: skip
    return png(ihdr, zlib.compress(raw[:keep_bytes]))


@pytest.mark.parametrize("interlaced", [False, True], ids=["plain", "adam7"])
def test_png_decodes_only_when_its_data_holds_every_row(interlaced):
    pixels = np.random.default_rng(7).integers(0, 256, (29, 37, 3), dtype=np.uint8)
    status, image, _ = decode_rgb(png_from_pixels(pixels, interlaced=interlaced))
    assert status == "ok" and np.array_equal(np.asarray(image), pixels)
    last_row = 1 + 37 * 3  # also the last row of Adam7's last pass
    short = png_from_pixels(pixels, interlaced=interlaced, keep_bytes=-last_row)
    with Image.open(io.BytesIO(short)) as lenient:
        lenient.load()  # Pillow alone decodes it, the missing row black
    status, image, error = decode_rgb(short)
    assert (status, image) == ("decode_error", None) and "fewer rows" in error


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1), (2, 3), (8, 8), (13, 5)])
def test_png_row_arithmetic_holds_for_empty_passes_and_packed_bits(size):
    pixels = np.random.default_rng(1).integers(0, 2, size, dtype=np.uint8)
    for interlaced in (False, True):
        whole = png_from_pixels(pixels, interlaced=interlaced)
        assert png_data_complete(whole)
        with Image.open(io.BytesIO(whole)) as image:
            assert np.array_equal(np.asarray(image.convert("L")) > 0, pixels > 0)
        one_byte_short = png_from_pixels(pixels, interlaced=interlaced, keep_bytes=-1)
        assert not png_data_complete(one_byte_short)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://m.media-amazon.com/images/I/x.jpg", None),
        ("http://m.media-amazon.com/images/I/x.jpg", "scheme"),
        ("ftp://m.media-amazon.com/x.jpg", "scheme"),
        ("https://127.0.0.1/x.jpg", "IP literal"),
        ("https://[::1]/x.jpg", "IP literal"),
        ("https://evil.example/x.jpg", "not allowlisted"),
        ("https://m.media-amazon.com.evil.example/x.jpg", "not allowlisted"),
    ],
)
def test_default_policy(url, reason):
    got = check_url(url, ImagePolicy(), resolve=lambda host: True)
    assert (got is None) if reason is None else (reason in got)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://images.example.org/photo.jpg", None),
        ("https://images.example.org:8443/photo.jpg", "port"),
        ("http://images.example.org/photo.jpg", "scheme"),
        ("https://10.0.0.5/photo.jpg", "IP literal"),
        ("https://user@images.example.org/photo.jpg", "credentials"),
    ],
)
def test_a_users_own_image_may_come_from_any_public_https_host(url, reason):
    # The demo's policy (an http mirror, private addresses) widened as sqid search does.
    policy = replace(ImagePolicy.with_mirror("http://localhost:8000"), any_public_host=True)
    got = check_url(url, policy, resolve=lambda host: True)
    assert (got is None) if reason is None else (reason in got), got
    if reason is None:
        assert "not allowlisted" in check_url(url, ImagePolicy(), resolve=lambda host: True)
        public_only = ImagePolicy(any_public_host=True)
        assert "private or loopback" in check_url(url, public_only, resolve=lambda host: False)


def test_private_resolution_is_refused():
    got = check_url("https://m.media-amazon.com/x.jpg", ImagePolicy(), resolve=lambda host: False)
    assert "private or loopback" in got


def test_sniff():
    assert sniff(FILES["/ok.jpg"][0]) == "jpeg"
    assert sniff(FILES["/image.webp"][0]) == "webp"
    assert sniff(b"<html>") is None


def test_content_cache(tmp_path):
    cache = ContentCache(tmp_path)
    assert cache.lookup("https://a/x.jpg") is None
    cache.put("https://a/x.jpg", "ab" * 32, b"bytes")
    cache.put("https://a/y.jpg", "ab" * 32, b"bytes")  # same content, one blob
    assert cache.lookup("https://a/y.jpg") == "ab" * 32
    assert cache.read("ab" * 32) == b"bytes"
    assert len(list((tmp_path / "sha256").rglob("*"))) == 2  # one folder, one blob


def test_content_cache_index_links_and_reads_older_entries(tmp_path):
    cache = ContentCache(tmp_path)
    url = "https://m.media-amazon.com/images/I/71abcdefgh.jpg"
    cache.put(url, "a" * 64, b"first bytes")
    assert cache.lookup(url) == "a" * 64 and cache.read("a" * 64) == b"first bytes"
    cache.put(url, "b" * 64, b"other bytes")  # the URL now serves other bytes
    assert cache.lookup(url) == "b" * 64
    cache.put(url, "b" * 64, b"other bytes")  # again: nothing changes
    assert cache.lookup(url) == "b" * 64
    older = "https://m.media-amazon.com/images/I/81abcdefgh.jpg"
    entry = cache._url_entry(older)
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text("a" * 64)  # an entry written as a file by an earlier version
    assert cache.lookup(older) == "a" * 64
    assert cache.lookup("https://m.media-amazon.com/images/I/91abcdefgh.jpg") is None
