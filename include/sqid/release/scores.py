"""A user's own scores, evaluated on a release's judgements (``sqid evaluate --scores``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from sqid import db
from sqid.release.ndcg import GAINS, Judgement, group, mean_ndcg


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
