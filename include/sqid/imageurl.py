"""Amazon image URLs: parse, normalise, and build renditions from an image ID.

Shape: ``https://<host>/images/[W/<token>/[images/]]I/<IMAGE_ID>[.<modifiers>].<ext>``, where the
modifiers between ``._`` and ``_.`` (``_AC_SX425_``, ``_SY879_``, ...) ask the CDN for a
rendition and dropping them gives the original. Images are compared by image ID, never by
full URL. ``/images/G/`` paths are site furniture, not product images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqid.urlgate import MAX_URL_LENGTH, UrlParts, split_url

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


def _amazon_image_parts(url: object) -> UrlParts | None:
    """Parts of a URL on an Amazon image host: http upgraded to https, no port, no query."""
    parts = split_url(url)
    if isinstance(parts, str) or parts.port is not None or parts.query:
        return None
    if not is_amazon_image_host(parts.host):
        return None
    return UrlParts("https", parts.host, None, parts.path, "")


def is_furniture(url: str) -> bool:
    """True for an Amazon ``/images/G/`` URL: banners, icons, placeholders, not a product."""
    parts = _amazon_image_parts(url)
    return parts is not None and bool(_FURNITURE_PATH.match(parts.path))


def parse_image_url(url: object) -> ImageRef | None:
    """The canonical form of an Amazon product image URL, else None (never raises).

    This is the one gate for every image URL the project reads from a page, stores,
    fetches or publishes: https on an Amazon image host, no userinfo, port, query,
    fragment or backslash, and the path of a catalogue image. ``ImageRef.url`` is the
    URL rebuilt from those parts (``http://`` and ``//`` become ``https://``, the host
    lower-case).
    """
    parts = _amazon_image_parts(url)
    if parts is None:
        return None
    path = unquote(parts.path)
    match = _IMAGE_PATH.match(path)
    if not match:
        return None
    image_id = match.group("id")
    if not _IMAGE_ID.match(image_id):
        return None
    return ImageRef(
        url=parts.geturl(),
        host=parts.host,
        image_id=image_id,
        modifiers=match.group("mods") or "",
        ext=match.group("ext").lower(),
        prefix=match.group("prefix"),
    )


def canonical_image_url(url: object) -> str | None:
    """``url`` in the canonical form of :func:`parse_image_url`, or None."""
    ref = parse_image_url(url)
    return ref.url if ref is not None else None


CANONICAL_PATTERN = re.compile(
    "^https://(?:" + "|".join(re.escape(h) for h in sorted(AMAZON_IMAGE_HOSTS)) + ")"
    r"/images/(?:W/[A-Za-z0-9._~-]+/(?:images/)?)?(?:I|S/[A-Za-z0-9._-]+)/"
    r"[A-Za-z0-9+-]{6,64}(?:\._[A-Za-z0-9_,.+|-]*_)?\.(?:jpe?g|png|gif|webp|tiff?)$"
)
"""A strict subset of the canonical URLs of :func:`parse_image_url`, as one regular
expression (``tests/test_properties.py`` checks that every URL it matches is its own
canonical form). Columns are checked with it in Arrow, all rows at once, and only the
rows it does not match take the full parse: at 192k rows the difference is seconds."""


def canonical_mask(urls: pa.Array) -> np.ndarray:
    """For a string column: True where the URL is certainly canonical (fast path);
    False where it is null or needs :func:`canonical_image_url` to say."""
    matches = pc.and_(
        pc.match_substring_regex(urls, CANONICAL_PATTERN.pattern),
        pc.less_equal(pc.utf8_length(urls), MAX_URL_LENGTH),
    )
    return pc.fill_null(matches, False).to_numpy(zero_copy_only=False)


def published_url(url: str | None) -> str | None:
    """A stored image URL as a release publishes it: in its canonical form (rows scraped
    by earlier versions may hold ``http://`` or ``//`` URLs). A URL that fails the gate is
    kept as stored, so that the release's validation refuses it and names the product."""
    return (canonical_image_url(url) or url) if url else url


def canonical_column(urls: pa.Array) -> pa.Array:
    """:func:`published_url` over a string column: rows the pattern matches are already
    canonical, in one vector check; only the others take the full parse."""
    fast = canonical_mask(urls)
    if fast.all():
        return urls
    values = urls.to_pylist()
    for i in np.flatnonzero(~fast):
        values[i] = published_url(values[i])
    return pa.array(values, pa.string())


def original_url(image_id: str, ext: str = "jpg", prefix: str = "I") -> str:
    return f"https://{CANONICAL_HOST}/images/{prefix}/{image_id}.{ext}"


def rendition_url(image_id: str, ext: str, modifiers: str, prefix: str = "I") -> str:
    """URL of the rendition that ``modifiers`` (e.g. ``_SX224_``) asks the CDN for."""
    modifiers = modifiers.strip(".")
    if not modifiers:
        return original_url(image_id, ext, prefix)
    return f"https://{CANONICAL_HOST}/images/{prefix}/{image_id}.{modifiers}.{ext}"
