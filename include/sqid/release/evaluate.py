"""nDCG on the SQID benchmark (US Task-1 test judgements), as the SQID paper reports it.

Gains: E = 1.0, S = 0.1, C = 0.01, I = 0.0 (the corrected mapping; the original SQD
script swaps S and C), over each query's whole list, no cutoff. Choices, stated:

- Ties in the scores are averaged: every item of a tied group gets the mean discount
  of the positions the group spans, i.e. the expected DCG under random tie-breaking.
  A constant scorer therefore gets exactly the random-order expectation.
- Queries whose ideal DCG is 0 (every judgement ``I``) carry no ranking information and
  are left out of the mean; the result says how many were left out.
- A product without an image vector gets, for the image score, the mean image score of
  the query's other products: it is neither promoted nor buried (the same for the
  weighted text+image combination).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid import db
from sqid.files import read_batches
from sqid.release.assemble import PRODUCT_FEATURES, QUERY_FEATURES

GAINS: Mapping[str, float] = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def dcg_per_query(codes: np.ndarray, gains: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """DCG of every query at once, items ranked by ``scores`` (descending), ties averaged.

    ``codes[i]`` is item i's query as an integer ``0..Q-1``. One sort by (query, -score);
    an item's discount is ``1/log2(rank + 2)`` within its query; every item of a run of
    equal scores gets the mean discount of the run. About 30 ms per 100k items, where a
    Python loop over queries took seconds.
    """
    codes = np.asarray(codes, dtype=np.int64)
    gains = np.asarray(gains, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if not len(codes):
        return np.zeros(0)
    order = np.lexsort((-scores, codes))
    c, g, s = codes[order], gains[order], scores[order]
    new_query = np.r_[True, c[1:] != c[:-1]]
    starts = np.flatnonzero(new_query)
    rank = np.arange(len(c)) - np.repeat(starts, np.diff(np.r_[starts, len(c)]))
    discount = 1.0 / np.log2(rank + 2)
    tie = np.cumsum(new_query | np.r_[True, s[1:] != s[:-1]]) - 1  # -inf == -inf ties
    mean_discount = np.bincount(tie, discount) / np.bincount(tie)
    return np.bincount(c, g * mean_discount[tie], minlength=int(c.max()) + 1)


def ndcg_per_query(
    codes: np.ndarray, gains: np.ndarray, scores: np.ndarray, ideal: np.ndarray | None = None
) -> np.ndarray:
    """nDCG of every query; NaN where the ideal DCG is 0 (every judgement ``I``).
    ``ideal``: the queries' ideal DCG, when several scorings share it."""
    ideal = dcg_per_query(codes, gains, gains) if ideal is None else ideal
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ideal > 0, dcg_per_query(codes, gains, scores) / ideal, np.nan)


def dcg(gains: Sequence[float], scores: Sequence[float]) -> float:
    """DCG of one list ranked by ``scores`` (descending), ties averaged."""
    return float(dcg_per_query(np.zeros(len(gains)), gains, scores)[0]) if len(gains) else 0.0


def ndcg(gains: Sequence[float], scores: Sequence[float]) -> float | None:
    """nDCG of one query's list, or None when its ideal DCG is 0."""
    value = ndcg_per_query(np.zeros(len(gains)), gains, scores)[0] if len(gains) else np.nan
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class Result:
    ndcg: float
    queries: int
    skipped_queries: int


def _mean(values: np.ndarray) -> Result:
    known = values[~np.isnan(values)]
    mean = float(known.mean()) if len(known) else float("nan")
    return Result(mean, len(known), len(values) - len(known))


def mean_ndcg(lists: Iterable[tuple[Sequence[float], Sequence[float]]]) -> Result:
    """Mean nDCG over lists of (gains, scores), each list one query."""
    codes, gains, scores = [], [], []
    for i, (g, s) in enumerate(lists):
        codes += [i] * len(g)
        gains += list(g)
        scores += list(s)
    return _mean(ndcg_per_query(np.array(codes), np.array(gains), np.array(scores)))


@dataclass(frozen=True)
class Judgement:
    query_id: str
    product_id: str
    label: str
    text_score: float | None = None
    image_score: float | None = None


