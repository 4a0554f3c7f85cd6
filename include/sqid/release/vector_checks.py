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
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sqid.release.layout import (
    KNOWN_DIMENSIONS,
    PRODUCT_FEATURES,
    PRODUCT_FEATURES_SCHEMA,
    QUERY_FEATURES,
    QUERY_FEATURES_SCHEMA,
    SQID_CSV,
)
from sqid.release.takedowns import TAKEN_DOWN

if TYPE_CHECKING:
    from sqid.release.checked import CheckedRelease


@dataclass
class _VectorStats:
    rows: int = 0
    missing: list[str] = field(default_factory=list)
    wrong_length: list[str] = field(default_factory=list)
    not_finite: list[str] = field(default_factory=list)
    out_of_band: list[str] = field(default_factory=list)


@dataclass
class _Digests:
    """A 64-bit BLAKE2b digest of each vector's bytes and its owner, gathered batch by
    batch as arrays; only digests seen more than once ever become Python objects. Two
    different vectors share a digest with odds of about 1e-9 among 200k vectors."""

    hashes: list[np.ndarray] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)

    def add(self, vectors: np.ndarray, keys: np.ndarray) -> None:
        """``vectors``: a (rows, dim) float32 block, hashed by its raw bytes."""
        raw = memoryview(np.ascontiguousarray(vectors, dtype=np.float32)).cast("B")
        width = vectors.shape[1] * 4
        digests = (hashlib.blake2b(raw[i : i + width], digest_size=8).digest()
                   for i in range(0, len(raw), width))  # fmt: skip
        self.hashes.append(np.frombuffer(b"".join(digests), dtype=np.uint64))
        self.keys.append(keys)

    def shared(self) -> list[list[str]]:
        """Owners of each hash held by more than one vector."""
        if not self.hashes:
            return []
        hashes, keys = np.concatenate(self.hashes), np.concatenate(self.keys)
        _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
        groups: dict[int, list[str]] = defaultdict(list)
        for row in np.flatnonzero(counts[inverse] > 1):
            groups[int(inverse[row])].append(keys[row])
        return list(groups.values())


class _Sink(Protocol):
    def add(self, column: str, vectors: np.ndarray, rows: np.ndarray, scale: np.ndarray) -> None:
        """A batch's vectors of ``column``, their row numbers and 1 / their norms."""

    def skip(self, column: str) -> None:
        """``column`` has vectors of several lengths: not all of them can be handed over."""


def _vectors(release: CheckedRelease, ids: np.ndarray, column: pa.ListArray, stats: _VectorStats,
             digests: _Digests | None = None, sink: _Sink | None = None,
             first: int = 0, name: str = "") -> None:  # fmt: skip
    """Check one batch of one vector column (rows ``first ..`` of the file, column
    ``name``); ``digests`` gathers image vector hashes, ``sink`` gets the vectors."""
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
    values = column.values.to_numpy(zero_copy_only=False)[: offsets[-1]].astype(
        np.float32, copy=False
    )
    start = offsets[:-1][present]
    length = lengths[present]
    keys = ids[present]
    rows = first + np.flatnonzero(present)
    empty = length == 0
    stats.wrong_length += keys[empty].tolist()
    start, length, keys, rows = start[~empty], length[~empty], keys[~empty], rows[~empty]
    if not len(start):
        return
    dim = int(length[0])
    if (length == dim).all() and (np.diff(start) == dim).all():
        # The usual case: rows of one length, back to back: one (rows, dim) block.
        block = values[start[0] : start[0] + len(start) * dim].reshape(-1, dim)
        squares = np.einsum("ij,ij->i", block, block)  # float32: ample for a norm band
        finite = np.isfinite(squares)
        if not finite.all():  # NaN or inf inside, or finite values whose squares overflow
            finite[~finite] = np.isfinite(block[~finite]).all(axis=1)
        norms = np.sqrt(squares.astype(np.float64))
        if digests is not None:
            digests.add(block, keys)
        if sink is not None:
            usable = finite & (norms > 0)
            scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=usable)
            if not finite.all():  # a NaN would poison every score it meets
                block = np.where(finite[:, None], block, np.float32(0))
            sink.add(name, block, rows, scale.astype(np.float32))
    else:  # rows of several lengths: each row on its own (the sink gets none of them)
        if sink is not None:
            sink.skip(name)
        norms = np.array([math.sqrt(np.square(values[s : s + n], dtype=np.float64).sum())
                          for s, n in zip(start, length, strict=True)])  # fmt: skip
        finite = np.array([np.isfinite(values[s : s + n]).all()
                           for s, n in zip(start, length, strict=True)])  # fmt: skip
        if digests is not None:
            for key, s, n in zip(keys, start, length, strict=True):
                digests.add(values[s : s + n][None, :], np.array([key], dtype=object))
    low, high = release.policy.norm_band
    stats.not_finite += keys[~finite].tolist()
    stats.out_of_band += keys[finite & ((norms < low) | (norms > high))].tolist()


