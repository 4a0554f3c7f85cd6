"""Understanding Amazon product pages: what kind of page it is, and its main image.

Pure functions, no network. A page is classified on structural markers (a captcha
form's action, the error pages' links and images, the sorry-page container, the image
elements themselves), never on a phrase: normal pages carry "Something went wrong" in
hidden popovers and the "automated access" comment appears on captcha, 404 and 503
pages alike.

A final status costs a product for good, so it needs positive evidence:

- ``not_found``: a 404 marker (HTTP 404, the ``cs_404_`` logo link, a "Page Not Found"
  title) or the dog link, and no 5xx marker (HTTP 5xx, a ``cs_503_`` link, the
  ``500_503`` or ``500-title`` error image): Amazon shows its dogs on outages too.
- ``no_image``: the main image is a known placeholder or the default video art, or
  the page declares no images (``colorImages`` ``'initial': null`` with no image
  element). Image markup that is present but not understood is ``unrecognised``
  (retryable), so a layout change costs a retry, not the product.

One decision, two readers. :func:`_decide` asks the page questions in a fixed order
("the attributes of ``img#landingImage``?", "a link whose href holds ``cs_503_``?")
and stops as soon as it can answer, so a product page never pays for the captcha and
error-page questions. :class:`~sqid.scrape.scan_reader.ScanReader` answers them by
searching the raw bytes for each question's marker and parsing only the enclosing tag:
a few milliseconds on a 2-3 MB page. :class:`~sqid.scrape.readers.TreeReader` answers
the same questions with XPath over a full lxml parse; ``full_parse=True`` uses it, and the tests check that both give the same
analysis on every fixture, every real page of the corpus and generated hostile markup.
One known difference: the scan reader recognises scripts, style sheets and comments by
their lower-case openers, as Amazon writes them; markup hidden in ``<SCRIPT>`` reads
as an element there. A page can only misstate its own product that way, which it could
do anyway, and lowering every page would cost more than the rest of the analysis.
The questions are asked in one fixed order, and the order is the logic, so the whole
decision reads top to bottom here; the image data of attributes and scripts is read by
:mod:`sqid.scrape.image_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqid.imageurl import ImageRef, parse_image_url
from sqid.scrape.image_data import color_images, dynamic_image_urls
from sqid.scrape.placeholders import FINAL_DEFAULT_REASONS, default_reason
from sqid.scrape.readers import Attrs, Reader, TreeReader
from sqid.scrape.records import (
    CAPTCHA,
    DEGRADED,
    NO_IMAGE,
    NOT_FOUND,
    PRODUCT,
    SERVICE_ERROR,
    UNRECOGNISED,
    MainImage,
)
from sqid.scrape.scan_reader import ScanReader

MAX_PAGE_BYTES = 8_000_000
"""Pages beyond this are analysed on their first part only (the main image comes early)."""
MAIN_IMAGE_IDS = ("landingImage", "imgBlkFront", "ebooksImgBlkFront", "main-image")
MUSIC_IMAGE_CONTAINER = "digitalMusicProductImage_feature_div"
"""Digital music albums: a plain ``img`` inside this container is the cover."""


@dataclass(frozen=True)
class PageAnalysis(MainImage):
    """What a page is, and its main image (the fields of :class:`MainImage`)."""

    page_kind: str
    signals: tuple[str, ...] = field(default_factory=tuple)
    """The markers the decision saw, for diagnosis (only those it asked about)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["signals"] = list(self.signals)
        return data


# --- the decision --------------------------------------------------------------------------


