"""The SQID release layout: what a release folder holds, by name and schema, and how
its manifest and checksums are read and written.

The bottom of the release packages: making a release (``sqid.release``), checking one
and reading one (``sqid.search``) all take their names from here, and this module
imports none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqid.files import sha256_file

SQID_CSV = ("product_image_urls.csv", "supp_product_image_urls.csv")
URL_PARQUET = ("product_image_urls.parquet", "supp_product_image_urls.parquet")
"""The same rows as :data:`SQID_CSV`, typed (a missing URL is null): what the Hub configs
load, since ``datasets`` reads a folder's configs with one builder."""
PRODUCT_FEATURES = "product_features.parquet"
QUERY_FEATURES = "query_features.parquet"
STATUS_FILE = "product_image_status.parquet"
DATA_FILES = (*SQID_CSV, *URL_PARQUET, PRODUCT_FEATURES, QUERY_FEATURES, STATUS_FILE)
CHANGES = "changes.parquet"
"""Per product, what changed since the previous release (every release but the first)."""
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
DOCUMENTS = ("README.md", "CHANGELOG.md", "evaluation.json", "report.html", "croissant.json")
"""Written from the release's own data by :mod:`sqid.release.documents`."""
TOP_LEVEL_FILES = frozenset({*DATA_FILES, CHANGES, MANIFEST, CHECKSUMS, *DOCUMENTS})
"""Every file a release holds at its top level (its search index is in ``index/``)."""
HUB_CONFIGS = {
    "product_image_urls": URL_PARQUET[0],
    "supp_product_image_urls": URL_PARQUET[1],
    "product_features": PRODUCT_FEATURES,
    "query_features": QUERY_FEATURES,
    "product_image_status": STATUS_FILE,
    "changes": CHANGES,
}
"""The card's ``datasets`` configs, all Parquet, the first the default (``changes`` only
where the release has that file)."""
URL_SCHEMA = pa.schema([("product_id", pa.string()), ("image_url", pa.string())])
HUB_ROW_GROUP_BYTES = 128 * 1024 * 1024
"""In-memory size of a Parquet row group at most: the Hub's dataset viewer reads row
groups of up to 286 MiB and recommends 100-300 MB."""
FEATURE_TYPE = pa.list_(pa.float32())
PRODUCT_FEATURES_SCHEMA = pa.schema(
    [("product_id", pa.string()), ("clip_text_features", FEATURE_TYPE),
     ("clip_image_features", FEATURE_TYPE)]
)  # fmt: skip
QUERY_FEATURES_SCHEMA = pa.schema([("query_id", pa.string()), ("clip_text_features", FEATURE_TYPE)])

INDEX_DIR = "index"
"""The release's search index: a catalogue and one faiss index per kind of vector."""
CATALOGUE = "catalogue.parquet"
KINDS = {"image": "clip_image_features", "title": "clip_text_features"}
"""Kind of index -> the product_features column it indexes."""
KIND_OF = {column: kind for kind, column in KINDS.items()}
INDEX_FILES = frozenset({CATALOGUE, *(f"{kind}.faiss" for kind in KINDS)})

KNOWN_DIMENSIONS = {
    "openai/clip-vit-large-patch14": 768,
    "openai/clip-vit-large-patch14-336": 768,
    "openai/clip-vit-base-patch32": 512,
    "openai/clip-vit-base-patch16": 512,
}
"""Embedding dimension of the models a release may name; others need ``--dimension``."""


def display_model(model_id: str) -> str:
    """The model as the card names it: a hub id as is; a local folder by its name only."""
    if model_id.startswith(("/", ".", "~")) or "\\" in model_id or Path(model_id).is_dir():
        return f"a local model folder named {Path(model_id).name!r}"
    return model_id


def in_layout(name: str) -> bool:
    """Whether ``name`` (as ``SHA256SUMS`` lists it) is a file of the release layout."""
    folder, _, file = name.rpartition("/")
    if not folder:
        return name in TOP_LEVEL_FILES
    return folder == INDEX_DIR and file in INDEX_FILES


def index_path(release: Path, kind: str) -> Path:
    return Path(release) / INDEX_DIR / f"{kind}.faiss"


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / MANIFEST).read_text())


def read_checksums(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` from a release's ``SHA256SUMS``."""
    lines = (Path(directory) / CHECKSUMS).read_text().splitlines()
    return {name: digest for digest, _, name in (line.partition("  ") for line in lines if line)}


def write_checksums(directory: Path, known: dict[str, str] | None = None) -> dict[str, str]:
    """``SHA256SUMS`` over every file of the release (checkable with ``sha256sum -c``);
    ``known``: digests just computed for some of them (the data files are a gigabyte)."""
    known = known or {}
    directory = Path(directory)
    files = [p for p in directory.iterdir() if p.is_file() and p.name != CHECKSUMS]
    if (directory / INDEX_DIR).is_dir():
        files += [p for p in (directory / INDEX_DIR).iterdir() if p.is_file()]
    sums = {
        (name := p.relative_to(directory).as_posix()): known.get(name) or sha256_file(p)
        for p in sorted(files, key=lambda p: p.relative_to(directory).as_posix())
    }
    (directory / CHECKSUMS).write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))
    return sums
