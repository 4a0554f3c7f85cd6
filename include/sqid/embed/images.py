"""Safe image download and verification for the embedding stage.

Images come from URLs scraped off web pages, so every step distrusts its input: only
allowlisted hosts over HTTPS (by default), no IP literals, no hosts that resolve to
loopback or private ranges, redirects followed by hand and re-checked, a byte limit
while streaming, then magic bytes, a pixel-count limit before decoding (decompression
bombs) and a conversion of every mode to 8-bit RGB. Each image ends with a status;
nothing raises into the shard.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import math
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import requests
from PIL import Image, ImageFile, ImageOps

from sqid.http import BodyError, read_body
from sqid.imageurl import AMAZON_IMAGE_HOSTS, UrlParts, split_url
from sqid.retry import RetryPolicy, decide

OK = "ok"
NOT_IMAGE = "not_image"
TOO_LARGE = "too_large"
TOO_SMALL = "too_small"
DECODE_ERROR = "decode_error"
FORBIDDEN_HOST = "forbidden_host"
HTTP_ERROR = "http_error"
NETWORK_ERROR = "network_error"
IMAGE_STATUSES = (
    OK, NOT_IMAGE, TOO_LARGE, TOO_SMALL, DECODE_ERROR, FORBIDDEN_HOST, HTTP_ERROR, NETWORK_ERROR,
)  # fmt: skip
FINAL_FAILURES = (NOT_IMAGE, TOO_LARGE, TOO_SMALL, DECODE_ERROR, FORBIDDEN_HOST)
"""Download outcomes that another attempt at the same URL would only repeat; with HTTP
404 and 410 (:data:`GONE`), a later run does not plan them again (``force`` does)."""
GONE = (404, 410)

_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def sniff(data: bytes) -> str | None:
    """The image format named by the first bytes, or None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class ImagePolicy:
    allowed_hosts: frozenset[str] = AMAZON_IMAGE_HOSTS
    allow_http: bool = False
    allow_private_addresses: bool = False
    """Only for tests and private mirrors: hosts resolving to loopback/private ranges."""
    allowed_ports: frozenset[int] = frozenset()
    """Explicit ports a URL may name (a mirror's); Amazon's image URLs name none."""
    max_bytes: int = 15_000_000
    max_pixels: int = 40_000_000
    min_side: int = 16
    """Images narrower or lower than this (tracking pixels, spacers) are not embedded."""
    max_redirects: int = 3
    timeout: tuple[float, float] = (5.0, 20.0)
    deadline: float = 60.0
    """Wall-clock limit of one request, body included."""
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=4, backoff_base=1.0)
    )

    @classmethod
    def with_mirror(cls, base_url: str, **overrides: object) -> ImagePolicy:
        """Amazon's hosts plus one private mirror of the CDN (tests, the demo, an offline
        copy): the mirror's host, its scheme and its port, and private addresses."""
        parts = split_url(base_url)
        if isinstance(parts, str):
            raise ValueError(f"image mirror {base_url!r}: {parts}")
        values: dict[str, object] = {
            "allowed_hosts": AMAZON_IMAGE_HOSTS | {parts.host},
            "allow_http": parts.scheme == "http",
            "allow_private_addresses": True,
            "allowed_ports": frozenset({parts.port}) if parts.port else frozenset(),
        }
        return cls(**{**values, **overrides})


@dataclass
class Fetched:
    url: str
    status: str
    sha256: str | None = None
    data: bytes | None = None
    http_status: int | None = None
    error: str | None = None
    attempts: int = 0


