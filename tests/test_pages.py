"""Page classification and main-image extraction on fixture pages of every layout."""

import json
import subprocess
import sys

import pytest
from sqid.localserve import corpus
from sqid.localserve.pages import LAYOUT_STATUS, LAYOUTS, image_id_for, render
from sqid.scrape.pages import analyse_page
from sqid.scrape.readers import TreeReader
from sqid.scrape.scan_reader import ScanReader

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
    "deep_nesting": "<div>" * 1_500
    + '<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">'
    + "</div>" * 1_500,
    "broken_dynamic_json": '<span id="productTitle">x</span><img id="landingImage" data-old-hires="" data-a-dynamic-image="{&quot;https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX500_.jpg&quot;:[500,500], broken">',
    "broken_color_json": '<span id="productTitle">x</span><script>var d = {\'colorImages\': { \'initial\': [{"hiRes":"https://m.media-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg", oops }]}}</script>',
    "foreign_host": '<span id="productTitle">x</span><img id="landingImage" data-old-hires="https://evil.example/images/I/71fv4Dv5RaL.jpg" src="javascript:alert(1)">',
    "data_uri_only": '<span id="productTitle">x</span><img id="landingImage" src="data:image/png;base64,AAAA">',
    "invalid_utf8": b'<span id="productTitle">\xff\xfe\xfa</span><img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">',
    "empty": "",
    "binary": bytes(range(256)) * 100,
    "unclosed_attribute": '<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg',
    "nested_dynamic_json": '<img id="landingImage" data-old-hires="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg" data-a-dynamic-image="'
    + "[" * 100_000
    + '">',
    "huge_dynamic_size": '<img id="landingImage" data-old-hires="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg" data-a-dynamic-image="{&quot;https://m.media-amazon.com/images/I/61other00L.jpg&quot;:['
    + "9" * 5_000
    + ',1]}">',
    "lt_in_attribute": '<img alt="a < b" id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">',
    "markup_in_script": '<script>var t = \'<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg">\';</script>',
    "markup_in_comment": '<!-- <img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg"> -->',
    # Tag names are case-insensitive: a <SCRIPT> is a script, markup in it is text.
    "markup_in_upper_case_script": '<SCRIPT>var t = \'<img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg">\';</SCRIPT>',
    "markup_in_mixed_case_style": '<StYlE>/* <img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg"> */</sTyLe>',
    "json_in_upper_case_script": '<TITLE>Amazon.com: Red Kettle</TITLE><span id="productTitle">x</span><SCRIPT>var d = {\'colorImages\': { \'initial\': [{"hiRes":"https://m.media-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg"}]}}</SCRIPT>',
    # After "<!--" in a script, "<script" opens a stretch the next "</script>" only closes:
    # the markup after it is still the script's text, as a browser reads it.
    "markup_after_double_escaped_script": '<script><!--<script></script><img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg"><span id="productTitle">x</span>',
    "markup_after_double_escape_ends": '<script><!--<Script ></SCRIPT>--></script><span id="productTitle">x</span><img id="landingImage" src="https://m.media-amazon.com/images/I/71fv4Dv5RaL._SX425_.jpg">',
}
HOSTILE_KIND = {
    "deep_nesting": "product",
    "broken_dynamic_json": "product",
    "broken_color_json": "product",
    # Image markup is there but not understood: retry later, never a final no_image.
    "foreign_host": "unrecognised",
    "data_uri_only": "unrecognised",
    "invalid_utf8": "product",
    "empty": "unrecognised",
    "binary": "unrecognised",
    "unclosed_attribute": "unrecognised",
    "nested_dynamic_json": "product",
    "huge_dynamic_size": "product",
    "lt_in_attribute": "product",
    "markup_in_script": "unrecognised",
    "markup_in_comment": "unrecognised",
    "markup_in_upper_case_script": "unrecognised",
    "markup_in_mixed_case_style": "unrecognised",
    "json_in_upper_case_script": "product",
    "markup_after_double_escaped_script": "unrecognised",
    "markup_after_double_escape_ends": "product",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_html_gives_a_status(name):
    fast = analyse_page(HOSTILE[name])
    assert fast.page_kind == HOSTILE_KIND[name]
    assert fast == analyse_page(HOSTILE[name], full_parse=True)
    if fast.page_kind == "product":
        assert fast.image_id == "71fv4Dv5RaL"


def test_nesting_deeper_than_the_reference_parser_builds():
    # libxml2 builds no tree below 2,048 levels; the scan reader still finds the image.
    page = "<div>" * 50_000 + HOSTILE["lt_in_attribute"] + "</div>" * 50_000
    assert analyse_page(page).image_id == "71fv4Dv5RaL"
    assert analyse_page(page, full_parse=True).page_kind == "unrecognised"


# Small pages in the shapes seen on the real site (markup written for these tests).
IMG = "https://m.media-amazon.com/images/I"
MEDIAX = "https://m.media-amazon.com/images/W/MEDIAX_792452-T2/images/I"
DOGS_503 = (
    "<html><head><title>Sorry! Something went wrong!</title></head><body>"
    '<a href="/ref=cs_503_logo"><img src="https://images-na.ssl-images-amazon.com/images/G/01/error/logo._TTD_.png"></a>'
    '<a href="/ref=cs_503_link/"><img src="https://images-na.ssl-images-amazon.com/images/G/01/error/en_US/500_503._TTD_.png"></a>'
    '<a href="/dogsofamazon/ref=cs_503_d"><img id="d" alt="Dogs of Amazon"></a></body></html>'
)
DOG_ONLY = '<html><body><a href="/dogsofamazon"><img alt="Dogs of Amazon"></a></body></html>'
ERROR_500_TITLE = (
    "<html><head><title>Algo deu errado</title></head><body><div id='h'><a href='/'>"
    '<img src="https://images-na.ssl-images-amazon.com/images/G/32/error/500-title._TTD_.png"></a>'
    '</div><img id="d" alt="Cachorros da Amazon" src="https://images-na.ssl-images-amazon.com/images/G/32/error/12._TTD_.jpg"></body></html>'
)
MUSIC_ALBUM = (
    '<script type="a-state">{"landingImageUrl":"https://images-na.ssl-images-amazon.com/images/I/51zximumRgL._SY445_.jpg"}</script>'
    '<div id="digitalMusicProductImage_feature_div" class="celwidget">'
    f'<img alt="Tempest" src="{IMG}/81NnKXVjJvL._SS500_.jpg"/></div>'
    '<div id="dmusicProductTitle_feature_div"><h1 class="a-size-large">Tempest</h1></div>'
)
SORRY_ONLY = (
    '<html><body><div id="dpSorryPage"><h2>We are sorry, this page is not available right now.'
    "</h2></div></body></html>"
)
BOOK_DATA_URI = (
    # An IE conditional comment with a nested "<!--" that trips some HTML parsers, then a
    # cover whose 33 kB data: URI comes before its id.
    '<!--[if IE 6]>\n<style type="text/css"><!--\n #nav { background: none; }\n'
    "--></style>\n<![endif]-->\n<div id='x'></div>"
    '<img alt="" src=" data:image/jpeg;base64,' + "A" * 33_000 + '" class="a-dynamic-image" '
    'id="imgBlkFront" data-a-dynamic-image="{&quot;https://images-na.ssl-images-amazon.com/images/I/51v2gGIvIgL._SX258_BO1,204,203,200_.jpg&quot;:[260,341],'
    '&quot;https://images-na.ssl-images-amazon.com/images/I/51v2gGIvIgL._SX379_BO1,204,203,200_.jpg&quot;:[381,499]}">'
    '<span id="productTitle">A book</span>'
)
BM_VERIFY = (
    '<html><head><meta http-equiv="refresh" content="5; URL=\'/dp/B000000000?bm-verify=AAQ\'">'
    "<script>var i = 17; var j = i + Number('3' + '6');</script></head><body><script>"
    'function go(){var x = new XMLHttpRequest(); x.open("POST", "/_sec/verify?provider=interstitial", false);'
    'x.send(JSON.stringify({"bm-verify": "AAQ", "pow": j}));}</script></body></html>'
)
SPACER_AS_IMAGE = (
    '<span id="productTitle">x</span><img id="landingImage" data-old-hires="" '
    'src="https://m.media-amazon.com/images/G/01/x-locale/common/transparent-pixel.gif">'
)
OLD_PLACEHOLDER = (
    '<span id="productTitle">x</span><img id="landingImage" '
    'src="https://images-na.ssl-images-amazon.com/images/G/01/x-site/icons/no-img-lg.gif">'
)

REAL_SHAPES = {
    # name: (html, http status, page kind, image id)
    "mediax_hires": (
        f'<img id="landingImage" src="{MEDIAX}/71p1Oe9knSL._AC_SX425_.jpg" '
        f'data-old-hires="{MEDIAX}/71p1Oe9knSL._AC_SL1200_.jpg">',
        200, "product", "71p1Oe9knSL",
    ),
    "mediax_dynamic_only": (
        '<img id="landingImage" data-old-hires="" data-a-dynamic-image="'
        f'{{&quot;{MEDIAX}/71p1Oe9knSL._AC_SY355_.jpg&quot;:[355,236],'
        f'&quot;{MEDIAX}/71p1Oe9knSL._AC_SY679_.jpg&quot;:[679,451]}}">',
        200, "product", "71p1Oe9knSL",
    ),
    "dogs_on_503_page_served_200": (DOGS_503, 200, "service_error", None),
    "dogs_on_503_page_served_503": (DOGS_503, 503, "service_error", None),
    "dog_only_served_503": (DOG_ONLY, 503, "service_error", None),
    "dog_only_served_200": (DOG_ONLY, 200, "not_found", None),
    "dog_only_served_404": (DOG_ONLY, 404, "not_found", None),
    "error_500_title": (ERROR_500_TITLE, 200, "service_error", None),
    "digital_music_album": (MUSIC_ALBUM, 200, "product", "81NnKXVjJvL"),
    "sorry_page_without_product": (SORRY_ONLY, 200, "service_error", None),
    "book_cover_after_data_uri": (BOOK_DATA_URI, 200, "product", "51v2gGIvIgL"),
    "bm_verify": (BM_VERIFY, 200, "captcha", None),
    "spacer_as_main_image": (SPACER_AS_IMAGE, 200, "unrecognised", None),
    "old_placeholder": (OLD_PLACEHOLDER, 200, "no_image", None),
}  # fmt: skip


@pytest.mark.parametrize("name", REAL_SHAPES)
@pytest.mark.parametrize("full_parse", [False, True])
def test_real_page_shapes(name, full_parse):
    page, status, kind, image_id = REAL_SHAPES[name]
    result = analyse_page(page, status, full_parse=full_parse)
    assert (result.page_kind, result.image_id) == (kind, image_id)


@pytest.mark.parametrize("name", REAL_SHAPES)
def test_real_page_shapes_fast_equals_full(name):
    page, status, _, _ = REAL_SHAPES[name]
    assert analyse_page(page, status) == analyse_page(page, status, full_parse=True)


def test_book_cover_comes_from_the_largest_rendition():
    result = analyse_page(REAL_SHAPES["book_cover_after_data_uri"][0])
    assert result.source == "imgBlkFront.data-a-dynamic-image"
    assert result.hires_url.endswith("51v2gGIvIgL._SX379_BO1,204,203,200_.jpg")


def test_old_placeholder_is_a_final_default():
    assert analyse_page(OLD_PLACEHOLDER).default_reason == "placeholder"


def test_bad_dynamic_map_keeps_the_good_hires_attribute():
    for name in ("nested_dynamic_json", "huge_dynamic_size"):
        result = analyse_page(HOSTILE[name])
        assert result.source == "landingImage.data-old-hires", name


def test_attribute_entities_decode_as_an_html5_parser_does():
    page = b'<img id="landingImage" alt="a=1&copy=2&amp;b&#x3D;3 &copy &nbsp;x &bogus;">'
    expected = "a=1&copy=2&b=3 \u00a9 \u00a0x &bogus;"
    assert ScanReader(page).tag("img", "id", "landingImage", exact=True)["alt"] == expected
    assert TreeReader(page).tag("img", "id", "landingImage", exact=True)["alt"] == expected


def test_tag_names_in_any_case_keep_the_text_as_written():
    page = b"<TITLE>Amazon.com: Red Kettle</TITLE><Script>var A = 'B';</SCRIPT>"
    for reader in (ScanReader(page), TreeReader(page)):
        assert reader.title() == "Amazon.com: Red Kettle"
        assert list(reader.scripts_with("A =")) == ["var A = 'B';"]


CORPUS_PAGES = corpus.load() if corpus.available() else []


@pytest.mark.skipif(
    not CORPUS_PAGES,
    reason=f"the real-page corpus is not at {corpus.corpus_dir()} (it sits in ../shared beside "
    f"a development checkout; set {corpus.CORPUS_ENV} to point elsewhere)",
)
@pytest.mark.parametrize("page", CORPUS_PAGES or [None], ids=lambda p: p.name if p else "absent")
def test_real_pages_from_the_corpus(page):
    html = page.html()
    fast = analyse_page(html)
    assert page.judge(fast) is None, f"{page.name}: {page.judge(fast)} ({page.notes})"
    assert fast == analyse_page(html, full_parse=True)


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
