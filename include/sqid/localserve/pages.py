"""Product pages written by this project, one per layout seen on real Amazon pages.

The markup is our own, modelled on documented facts about the live pages (which
attributes carry the image, how captcha, 404, 503 and degraded pages are built, which
misleading phrases appear on normal pages). The local product site serves these, and
the tests use them as fixtures.
"""

from __future__ import annotations

import hashlib
import html
import json

LAYOUTS = (
    "landing",  # img#landingImage with data-old-hires + data-a-dynamic-image
    "landing_no_hires",  # empty data-old-hires: the dynamic-image map decides
    "landing_data_uri",  # src is a base64 data: URI, low-quality
    "color_images",  # only the inline colorImages script
    "book",  # img#imgBlkFront ([w, h] map)
    "kindle",  # img#ebooksImgBlkFront
    "audible",  # img#main-image with data-a-hires
    "placeholder",  # "No image available" placeholder as the main image
    "default_video",  # the default digital-video art
    "no_image_null",  # colorImages 'initial': null, no image element
    "captcha_classic",
    "captcha_button",
    "not_found",
    "service_error",
    "blocked",  # 503 with the automated-access comment
    "degraded",  # #dpSorryPage with a low-resolution image only
    "js_shell",  # HTTP 200, JavaScript shell, no image markup
)
PRODUCT_LAYOUTS = LAYOUTS[:7]
LAYOUT_STATUS = {"not_found": 404, "service_error": 503, "blocked": 503}

CDN = "https://m.media-amazon.com/images/I"
PLACEHOLDER_ID = "01RmK+J4pJL"
DEFAULT_VIDEO = (
    "https://m.media-amazon.com/images/G/01/digital/video/web/"
    "Default_Background_Art_LTR._SX1080_FMjpg_.jpg"
)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-"
AUTOMATED_ACCESS = (
    "<!-- To discuss automated access to Amazon data please contact "
    "api-services-support@amazon.com. -->"
)


def image_id_for(product_id: str, salt: str = "") -> str:
    """A stable, realistic 11-character image ID for a product."""
    digest = hashlib.sha256((salt + product_id).encode()).digest()
    body = "".join(_ALPHABET[b % 64] for b in digest[:9])
    return f"{1 + digest[9] % 8}{body}L"


