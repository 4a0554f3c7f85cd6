"""Decoding downloaded image bytes to 8-bit RGB, safely and no larger than needed.

A pixel-count limit is checked from the header before decoding (decompression bombs),
a PNG whose data holds fewer rows than its header claims is refused (Pillow would fill
it with black), a progressive JPEG whose scans would cost more than any real photo
(a small file can repeat one scan thousands of times, each a pass over every pixel) is
refused before decoding, and a large image is decoded reduced, never below twice the
model's input side. Every outcome is a status; nothing raises into the shard.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

from PIL import Image, ImageFile, ImageOps

from sqid.embed.images import DECODE_ERROR, OK, TOO_LARGE, TOO_SMALL, ImagePolicy

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


MAX_JPEG_SCANS = 100
"""Real progressive JPEGs have about 10 scans; libjpeg's own tools cap them at 100."""
MAX_SCAN_WORK = 500_000_000
"""Pixels times scans: a 40-megapixel photo in 12 scans, and no more."""
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})


def jpeg_scans(data: bytes) -> int:
    """How many scans (``SOS`` segments) a JPEG holds. Header segments are walked by
    their lengths (an embedded thumbnail's markers are not counted); after the first
    scan, entropy-coded data cannot hold ``FF DA``, so the rest is counted at C speed."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return 0
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return 1 + data.count(b"\xff\xda", pos + 2)
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return 0


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
            scans = jpeg_scans(data) if probe.format == "JPEG" else 1
            if scans > MAX_JPEG_SCANS or scans * width * height > MAX_SCAN_WORK:
                why = f"progressive JPEG of {scans} scans over {width}x{height} pixels"
                return TOO_LARGE, None, f"{why}: more decoding work than any real photo"
            keep = 2 * reduce_to if reduce_to else None
            if keep and probe.format == "JPEG" and min(width, height) > keep:
                scale = keep / min(width, height)
                probe.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
            probe.seek(0)  # animated images: the first frame
            probe.load()
            image = to_rgb(probe)
    except Image.DecompressionBombError as exc:
        return TOO_LARGE, None, str(exc)
    except Image.UnidentifiedImageError:
        return (
            DECODE_ERROR,
            None,
            "not an image format that can be read (JPEG, PNG, GIF, WebP, ...)",
        )
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
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


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is a decode error, not a grey tail
