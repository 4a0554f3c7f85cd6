import pytest
from sqid.imageurl import is_furniture, original_url, parse_image_url, rendition_url


@pytest.mark.parametrize(
    ("url", "image_id", "mods", "ext"),
    [
        (
            "https://m.media-amazon.com/images/I/71fv4Dv5RaL._AC_SY879_.jpg",
            "71fv4Dv5RaL",
            "_AC_SY879_",
            "jpg",
        ),
        (
            "https://m.media-amazon.com/images/I/51W+nquH7tL._AC_SX385_.jpg",
            "51W+nquH7tL",
            "_AC_SX385_",
            "jpg",
        ),
        (
            "https://m.media-amazon.com/images/I/51W%2BnquH7tL._AC_SX385_.jpg",
            "51W+nquH7tL",
            "_AC_SX385_",
            "jpg",
        ),
        (
            "https://images-na.ssl-images-amazon.com/images/I/81Q8KloKI1L.jpg",
            "81Q8KloKI1L",
            "",
            "jpg",
        ),
        (
            "https://m.media-amazon.com/images/W/WEBP_402378-T1/images/I/61abcDEF12L._AC_SX425_.webp",
            "61abcDEF12L",
            "_AC_SX425_",
            "webp",
        ),
        (
            "https://m.media-amazon.com/images/W/MEDIAX_792452-T2/images/I/71p1Oe9knSL._AC_SL1200_.jpg",
            "71p1Oe9knSL",
            "_AC_SL1200_",
            "jpg",
        ),
        (
            "https://m.media-amazon.com/images/W/WEBP_402378-T1/I/61abcDEF12L._AC_SX425_.webp",
            "61abcDEF12L",
            "_AC_SX425_",
            "webp",
        ),
        (
            "https://m.media-amazon.com/images/I/51abcdefghL._SX331_BO1,204,203,200_.jpg",
            "51abcdefghL",
            "_SX331_BO1,204,203,200_",
            "jpg",
        ),
        (
            "https://m.media-amazon.com/images/I/01RmK+J4pJL._QL70_ML2_.gif",
            "01RmK+J4pJL",
            "_QL70_ML2_",
            "gif",
        ),
        ("//m.media-amazon.com/images/I/71fv4Dv5RaL.png", "71fv4Dv5RaL", "", "png"),
    ],
)
def test_parse(url, image_id, mods, ext):
    ref = parse_image_url(url)
    if image_id is None:
        assert ref is None
    else:
        assert (ref.image_id, ref.modifiers, ref.ext) == (image_id, mods, ext)


@pytest.mark.parametrize(
    "url",
    [
        "data:image/jpeg;base64,/9j/4AAQ",
        "javascript:alert(1)",
        "/images/I/71fv4Dv5RaL.jpg",
        "https://evil.example.com/images/I/71fv4Dv5RaL.jpg",
        "https://m.media-amazon.com.evil.example/images/I/71fv4Dv5RaL.jpg",
        "https://m.media-amazon.com/images/G/01/digital/video/web/Default_Background_Art_LTR._SX1080_FMjpg_.jpg",
        "https://m.media-amazon.com/images/I/../../etc/passwd.jpg",
        "",
        "https://m.media-amazon.com/images/I/" + "A" * 5000 + ".jpg",
    ],
)
def test_rejects_non_product_urls(url):
    assert parse_image_url(url) is None


def test_token_prefixed_urls_have_canonical_renditions():
    ref = parse_image_url(
        "https://m.media-amazon.com/images/W/MEDIAX_792452-T2/images/I/71p1Oe9knSL._AC_SL1200_.jpg"
    )
    assert ref.original_url == "https://m.media-amazon.com/images/I/71p1Oe9knSL.jpg"
    assert ref.display_url == "https://m.media-amazon.com/images/I/71p1Oe9knSL._AC_SX425_.jpg"


def test_furniture_and_renditions():
    assert is_furniture("https://m.media-amazon.com/images/G/01/x-site/icons/no-img-lg.gif")
    assert not is_furniture("https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg")
    assert original_url("71fv4Dv5RaL") == "https://m.media-amazon.com/images/I/71fv4Dv5RaL.jpg"
    assert rendition_url("71fv4Dv5RaL", "jpg", "_SX224_").endswith("/71fv4Dv5RaL._SX224_.jpg")
    ref = parse_image_url(
        "https://images-eu.ssl-images-amazon.com/images/I/71fv4Dv5RaL._SL1500_.jpg"
    )
    assert ref.original_url == original_url("71fv4Dv5RaL")
    assert ref.display_url.endswith("71fv4Dv5RaL._AC_SX425_.jpg")
