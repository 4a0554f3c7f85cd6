"""The Shopping Queries Dataset (SQD) source files: names, published checksums, locations.

The parquet files live in Git LFS in ``amazon-science/esci-data``; the ``media`` host
serves their real bytes (the ``raw`` host would serve the LFS pointer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

EXAMPLES = "shopping_queries_dataset_examples.parquet"
PRODUCTS = "shopping_queries_dataset_products.parquet"
SOURCES = "shopping_queries_dataset_sources.csv"
FILE_NAMES: tuple[str, ...] = (EXAMPLES, PRODUCTS, SOURCES)

_REPO_PATH = "amazon-science/esci-data/main/shopping_queries_dataset"
PUBLISHED_URLS: dict[str, str] = {
    EXAMPLES: f"https://media.githubusercontent.com/media/{_REPO_PATH}/{EXAMPLES}",
    PRODUCTS: f"https://media.githubusercontent.com/media/{_REPO_PATH}/{PRODUCTS}",
    SOURCES: f"https://raw.githubusercontent.com/{_REPO_PATH}/{SOURCES}",
}


@dataclass(frozen=True)
class FileSpec:
    """What a verified SQD file must be: exact size and sha256."""

    name: str
    size: int
    sha256: str


PUBLISHED_SPECS: dict[str, FileSpec] = {
    EXAMPLES: FileSpec(
        EXAMPLES, 51_286_808, "4a735b693b4a424a6fc67f5be6e4c811495c488bbf66d02a602d308b2744263a"
    ),
    PRODUCTS: FileSpec(
        PRODUCTS, 1_108_857_465, "25124442d064d64b26f74082d6fa09438d679efc0c183cf28d19064a2b65a265"
    ),
    SOURCES: FileSpec(
        SOURCES, 1_682_802, "a5fed8ecc016443de40bf3c63098f0e3f23bbe4daa4236f1c38b8c3184778c50"
    ),
}

# The counts the published SQID release reports for the real SQD files.
PUBLISHED_TEST_PRODUCTS = 164_900
PUBLISHED_SUPP_PRODUCTS = 27_139
PUBLISHED_TEST_QUERIES = 8_956

CHECKSUM_MANIFEST = "sqd_checksums.json"
"""File name of a checksum manifest written next to generated sample files."""


def source_url(source: str, name: str) -> str:
    """Where to fetch ``name`` from: the published URL, or ``name`` under ``source``.

    ``source`` may be empty (published files), an ``http(s)://`` or ``file://`` base URL,
    or a local directory.
    """
    if not source:
        return PUBLISHED_URLS[name]
    if urlparse(source).scheme in ("http", "https", "file"):
        return source.rstrip("/") + "/" + name
    return Path(source).expanduser().resolve().joinpath(name).as_uri()


def parse_manifest(text: str) -> dict[str, FileSpec]:
    """Parse ``{"<file name>": {"size": int, "sha256": hex}}`` into specs for every SQD file."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"checksum manifest is not valid JSON: {exc}") from exc
    specs = {}
    for name in FILE_NAMES:
        entry = raw.get(name) if isinstance(raw, dict) else None
        if not isinstance(entry, dict) or "size" not in entry or "sha256" not in entry:
            raise ValueError(f"checksum manifest has no size/sha256 entry for {name}")
        specs[name] = FileSpec(name, int(entry["size"]), str(entry["sha256"]).lower())
    return specs


def manifest_text(specs: dict[str, FileSpec]) -> str:
    return json.dumps(
        {s.name: {"size": s.size, "sha256": s.sha256} for s in specs.values()}, indent=2
    )
