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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid import db
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


def ndcg_per_query(codes: np.ndarray, gains: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """nDCG of every query; NaN where the ideal DCG is 0 (every judgement ``I``)."""
    ideal = dcg_per_query(codes, gains, gains)
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


def evaluate_clip(
    judgements: Sequence[Judgement],
    weights: Sequence[float] = tuple(i / 10 for i in range(11)),
    random_runs: int = 20,
    seed: int = 0,
) -> dict[str, object]:
    """nDCG of random order, CLIP_text, CLIP_image and ``w*text + (1-w)*image`` per weight."""
    if not judgements:
        nothing = float("nan")
        return {"queries": 0, "skipped_queries": 0, "judgements": 0, "random": nothing,
                "clip_text": nothing, "clip_image": nothing,
                "sweep": [{"weight_text": w, "ndcg": nothing} for w in weights],
                "best_combination": {"weight_text": weights[-1], "ndcg": nothing},
                "lift_over_text": None}  # fmt: skip
    _, codes = np.unique([j.query_id for j in judgements], return_inverse=True)
    gains = np.array([GAINS[j.label] for j in judgements])
    text, image = (
        _query_mean_imputed(codes, np.array([np.nan if v is None else v for v in column], dtype=np.float64))
        for column in zip(*((j.text_score, j.image_score) for j in judgements), strict=True)
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    random_scores = [_mean(ndcg_per_query(codes, gains, rng.random(len(codes)))).ndcg
                     for _ in range(random_runs)]  # fmt: skip
    text_result = _mean(ndcg_per_query(codes, gains, text))
    image_result = _mean(ndcg_per_query(codes, gains, image))
    sweep = [{"weight_text": w, "ndcg": _mean(ndcg_per_query(codes, gains, w * text + (1 - w) * image)).ndcg}
             for w in weights]  # fmt: skip
    best = max(sweep, key=lambda r: r["ndcg"])
    return {
        "queries": text_result.queries,
        "skipped_queries": text_result.skipped_queries,
        "judgements": len(judgements),
        "random": sum(random_scores) / len(random_scores),
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


def _unit_vectors(path: Path, key: str, column: str) -> tuple[dict[str, int], np.ndarray]:
    """Row index per id and L2-normalised float32 vectors (rows of NaN where a vector is
    missing or of another length than the first), one column read at a time and copied
    once from Arrow's flat buffer: at 164,900 x 768 a matrix is 0.5 GB."""
    table = pq.read_table(path, columns=[key, column])
    ids = table.column(key).to_pylist()
    vectors = table.column(column).combine_chunks()
    del table
    lengths = pc.fill_null(pc.list_value_length(vectors), 0).to_numpy()
    present = lengths > 0
    dim = int(lengths[present][0]) if present.any() else 1
    matrix = np.full((len(ids), dim), np.nan, dtype=np.float32)
    flat = vectors.flatten().to_numpy(zero_copy_only=False)
    if (lengths[present] == dim).all():
        matrix[present] = flat.reshape(-1, dim)
    else:  # mixed lengths (the gate refuses such a release): keep the first length only
        offsets = np.r_[0, np.cumsum(lengths)]
        for row in np.flatnonzero(lengths == dim):
            matrix[row] = flat[offsets[row] : offsets[row] + dim]
    del vectors, flat
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix /= norms
    return {k: i for i, k in enumerate(ids)}, matrix


def _row_dots(a: np.ndarray, rows_a: np.ndarray, b: np.ndarray, rows_b: np.ndarray,
              chunk: int = 16_384) -> np.ndarray:  # fmt: skip
    """``(a[rows_a] * b[rows_b]).sum(1)`` in chunks, never both gathered matrices whole;
    a row index of -1 in ``rows_b`` gives NaN."""
    out = np.full(len(rows_a), np.nan, dtype=np.float32)
    for start in range(0, len(rows_a), chunk):
        ra, rb = rows_a[start : start + chunk], rows_b[start : start + chunk]
        ok = rb >= 0
        out[start : start + chunk][ok] = np.einsum("ij,ij->i", a[ra[ok]], b[rb[ok]])
    return out


def release_judgements(release_dir: Path, examples: Path) -> list[Judgement]:
    """US Task-1 test judgements with their CLIP cosine scores from a release's files."""
    release_dir = Path(release_dir)
    con = db.connect(":memory:")
    try:
        pairs = db.run(
            con,
            "release/eval_pairs",
            {"examples": str(examples), "query_features": str(release_dir / QUERY_FEATURES)},
        ).fetchall()
    finally:
        con.close()
    q_index, queries = _unit_vectors(release_dir / QUERY_FEATURES, "query_id", "clip_text_features")
    q_rows = np.array([q_index[qid] for qid, _, _ in pairs], dtype=np.int64)
    p_index, titles = _unit_vectors(
        release_dir / PRODUCT_FEATURES, "product_id", "clip_text_features"
    )
    p_rows = np.array([p_index.get(pid, -1) for _, pid, _ in pairs], dtype=np.int64)
    text_scores = _row_dots(queries, q_rows, titles, p_rows)
    del titles
    _, images = _unit_vectors(release_dir / PRODUCT_FEATURES, "product_id", "clip_image_features")
    image_scores = _row_dots(queries, q_rows, images, p_rows)

    def score(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return [
        Judgement(qid, pid, label, score(ts), score(im))
        for (qid, pid, label), ts, im in zip(pairs, text_scores, image_scores, strict=True)
    ]


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
    judgements = release_judgements(release_dir, examples)
    if scores is None:
        return evaluate_clip(judgements)
    return evaluate_scores(judgements, read_scores(scores))
