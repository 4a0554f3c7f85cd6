"""Amazon image URLs: parse, normalise, and build renditions from an image ID.

Shape: ``https://<host>/images/[W/<token>/[images/]]I/<IMAGE_ID>[.<modifiers>].<ext>``, where the
modifiers between ``._`` and ``_.`` (``_AC_SX425_``, ``_SY879_``, ...) ask the CDN for a
rendition and dropping them gives the original. Images are compared by image ID, never by
full URL. ``/images/G/`` paths are site furniture, not product images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

AMAZON_IMAGE_HOSTS: frozenset[str] = frozenset(
    {
        "m.media-amazon.com",
        "images-na.ssl-images-amazon.com",
        "images-eu.ssl-images-amazon.com",
        "images-fe.ssl-images-amazon.com",
        "images-cn.ssl-images-amazon.cn",
        "images-amazon.com",
        "ecx.images-amazon.com",
        "g-ecx.images-amazon.com",
    }
)
CANONICAL_HOST = "m.media-amazon.com"
DISPLAY_MODIFIERS = "_AC_SX425_"
"""Rendition used for a display URL built from an ID (the width most SQID URLs carry)."""

_IMAGE_PATH = re.compile(
    r"^/images/(?:W/(?P<token>[^/]+)/(?:images/)?)?(?P<prefix>I|S/[A-Za-z0-9._-]+)/"
    r"(?P<id>[A-Za-z0-9+\-]+?)(?:\.(?P<mods>_[^/]*_))?\.(?P<ext>jpe?g|png|gif|webp|tiff?)$",
    re.IGNORECASE,
)
_FURNITURE_PATH = re.compile(r"^/images/G/", re.IGNORECASE)
_IMAGE_ID = re.compile(r"^[A-Za-z0-9+\-]{6,64}$")
_COMPOSITE = re.compile(r"_CLa\|[^|]*\|(?P<inner>[A-Za-z0-9+\-]{6,64})\.(?:png|jpe?g|gif)")


@dataclass(frozen=True)
class ImageRef:
    """A parsed product image URL.

    ``prefix`` is ``I`` for catalogue images or ``S/<bucket>`` for images such as Prime
    Video art (``/images/S/pv-target-images/<hash>...``). ``_CLa|...`` composites (print-
    on-demand templates) put the product's own image inside the modifiers: ``image_key``
    names base and inner image, so products sharing only the template are not "shared".
    """

    url: str
    host: str
    image_id: str
    modifiers: str
    ext: str
    prefix: str = "I"

    @property
    def image_key(self) -> str:
        inner = _COMPOSITE.search(self.modifiers)
        return f"{self.image_id}|{inner.group('inner')}" if inner else self.image_id

    @property
    def original_url(self) -> str:
        if _COMPOSITE.search(self.modifiers):
            # The composite only exists as a rendition: keep it, drop the size suffix.
            return self.url
        return original_url(self.image_id, self.ext, self.prefix)

    @property
    def display_url(self) -> str:
        if _COMPOSITE.search(self.modifiers):
            return self.url
        return rendition_url(self.image_id, self.ext, DISPLAY_MODIFIERS, self.prefix)


def is_amazon_image_host(host: str | None) -> bool:
    return bool(host) and host.lower() in AMAZON_IMAGE_HOSTS


def _split(url: str):
    if not isinstance(url, str) or len(url) > 2048:
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://", "//")):
        return None  # data:, javascript:, relative paths
    try:
        return urlsplit("https:" + url if url.startswith("//") else url)
    except ValueError:
        return None


def is_furniture(url: str) -> bool:
    """True for an Amazon ``/images/G/`` URL: banners, icons, placeholders, not a product."""
    parts = _split(url)
    return (
        bool(parts)
        and is_amazon_image_host(parts.hostname)
        and bool(_FURNITURE_PATH.match(parts.path))
    )


def parse_image_url(url: str) -> ImageRef | None:
    """An :class:`ImageRef` for an Amazon product image URL, else None (never raises)."""
    parts = _split(url)
    if parts is None or not is_amazon_image_host(parts.hostname):
        return None
    match = _IMAGE_PATH.match(unquote(parts.path))
    if not match:
        return None
    image_id = match.group("id")
    if not _IMAGE_ID.match(image_id):
        return None
    return ImageRef(
        url=url.strip(),
        host=parts.hostname.lower(),
        image_id=image_id,
        modifiers=match.group("mods") or "",
        ext=match.group("ext").lower(),
        prefix=match.group("prefix"),
    )


def original_url(image_id: str, ext: str = "jpg", prefix: str = "I") -> str:
    return f"https://{CANONICAL_HOST}/images/{prefix}/{image_id}.{ext}"


def rendition_url(image_id: str, ext: str, modifiers: str, prefix: str = "I") -> str:
    """URL of the rendition that ``modifiers`` (e.g. ``_SX224_``) asks the CDN for."""
    modifiers = modifiers.strip(".")
    if not modifiers:
        return original_url(image_id, ext, prefix)
    return f"https://{CANONICAL_HOST}/images/{prefix}/{image_id}.{modifiers}.{ext}"