def group(judgements: Iterable[Judgement]) -> dict[str, list[Judgement]]:
    by_query: dict[str, list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_query[j.query_id].append(j)
    return by_query


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
        return _mean(ndcg_per_query(codes, gains, scores, ideal))

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


def evaluate_scores(
    judgements: Iterable[Judgement], scores: Mapping[tuple[str, str], float]
) -> dict[str, object]:
    """nDCG of a user's own scores; judged pairs without a score count as tied-last.

    The result also counts the scored pairs that match no judgement (other queries or
    products, or mistyped ids): they cannot count, and a large number signals a mistake.
    """
    by_query = group(judgements)
    judged = {(j.query_id, j.product_id) for items in by_query.values() for j in items}
    lists, missing = [], 0
    for query_id, items in by_query.items():
        gains = [GAINS[j.label] for j in items]
        values = []
        for j in items:
            score = scores.get((query_id, j.product_id))
            if score is None:
                missing += 1
                score = float("-inf")
            values.append(score)
        lists.append((gains, values))
    result = mean_ndcg(lists)
    return {"ndcg": result.ndcg, "queries": result.queries, "skipped_queries": result.skipped_queries,
            "unscored_judgements": missing,
            "unknown_pairs": sum(1 for pair in scores if pair not in judged)}  # fmt: skip


# --- a release's evaluation: its feature files against the SQD judgements -------------


def _vectors(path: Path, key: str, column: str) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Row index per id, float32 vectors and their L2 norms (NaN where a vector is
    missing or of another length than the first). One column is read at a time and
    copied once, chunk by chunk, from Arrow's flat buffers: at 164,900 x 768 a matrix is
    0.5 GB, and it is never normalised in place (scores divide by the two norms)."""
    # One thread: on a few cores, threaded decoding of list columns is slower (measured).
    table = pq.read_table(path, columns=[key, column], use_threads=False)
    ids = table.column(key).to_pylist()
    chunks = table.column(column).chunks
    del table
    lengths = np.concatenate(
        [pc.fill_null(pc.list_value_length(c), 0).to_numpy() for c in chunks] or [np.zeros(0)]
    ).astype(np.int64)
    dim = int(lengths[lengths > 0][0]) if (lengths > 0).any() else 1
    matrix = np.empty((len(ids), dim), dtype=np.float32)
    usable = lengths == dim
    matrix[~usable] = 0.0
    row = 0
    for chunk in chunks:
        n = len(chunk)
        flat = chunk.flatten().to_numpy(zero_copy_only=False)  # the values of non-null rows
        sizes = lengths[row : row + n]
        kept = sizes[sizes > 0]
        if (kept == dim).all():
            matrix[row : row + n][sizes > 0] = flat.reshape(-1, dim)
        else:  # mixed lengths (the gate refuses such a release): keep the first length only
            starts = np.r_[0, np.cumsum(kept)]
            for i, r in enumerate(np.flatnonzero(sizes > 0)):
                if kept[i] == dim:
                    matrix[row + r] = flat[starts[i] : starts[i] + dim]
        row += n
    del chunks
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    norms[~usable] = np.nan
    return {k: i for i, k in enumerate(ids)}, matrix, norms


def _block(column: pa.ListArray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch's vectors as a (vectors, dim) view of Arrow's flat buffer (no copy when
    every vector has ``dim`` values) and each row's position in it (-1: none)."""
    sizes = pc.fill_null(pc.list_value_length(column), 0).to_numpy().astype(np.int64)
    flat = column.flatten().to_numpy(zero_copy_only=False)  # the values of non-null rows
    has = sizes > 0
    if (sizes[has] == dim).all():
        block = flat.reshape(-1, dim)
    else:  # mixed lengths (the gate refuses such a release): keep the first length only
        starts = np.r_[0, np.cumsum(sizes[has])][:-1]
        block = np.stack([flat[s : s + dim] for s, n in zip(starts, sizes[has], strict=True)
                          if n == dim] or [np.zeros(dim, np.float32)])  # fmt: skip
        has = sizes == dim
    position = np.where(has, np.cumsum(has) - 1, -1)
    return block, position


def _pair_cosines(path: Path, columns: list[str], queries: np.ndarray, q_norms: np.ndarray,
                  q_rows: np.ndarray, p_rows: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Cosine of each pair's query and product vector, for each vector column of the
    product file, read batch by batch in one pass: a batch's vectors are used where
    Arrow holds them, so no product matrix is ever built (it would be 0.5 GB a column)."""
    out = {c: np.full(len(q_rows), np.nan) for c in columns}
    order = np.argsort(p_rows, kind="stable")
    sorted_rows = p_rows[order]
    dim = queries.shape[1]
    first = 0
    for batch in read_batches(pq.ParquetFile(path), columns):
        lo, hi = np.searchsorted(sorted_rows, [first, first + batch.num_rows])
        pairs = order[lo:hi]
        local = p_rows[pairs] - first
        for name in columns:
            block, position = _block(batch.column(name), dim)
            at = position[local]
            ok = at >= 0
            vectors, q = block[at[ok]], q_rows[pairs[ok]]
            dots = np.einsum("ij,ij->i", queries[q], vectors, dtype=np.float64)
            norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name][pairs[ok]] = dots / (q_norms[q] * norms)
        first += batch.num_rows
    return out


def release_judgements(release_dir: Path, examples: Path) -> Judged:
    """US Task-1 test judgements with their CLIP cosine scores from a release's files."""
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
    q_index, queries, q_norms = _vectors(
        release_dir / QUERY_FEATURES, "query_id", "clip_text_features"
    )
    q_rows = np.array([q_index[qid] for qid in query_ids], dtype=np.int64)
    products = pq.read_table(release_dir / PRODUCT_FEATURES, columns=["product_id"])
    p_index = {pid: i for i, pid in enumerate(products.column(0).to_pylist())}
    p_rows = np.array([p_index.get(pid, -1) for pid in product_ids], dtype=np.int64)
    found = p_rows >= 0
    scores = _pair_cosines(release_dir / PRODUCT_FEATURES, ["clip_text_features", "clip_image_features"],
                           queries, q_norms, q_rows[found], p_rows[found])  # fmt: skip
    text_scores, image_scores = np.full(len(p_rows), np.nan), np.full(len(p_rows), np.nan)
    text_scores[found], image_scores[found] = (
        scores["clip_text_features"],
        scores["clip_image_features"],
    )
    labels = pairs.column("esci_label").to_numpy(zero_copy_only=False)
    return Judged(query_ids, product_ids, labels, text_scores, image_scores)


class ScoresError(ValueError):
    """A user's scores file cannot be evaluated; the message says why, in words."""


SCORE_COLUMNS = ("query_id", "product_id", "score")


def read_scores(path: Path) -> dict[tuple[str, str], float]:
    """``{(query_id, product_id): score}`` from a user's CSV or Parquet scores file.

    Refused with :class:`ScoresError`: a missing file, missing columns, scores that are
    not numbers or not finite (NaN would silently reorder the valid ones), and pairs
    scored twice (which one counts would be a guess).
    """
    path = Path(path)
    if not path.is_file():
        raise ScoresError(f"{path}: no such file")
    parquet = path.suffix == ".parquet"
    con = db.connect(":memory:")
    try:
        describe = "ingest/describe_parquet" if parquet else "ingest/describe_csv"
        columns = [row[0] for row in db.run(con, describe, {"path": str(path)}).fetchall()]
        missing = [c for c in SCORE_COLUMNS if c not in columns]
        if missing:
            raise ScoresError(
                f"{path}: needs the columns {', '.join(SCORE_COLUMNS)}; missing {', '.join(missing)}"
                f" (found {', '.join(columns) or 'none'})"
            )
        rows = db.run(
            con, "release/scores_parquet" if parquet else "release/scores_csv", {"path": str(path)}
        ).fetchall()
    except duckdb.Error as exc:
        raise ScoresError(
            f"{path}: cannot read as {'Parquet' if parquet else 'CSV'}: {exc}"
        ) from exc
    finally:
        con.close()
    scores: dict[tuple[str, str], float] = {}
    not_numbers, not_finite, twice = [], [], []
    for query_id, product_id, raw, score in rows:
        pair = (query_id, product_id)
        if score is None:
            not_numbers.append(f"{query_id}/{product_id}={raw!r}")
        elif not math.isfinite(score):
            not_finite.append(f"{query_id}/{product_id}")
        elif pair in scores:
            twice.append(f"{query_id}/{product_id}")
        else:
            scores[pair] = score
    for problem, found in (
        ("scores that are not numbers", not_numbers),
        ("scores that are NaN or infinite", not_finite),
        ("(query_id, product_id) pairs scored more than once", twice),
    ):
        if found:
            raise ScoresError(f"{path}: {len(found)} {problem}, e.g. {', '.join(found[:5])}")
    return scores


def evaluate_release(
    release_dir: Path, examples: Path, scores: Path | None = None
) -> dict[str, Any]:
    judged = release_judgements(release_dir, examples)
    if scores is None:
        return evaluate_clip(judged)
    return evaluate_scores(judged.judgements(), read_scores(scores))
