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
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq

from sqid import db
from sqid.release.assemble import PRODUCT_FEATURES, QUERY_FEATURES

GAINS: Mapping[str, float] = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def _discounts(n: int) -> list[float]:
    return [1.0 / math.log2(i + 2) for i in range(n)]


def dcg(gains: Sequence[float], scores: Sequence[float]) -> float:
    """DCG of items ranked by ``scores`` (descending), ties averaged."""
    order = sorted(range(len(gains)), key=lambda i: -scores[i])
    discounts = _discounts(len(gains))
    total, pos = 0.0, 0
    while pos < len(order):
        end = pos
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[pos]]:
            end += 1
        mean_discount = sum(discounts[pos : end + 1]) / (end + 1 - pos)
        total += mean_discount * sum(gains[order[k]] for k in range(pos, end + 1))
        pos = end + 1
    return total


def ndcg(gains: Sequence[float], scores: Sequence[float]) -> float | None:
    """nDCG of one query's list, or None when its ideal DCG is 0."""
    ideal = sum(
        g * d for g, d in zip(sorted(gains, reverse=True), _discounts(len(gains)), strict=True)
    )
    if ideal == 0:
        return None
    return dcg(gains, scores) / ideal


@dataclass(frozen=True)
class Result:
    ndcg: float
    queries: int
    skipped_queries: int


def mean_ndcg(lists: Iterable[tuple[Sequence[float], Sequence[float]]]) -> Result:
    values, skipped = [], 0
    for gains, scores in lists:
        value = ndcg(gains, scores)
        if value is None:
            skipped += 1
        else:
            values.append(value)
    return Result(sum(values) / len(values) if values else float("nan"), len(values), skipped)


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


def _impute(values: list[float | None]) -> list[float]:
    known = [v for v in values if v is not None]
    fill = sum(known) / len(known) if known else 0.0
    return [fill if v is None else v for v in values]


def evaluate_clip(
    judgements: Iterable[Judgement],
    weights: Sequence[float] = tuple(i / 10 for i in range(11)),
    random_runs: int = 20,
    seed: int = 0,
) -> dict[str, object]:
    """nDCG of random order, CLIP_text, CLIP_image and ``w*text + (1-w)*image`` per weight."""
    by_query = group(judgements)
    rng = random.Random(seed)
    lists = []
    for items in by_query.values():
        gains = [GAINS[j.label] for j in items]
        text = _impute([j.text_score for j in items])
        image = _impute([j.image_score for j in items])
        lists.append((gains, text, image))
    random_scores = []
    for _ in range(random_runs):
        random_scores.append(mean_ndcg((g, [rng.random() for _ in g]) for g, _, _ in lists).ndcg)
    text_result = mean_ndcg((g, t) for g, t, _ in lists)
    image_result = mean_ndcg((g, i) for g, _, i in lists)
    sweep = [
        {"weight_text": w, "ndcg": mean_ndcg((g, [w * a + (1 - w) * b for a, b in zip(t, i, strict=True)])
                                             for g, t, i in lists).ndcg}
        for w in weights
    ]  # fmt: skip
    best = max(sweep, key=lambda r: r["ndcg"])
    return {
        "queries": text_result.queries,
        "skipped_queries": text_result.skipped_queries,
        "judgements": sum(len(g) for g, _, _ in lists),
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
    """Row index per id and L2-normalised vectors (rows of NaN where a vector is missing)."""
    table = pq.read_table(path, columns=[key, column])
    ids = table.column(key).to_pylist()
    values = table.column(column).to_pylist()
    dim = next((len(v) for v in values if v is not None), 1)
    matrix = np.full((len(ids), dim), np.nan, dtype=np.float32)
    for i, v in enumerate(values):
        if v is not None:
            matrix[i] = v
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return {k: i for i, k in enumerate(ids)}, matrix


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
    p_index, titles = _unit_vectors(
        release_dir / PRODUCT_FEATURES, "product_id", "clip_text_features"
    )
    _, images = _unit_vectors(release_dir / PRODUCT_FEATURES, "product_id", "clip_image_features")
    missing = np.full(queries.shape[1], np.nan, dtype=np.float32)
    q = queries[[q_index[qid] for qid, _, _ in pairs]]
    rows = [p_index.get(pid) for _, pid, _ in pairs]
    t = np.stack([titles[r] if r is not None else missing for r in rows]) if rows else queries[:0]
    i = np.stack([images[r] if r is not None else missing for r in rows]) if rows else queries[:0]
    text_scores, image_scores = (q * t).sum(axis=1), (q * i).sum(axis=1)

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