def _resolves_publicly(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return True  # unresolvable: the request itself will fail as a network error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


def vet_url(
    url: str, policy: ImagePolicy, resolve: Callable[[str], bool] = _resolves_publicly
) -> UrlParts | str:
    """The parts of ``url`` if the policy lets it be fetched, else the reason it may not.

    The request goes to ``parts.geturl()``, the URL rebuilt from the parts checked here,
    so no parser downstream can read a different host into it.
    """
    parts = split_url(url)
    if isinstance(parts, str):
        return parts
    if parts.scheme != "https" and not (policy.allow_http and parts.scheme == "http"):
        return f"scheme {parts.scheme!r} not allowed"
    host = parts.host
    try:
        ipaddress.ip_address(host.strip("[]"))
        return f"IP literal {host} not allowed"
    except ValueError:
        pass
    if host not in policy.allowed_hosts:
        return f"host {host} not allowlisted"
    if parts.port is not None and parts.port not in policy.allowed_ports:
        return f"port {parts.port} not allowed"
    if not policy.allow_private_addresses and not resolve(host):
        return f"host {host} resolves to a private or loopback address"
    return parts


def check_url(
    url: str, policy: ImagePolicy, resolve: Callable[[str], bool] = _resolves_publicly
) -> str | None:
    """Why ``url`` may not be fetched (a reason string), or None if it may."""
    vetted = vet_url(url, policy, resolve)
    return vetted if isinstance(vetted, str) else None


def fetch_image(
    url: str,
    session: requests.Session,
    policy: ImagePolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Download ``url`` within the policy; verify the bytes are an image (not decoded yet)."""
    for attempt in range(1, policy.retry.max_attempts + 1):
        result = _fetch_once(url, session, policy)
        result.attempts = attempt
        if result.status not in (HTTP_ERROR, NETWORK_ERROR):
            return result
        decision = decide(
            policy.retry,
            attempt,
            status=result.http_status if result.status == HTTP_ERROR else None,
            error=result.error if result.status == NETWORK_ERROR else None,
        )
        if not decision.retry:
            return result
        sleep(decision.delay)
    return result


def _fetch_once(url: str, session: requests.Session, policy: ImagePolicy) -> Fetched:
    current = url
    deadline = time.monotonic() + policy.deadline
    for _ in range(policy.max_redirects + 1):
        vetted = vet_url(current, policy)
        if isinstance(vetted, str):
            return Fetched(url, FORBIDDEN_HOST, error=vetted)
        current = vetted.geturl()
        try:
            with session.get(
                current, timeout=policy.timeout, stream=True, allow_redirects=False
            ) as resp:
                if resp.is_redirect:
                    current = urljoin(current, resp.headers.get("Location", ""))
                    continue
                if resp.status_code != 200:
                    return Fetched(
                        url,
                        HTTP_ERROR,
                        http_status=resp.status_code,
                        error=f"http_{resp.status_code}",
                    )
                try:
                    data = read_body(resp, max_bytes=policy.max_bytes, deadline=deadline)
                except BodyError as exc:
                    if exc.kind == TOO_LARGE:
                        return Fetched(url, TOO_LARGE, http_status=200, error=str(exc))
                    return Fetched(url, NETWORK_ERROR, http_status=200, error=exc.kind)
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        except requests.Timeout:
            return Fetched(url, NETWORK_ERROR, error="timeout")
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            return Fetched(url, NETWORK_ERROR, error="connection")
        except requests.RequestException as exc:
            return Fetched(url, NETWORK_ERROR, error=type(exc).__name__)
        kind = sniff(data)
        if kind is None:
            return Fetched(
                url,
                NOT_IMAGE,
                http_status=200,
                error=f"content-type {content_type or '?'}, unknown magic bytes",
            )
        if (
            content_type
            and not content_type.startswith("image/")
            and content_type != "application/octet-stream"
        ):
            return Fetched(url, NOT_IMAGE, http_status=200, error=f"content-type {content_type}")
        return Fetched(url, OK, hashlib.sha256(data).hexdigest(), data, 200)
    return Fetched(url, FORBIDDEN_HOST, error="too many redirects")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def png_data_complete(data: bytes) -> bool:
    """Whether a PNG's image data holds every row its header claims.

    Pillow decodes a PNG whose (valid) compressed stream ends early as an image with
    black rows; an image like that must not be embedded. Decompresses no further than
    the expected size, so a bomb costs no more than a complete image of that size.
    """
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR" and len(body) == 13:
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or header[3] not in _PNG_CHANNELS:
        return False
    width, height, depth, color, _, _, interlace = header
    bits = depth * _PNG_CHANNELS[color]

    def size(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if interlace:
        expected = sum(size((width - x + dx - 1) // dx, (height - y + dy - 1) // dy)
                       for x, y, dx, dy in _ADAM7)  # fmt: skip
    else:
        expected = size(width, height)
    try:
        inflated = zlib.decompressobj().decompress(b"".join(idat), expected)
    except zlib.error:
        return False
    return len(inflated) >= expected


def decode_rgb(
    data: bytes,
    max_pixels: int = ImagePolicy.max_pixels,
    *,
    min_side: int = ImagePolicy.min_side,
    reduce_to: int | None = None,
) -> tuple[str, Image.Image | None, str | None]:
    """(status, RGB image, error). Checks the header's size before decoding anything.

    ``reduce_to`` is the shortest side the model's processor needs: a larger image is
    decoded reduced (JPEG draft mode, else an integer ``reduce`` right after decoding)
    but never below twice that side, so the processor's own resize still decides the
    final pixels and a 6,300-pixel photo costs a few hundred kB instead of 120 MB.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                return TOO_LARGE, None, f"{width}x{height} pixels"
            if min(width, height) < min_side:
                return TOO_SMALL, None, f"{width}x{height} pixels"
            if probe.format == "PNG" and not png_data_complete(data):
                return DECODE_ERROR, None, "PNG image data holds fewer rows than its header"
            keep = 2 * reduce_to if reduce_to else None
            if keep and probe.format == "JPEG" and min(width, height) > keep:
                scale = keep / min(width, height)
                probe.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            probe.seek(0)  # animated images: the first frame
            probe.load()
            image = to_rgb(probe)
    except Image.DecompressionBombError as exc:
        return TOO_LARGE, None, str(exc)
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as exc:
        return DECODE_ERROR, None, f"{type(exc).__name__}: {exc}"
    if keep and min(image.size) >= 2 * keep:
        image = image.reduce(min(image.size) // keep)
    return OK, image, None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode: transparency over white, CMYK and 16-bit converted."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class ContentCache:
    """Content-addressed image store: bytes under their sha256, plus a URL index.

    A re-run finds every URL it fetched before without a request, and two products
    whose URLs hold the same bytes share one file (and one embedding). A URL entry is a
    symbolic link to its blob: one system call to create, atomic, and no second file to
    write per image (which cost about 15% of a shard's download throughput). Entries
    written as small files by earlier versions are still read.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._dirs: set[Path] = set()

    def _blob(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def _url_entry(self, url: str) -> Path:
        key = hashlib.sha256(url.encode()).hexdigest()
        return self.root / "url" / key[:2] / key

    def _directory(self, path: Path) -> None:
        if path not in self._dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path)

    def lookup(self, url: str) -> str | None:
        entry = self._url_entry(url)
        try:
            sha = os.path.basename(os.readlink(entry))
        except OSError:  # not there, or an entry written as a file
            try:
                sha = entry.read_text().strip()
            except OSError:
                return None
        return sha if self._blob(sha).exists() else None

    def read(self, sha256: str) -> bytes:
        return self._blob(sha256).read_bytes()

    def put(self, url: str, sha256: str, data: bytes) -> None:
        blob = self._blob(sha256)
        if not blob.exists():  # content-addressed: same name, same bytes
            self._directory(blob.parent)
            tmp = blob.with_name(f".{blob.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, blob)
        entry = self._url_entry(url)
        self._directory(entry.parent)
        target = os.path.relpath(blob, entry.parent)
        try:
            os.symlink(target, entry)
        except FileExistsError:
            if entry.is_symlink() and os.readlink(entry) == target:
                return
            tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            os.symlink(target, tmp)
            os.replace(tmp, entry)  # the URL now serves other bytes


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is a decode error, not a grey tail
