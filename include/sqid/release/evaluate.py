"""A release's evaluation on the SQID benchmark (US Task-1 test judgements): the CLIP
baselines from its feature files, or a user's own scores (:mod:`sqid.release.scores`),
with the metric of :mod:`sqid.release.ndcg`.

A product without an image vector gets, for the image score, the mean image score of
the query's other products: it is neither promoted nor buried (the same for the
weighted text+image combination).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid import db
from sqid.release.layout import PRODUCT_FEATURES, QUERY_FEATURES
from sqid.release.ndcg import (
    GAINS,
    Judgement,
    Result,
    dcg_per_query,
    mean_result,
    ndcg_per_query,
)
from sqid.vectorscan import inverse_norms, scan, vector_block

if TYPE_CHECKING:
    from sqid.release.retrieval import Retrieval


PAIR_CHUNK = 4_096
"""Judged pairs scored at a time: 2 x 4,096 x 768 float32 gathered is 25 MB."""


def _query_mean_imputed(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """NaN scores replaced by the mean known score of the same query (0 if none)."""
    known = ~np.isnan(values)
    sums = np.bincount(codes, np.where(known, values, 0.0), minlength=codes.max() + 1)
    counts = np.bincount(codes, known, minlength=codes.max() + 1)
    fill = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.where(known, values, fill[codes])


@dataclass(frozen=True)
class Judged:
    """Judgements as columns: the CLIP evaluation runs on arrays, never row objects."""

    query_ids: np.ndarray
    product_ids: np.ndarray
    labels: np.ndarray
    text_scores: np.ndarray
    """Cosine of query and title vectors; NaN where either is missing."""
    image_scores: np.ndarray

    @classmethod
    def of(cls, judgements: Sequence[Judgement]) -> Judged:
        def scores(values: Iterable[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return cls(
            np.array([j.query_id for j in judgements], dtype=object),
            np.array([j.product_id for j in judgements], dtype=object),
            np.array([j.label for j in judgements], dtype=object),
            scores(j.text_score for j in judgements),
            scores(j.image_score for j in judgements),
        )

    def judgements(self) -> list[Judgement]:
        def score(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return [Judgement(q, p, label, score(t), score(i)) for q, p, label, t, i in zip(
            self.query_ids, self.product_ids, self.labels, self.text_scores, self.image_scores,
            strict=True)]  # fmt: skip


def evaluate_clip(
    judgements: Sequence[Judgement] | Judged,
    weights: Sequence[float] = tuple(i / 10 for i in range(11)),
) -> dict[str, object]:
    """nDCG of random order, CLIP_text, CLIP_image and ``w*text + (1-w)*image`` per weight.

    Random order is not sampled: with ties averaged, a constant score gives every item
    the mean discount, which is the expected DCG of a uniformly random order, exactly."""
    judged = judgements if isinstance(judgements, Judged) else Judged.of(judgements)
    if not len(judged.labels):
        nothing = float("nan")
        return {"queries": 0, "skipped_queries": 0, "judgements": 0, "random": nothing,
                "clip_text": nothing, "clip_image": nothing,
                "sweep": [{"weight_text": w, "ndcg": nothing} for w in weights],
                "best_combination": {"weight_text": weights[-1], "ndcg": nothing},
                "lift_over_text": None}  # fmt: skip
    _, codes = np.unique(judged.query_ids.astype(str), return_inverse=True)
    gains = np.vectorize(GAINS.__getitem__, otypes=[np.float64])(judged.labels)
    text = _query_mean_imputed(codes, judged.text_scores)
    image = _query_mean_imputed(codes, judged.image_scores)
    ideal = dcg_per_query(codes, gains, gains)

    def mean_ndcg_of(scores: np.ndarray) -> Result:
        return mean_result(ndcg_per_query(codes, gains, scores, ideal))

    text_result, image_result = mean_ndcg_of(text), mean_ndcg_of(image)
    sweep = [{"weight_text": w, "ndcg": mean_ndcg_of(w * text + (1 - w) * image).ndcg}
             for w in weights]  # fmt: skip
    best = max(sweep, key=lambda r: r["ndcg"])
    return {
        "queries": text_result.queries,
        "skipped_queries": text_result.skipped_queries,
        "judgements": len(codes),
        "random": mean_ndcg_of(np.zeros(len(codes))).ndcg,
        "clip_text": text_result.ndcg,
        "clip_image": image_result.ndcg,
        "sweep": sweep,
        "best_combination": best,
        "lift_over_text": (best["ndcg"] / text_result.ndcg - 1) if text_result.ndcg else None,
    }


def _vectors(path: Path, key: str, column: str) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Row index per id, float32 vectors and their L2 norms (NaN where a vector is
    missing or of another length than the first), for the small query file: the
    product file is never loaded whole (:func:`_pair_cosines`)."""
    table = pq.read_table(path, columns=[key, column], use_threads=False)
    ids = table.column(key).to_pylist()
    lengths = pc.list_value_length(table.column(column))
    positive = pc.filter(lengths, pc.greater(lengths, 0))
    dim = positive[0].as_py() if len(positive) else 1
    matrix = np.zeros((len(ids), dim), dtype=np.float32)
    usable = np.zeros(len(ids), dtype=bool)
    row = 0
    for chunk in table.column(column).chunks:
        block, position = vector_block(chunk, dim)
        here = position >= 0
        matrix[row : row + len(chunk)][here] = block[position[here]]
        usable[row : row + len(chunk)] = here
        row += len(chunk)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    norms[~usable] = np.nan
    return {k: i for i, k in enumerate(ids)}, matrix, norms


