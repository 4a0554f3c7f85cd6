"""Retrieval over the whole catalogue, measured on the US Task-1 test judgements.

Each judged query's text vector searches all of the release's products (exact scores
over the normalised vectors, so the figures describe the vectors, not the index): by
title vectors, by image vectors, and by their sum. recall@k is the share of the query's
E-labelled products found in the top k; nDCG@10 uses the ESCI gains of the judged
products in the top 10 (an unjudged product gains nothing), against the query's best
possible top 10. Latency is the index's, one query at a time, as a user searches.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from sqid.knn import TopK, normalise, open_index, search_keys
from sqid.release.layout import KINDS
from sqid.release.ndcg import GAINS
from sqid.vectorscan import VectorBatch, inverse_norms

log = logging.getLogger(__name__)

CUTOFFS = (10, 100)
SAMPLE_QUERIES = 200
"""Queries scored (a seeded sample when there are more): 200 x 165k x 768 x 3 is a few
seconds on two cores, and 200 queries put the standard error of a recall near 0.02."""


class Retrieval:
    """Whole-catalogue search scored while a scan of product_features.parquet passes by
    (the evaluation's own scan, which also scores the judged pairs: one read of the
    vectors for both). Exact top-k by title, by image and by their sum."""

    def __init__(self, catalogue: list[str], query_rows: dict[str, int], queries: np.ndarray,
                 query_ids: np.ndarray, product_ids: np.ndarray, labels: np.ndarray,
                 seed: int = 0) -> None:  # fmt: skip
        """``catalogue``: product ids in file order; ``query_rows`` and ``queries``: each
        query's row in the raw query vectors (a row of zeros where it has none)."""
        row_of = {pid: i for i, pid in enumerate(catalogue)}
        judged: dict[str, dict[int, float]] = {}
        for q, p, label in zip(query_ids, product_ids, labels, strict=True):
            if p in row_of and q in query_rows:
                judged.setdefault(q, {})[row_of[p]] = GAINS[label]
        present = np.einsum("ij,ij->i", queries, queries) > 0
        usable = sorted(q for q, gains in judged.items()
                        if any(g == 1.0 for g in gains.values()))  # fmt: skip
        self.of_queries = len(usable)
        rng = np.random.default_rng(seed)
        sample = (sorted(rng.choice(usable, size=min(SAMPLE_QUERIES, len(usable)), replace=False))
                  if usable else [])  # fmt: skip
        self.sample = [q for q in sample if present[query_rows[q]]]
        self.judged = [judged[q] for q in self.sample]
        self.queries = normalise(queries[[query_rows[q] for q in self.sample]]
                                 if self.sample else queries[:0])  # fmt: skip
        top = max(CUTOFFS)
        self.top = {name: TopK(self.queries, top) for name in ("text", "image", "combined")}

    def add(self, batch: VectorBatch) -> None:
        """Score one batch of catalogue rows: each kind alone (rows without a vector are
        not candidates), and their sum over every row (a missing vector adds 0)."""
        if not self.sample:
            return
        combined = np.zeros((len(self.queries), batch.rows), dtype=np.float32)
        for name, column in (("text", KINDS["title"]), ("image", KINDS["image"])):
            rows, vectors = batch.present(column)
            if len(rows):
                scores = (self.queries @ vectors.T) * inverse_norms(vectors)
                self.top[name].add_scores(scores, rows)
                combined[:, rows - batch.first] += scores
        self.top["combined"].add_scores(combined, batch.first + np.arange(batch.rows))

    def result(self, release: Path, nprobe: dict[str, int] | None = None) -> dict[str, Any]:
        """recall@10/100 and nDCG@10 of each (the index's latency is logged, not kept: a
        release holds the same bytes whatever machine built it)."""
        if not self.sample:
            return {"queries": 0}
        out: dict[str, Any] = {"queries": len(self.sample), "of_queries": self.of_queries,
                               "cutoffs": list(CUTOFFS)}  # fmt: skip
        for name, top in self.top.items():
            out[name] = _scores(top.result()[0], self.judged)
        latency = _latency(Path(release), self.queries, nprobe or {})
        log.info("search index: one text query takes %.2f ms (p50), %.2f ms (p95)",
                 latency["p50"], latency["p95"])  # fmt: skip
        return out


def _scores(found: np.ndarray, judged: list[dict[int, float]]) -> dict[str, float]:
    recalls = {k: [] for k in CUTOFFS}
    ndcgs = []
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for hits, gains in zip(found, judged, strict=True):
        exact = {row for row, g in gains.items() if g == 1.0}
        for k in CUTOFFS:
            recalls[k].append(len(exact & set(hits[:k].tolist())) / len(exact))
        got = np.array([gains.get(int(row), 0.0) for row in hits[:10]])
        ideal = np.sort(np.fromiter(gains.values(), float))[::-1][:10]
        best = float(ideal @ discounts[: len(ideal)])
        ndcgs.append(float(got @ discounts[: len(got)]) / best if best else 0.0)
    result = {f"recall@{k}": float(np.mean(v)) for k, v in recalls.items()}
    result["ndcg@10"] = float(np.mean(ndcgs))
    return result


def _latency(release: Path, queries: np.ndarray, nprobe: dict[str, int]) -> dict[str, float]:
    """p50/p95 milliseconds of one text query against the image index."""
    index = open_index(release, "image", nprobe.get("image"))
    times = []
    for q in queries[:50]:
        start = time.perf_counter()
        search_keys(index, q[None, :], 10)
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95))}
