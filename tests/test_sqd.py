import json

import pytest
from sqid.ingest.sources import read_manifest, resolve_specs
from sqid.ingest.sqd import (
    EXAMPLES,
    PRODUCTS,
    PUBLISHED_SPECS,
    PUBLISHED_URLS,
    SOURCES,
    parse_manifest,
    source_url,
)

# The published files' sizes and sha256, as the SQD repository lists them.
REFERENCE = {
    EXAMPLES: (51_286_808, "4a735b693b4a424a6fc67f5be6e4c811495c488bbf66d02a602d308b2744263a"),
    PRODUCTS: (1_108_857_465, "25124442d064d64b26f74082d6fa09438d679efc0c183cf28d19064a2b65a265"),
    SOURCES: (1_682_802, "a5fed8ecc016443de40bf3c63098f0e3f23bbe4daa4236f1c38b8c3184778c50"),
}


def test_published_specs_match_the_reference_values():
    assert {n: (s.size, s.sha256) for n, s in PUBLISHED_SPECS.items()} == REFERENCE
    assert resolve_specs("published") == PUBLISHED_SPECS


def test_parquet_defaults_use_the_lfs_media_host():
    assert PUBLISHED_URLS[EXAMPLES].startswith("https://media.githubusercontent.com/media/")
    assert PUBLISHED_URLS[SOURCES].endswith("/shopping_queries_dataset/" + SOURCES)


def test_source_url_forms(tmp_path):
    assert source_url("", EXAMPLES) == PUBLISHED_URLS[EXAMPLES]
    assert source_url("http://h:1/x/", EXAMPLES) == f"http://h:1/x/{EXAMPLES}"
    assert source_url(str(tmp_path), SOURCES) == (tmp_path / SOURCES).as_uri()
    assert source_url(tmp_path.as_uri(), SOURCES) == f"{tmp_path.as_uri()}/{SOURCES}"


def test_manifest_round_trip_and_errors(tmp_path):
    raw = {n: {"size": 1, "sha256": "AB"} for n in (EXAMPLES, PRODUCTS, SOURCES)}
    (tmp_path / "m.json").write_text(json.dumps(raw))
    specs = read_manifest(str(tmp_path / "m.json"))
    assert specs[SOURCES].sha256 == "ab"
    assert read_manifest((tmp_path / "m.json").as_uri()) == specs
    with pytest.raises(ValueError, match="no size/sha256 entry for " + SOURCES):
        parse_manifest(json.dumps({EXAMPLES: raw[EXAMPLES], PRODUCTS: raw[PRODUCTS]}))
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_manifest("{")
