"""How well a release's index finds what exact search finds: ``nprobe`` tuned at build
time until recall@10 reaches its target, and :class:`RecallCheck`, the gate's second
look on other queries. Queries are the release's own query vectors (or, for the image
index, product title vectors), so the figure speaks of the searches users make."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sqid.knn import TopK, normalise, open_index, recall, search_keys
from sqid.release.layout import (
    KIND_OF,
    KINDS,
    PRODUCT_FEATURES,
    QUERY_FEATURES,
    manifest_of,
)
from sqid.vectorscan import scan, unit_rows

QUERY_TEXT = "clip_text_features"


def tune_to(index, queries: np.ndarray, truth: np.ndarray, target: float) -> tuple[int, float]:
    """Double nprobe from 1 until the index finds ``target`` of the true top-k keys of
    ``queries``; sets it and returns it with the recall reached."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    nprobe = 1
    while True:
        ivf.nprobe = nprobe
        reached = recall(search_keys(index, queries, truth.shape[1])[0], truth)
        if reached >= target or nprobe >= ivf.nlist:
            return nprobe, reached
        nprobe = min(nprobe * 2, ivf.nlist)


def sample_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Recall queries: stored vectors moved a little off themselves (a query equal to a
    stored vector only tests that the index finds itself)."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    noise = rng.standard_normal(picked.shape).astype(np.float32) * (0.5 / np.sqrt(picked.shape[1]))
    return normalise(picked + noise)


def tuning_queries(vectors: np.ndarray, n: int, seed: int,
                   user_queries: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """Stored vectors moved off themselves, plus up to ``n`` of the users' queries."""
    parts = [sample_queries(vectors, n, seed)] if len(vectors) else []
    if user_queries is not None and len(user_queries):
        rng = np.random.default_rng(seed)
        picked = rng.choice(len(user_queries), min(n, len(user_queries)), replace=False)
        parts.append(normalise(user_queries[picked]))
    return np.concatenate(parts) if parts else np.zeros((0, vectors.shape[1]), np.float32)


def query_vectors(release: Path) -> np.ndarray:
    """The release's query text vectors (what users search with), normalised."""
    vectors = [unit_rows(block) for batch in scan(Path(release) / QUERY_FEATURES, [QUERY_TEXT])
               for block in [batch.present(QUERY_TEXT)[1]] if len(block)]  # fmt: skip
    return np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)


class RecallCheck:
    """recall@k of a release's indexes against exact search, computed on the vectors a
    scan of product_features.parquet hands over batch by batch (the validator's own scan:
    the file is decoded once for all of its checks).

    The queries are not those nprobe was tuned on (another seed): stored vectors of one
    seeded row group moved a little off themselves, and the release's text queries."""

    def __init__(self, release: Path, k: int = 10, queries: int = 100, seed: int = 1):
        self.release = Path(release)
        parquet = pq.ParquetFile(self.release / PRODUCT_FEATURES)
        group = int(np.random.default_rng(seed).integers(max(1, parquet.num_row_groups)))
        users = query_vectors(self.release)
        self.truth: dict[str, TopK] = {}
        if not parquet.num_row_groups:
            return
        for batch in scan(parquet, list(KINDS.values()), row_group=group):
            for kind, column in KINDS.items():
                stored = unit_rows(batch.present(column)[1])
                if len(stored) or len(users):
                    sample = tuning_queries(stored, queries, seed, users)
                    self.truth[kind] = TopK(sample, k)

    def add(self, column: str, vectors: np.ndarray, rows: np.ndarray, scale: np.ndarray) -> None:
        """A batch's vectors of ``column`` (raw), their row numbers, 1 / their norms."""
        kind = KIND_OF.get(column)
        if kind in self.truth:
            self.truth[kind].add(vectors, rows, scale)

    def skip(self, column: str) -> None:
        """Vectors of several lengths (the validator reports them): no exact reference."""
        self.truth.pop(KIND_OF.get(column, ""), None)

    def result(self) -> dict[str, float]:
        manifest = manifest_of(self.release)
        nprobe = ((manifest.get("index") or {}).get("nprobe")) or {}
        out = {}
        for kind, top in self.truth.items():
            truth, _ = top.result()
            if truth.shape[1]:  # the kind has vectors
                index = open_index(self.release, kind, nprobe.get(kind))
                out[kind] = recall(search_keys(index, top.queries, top.k)[0], truth)
        return out
