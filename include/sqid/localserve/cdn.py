"""A local image CDN: ``/images/I/<id>.<modifiers>.<ext>`` renders a synthetic image.

Like Amazon's CDN it renders the size a URL's modifiers ask for (``_SX425_`` is 425
pixels wide, ``_SY300_`` 300 high, ``_SL1500_`` 1500 on the long side, none: the
1000-pixel original), so renditions can be compared. Each image ID gets its own
deterministic picture. ``/bad/<name>`` serves hostile files for the download tests.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlparse

from PIL import Image, ImageDraw

from sqid.localserve import LoopbackServer, QuietHandler

ORIGINAL_SIDE = 1000
_PATH = re.compile(
    r"^/images/I/(?P<id>[A-Za-z0-9+\-]+?)(?:\.(?P<mods>_[^/]*_))?\.(?P<ext>jpg|png|webp|gif)$"
)
_SIZE = re.compile(r"_(?:AC_)?(?:S|U)(?P<axis>[XYL])(?P<n>\d+)_")


def synthetic_image(image_id: str, side: int = ORIGINAL_SIDE) -> Image.Image:
    """A deterministic picture for ``image_id``: coloured shapes on a tinted ground."""
    seed = hashlib.sha256(image_id.encode()).digest()
    image = Image.new("RGB", (side, side), tuple(seed[0:3]))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        a, b, c, d = (seed[4 + 4 * i + k] / 255 * side for k in range(4))
        box = (min(a, c), min(b, d), max(a, c) + 10, max(b, d) + 10)
        shape = draw.ellipse if i % 2 else draw.rectangle
        shape(box, fill=tuple(seed[(i * 3) % 29 : (i * 3) % 29 + 3]))
    return image


@lru_cache(maxsize=4096)
def render_rendition(image_id: str, modifiers: str, ext: str) -> bytes:
    """The picture drawn at the size asked for (drawing it at 1000 pixels and resizing
    cost twenty times more, which made the CDN the bottleneck of a full-scale run)."""
    side = ORIGINAL_SIDE
    match = _SIZE.search(modifiers or "")
    if match:  # the synthetic originals are square: any axis gives n x n
        side = int(match.group("n"))
        if match.group("axis") == "L":
            side = min(side, ORIGINAL_SIDE)
    image = synthetic_image(image_id, side)
    out = io.BytesIO()
    fmt = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}[ext]
    image.save(out, fmt, quality=85) if fmt in ("JPEG", "WEBP") else image.save(out, fmt)
    return out.getvalue()


class ImageCDN(LoopbackServer):
    """``with ImageCDN() as cdn: cdn.base_url``; ``cdn.extra[path] = handler`` adds routes.

    Addressed as ``localhost`` (a host name): the image downloader refuses IP literals.
    """

    host_name = "localhost"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: Counter[str] = Counter()
        self.extra: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        super().__init__(host, port)

    def mirror_env(self) -> dict[str, str]:
        """Environment that makes the embed stage fetch Amazon CDN URLs from this server."""
        return {
            "SQID_IMAGE_CDN": self.base_url,
            "SQID_IMAGE_EXTRA_HOSTS": "localhost",
            "SQID_IMAGE_ALLOW_HTTP": "1",
            "SQID_IMAGE_ALLOW_PRIVATE": "1",
        }

    def policy(self, **overrides: object):
        """An image download policy that lets the embed stage fetch from this server."""
        from sqid.embed.images import ImagePolicy

        return ImagePolicy.with_mirror(self.base_url, **overrides)

    def url(self, image_id: str, modifiers: str = "", ext: str = "jpg") -> str:
        mods = f".{modifiers}" if modifiers else ""
        return f"{self.base_url}/images/I/{image_id}{mods}.{ext}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cdn = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path)
                with cdn._lock:
                    cdn.requests[path] += 1
                if path in cdn.extra:
                    return cdn.extra[path](self)
                match = _PATH.match(path)
                if not match:
                    return send(self, 404, b"not found", "text/plain")
                body = render_rendition(
                    match.group("id"), match.group("mods") or "", match.group("ext")
                )
                ctype = {
                    "jpg": "image/jpeg",
                    "png": "image/png",
                    "webp": "image/webp",
                    "gif": "image/gif",
                }
                return send(self, 200, body, ctype[match.group("ext")])

        return Handler


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)
