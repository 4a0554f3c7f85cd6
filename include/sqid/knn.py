"""Nearest neighbours over a release's vectors: exact top-k merged block by block (the
reference), and a built index opened and searched. Shared by the release's recall gate
and evaluation and by search, which only reads releases.

Vectors are L2-normalised, so inner product is cosine; key ``i`` is row ``i`` of
``product_features.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqid.release.layout import index_path
from sqid.vectorscan import unit_rows


class TopK:
    """Exact search, the reference: the ``k`` best keys per query over a catalogue met
    block by block (a scan's batches, or slices of a matrix); memory stays at one block
    of scores."""

    def __init__(self, queries: np.ndarray, k: int):
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.keys = np.full((len(queries), 0), -1, dtype=np.int64)

    def add(self, vectors: np.ndarray, keys: np.ndarray, scale: np.ndarray | None = None) -> None:
        """Score a block of catalogue vectors; ``scale`` (one factor per vector, e.g.
        :func:`sqid.vectorscan.inverse_norms`) turns inner products into cosines."""
        if len(keys):
            scores = self.queries @ vectors.T
            self.add_scores(scores if scale is None else scores * scale, keys)

    def add_scores(self, scores: np.ndarray, keys: np.ndarray) -> None:
        """Merge a block of scores (queries x keys) into the best so far. Once every query
        has ``k``, only the columns that beat some query's k-th best are partitioned: late
        in a scan they are a small share of a block."""
        if self.scores.shape[1] == self.k and len(scores):
            beats = (scores > self.scores.min(axis=1, keepdims=True)).any(axis=0)
            scores, keys = scores[:, beats], np.asarray(keys)[beats]
        scores = np.concatenate([self.scores, scores], axis=1)
        keys = np.concatenate([self.keys, np.broadcast_to(keys, (len(scores), len(keys)))], axis=1)
        if scores.shape[1] > self.k:
            top = np.argpartition(-scores, self.k - 1, axis=1)[:, : self.k]
            scores, keys = np.take_along_axis(scores, top, 1), np.take_along_axis(keys, top, 1)
        self.scores, self.keys = scores, keys

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, scores)``, best first."""
        order = np.argsort(-self.scores, axis=1, kind="stable")
        return np.take_along_axis(self.keys, order, 1), np.take_along_axis(self.scores, order, 1)


def exact_top_k(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int,
                block: int = 65_536) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(keys, scores)`` of the ``k`` largest inner products per query (:class:`TopK`
    over blocks of an in-memory catalogue)."""
    top = TopK(queries, k)
    for start in range(0, len(rows), block):
        top.add(vectors[start : start + block], rows[start : start + block])
    return top.result()


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    single = np.ndim(matrix) == 1
    rows = np.array(matrix, dtype=np.float32, ndmin=2)
    rows = unit_rows(rows)
    return rows[0] if single else rows


def open_index(release: Path, kind: str, nprobe: int | None = None):
    """A release's index, with the nprobe its manifest records. The file is mapped, not
    read: opening takes a millisecond, a query touches only the lists it visits, and
    processes serving the same release share its pages (a release never changes)."""
    import faiss

    index = faiss.read_index(str(index_path(release, kind)), faiss.IO_FLAG_MMAP)
    if nprobe:
        faiss.extract_index_ivf(index).nprobe = int(nprobe)
    return index


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k keys that ``found`` holds."""
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.sum(hits) / max(1, truth.size))


def search_keys(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, scores)`` for a batch of unit queries (key -1 where fewer than k exist)."""
    scores, keys = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return keys.astype(np.int64), np.where(keys >= 0, scores, -np.inf).astype(np.float32)
