"""nDCG against hand-computed cases and an independent implementation."""

import math
import random

import pytest
from sqid.release.evaluate import evaluate_clip
from sqid.release.ndcg import GAINS, Judgement, dcg, mean_ndcg, ndcg
from sqid.release.scores import evaluate_scores


def test_hand_computed():
    # E, I, S ranked as given: DCG = 1 + 0 + 0.1/log2(4) = 1.05; ideal = 1 + 0.1/log2(3).
    value = ndcg([1.0, 0.0, 0.1], [3, 2, 1])
    assert value == pytest.approx(1.05 / (1 + 0.1 / math.log2(3)))
    assert ndcg([1.0, 0.0, 0.1], [3, 1, 2]) == pytest.approx(1.0)


def test_single_item_and_all_irrelevant():
    assert ndcg([0.1], [5.0]) == 1.0
    assert ndcg([0.0, 0.0], [1, 2]) is None
    result = mean_ndcg([([0.0], [1.0]), ([1.0, 0.0], [2, 1])])
    assert (result.ndcg, result.queries, result.skipped_queries) == (1.0, 1, 1)


def test_ties_take_the_expected_discount():
    # Two tied items, one E one I: expected DCG = 1 * (1 + 1/log2(3)) / 2.
    assert dcg([1.0, 0.0], [1.0, 1.0]) == pytest.approx((1 + 1 / math.log2(3)) / 2)
    rng = random.Random(1)
    gains = [GAINS[rng.choice("ESCI")] for _ in range(12)]
    constant = ndcg(gains, [0.0] * 12)
    shuffles = [ndcg(gains, rng.sample(range(12), 12)) for _ in range(20_000)]
    assert constant == pytest.approx(sum(shuffles) / len(shuffles), abs=2e-3)


def reference_ndcg(labels_and_scores):
    """Independent implementation: explicit sort, no tie handling (scores are distinct)."""
    ranked = sorted(labels_and_scores, key=lambda ls: ls[1], reverse=True)
    dcg_value = sum(
        (2**0 * GAINS[label]) / math.log2(rank + 2) for rank, (label, _) in enumerate(ranked)
    )
    ideal = sorted((GAINS[label] for label, _ in labels_and_scores), reverse=True)
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg_value / idcg


def test_matches_an_independent_implementation():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        pairs = [(rng.choice("ESCI"), rng.random()) for _ in range(n)]
        if all(label == "I" for label, _ in pairs):
            continue
        ours = ndcg([GAINS[label] for label, _ in pairs], [s for _, s in pairs])
        assert ours == pytest.approx(reference_ndcg(pairs))


def test_clip_evaluation_and_sweep():
    judgements = [
        Judgement("q1", "a", "E", text_score=0.9, image_score=0.1),
        Judgement("q1", "b", "I", text_score=0.1, image_score=0.8),
        Judgement("q1", "c", "S", text_score=0.5, image_score=None),  # no image: query mean
        Judgement("q2", "d", "I", text_score=0.3, image_score=0.3),  # all-irrelevant query
    ]
    result = evaluate_clip(judgements, weights=(0.0, 0.5, 1.0))
    assert result["queries"] == 1 and result["skipped_queries"] == 1
    assert result["clip_text"] == pytest.approx(1.0)
    assert result["clip_image"] < 1.0
    assert [r["weight_text"] for r in result["sweep"]] == [0.0, 0.5, 1.0]
    assert result["sweep"][-1]["ndcg"] == pytest.approx(result["clip_text"])
    assert result["sweep"][0]["ndcg"] == pytest.approx(result["clip_image"])
    assert 0 < result["random"] < 1
    # The random baseline is the exact expectation over orders of the one judged query.
    orders = [(1.0, 0.0, 0.1), (1.0, 0.1, 0.0), (0.0, 1.0, 0.1), (0.0, 0.1, 1.0), (0.1, 1.0, 0.0),
              (0.1, 0.0, 1.0)]  # fmt: skip
    expected = sum(ndcg(list(gains), [3, 2, 1]) for gains in orders) / len(orders)
    assert result["random"] == pytest.approx(expected)


def test_user_scores():
    judgements = [Judgement("q1", "a", "E"), Judgement("q1", "b", "I"), Judgement("q1", "c", "S")]
    perfect = evaluate_scores(judgements, {("q1", "a"): 3, ("q1", "c"): 2, ("q1", "b"): 1})
    assert perfect["ndcg"] == pytest.approx(1.0) and perfect["unscored_judgements"] == 0
    partial = evaluate_scores(judgements, {("q1", "b"): 1})
    assert partial["unscored_judgements"] == 2 and partial["ndcg"] < 1