def _filler(size: int) -> str:
    """Site furniture to bring a page to ``size`` bytes: nav, hidden popovers, scripts."""
    block = (
        '<div class="a-section nav-sprite"><a href="/gp/help?ref=nav_cs">Help</a>'
        '<span class="a-size-small">Deliver to United States</span>'
        '<img src="https://m.media-amazon.com/images/G/01/x-locale/common/transparent-pixel.gif"'
        ' width="1" height="1"></div>\n'
        '<div class="a-popover-preload" style="display:none"><h4>Something went wrong.'
        " Please try again.</h4></div>\n"
        "<script>P.when('A').execute(function(A){var x = {\"k\": [1, 2, 3]};"
        " if (x.k.length < 4) { A.trigger('noop'); }});</script>\n"
    )
    return block * max(0, size // len(block))


def _page(body: str, title: str, size: int, head_extra: str = "") -> str:
    head = (
        f'<!doctype html><html lang="en-us"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta property="og:image" content="https://m.media-amazon.com/images/G/01/social_share/'
        'amazon_logo._CB633267191_.png">'
        f"{head_extra}</head><body>{AUTOMATED_ACCESS}"
    )
    half = _filler(size // 2)
    return f"{head}{half}{body}{half}</body></html>"


def _dynamic(image_id: str, sizes: list[tuple[int, int]]) -> str:
    data = {f"{CDN}/{image_id}._AC_SX{w}_.jpg": [h, w] for w, h in sizes}
    return html.escape(json.dumps(data), quote=True)


def _title_block(title: str) -> str:
    return (
        f'<div id="dp" class="a-container"><div id="titleSection"><h1 id="title">'
        f'<span id="productTitle" class="a-size-large">{html.escape(title)}</span></h1></div>'
    )


def render(layout: str, product_id: str, title: str = "", size: int = 300_000) -> str:
    """The HTML the local site serves for ``product_id`` in ``layout``."""
    if layout in _WHOLE_PAGES:
        return _WHOLE_PAGES[layout](product_id)
    iid = image_id_for(product_id)
    title = title or f"Product {product_id}"
    if layout == "degraded":
        body = (
            '<div id="dpSorryPage"><h2>We are sorry, this page is not fully available.</h2>'
            f'<img id="landingImage" src="{CDN}/{iid}._SX90_.jpg"></div>'
        )
    elif layout in _IMAGE_BLOCKS:
        body = _title_block(title) + _IMAGE_BLOCKS[layout](product_id, iid, title)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return _page(body, f"Amazon.com: {html.escape(title)}", size)


def _landing(product_id: str, iid: str, title: str) -> str:
    return (
        f'<div id="imgTagWrapperId"><img alt="{html.escape(title)}" '
        f'src="{CDN}/{iid}._AC_SX425_.jpg" data-old-hires="{CDN}/{iid}._AC_SL1500_.jpg" '
        f'id="landingImage" data-a-dynamic-image="{_standard_sizes(iid)}"></div></div>'
    )


def _landing_no_hires(product_id: str, iid: str, title: str) -> str:
    return (
        f'<img src="{CDN}/{image_id_for(product_id, "thumb")}._AC_US40_.jpg" data-old-hires="" '
        f'id="landingImage" data-a-dynamic-image="{_standard_sizes(iid)}"></div>'
    )


def _landing_data_uri(product_id: str, iid: str, title: str) -> str:
    return (
        '<img src="data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcG" '
        f'data-old-hires="" id="landingImage" data-a-dynamic-image="{_standard_sizes(iid)}"></div>'
    )


def _color_images(product_id: str, iid: str, title: str) -> str:
    images = [{
        "hiRes": f"{CDN}/{iid}._AC_SL1500_.jpg",
        "thumb": f"{CDN}/{iid}._AC_US40_.jpg",
        "large": f"{CDN}/{iid}._AC_.jpg",
        "main": {f"{CDN}/{iid}._AC_SX425_.jpg": [425, 425]},
        "variant": "MAIN",
    }]  # fmt: skip
    return (
        '</div><script type="text/javascript">P.when(\'A\').register("ImageBlockATF", '
        "function(A){ var data = { 'colorImages': { 'initial': "
        f"{json.dumps(images)}"
        "}, 'colorToAsin': {'initial': {}}, "
        "'heroImage': {} }; return data; });</script>"
    )


def _book(product_id: str, iid: str, title: str) -> str:
    book = html.escape(json.dumps({
        f"{CDN}/{iid}._SY291_BO1,204,203,200_QL40_.jpg": [194, 291],
        f"{CDN}/{iid}._SX331_BO1,204,203,200_.jpg": [331, 499],
    }), quote=True)  # fmt: skip
    return (
        f'<img id="imgBlkFront" src="{CDN}/{iid}._SY291_BO1,204,203,200_QL40_.jpg" '
        f'data-a-dynamic-image="{book}" class="a-dynamic-image"></div>'
    )


def _kindle(product_id: str, iid: str, title: str) -> str:
    kindle = html.escape(json.dumps({f"{CDN}/{iid}._SY346_.jpg": [231, 346]}), quote=True)
    return (
        f'<img id="ebooksImgBlkFront" src="{CDN}/{iid}._SY346_.jpg" '
        f'data-a-dynamic-image="{kindle}"></div>'
    )


def _audible(product_id: str, iid: str, title: str) -> str:
    return (
        f'<img id="main-image" src="{CDN}/{iid}._SL500_.jpg" '
        f'data-a-hires="{CDN}/{iid}._SL1000_.jpg"></div>'
    )


def _placeholder(product_id: str, iid: str, title: str) -> str:
    sizes = f"{{&quot;{CDN}/{PLACEHOLDER_ID}.gif&quot;:[500,500]}}"
    return (
        f'<img id="landingImage" src="{CDN}/{PLACEHOLDER_ID}._QL70_ML2_.gif" '
        f'data-old-hires="" data-a-dynamic-image="{sizes}"></div>'
    )


def _default_video(product_id: str, iid: str, title: str) -> str:
    return f'<img id="main-image" src="{DEFAULT_VIDEO}" data-a-hires="{DEFAULT_VIDEO}"></div>'


def _no_image_null(product_id: str, iid: str, title: str) -> str:
    return (
        "</div><script>var data = { 'colorImages': { 'initial': null }, 'mainImageSize': null };"
        "</script>"
    )


_IMAGE_BLOCKS = {
    "landing": _landing, "landing_no_hires": _landing_no_hires,
    "landing_data_uri": _landing_data_uri, "color_images": _color_images, "book": _book,
    "kindle": _kindle, "audible": _audible, "placeholder": _placeholder,
    "default_video": _default_video, "no_image_null": _no_image_null,
}  # fmt: skip
"""Product-page layouts: the title block, then this image block."""


def _standard_sizes(iid: str) -> str:
    return _dynamic(iid, [(355, 500), (425, 600), (679, 958)])


def _not_found(product_id: str) -> str:
    body = (
        '<div id="g"><a href="/ref=cs_404_logo"><img src="https://m.media-amazon.com/images/G/01/'
        'error/logo._TTD_.png" alt="Amazon"></a><a href="/dogsofamazon/ref=cs_404_link">'
        '<img alt="Dogs of Amazon" src="https://m.media-amazon.com/images/G/01/error/41._TTD_.jpg">'
        "</a><p>Sorry, we couldn't find that page.</p></div>"
    )
    return _page(body, "Page Not Found", 20_000)


def _service_error(product_id: str) -> str:
    body = (
        '<div><a href="/ref=cs_503_logo"><img src="https://m.media-amazon.com/images/G/01/'
        'error/500_503.png" alt="Sorry! Something went wrong!"></a>'
        '<a href="/ref=cs_503_link">Go to the Amazon.com home page</a></div>'
    )
    return _page(body, "Sorry! Something went wrong!", 10_000)


def _js_shell(product_id: str) -> str:
    body = (
        '<div id="root"></div><script src="https://m.media-amazon.com/images/I/app.js"></script>'
        "<noscript>Please enable JavaScript.</noscript>"
    )
    return _page(body, "Amazon Music", 40_000)


_WHOLE_PAGES = {
    "captcha_classic": lambda product_id: _captcha(product_id, classic=True),
    "captcha_button": lambda product_id: _captcha(product_id, classic=False),
    "not_found": _not_found, "service_error": _service_error, "blocked": _service_error,
    "js_shell": _js_shell,
}  # fmt: skip
"""Layouts that are not product pages: captchas and error pages."""


def _captcha(product_id: str, classic: bool) -> str:
    if classic:
        form = (
            '<form method="get" action="/errors/validateCaptcha" name="">'
            f'<input type=hidden name="amzn" value="abc123"><input type=hidden name="amzn-r" value="/dp/{product_id}">'
            '<img src="https://images-na.ssl-images-amazon.com/captcha/abcdefg/Captcha_xyz.jpg">'
            "<p>Type the characters you see in this image:</p>"
            '<input autocomplete="off" spellcheck="false" placeholder="Type characters" '
            'id="captchacharacters" name="field-keywords" type="text"></form>'
        )
        heading = "Enter the characters you see below"
    else:
        form = (
            '<form method="get" action="/errors/validateCaptcha" name="">'
            f'<input type=hidden name="amzn-r" value="/dp/{product_id}">'
            '<button type="submit" class="a-button-text">Continue shopping</button></form>'
        )
        heading = "Click the button below to continue shopping"
    script = (
        '<script>var ue_sn = "opfcaptcha.amazon.com"; var ue_id = "X1";</script>'
        '<script>window.ue && ue.count("csm-captcha-instrumentation", 1);</script>'
    )
    return (
        '<!doctype html><html><head><title dir="ltr">Amazon.com</title>'
        f"{script}</head><body>{AUTOMATED_ACCESS}<h4>{heading}</h4>{form}</body></html>"
    )
