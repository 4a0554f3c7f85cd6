"""Understanding Amazon product pages: what kind of page it is, and its main image.

Pure functions, no network. A page is classified on structural markers (a captcha
form's action, the 404 page's logo link, the sorry-page container, the image elements
themselves), never on a phrase: normal pages carry "Something went wrong" in hidden
popovers and the "automated access" comment appears on captcha, 404 and 503 pages alike.

Speed: a product page is 1-2 MB, and only a dozen elements matter. ``analyse_page``
finds them with a bounded pre-scan (one regex pass for marker words, then the enclosing
tag of each hit) and parses only those snippets; ``full_parse=True`` parses the whole
page instead, and the test suite checks both give the same answer on every fixture.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bs4 import BeautifulSoup

from sqid.defaults import default_reason
from sqid.imageurl import ImageRef, is_furniture, parse_image_url

PRODUCT = "product"
NO_IMAGE = "no_image"
CAPTCHA = "captcha"
NOT_FOUND = "not_found"
SERVICE_ERROR = "service_error"
DEGRADED = "degraded"
UNRECOGNISED = "unrecognised"
PAGE_KINDS = (PRODUCT, NO_IMAGE, CAPTCHA, NOT_FOUND, SERVICE_ERROR, DEGRADED, UNRECOGNISED)

MAX_PAGE_CHARS = 8_000_000
"""Pages beyond this are analysed on their first part only (the main image comes early)."""
MAIN_IMAGE_IDS = ("landingImage", "imgBlkFront", "ebooksImgBlkFront", "main-image")

# Words that mark the few elements worth parsing. One pass over the page finds them all.
_TAG_MARKERS = (
    "landingImage", "imgBlkFront", "ebooksImgBlkFront", "main-image",
    "validateCaptcha", "captchacharacters", "amzn-r",
    "dogsofamazon", "cs_404_logo", "cs_503_", "500_503",
    "dpSorryPage", "productTitle", "og:image",
)  # fmt: skip
_SCRIPT_MARKERS = ("colorImages", "opfcaptcha", "csm-captcha-instrumentation")
_MARKER_RE = re.compile("|".join(re.escape(m) for m in _TAG_MARKERS + _SCRIPT_MARKERS))
_TAG_AT = re.compile(r"""<[A-Za-z][A-Za-z0-9]*(?:[^>"']|"[^"]*"|'[^']*')*>""")
_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9]*)")
_VOID_ELEMENTS = frozenset({"img", "input", "meta", "link", "br", "hr", "source"})
_TITLE_RE = re.compile(r"<title\b[^>]*>(.{0,500}?)</title>", re.IGNORECASE | re.DOTALL)
_SCRIPT_OPEN = re.compile(r"<script\b", re.IGNORECASE)
_SCRIPT_CLOSE = re.compile(r"</script\s*>", re.IGNORECASE)
_DYNAMIC_ENTRY = re.compile(r'"(https?://[^"]+)"\s*:\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]')
_COLOR_INITIAL = re.compile(r"""['"]colorImages['"]\s*:\s*\{\s*['"]initial['"]\s*:\s*""")
_JSON_URL_FIELD = re.compile(r'"(hiRes|large)"\s*:\s*"(https?://[^"]+)"')


IMAGE_FIELDS = (
    "image_id", "image_key", "image_url", "hires_url", "original_url", "source", "default_reason",
)  # fmt: skip
"""The main-image fields a page analysis hands on to the scrape outcome."""


@dataclass(frozen=True)
class PageAnalysis:
    page_kind: str
    image_id: str | None = None
    image_key: str | None = None
    """Identity for comparing images: the ID, plus the inner ID of a composite."""
    image_url: str | None = None
    """Display-size URL: what a release's ``image_url`` column carries."""
    hires_url: str | None = None
    """The highest-resolution URL the page offered for the main image."""
    original_url: str | None = None
    """The modifier-free original of the image (any rendition can be built from it)."""
    source: str | None = None
    """Which markup the image came from, e.g. ``landingImage.data-old-hires``."""
    default_reason: str | None = None
    signals: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["signals"] = list(self.signals)
        return data


@dataclass
class _Evidence:
    images: dict[str, dict[str, str]] = field(default_factory=dict)
    color_images: list[tuple[str, str]] | None = None  # [(field, url)], None: no data
    color_images_null: bool = False
    signals: set[str] = field(default_factory=set)


def _text(html: bytes | str) -> str:
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    return html[:MAX_PAGE_CHARS]


