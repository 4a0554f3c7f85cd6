"""The image data a product page carries besides ``src``: an element's
``data-a-dynamic-image`` map and a script's ``colorImages`` JSON. Both are read
defensively: a broken or hostile value gives what a regex can still see, never an error.
"""

from __future__ import annotations

import json
import re

MAX_IMAGE_DIMENSION = 1_000_000
"""Larger sizes in a ``data-a-dynamic-image`` map are nonsense, not a bigger image."""
_DYNAMIC_ENTRY = re.compile(r'"(https?://[^"]{1,2048})"\s*:\s*\[\s*(\d{1,7})\s*,\s*(\d{1,7})\s*\]')
_COLOR_INITIAL = re.compile(r"""['"]colorImages['"]\s*:\s*\{\s*['"]initial['"]\s*:\s*""")
_JSON_URL_FIELD = re.compile(r'"(hiRes|large)"\s*:\s*"(https?://[^"]+)"')
_MAX_SCRIPT_JSON = 500_000


def dynamic_image_urls(value: str) -> list[str]:
    """URLs of a ``data-a-dynamic-image`` map (``{url: [d1, d2]}``), largest area first.

    Dimensions are [h, w] on some elements and [w, h] on others: only the area counts.
    Malformed maps (broken or deeply nested JSON, absurd sizes) fall back to the entries
    a regex can still read, so one bad attribute never hides the others.
    """
    if not value:
        return []
    pairs: list[tuple[str, int]] = []
    try:
        data = json.loads(value)
        if not isinstance(data, dict):
            return []
        for url, dims in data.items():
            if (
                isinstance(dims, list)
                and len(dims) == 2
                and all(type(d) is int and 0 <= d <= MAX_IMAGE_DIMENSION for d in dims)
            ):
                pairs.append((url, dims[0] * dims[1]))
    except (ValueError, RecursionError):
        pairs = [(u, int(a) * int(b)) for u, a, b in _DYNAMIC_ENTRY.findall(value)]
    pairs.sort(key=lambda p: -p[1])
    return [url for url, _ in pairs]


def color_images(script: str) -> list[tuple[str, str]] | None:
    """The first ``colorImages`` entry's ``hiRes``/``large`` URLs; [] for ``'initial': null``;
    None when this script does not carry the data."""
    match = _COLOR_INITIAL.search(script)
    if not match:
        return None
    rest = script[match.end() : match.end() + _MAX_SCRIPT_JSON]
    if rest.startswith("null"):
        return []
    try:
        initial, _ = json.JSONDecoder().raw_decode(rest)
    except (ValueError, RecursionError):
        # Broken JSON: take the first hiRes/large URLs a regex can still see. None when
        # there are none: only a literal null declares that a product has no image.
        found = _JSON_URL_FIELD.findall(rest[:20_000])[:2]
        return sorted(found, key=lambda kv: kv[0] != "hiRes") or None
    entry = initial[0] if isinstance(initial, list) and initial else None
    if not isinstance(entry, dict):
        return []
    return [(key, entry[key]) for key in ("hiRes", "large") if isinstance(entry.get(key), str)]
