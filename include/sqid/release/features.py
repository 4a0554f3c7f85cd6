"""The release validator's checks of the two feature files (``sqid validate``).

Vectors are checked in Arrow batches with numpy: lengths, finiteness and norms over the
flattened values, duplicates by the hash of each vector's bytes, so memory stays flat
however large the release. The dimension is the policy's, else the named model's.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqid.release.assemble import (
    PRODUCT_FEATURES,
    PRODUCT_FEATURES_SCHEMA,
    QUERY_FEATURES,
    QUERY_FEATURES_SCHEMA,
    SQID_CSV,
)

if TYPE_CHECKING:
    from sqid.release.validate import _Release

KNOWN_DIMENSIONS = {
    "openai/clip-vit-large-patch14": 768,
    "openai/clip-vit-large-patch14-336": 768,
    "openai/clip-vit-base-patch32": 512,
    "openai/clip-vit-base-patch16": 512,
}
"""Embedding dimension of the models a release may name; others need ``--dimension``."""


@dataclass
class _VectorStats:
    rows: int = 0
    missing: list[str] = field(default_factory=list)
    wrong_length: list[str] = field(default_factory=list)
    not_finite: list[str] = field(default_factory=list)
    out_of_band: list[str] = field(default_factory=list)


def _vectors(release: _Release, ids: np.ndarray, column: pa.ListArray, stats: _VectorStats,
             digests: dict[bytes, set[str]] | None = None) -> None:  # fmt: skip
    """Check one batch of one vector column; ``digests``: vector hash -> owners."""
    stats.rows += len(column)
    present = ~column.is_null().to_numpy(zero_copy_only=False)
    stats.missing += ids[~present].tolist()
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy().astype(np.int64)
    for length in np.unique(lengths[present]):
        release.dimensions[int(length)] += int(((lengths == length) & present).sum())
    if not present.any():
        return
    offsets = column.offsets.to_numpy().astype(np.int64)
    # A sliced list's child may run past its last offset: keep only this batch's values.
    values = column.values.to_numpy(zero_copy_only=False)[: offsets[-1]].astype(np.float32)
    start = offsets[:-1][present]
    length = lengths[present]
    keys = ids[present]
    empty = length == 0
    stats.wrong_length += keys[empty].tolist()
    start, length, keys = start[~empty], length[~empty], keys[~empty]
    if not len(start):
        return
    squares = values.astype(np.float64) ** 2
    bad = ~np.isfinite(values)
    norms = np.sqrt(np.add.reduceat(squares, start))
    finite = ~np.logical_or.reduceat(bad, start)
    if (np.diff(start) != length[:-1]).any():  # rows not back to back: sum each row alone
        norms = np.array(
            [math.sqrt(squares[s : s + n].sum()) for s, n in zip(start, length, strict=True)]
        )
        finite = np.array([not bad[s : s + n].any() for s, n in zip(start, length, strict=True)])
    low, high = release.policy.norm_band
    stats.not_finite += keys[~finite].tolist()
    stats.out_of_band += keys[finite & ((norms < low) | (norms > high))].tolist()
    if digests is not None:
        raw = values.view(np.uint8)
        for key, s, n in zip(keys, start, length, strict=True):
            digest = hashlib.blake2b(raw[s * 4 : (s + n) * 4].tobytes(), digest_size=16).digest()
            digests[digest].add(key)


def _report_vectors(release: _Release, name: str, column: str, stats: _VectorStats,
                    required_share: float) -> None:  # fmt: skip
    expected = stats.rows
    have = stats.rows - len(stats.missing)
    if expected and have / expected < required_share:
        release.add("embeddings", f"{name}: {column} present for {have} of {expected} rows, "
                                  f"fewer than {required_share:.0%}", stats.missing)  # fmt: skip
    for rows, what in ((stats.wrong_length, "empty"), (stats.not_finite, "has NaN or infinite values"),
                       (stats.out_of_band, f"norm outside {release.policy.norm_band}")):  # fmt: skip
        if rows:
            release.add("embeddings", f"{name}: {column} {what}", rows)


def product_features(release: _Release) -> None:
    schema = {f.name: f.type for f in PRODUCT_FEATURES_SCHEMA}
    parquet = release.read(PRODUCT_FEATURES, schema)
    if parquet is None:
        return
    text, image = _VectorStats(), _VectorStats()
    digests: dict[bytes, set[str]] = defaultdict(set)
    ids: list[str] = []
    for batch in release.batches(parquet, list(schema)):
        keys = np.array(batch.column(0).to_pylist(), dtype=object)
        ids += keys.tolist()
        _vectors(release, keys, batch.column(1), text)
        _vectors(release, keys, batch.column(2), image, digests)
    release.ids(PRODUCT_FEATURES, "product_id", ids)
    release.claim(
        f"rows[{PRODUCT_FEATURES!r}]",
        release.manifest["rows"].get(PRODUCT_FEATURES),
        len(ids),
    )
    test = release.csv_rows.get(SQID_CSV[0])
    if test is not None and set(ids) != {pid for pid, _ in test}:
        release.add("row_count", f"{PRODUCT_FEATURES}: products differ from {SQID_CSV[0]}",
                    sorted(set(ids) ^ {pid for pid, _ in test}))  # fmt: skip
    policy = release.policy
    _report_vectors(
        release, PRODUCT_FEATURES, "clip_text_features", text, policy.min_text_vector_share
    )
    # Image vectors are expected only for the products published with an image URL.
    with_url = {pid for pid, url in test or [] if url}
    image.missing = [pid for pid in image.missing if pid in with_url]
    image.rows = len(with_url)
    _report_vectors(
        release, PRODUCT_FEATURES, "clip_image_features", image, policy.min_image_vector_share
    )
    _shared_vectors(release, digests)


def _shared_vectors(release: _Release, digests: dict[bytes, set[str]]) -> None:
    """No two different images may share an identical vector (products sharing one image
    share its vector legitimately: ``image_sha256`` in the status file says which)."""
    images = release.image_sha256
    clashes = sorted(pid for owners in digests.values() if len({images.get(p) or p for p in owners}) > 1
                     for pid in owners)  # fmt: skip
    if clashes:
        release.add("embeddings", "different images share an identical image vector", clashes)


def query_features(release: _Release) -> None:
    schema = {f.name: f.type for f in QUERY_FEATURES_SCHEMA}
    parquet = release.read(QUERY_FEATURES, schema)
    if parquet is None:
        return
    text = _VectorStats()
    ids: list[str] = []
    for batch in release.batches(parquet, list(schema)):
        keys = np.array(batch.column(0).to_pylist(), dtype=object)
        ids += keys.tolist()
        _vectors(release, keys, batch.column(1), text)
    release.ids(QUERY_FEATURES, "query_id", ids)
    release.claim(
        f"rows[{QUERY_FEATURES!r}]", release.manifest["rows"].get(QUERY_FEATURES), len(ids)
    )
    release.claim("counts['queries']", release.manifest["counts"].get("queries"), len(ids))
    _report_vectors(release, QUERY_FEATURES, "clip_text_features", text, 1.0)


def dimension(release: _Release) -> None:
    """One dimension for every vector: the policy's, else the named model's."""
    model = release.manifest["model"]
    expected = release.policy.dimension or KNOWN_DIMENSIONS.get(str(model.get("model_id")))
    found = sorted(release.dimensions)
    if expected is not None:
        wrong = [d for d in found if d != expected]
        if wrong:
            release.add("embeddings", f"vectors of dimension {wrong}, expected {expected} for "
                                      f"{model.get('model_id')!r}")  # fmt: skip
    elif len(found) > 1:
        release.add("embeddings", f"vectors of several dimensions {found}")
    if found:
        release.claim("model['dimension']", model.get("dimension"), expected or found[0])