def _report_vectors(release: CheckedRelease, name: str, column: str, stats: _VectorStats,
                    required_share: float) -> None:  # fmt: skip
    expected = stats.rows
    have = stats.rows - len(stats.missing)
    release.measure("embeddings", f"share of {column} present", have / expected if expected else 1.0,
                    required_share)  # fmt: skip
    if expected and have / expected < required_share:
        release.add("embeddings", f"{name}: {column} present for {have} of {expected} rows, "
                                  f"fewer than {required_share:.0%}", stats.missing)  # fmt: skip
    for rows, what in ((stats.wrong_length, "empty"), (stats.not_finite, "has NaN or infinite values"),
                       (stats.out_of_band, f"norm outside {release.policy.norm_band}")):  # fmt: skip
        if rows:
            release.add("embeddings", f"{name}: {column} {what}", rows)


def _scan(release: CheckedRelease, parquet, columns: list[str],
          checks: list[tuple[int, _VectorStats, _Digests | None]],
          sink: _Sink | None = None) -> list[str]:  # fmt: skip
    """Read a feature file batch by batch, checking each vector column named in
    ``checks`` (column index, its stats, its digests) and handing its vectors to
    ``sink``; the ids, in file order."""
    ids: list[str] = []
    for batch in release.batches(parquet, columns):
        keys = np.array(batch.column(0).to_pylist(), dtype=object)
        first = len(ids)
        ids += keys.tolist()
        for index, stats, digests in checks:
            _vectors(release, keys, batch.column(index), stats, digests, sink, first,
                     columns[index])  # fmt: skip
    return ids


def product_features(release: CheckedRelease) -> None:
    schema = {f.name: f.type for f in PRODUCT_FEATURES_SCHEMA}
    parquet = release.read(PRODUCT_FEATURES, schema)
    if parquet is None:
        return
    text, image = _VectorStats(), _VectorStats()
    digests = _Digests()
    ids = _scan(release, parquet, list(schema), [(1, text, None), (2, image, digests)],
                release.recall)  # fmt: skip
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
    # Taken-down products publish no vectors on purpose: not counted as missing.
    taken = {pid for pid, status in release.statuses.items() if status == TAKEN_DOWN}
    text.missing = [pid for pid in text.missing if pid not in taken]
    text.rows -= len(taken & set(ids))
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


def _shared_vectors(release: CheckedRelease, digests: _Digests) -> None:
    """No two different images may share an identical vector (products sharing one image
    share its vector legitimately: ``image_sha256`` in the status file says which)."""
    images = release.image_sha256
    clashes = sorted(pid for owners in digests.shared() if len({images.get(p) or p for p in owners}) > 1
                     for pid in owners)  # fmt: skip
    if clashes:
        release.add("embeddings", "different images share an identical image vector", clashes)


def query_features(release: CheckedRelease) -> None:
    schema = {f.name: f.type for f in QUERY_FEATURES_SCHEMA}
    parquet = release.read(QUERY_FEATURES, schema)
    if parquet is None:
        return
    text = _VectorStats()
    ids = _scan(release, parquet, list(schema), [(1, text, None)])
    release.ids(QUERY_FEATURES, "query_id", ids)
    release.claim(
        f"rows[{QUERY_FEATURES!r}]", release.manifest["rows"].get(QUERY_FEATURES), len(ids)
    )
    release.claim("counts['queries']", release.manifest["counts"].get("queries"), len(ids))
    _report_vectors(release, QUERY_FEATURES, "clip_text_features", text, 1.0)


def dimension(release: CheckedRelease) -> None:
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
