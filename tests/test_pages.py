"""Page classification and main-image extraction on fixture pages of every layout."""

import json
import subprocess
import sys

import pytest
from sqid.localserve.pages import LAYOUT_STATUS, LAYOUTS, image_id_for, render
from sqid.pages import analyse_page

PID = "B07XYZ1234"
IID = image_id_for(PID)

EXPECTED = {
    "landing": ("product", "landingImage.data-old-hires", f"{IID}._AC_SL1500_.jpg"),
    "landing_no_hires": ("product", "landingImage.data-a-dynamic-image", f"{IID}._AC_SX679_.jpg"),
    "landing_data_uri": ("product", "landingImage.data-a-dynamic-image", f"{IID}._AC_SX679_.jpg"),
    "color_images": ("product", "colorImages.hiRes", f"{IID}._AC_SL1500_.jpg"),
    "book": ("product", "imgBlkFront.data-a-dynamic-image", f"{IID}._SX331_BO1,204,203,200_.jpg"),
    "kindle": ("product", "ebooksImgBlkFront.data-a-dynamic-image", f"{IID}._SY346_.jpg"),
    "audible": ("product", "main-image.data-a-hires", f"{IID}._SL1000_.jpg"),
    "placeholder": ("no_image", "landingImage.data-a-dynamic-image", None),
    "default_video": ("no_image", "main-image.data-a-hires", None),
    "no_image_null": ("no_image", None, None),
    "captcha_classic": ("captcha", None, None),
    "captcha_button": ("captcha", None, None),
    "not_found": ("not_found", None, None),
    "service_error": ("service_error", None, None),
    "blocked": ("service_error", None, None),
    "degraded": ("degraded", "landingImage.src", f"{IID}._SX90_.jpg"),
    "js_shell": ("unrecognised", None, None),
}


def test_every_layout_has_an_expectation():
    assert set(EXPECTED) == set(LAYOUTS)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("full_parse", [False, True])
def test_layouts(layout, full_parse):
    kind, source, hires_tail = EXPECTED[layout]
    result = analyse_page(
        render(layout, PID, "Red kettle"), LAYOUT_STATUS.get(layout, 200), full_parse=full_parse
    )
    assert result.page_kind == kind
    assert result.source == source
    if hires_tail:
        assert result.hires_url.endswith("/" + hires_tail)
        assert result.image_id == IID
        assert result.original_url == f"https://m.media-amazon.com/images/I/{IID}.jpg"
        assert result.image_url.startswith("https://m.media-amazon.com/images/I/" + IID)
    else:
        assert result.image_url is None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fast_path_equals_full_parse(layout):
    page = render(layout, PID, "Kettle", size=600_000)
    status = LAYOUT_STATUS.get(layout, 200)
    assert analyse_page(page, status) == analyse_page(page, status, full_parse=True)


def test_display_url_is_the_pages_own_rendition():
    result = analyse_page(render("landing", PID))
    assert result.image_url.endswith(f"/{IID}._AC_SX425_.jpg")


def test_default_reasons():
    assert analyse_page(render("placeholder", PID)).default_reason == "placeholder"
    assert analyse_page(render("default_video", PID)).default_reason == "default_video"


def test_misleading_phrases_do_not_decide():
    # Every product page carries "Something went wrong" popovers and the automated-access comment.
    page = render("landing", PID)
    assert "Something went wrong" in page and "automated access" in page
    assert analyse_page(page).page_kind == "product"
    only_phrases = (
        "<html><body><p>Enter the characters you see below</p><p>Page Not Found</p></body></html>"
    )
    assert analyse_page(only_phrases).page_kind == "unrecognised"


def test_http_status_alone_decides_bare_error_pages():
    assert analyse_page("<html><body>gone</body></html>", 404).page_kind == "not_found"
    assert analyse_page("<html><body>down</body></html>", 503).page_kind == "service_error"


HOSTILE = {
    "deep_nesting": "<div>" * 50_000
    + '<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">'
    + "</div>" * 50_000,
    "broken_dynamic_json": '<span id="productTitle">x</span><img id="landingImage" data-old-hires="" data-a-dynamic-image="{&quot;https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX500_.jpg&quot;:[500,500], broken">',
    "broken_color_json": '<span id="productTitle">x</span><script>var d = {\'colorImages\': { \'initial\': [{"hiRes":"https://m.media-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg", oops }]}}</script>',
    "foreign_host": '<span id="productTitle">x</span><img id="landingImage" data-old-hires="https://evil.example/images/I/71fv4Dv5RaL.jpg" src="javascript:alert(1)">',
    "data_uri_only": '<span id="productTitle">x</span><img id="landingImage" src="data:image/png;base64,AAAA">',
    "invalid_utf8": b'<span id="productTitle">\xff\xfe\xfa</span><img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">',
    "empty": "",
    "binary": bytes(range(256)) * 100,
    "unclosed_attribute": '<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg',
}
HOSTILE_KIND = {
    "deep_nesting": "product",
    "broken_dynamic_json": "product",
    "broken_color_json": "product",
    "foreign_host": "no_image",
    "data_uri_only": "no_image",
    "invalid_utf8": "product",
    "empty": "unrecognised",
    "binary": "unrecognised",
    "unclosed_attribute": "unrecognised",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_html_gives_a_status(name):
    fast = analyse_page(HOSTILE[name])
    assert fast.page_kind == HOSTILE_KIND[name]
    assert fast == analyse_page(HOSTILE[name], full_parse=True)
    if fast.page_kind == "product":
        assert fast.image_id == "71fv4Dv5RaL"


@pytest.mark.slow
def test_twenty_megabyte_pages():
    # The image buried 10 MB deep is past the analysed part: a status, not a crash.
    buried = analyse_page(render("landing", PID, size=20_000_000))
    assert buried.page_kind == "unrecognised" and "page_truncated" in buried.signals
    early = render("landing", PID) + "<div>filler</div>" * 1_200_000
    result = analyse_page(early)
    assert result.page_kind == "product" and result.image_id == IID


def test_parse_page_cli(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(render("captcha_button", PID))
    out = subprocess.run(
        [sys.executable, "-m", "sqid.cli", "parse-page", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["page_kind"] == "captcha"
    assert {"image_id", "image_url", "hires_url", "source"} <= set(data)
    out = subprocess.run(
        [sys.executable, "-m", "sqid.cli", "parse-page", "-"],
        input=render("book", PID),
        capture_output=True,
        text=True,
    )
    assert json.loads(out.stdout)["source"] == "imgBlkFront.data-a-dynamic-image"
    missing = subprocess.run(
        [sys.executable, "-m", "sqid.cli", "parse-page", str(tmp_path / "nope.html")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "nope.html" in missing.stderr
