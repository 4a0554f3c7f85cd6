"""Amazon image URLs: parse, normalise, and build renditions from an image ID.

Shape: ``https://<host>/images/[W/<token>/]I/<IMAGE_ID>[.<modifiers>].<ext>``, where the
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
    r"^/images/(?:W/(?P<token>[^/]+)/)?I/(?P<id>[A-Za-z0-9+\-_%]+?)"
    r"(?:\.(?P<mods>_[^/]*_))?\.(?P<ext>jpe?g|png|gif|webp|tiff?)$",
    re.IGNORECASE,
)
_FURNITURE_PATH = re.compile(r"^/images/G/", re.IGNORECASE)
_IMAGE_ID = re.compile(r"^[A-Za-z0-9+\-]{6,20}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed product image URL."""

    url: str
    host: str
    image_id: str
    modifiers: str
    ext: str

    @property
    def original_url(self) -> str:
        return original_url(self.image_id, self.ext)

    @property
    def display_url(self) -> str:
        return rendition_url(self.image_id, self.ext, DISPLAY_MODIFIERS)


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
    )


def original_url(image_id: str, ext: str = "jpg") -> str:
    return f"https://{CANONICAL_HOST}/images/I/{image_id}.{ext}"


def rendition_url(image_id: str, ext: str, modifiers: str) -> str:
    """URL of the rendition that ``modifiers`` (e.g. ``_SX224_``) asks the CDN for."""
    modifiers = modifiers.strip(".")
    if not modifiers:
        return original_url(image_id, ext)
    return f"https://{CANONICAL_HOST}/images/I/{image_id}.{modifiers}.{ext}"
