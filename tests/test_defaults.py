import csv

from sqid.scrape.placeholders import (
    SharedImageRule,
    audit_image_urls,
    default_reason,
    find_shared_images,
    title_similarity,
)

from .conftest import shared_file


def test_known_defaults():
    assert (
        default_reason("https://m.media-amazon.com/images/I/01RmK+J4pJL._AC_.gif") == "placeholder"
    )
    assert default_reason("https://m.media-amazon.com/images/I/01RmK%2BJ4pJL.gif") == "placeholder"
    assert (
        default_reason(
            "https://m.media-amazon.com/images/G/01/digital/video/web/Default_Background_Art_LTR._SX1080_FMjpg_.jpg"
        )
        == "default_video"
    )
    old_icon = "https://images-na.ssl-images-amazon.com/images/G/01/x-site/icons/no-img-sm._CB1.gif"
    assert default_reason(old_icon) == "placeholder"
    spacer = "https://m.media-amazon.com/images/G/01/x-locale/common/transparent-pixel.gif"
    assert default_reason(spacer) == "furniture"
    assert default_reason("https://m.media-amazon.com/images/I/71fv4Dv5RaL._AC_SX425_.jpg") is None
    assert default_reason("") is None


def test_unrelated_titles_sharing_an_image_are_flagged():
    rows = [
        (f"B0000000{i:02d}", "41PLACEHOLD", t)
        for i, t in enumerate(
            ["usb cable", "garden hose", "lipstick red", "dog bed large", "chess set", "tea kettle"]
        )
    ]
    rows += [
        (f"B0000001{i:02d}", "71VARIANTSL", f"Acme cotton t-shirt size {s}")
        for i, s in enumerate("SMLX")
    ]
    rows += [("B000000200", "71VARIANTSL", "Acme cotton t-shirt size XXL")]
    shared = {s.image_id: s for s in find_shared_images(rows, SharedImageRule(min_products=5))}
    assert shared["41PLACEHOLD"].is_default and shared["41PLACEHOLD"].n_products == 6
    assert not shared["71VARIANTSL"].is_default  # product variants share images legitimately
    assert shared["71VARIANTSL"].title_similarity > 0.5


def test_title_similarity_edges():
    assert title_similarity(["only one"]) is None
    assert title_similarity(["a b", "a b"]) == 1.0
    assert title_similarity(["a b", "c d"]) == 0.0


def test_composites_are_compared_by_their_inner_image():
    template = "https://m.media-amazon.com/images/I/A13usaonutL._CLa%7C2140%2C2000%7C{inner}.png%7C0%2C0%2C2140%2C2000%2B0.0%2C0.0%2C2140.0%2C2000.0_AC_SX342_.png"
    rows = [(f"B0COMPOS{i:02d}", template.format(inner=f"81Inner{i:04d}L")) for i in range(10)]
    report = audit_image_urls(rows, SharedImageRule(min_products=3))
    assert report["shared_image_ids"] == []


def test_audit_of_the_published_supplementary_file():
    """What the rules find in the real SQID supplementary file."""
    path = shared_file("sqid", "supp_product_image_urls.csv")
    with path.open(newline="") as fh:
        rows = [(r["product_id"], r["image_url"]) for r in csv.DictReader(fh)]
    report = audit_image_urls(rows, SharedImageRule(min_products=3))
    assert report["rows"] == 27_139
    assert report["empty_image_url"] == 910
    assert report["known_defaults"] == {"default_video": 4, "furniture": 3, "placeholder": 22}
    # An A+ content banner and a video thumbnail with a play-button overlay.
    assert report["not_a_product_image_url"] == 2
    # No image is shared by 5 or more products once composites are keyed by their inner image.
    assert max(s["n_products"] for s in report["shared_image_ids"]) == 4
