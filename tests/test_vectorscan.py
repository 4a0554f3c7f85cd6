"""Vectors met batch by batch equal the same vectors held whole: the blocks of a scan,
exact top-k merged across batches, the evaluation's pair cosines and whole-catalogue
retrieval, and the reader that decodes one group ahead."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqid.files import read_ahead
from sqid.knn import TopK
from sqid.release import evaluate
from sqid.release.retrieval import CUTOFFS, Retrieval
from sqid.vectorscan import scan, vector_block

DIM = 8
TITLE, IMAGE = "clip_text_features", "clip_image_features"


def _column(vectors: np.ndarray, missing: np.ndarray) -> pa.ListArray:
    return pa.array([None if gone else v.tolist() for v, gone in zip(vectors, missing, strict=True)],
                    type=pa.list_(pa.float32()))  # fmt: skip


@pytest.fixture
def features(tmp_path):
    """A product_features-shaped file of 103 rows in row groups of 16, some rows without
    a title or an image vector; and the same vectors whole (zeros where missing)."""
    rng = np.random.default_rng(11)
    n = 103
    dense, missing = {}, {}
    for name, share in ((TITLE, 0.1), (IMAGE, 0.3)):
        scale = rng.uniform(1, 9, (n, 1))
        dense[name] = (rng.standard_normal((n, DIM)) * scale).astype(np.float32)
        missing[name] = rng.random(n) < share
        dense[name][missing[name]] = 0
    table = pa.table({"product_id": [f"B{i:09d}" for i in range(n)],
                      TITLE: _column(dense[TITLE], missing[TITLE]),
                      IMAGE: _column(dense[IMAGE], missing[IMAGE])})  # fmt: skip
    path = tmp_path / "product_features.parquet"
    pq.write_table(table, path, row_group_size=16)
    return path, table, dense, missing


def test_a_scan_hands_over_every_vector_once_with_its_row(features):
    path, _, dense, missing = features
    for name in (TITLE, IMAGE):
        rows, vectors = zip(*(b.present(name) for b in scan(path, [TITLE, IMAGE])), strict=True)
        assert np.array_equal(np.concatenate(rows), np.flatnonzero(~missing[name]))
        assert np.array_equal(np.concatenate(vectors), dense[name][~missing[name]])
    third = next(scan(path, [IMAGE], row_group=2))
    assert (third.first, third.rows) == (32, 16)


def test_blocks_of_sliced_gapped_and_mixed_lists():
    values = pa.array(np.arange(20, dtype=np.float32))
    # Row 1 is null yet owns values 2..5 (Arrow allows it); row 3 is empty.
    lists = pa.ListArray.from_arrays(pa.array([0, 2, 6, 8, 8, 10], pa.int32()), values,
                                     mask=pa.array([False, True, False, False, False]))  # fmt: skip
    block, position = vector_block(lists, 2)
    assert position.tolist() == [0, -1, 1, -1, 2]
    assert block.tolist() == [[0, 1], [6, 7], [8, 9]]
    block, position = vector_block(lists.slice(2), 2)
    assert position.tolist() == [0, -1, 1] and block.tolist() == [[6, 7], [8, 9]]
    mixed = pa.array([[1.0, 2.0], [3.0], [4.0, 5.0]], pa.list_(pa.float32()))
    block, position = vector_block(mixed, 2)
    assert position.tolist() == [0, -1, 1] and block.tolist() == [[1, 2], [4, 5]]


def test_top_k_merged_over_blocks_equals_a_full_sort():
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((30, DIM)).astype(np.float32)
    vectors = rng.standard_normal((500, DIM)).astype(np.float32)
    keys = rng.permutation(10_000)[:500]
    top = TopK(queries, 25)
    for start in range(0, 500, 37):  # many blocks: late ones are mostly pruned
        top.add(vectors[start : start + 37], keys[start : start + 37])
    found, scores = top.result()
    full = queries @ vectors.T
    assert np.array_equal(found, keys[np.argsort(-full, axis=1, kind="stable")[:, :25]])
    assert np.allclose(scores, -np.sort(-full, axis=1)[:, :25])


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def test_pair_cosines_and_retrieval_from_one_scan(features, monkeypatch):
    path, table, dense, missing = features
    monkeypatch.setattr(evaluate, "PAIR_CHUNK", 7)  # many chunks per batch
    rng = np.random.default_rng(2)
    queries = rng.standard_normal((12, DIM)).astype(np.float32)
    queries[4] = 0  # a query without a vector
    q_norms = np.linalg.norm(queries, axis=1)
    q_norms[4] = np.nan
    catalogue = table.column("product_id").to_pylist()
    query_ids = np.array([f"q{i}" for i in rng.integers(0, 12, 400)], dtype=object)
    p_rows = rng.integers(0, len(catalogue), 400)
    product_ids = np.array([catalogue[r] for r in p_rows], dtype=object)
    labels = rng.choice(["E", "S", "C", "I"], 400)
    query_rows = {f"q{i}": i for i in range(12)}
    retrieval = Retrieval(catalogue, query_rows, queries, query_ids, product_ids, labels)
    q_rows = np.array([query_rows[q] for q in query_ids])
    cosines = evaluate._pair_cosines(path, [TITLE, IMAGE], queries, q_norms, q_rows, p_rows,
                                     retrieval)  # fmt: skip

    for name in (TITLE, IMAGE):
        expected = np.einsum("ij,ij->i", _unit(queries)[q_rows], _unit(dense[name])[p_rows])
        expected[missing[name][p_rows] | (q_rows == 4)] = np.nan
        assert np.allclose(cosines[name], expected, equal_nan=True)

    assert "q4" not in retrieval.sample and retrieval.sample
    unit = _unit(queries[[query_rows[q] for q in retrieval.sample]])
    k = max(CUTOFFS)
    for name, column in (("text", TITLE), ("image", IMAGE)):
        scores = unit @ _unit(dense[column]).T
        scores[:, missing[column]] = -np.inf  # rows without a vector are not candidates
        want = np.argsort(-scores, axis=1, kind="stable")[:, : int((~missing[column]).sum())]
        found, _ = retrieval.top[name].result()
        assert np.array_equal(found, want[:, :k])
    combined = unit @ _unit(dense[TITLE]).T + unit @ _unit(dense[IMAGE]).T
    found, _ = retrieval.top["combined"].result()  # rows with neither vector tie at 0
    assert found.shape == (len(unit), k) and len(set(found[0])) == k
    assert np.allclose(np.take_along_axis(combined, found, 1), -np.sort(-combined, axis=1)[:, :k])


def test_read_ahead_keeps_order_raises_where_it_would_and_stops_early():
    assert list(read_ahead(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad row group")

    items = read_ahead(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad row group"):
        next(items)

    produced = []

    def endless():
        for i in range(10_000):
            produced.append(i)
            yield i

    items = read_ahead(endless())
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()  # the consumer stops: the worker must not run on
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
    assert len(produced) < 10