def _pair_cosines(path: Path, columns: list[str], queries: np.ndarray, q_norms: np.ndarray,
                  q_rows: np.ndarray, p_rows: np.ndarray,
                  also: Retrieval | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Cosine of each pair's query and product vector, for each vector column of the
    product file, read batch by batch in one pass: a batch's vectors are used where
    Arrow holds them, so no product matrix is ever built (it would be 0.5 GB a column).
    ``also`` scores whole-catalogue search from the same batches."""
    out = {c: np.full(len(q_rows), np.nan) for c in columns}
    order = np.argsort(p_rows, kind="stable")
    sorted_rows = p_rows[order]
    dims = dict.fromkeys(columns, queries.shape[1])
    for batch in scan(path, columns, dims):
        lo, hi = np.searchsorted(sorted_rows, [batch.first, batch.first + batch.rows])
        pairs = order[lo:hi]
        local = p_rows[pairs] - batch.first
        for name in columns:
            block, position = batch.blocks[name]
            at = position[local]
            ok = at >= 0
            inverse = inverse_norms(block)
            for part in np.array_split(np.flatnonzero(ok), max(1, int(ok.sum()) // PAIR_CHUNK)):
                # a few thousand pairs at a time: the gathered rows stay small and reused
                q, rows = q_rows[pairs[part]], at[part]
                dots = np.einsum("ij,ij->i", queries[q], block[rows], dtype=np.float64)
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[name][pairs[part]] = np.where(
                        inverse[rows] > 0, dots * inverse[rows] / q_norms[q], np.nan
                    )
        if also is not None:
            also.add(batch)
    return out


def release_judgements(release_dir: Path, examples: Path,
                       search: bool = False) -> tuple[Judged, Retrieval | None]:  # fmt: skip
    """US Task-1 test judgements with their CLIP cosine scores from a release's files;
    with ``search``, whole-catalogue retrieval scored in the same read of the vectors."""
    from sqid.release.retrieval import Retrieval

    release_dir = Path(release_dir)
    con = db.connect(":memory:")
    try:
        pairs = db.arrow_reader(
            con,
            "release/eval_pairs",
            {"examples": str(examples), "query_features": str(release_dir / QUERY_FEATURES)},
        ).read_all()
    finally:
        con.close()
    query_ids, product_ids = (pairs.column(c).to_numpy(zero_copy_only=False).astype(object)
                              for c in ("query_id", "product_id"))  # fmt: skip
    labels = pairs.column("esci_label").to_numpy(zero_copy_only=False)
    q_index, queries, q_norms = _vectors(
        release_dir / QUERY_FEATURES, "query_id", "clip_text_features"
    )
    q_rows = np.array([q_index[qid] for qid in query_ids], dtype=np.int64)
    products = pq.read_table(release_dir / PRODUCT_FEATURES, columns=["product_id"])
    catalogue = products.column(0).to_pylist()
    p_index = {pid: i for i, pid in enumerate(catalogue)}
    p_rows = np.array([p_index.get(pid, -1) for pid in product_ids], dtype=np.int64)
    found = p_rows >= 0
    retrieval = (Retrieval(catalogue, q_index, queries, query_ids, product_ids, labels)
                 if search else None)  # fmt: skip
    scores = _pair_cosines(release_dir / PRODUCT_FEATURES, ["clip_text_features", "clip_image_features"],
                           queries, q_norms, q_rows[found], p_rows[found], retrieval)  # fmt: skip
    text_scores, image_scores = np.full(len(p_rows), np.nan), np.full(len(p_rows), np.nan)
    text_scores[found], image_scores[found] = (
        scores["clip_text_features"],
        scores["clip_image_features"],
    )
    return Judged(query_ids, product_ids, labels, text_scores, image_scores), retrieval


def evaluate_release(
    release_dir: Path, examples: Path, scores: Path | None = None
) -> dict[str, Any]:
    """The CLIP baselines and, when the release has an index, whole-catalogue search
    (``sqid.release.retrieval``); or a user's own ``scores``."""
    from sqid.release.layout import CATALOGUE, INDEX_DIR, manifest_of
    from sqid.release.scores import evaluate_scores, read_scores

    release_dir = Path(release_dir)
    if scores is not None:
        judged, _ = release_judgements(release_dir, examples)
        return evaluate_scores(judged.judgements(), read_scores(scores))
    searchable = (release_dir / INDEX_DIR / CATALOGUE).exists()
    judged, retrieval = release_judgements(release_dir, examples, search=searchable)
    out = evaluate_clip(judged)
    if retrieval is not None:
        index = manifest_of(release_dir).get("index") or {}
        out["retrieval"] = retrieval.result(release_dir, index.get("nprobe"))
    return out
