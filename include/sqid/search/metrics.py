"""Retrieval over the whole catalogue, measured on the US Task-1 test judgements.

Each judged query's text vector searches all of the release's products (exact scores
over the normalised vectors, so the figures describe the vectors, not the index): by
title vectors, by image vectors, and by their sum. recall@k is the share of the query's
E-labelled products found in the top k; nDCG@10 uses the ESCI gains of the judged
products in the top 10 (an unjudged product gains nothing), against the query's best
possible top 10. Latency is the index's, one query at a time, as a user searches.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from sqid.release.ndcg import GAINS
from sqid.search.index import KINDS, dense_unit_vectors, exact_top_k, open_index, search_keys

CUTOFFS = (10, 100)
SAMPLE_QUERIES = 200
"""Queries scored (a seeded sample when there are more): 200 x 165k x 768 x 3 is a few
seconds on two cores, and 200 queries put the standard error of a recall near 0.02."""


def retrieval_metrics(release: Path, query_ids: np.ndarray, product_ids: np.ndarray,
                      labels: np.ndarray, nprobe: dict[str, int] | None = None,
                      seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """recall@10/100 and nDCG@10 of text, image and combined search, and index latency."""
    release = Path(release)
    features = release / "product_features.parquet"
    catalogue = pq.read_table(features, columns=["product_id"]).column(0).to_pylist()
    row_of = {pid: i for i, pid in enumerate(catalogue)}
    queries = pq.read_table(release / "query_features.parquet")
    q_row = {q: i for i, q in enumerate(queries.column("query_id").to_pylist())}
    judged: dict[str, dict[int, float]] = {}
    for q, p, label in zip(query_ids, product_ids, labels, strict=True):
        if p in row_of and q in q_row:
            judged.setdefault(q, {})[row_of[p]] = GAINS[label]
    usable = sorted(q for q, gains in judged.items() if any(g == 1.0 for g in gains.values()))
    rng = np.random.default_rng(seed)
    sample = (
        sorted(rng.choice(usable, size=min(SAMPLE_QUERIES, len(usable)), replace=False))
        if usable
        else []
    )
    if not sample:
        return {"queries": 0}
    q_vectors, q_present = dense_unit_vectors(
        release / "query_features.parquet", ["clip_text_features"]
    )["clip_text_features"]
    picked = np.array([q_row[q] for q in sample])
    sample = [q for q, ok in zip(sample, q_present[picked], strict=True) if ok]
    picked = picked[q_present[picked]]
    vectors = q_vectors[picked]
    dense = dense_unit_vectors(features, [KINDS["title"], KINDS["image"]])
    title, image = dense[KINDS["title"]][0], dense[KINDS["image"]][0]
    rows = np.arange(len(catalogue), dtype=np.int64)
    top = max(CUTOFFS)
    ranked = {
        "text": exact_top_k(title, rows, vectors, top)[0],
        "image": exact_top_k(image, rows, vectors, top)[0],
        "combined": _combined_top_k(title, image, vectors, top),
    }
    out: dict[str, Any] = {"queries": len(sample), "of_queries": len(usable),
                           "cutoffs": list(CUTOFFS)}  # fmt: skip
    for name, found in ranked.items():
        out[name] = _scores(found, [judged[q] for q in sample])
    out["latency_ms"] = _latency(release, vectors, nprobe or {})
    return out


def _combined_top_k(title: np.ndarray, image: np.ndarray, queries: np.ndarray, k: int,
                    block: int = 128) -> np.ndarray:  # fmt: skip
    """Top k by the sum of title and image cosines (a missing vector adds 0)."""
    out = []
    for start in range(0, len(queries), block):
        q = queries[start : start + block]
        scores = q @ title.T + q @ image.T
        part = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
        out.append(np.take_along_axis(part, order, 1))
    return np.concatenate(out)


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