def _snippets(page: str) -> str:
    """The tags and scripts that carry markers, concatenated into a small document."""
    parts: list[str] = []
    seen: set[int] = set()
    for hit in _MARKER_RE.finditer(page):
        pos = hit.start()
        if hit.group() in _SCRIPT_MARKERS:
            opening = None
            for candidate in _SCRIPT_OPEN.finditer(page, max(0, pos - 200_000), pos):
                opening = candidate  # the last <script before the hit encloses it
            if opening is None or opening.start() in seen:
                continue
            close = _SCRIPT_CLOSE.search(page, pos)
            end = close.end() if close else len(page)
            seen.add(opening.start())
            parts.append(page[opening.start() : end])
            continue
        start = page.rfind("<", max(0, pos - 20_000), pos)
        if start < 0 or start in seen:
            continue
        tag = _TAG_AT.match(page, start)
        if tag and tag.end() > pos:
            seen.add(start)
            parts.append(tag.group())
            name = _TAG_NAME.match(tag.group()).group(1).lower()
            if name not in _VOID_ELEMENTS:
                parts.append(f"</{name}>")
    title = _TITLE_RE.search(page)
    if title:
        parts.append(title.group())
    return "\n".join(parts)


def _collect(soup: BeautifulSoup) -> _Evidence:
    ev = _Evidence()
    for img_id in MAIN_IMAGE_IDS:
        tag = soup.find("img", id=img_id)
        if tag is not None:
            ev.images[img_id] = {
                k: v if isinstance(v, str) else " ".join(v) for k, v in tag.attrs.items()
            }
    for form in soup.find_all("form"):
        if "validatecaptcha" in str(form.get("action", "")).lower():
            ev.signals.add("captcha_form")
    if soup.find("input", attrs={"id": "captchacharacters"}) or soup.find(
        "input", attrs={"name": "captchacharacters"}
    ):
        ev.signals.add("captcha_input")
    if soup.find("input", attrs={"name": "amzn-r"}):
        ev.signals.add("amzn_r")
    for a in soup.find_all("a", href=True):
        href = str(a["href"])
        if "dogsofamazon" in href or "cs_404_logo" in href:
            ev.signals.add("not_found_link")
        if "cs_503_" in href:
            ev.signals.add("service_error_link")
    for img in soup.find_all("img", src=True):
        if "500_503" in str(img["src"]):
            ev.signals.add("service_error_image")
    if soup.find(id="dpSorryPage") is not None:
        ev.signals.add("sorry_page")
    if soup.find(id="productTitle") is not None:
        ev.signals.add("product_title")
    title = soup.find("title")
    if title is not None and "page not found" in title.get_text().lower():
        ev.signals.add("not_found_title")
    for script in soup.find_all("script"):
        text = script.string or ""
        if "opfcaptcha" in text or "csm-captcha-instrumentation" in text:
            ev.signals.add("captcha_script")
        if "colorImages" in text and ev.color_images is None:
            _parse_color_images(text, ev)
    return ev


def _parse_color_images(script: str, ev: _Evidence) -> None:
    match = _COLOR_INITIAL.search(script)
    if not match:
        return
    rest = script[match.end() : match.end() + 500_000]
    if rest.startswith("null"):
        ev.color_images_null = True
        ev.signals.add("color_images_null")
        return
    try:
        initial, _ = json.JSONDecoder().raw_decode(rest)
        entries = initial if isinstance(initial, list) else []
        found = []
        for entry in entries[:1]:
            if isinstance(entry, dict):
                for key in ("hiRes", "large"):
                    if isinstance(entry.get(key), str):
                        found.append((key, entry[key]))
        ev.color_images = found
    except ValueError:
        # Broken JSON: take the first hiRes/large URLs a regex can still see.
        first = _JSON_URL_FIELD.findall(rest[:20_000])
        ev.color_images = sorted(first[:2], key=lambda kv: kv[0] != "hiRes")
        ev.signals.add("color_images_broken_json")


def _dynamic_image(value: str | None) -> list[tuple[str, int]]:
    """(url, area) pairs of a ``data-a-dynamic-image`` map, largest first."""
    if not value:
        return []
    pairs: list[tuple[str, int]] = []
    try:
        data = json.loads(value)
        if isinstance(data, dict):
            for url, dims in data.items():
                if (
                    isinstance(dims, list)
                    and len(dims) == 2
                    and all(isinstance(d, int) for d in dims)
                ):
                    pairs.append((url, dims[0] * dims[1]))
    except ValueError:
        pairs = [(u, int(a) * int(b)) for u, a, b in _DYNAMIC_ENTRY.findall(value)]
    return sorted(pairs, key=lambda p: -p[1])