class _Evidence:
    """Asks a reader questions once each, and records the markers that were found."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.signals: set[str] = set()
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _ask(self, key: tuple[Any, ...], question: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = question()
        return self._cache[key]

    def mentions(self, text: str) -> bool:
        return self._ask(("mentions", text), lambda: self.reader.mentions(text))

    def image(self, element: str) -> Attrs | None:
        """Attributes of one of the main-image elements (or the music cover)."""
        if element in _BOOK_COVERS and not self.mentions(_BOOK_COVER_MARK):
            return None
        if element == MUSIC_IMAGE_CONTAINER:
            return self._ask(("img_within", element), lambda: self.reader.img_within(element))
        return self._ask(
            ("img", element), lambda: self.reader.tag("img", "id", element, exact=True)
        )

    def has(self, signal: str, name: str, attr: str, value: str, *, exact: bool = False) -> bool:
        found = self._ask(
            ("tag", name, attr, value, exact),
            lambda: self.reader.tag(name, attr, value, exact=exact) is not None,
        )
        if found:
            self.signals.add(signal)
        return found

    def script_has(self, signal: str, text: str) -> bool:
        found = self._ask(("script", text), lambda: next(self.reader.scripts_with(text), None))
        if found is not None:
            self.signals.add(signal)
        return found is not None

    def color_images(self) -> list[tuple[str, str]] | None:
        """``[(field, url)]`` of the first ``colorImages`` entry; [] when declared null;
        None when no script carries the data."""
        return self._ask(("colorImages",), self._read_color_images)

    def _read_color_images(self) -> list[tuple[str, str]] | None:
        for script in self.reader.scripts_with("colorImages"):
            parsed = color_images(script)
            if parsed is not None:
                self.signals.add("color_images_null" if parsed == [] else "color_images")
                return parsed
        return None

    def title_says_not_found(self) -> bool:
        found = "page not found" in self._ask(("title",), self.reader.title).lower()
        if found:
            self.signals.add("not_found_title")
        return found


_IMAGE_ELEMENTS = (*MAIN_IMAGE_IDS, MUSIC_IMAGE_CONTAINER)
# Questions that share a substring: a page that never mentions it can answer none of
# them with yes, so one search settles the group (a saving on large non-product pages).
_BOOK_COVERS = ("imgBlkFront", "ebooksImgBlkFront")
_BOOK_COVER_MARK = "mgBlkFront"
_CAPTCHA_MARKS = (
    "validateCaptcha",
    "captchacharacters",
    "opfcaptcha",
    "csm-captcha-instrumentation",
)
_CAPTCHA_MARK = "aptcha"
assert all(_BOOK_COVER_MARK in m for m in _BOOK_COVERS)
assert all(_CAPTCHA_MARK in m for m in _CAPTCHA_MARKS)


def _decide(ev: _Evidence, http_status: int | None) -> PageAnalysis:
    has_image_markup = any(ev.image(e) is not None for e in _IMAGE_ELEMENTS)
    if has_image_markup or ev.color_images() is not None:
        return _decide_product(ev)
    captcha = ev.mentions(_CAPTCHA_MARK) and any(
        [
            ev.has("captcha_form", "form", "action", "validateCaptcha"),
            ev.has("captcha_input", "input", "id", "captchacharacters", exact=True),
            ev.has("captcha_input", "input", "name", "captchacharacters", exact=True),
            ev.script_has("captcha_script", "opfcaptcha"),
            ev.script_has("captcha_script", "csm-captcha-instrumentation"),
        ]
    )
    if captcha or ev.script_has("bot_check", "/_sec/verify"):
        return _analysis(CAPTCHA, ev)
    if ev.has("product_title", "*", "id", "productTitle", exact=True):
        if ev.has("sorry_page", "*", "id", "dpSorryPage", exact=True):
            return _analysis(DEGRADED, ev)
        return _analysis(UNRECOGNISED, ev)
    # Evaluate every marker so that the signals say what the page showed.
    server_error = [
        (http_status or 0) >= 500,
        ev.has("service_error_link", "a", "href", "cs_503_"),
        ev.has("service_error_image", "img", "src", "500_503"),
        ev.has("service_error_image", "img", "src", "/error/500-title"),
    ]
    not_found = [
        http_status == 404,
        ev.has("not_found_link", "a", "href", "cs_404_"),
        ev.title_says_not_found(),
        ev.has("dogs_link", "a", "href", "dogsofamazon"),
    ]
    if any(server_error):
        return _analysis(SERVICE_ERROR, ev)
    if any(not_found):
        return _analysis(NOT_FOUND, ev)
    if ev.has("sorry_page", "*", "id", "dpSorryPage", exact=True):
        return _analysis(SERVICE_ERROR, ev)
    return _analysis(UNRECOGNISED, ev)


def _decide_product(ev: _Evidence) -> PageAnalysis:
    chosen = None
    for source, element, url in _candidates(ev):
        ref = parse_image_url(url)
        reason = default_reason(url)
        if reason in FINAL_DEFAULT_REASONS or (ref is not None and reason is None):
            chosen = (source, element, url, ref, reason)
            break
        ev.signals.add("image_not_understood")
    sorry = ev.has("sorry_page", "*", "id", "dpSorryPage", exact=True)
    if chosen is None:
        declared_none = ev.color_images() == [] and not any(
            ev.image(e) is not None for e in _IMAGE_ELEMENTS
        )
        if declared_none and not sorry:
            return _analysis(NO_IMAGE, ev)
        return _analysis(DEGRADED if sorry else UNRECOGNISED, ev)
    source, element, url, ref, reason = chosen
    if reason is not None:
        return _analysis(
            NO_IMAGE,
            ev,
            image_id=ref.image_id if ref else None,
            image_key=ref.image_key if ref else None,
            hires_url=url,
            source=source,
            default_reason=reason,
        )
    return _analysis(
        DEGRADED if sorry else PRODUCT,
        ev,
        image_id=ref.image_id,
        image_key=ref.image_key,
        image_url=_display_url(ev, element, ref),
        hires_url=ref.url,
        original_url=ref.original_url,
        source=source,
    )


def _analysis(kind: str, ev: _Evidence, **image: Any) -> PageAnalysis:
    return PageAnalysis(kind, signals=tuple(sorted(ev.signals)), **image)


def _candidates(ev: _Evidence) -> Iterator[tuple[str, str | None, str]]:
    """``(source, element, url)`` in order of reliability, read only as far as needed."""

    def attr(element: str, name: str) -> str:
        value = (ev.image(element) or {}).get(name, "")
        return value.strip()

    yield "landingImage.data-old-hires", "landingImage", attr("landingImage", "data-old-hires")
    for url in dynamic_image_urls(attr("landingImage", "data-a-dynamic-image")):
        yield "landingImage.data-a-dynamic-image", "landingImage", url
    for key, url in ev.color_images() or []:
        yield f"colorImages.{key}", None, url
    for element in ("imgBlkFront", "ebooksImgBlkFront"):
        for url in dynamic_image_urls(attr(element, "data-a-dynamic-image")):
            yield f"{element}.data-a-dynamic-image", element, url
    yield "main-image.data-a-hires", "main-image", attr("main-image", "data-a-hires")
    for element in MAIN_IMAGE_IDS:
        yield f"{element}.src", element, attr(element, "src")
    yield "digitalMusicProductImage.src", MUSIC_IMAGE_CONTAINER, attr(MUSIC_IMAGE_CONTAINER, "src")


def _display_url(ev: _Evidence, element: str | None, ref: ImageRef) -> str:
    """The page's own display rendition of the chosen image if it has one, else a built one."""
    if element is not None:
        src_ref = parse_image_url((ev.image(element) or {}).get("src", ""))
        if src_ref is not None and src_ref.image_id == ref.image_id and src_ref.modifiers:
            return src_ref.url
    return ref.display_url


def analyse_page(
    html_page: bytes | str, http_status: int | None = 200, *, full_parse: bool = False
) -> PageAnalysis:
    """Classify a page and extract its main image. Never raises on any input."""
    try:
        page = html_page.encode("utf-8", "replace") if isinstance(html_page, str) else html_page
        truncated = len(page) > MAX_PAGE_BYTES
        page = page[:MAX_PAGE_BYTES]
        reader: Reader = TreeReader(page) if full_parse else ScanReader(page)
        evidence = _Evidence(reader)
        if truncated:
            evidence.signals.add("page_truncated")
        return _decide(evidence, http_status)
    except Exception as exc:  # a hostile page must give a status, not a crash
        return PageAnalysis(UNRECOGNISED, signals=(f"parse_error:{type(exc).__name__}",))