def _candidates(ev: _Evidence) -> list[tuple[str, str]]:
    """(source, url) in order of reliability."""
    out: list[tuple[str, str]] = []
    landing = ev.images.get("landingImage", {})
    out.append(("landingImage.data-old-hires", landing.get("data-old-hires", "")))
    out += [
        ("landingImage.data-a-dynamic-image", u)
        for u, _ in _dynamic_image(landing.get("data-a-dynamic-image"))
    ]
    for key, url in ev.color_images or []:
        out.append((f"colorImages.{key}", url))
    for img_id in ("imgBlkFront", "ebooksImgBlkFront"):
        attrs = ev.images.get(img_id, {})
        out += [
            (f"{img_id}.data-a-dynamic-image", u)
            for u, _ in _dynamic_image(attrs.get("data-a-dynamic-image"))
        ]
    main = ev.images.get("main-image", {})
    out.append(("main-image.data-a-hires", main.get("data-a-hires", "")))
    for img_id in MAIN_IMAGE_IDS:
        out.append((f"{img_id}.src", ev.images.get(img_id, {}).get("src", "")))
    return [(s, u.strip()) for s, u in out if isinstance(u, str) and u.strip()]


def _usable(url: str) -> bool:
    return parse_image_url(url) is not None or is_furniture(url)


def _display_url(ev: _Evidence, source: str, ref: ImageRef) -> str:
    """The page's own display rendition of the chosen image if it has one, else a built one."""
    element = source.split(".", 1)[0]
    src_ref = parse_image_url(ev.images.get(element, {}).get("src", ""))
    if src_ref is not None and src_ref.image_id == ref.image_id and src_ref.modifiers:
        return src_ref.url
    return ref.display_url


def _decide(ev: _Evidence, http_status: int | None) -> PageAnalysis:
    signals = tuple(sorted(ev.signals))
    has_image_markup = bool(ev.images) or ev.color_images is not None or ev.color_images_null
    is_product_like = has_image_markup or "product_title" in ev.signals
    captcha = {"captcha_form", "captcha_input", "captcha_script"} & ev.signals
    if captcha and not has_image_markup:
        return PageAnalysis(CAPTCHA, signals=signals)
    if not is_product_like:
        if http_status == 404 or "not_found_link" in ev.signals:
            return PageAnalysis(NOT_FOUND, signals=signals)
        if (http_status or 0) >= 500 or {"service_error_link", "service_error_image"} & ev.signals:
            return PageAnalysis(SERVICE_ERROR, signals=signals)
        return PageAnalysis(UNRECOGNISED, signals=signals)

    chosen = next(((s, u) for s, u in _candidates(ev) if _usable(u)), None)
    kind = DEGRADED if "sorry_page" in ev.signals else PRODUCT
    if chosen is None:
        if kind == DEGRADED:
            return PageAnalysis(DEGRADED, signals=signals)
        if ev.color_images_null or ev.images:
            return PageAnalysis(NO_IMAGE, signals=signals)
        return PageAnalysis(UNRECOGNISED, signals=signals)
    source, url = chosen
    reason = default_reason(url)
    ref = parse_image_url(url)
    if reason is not None or ref is None:
        return PageAnalysis(
            NO_IMAGE,
            image_id=ref.image_id if ref else None,
            image_key=ref.image_key if ref else None,
            hires_url=url,
            source=source,
            default_reason=reason or "furniture",
            signals=signals,
        )
    return PageAnalysis(
        kind,
        image_id=ref.image_id,
        image_key=ref.image_key,
        image_url=_display_url(ev, source, ref),
        hires_url=ref.url,
        original_url=ref.original_url,
        source=source,
        signals=signals,
    )


def analyse_page(
    html: bytes | str, http_status: int | None = 200, *, full_parse: bool = False
) -> PageAnalysis:
    """Classify a page and extract its main image. Never raises on any input."""
    try:
        page = _text(html)
        markup = page if full_parse else _snippets(page)
        evidence = _collect(BeautifulSoup(markup, "html.parser"))
        if len(page) >= MAX_PAGE_CHARS:
            evidence.signals.add("page_truncated")
        return _decide(evidence, http_status)
    except Exception as exc:  # a hostile page must give a status, not a crash
        return PageAnalysis(UNRECOGNISED, signals=(f"parse_error:{type(exc).__name__}",))
