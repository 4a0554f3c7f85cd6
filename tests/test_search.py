"""Search: index recall against exact search, the release gate on it, the CLI end to end
on a release (tiny random-weight CLIP: the assertions are about mechanics), and the
Qdrant export in qdrant-client's local mode."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqid.cli import main as cli
from sqid.embed.cache import ContentCache
from sqid.knn import exact_top_k, normalise, open_index, recall, search_keys
from sqid.release.index import IndexParams, build, build_release_index, tune_nprobe
from sqid.release.layout import CATALOGUE, INDEX_DIR, index_path
from sqid.release.validate import ValidationPolicy, validate_release
from sqid.search.engine import Searcher, slerp

from .test_release import first_release, pipeline  # noqa: F401  (fixtures)


def clustered(n: int, dim: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Vectors around 50 fixed centres; ``shift`` moves them all one way (as CLIP's text
    vectors sit apart from its image vectors)."""
    centres = normalise(np.random.default_rng(0).standard_normal((50, dim), dtype=np.float32))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, dim), dtype=np.float32) * 0.8 / np.sqrt(dim)
    return normalise(centres[rng.integers(0, 50, n)] + noise + shift / np.sqrt(dim))


def test_exact_top_k_is_a_full_sort():
    vectors = clustered(700, 16, 1)
    queries = clustered(20, 16, 2)
    rows = np.arange(700) * 3  # keys need not be positions
    keys, scores = exact_top_k(vectors, rows, queries, 10, block=128)
    full = queries @ vectors.T
    assert np.array_equal(keys, rows[np.argsort(-full, axis=1, kind="stable")[:, :10]])
    assert np.allclose(scores, -np.sort(-full, axis=1)[:, :10])


def test_index_reaches_its_recall_target_against_exact_search():
    vectors = clustered(6_000, 64, 3)
    rows = np.arange(len(vectors), dtype=np.int64)
    params = IndexParams(target_recall=0.97)
    index = build(rows, vectors, params)
    users = clustered(300, 64, 5, shift=1.0)  # queries from another modality
    nprobe, tuned = tune_nprobe(index, rows, vectors, params, user_queries=users)
    queries = np.concatenate([clustered(300, 64, 4), clustered(300, 64, 6, shift=1.0)])
    truth, _ = exact_top_k(vectors, rows, queries, 10)
    found, _ = search_keys(index, queries, 10)
    assert tuned >= 0.97 and recall(found, truth) >= 0.95, (nprobe, tuned)
    keys, scores = search_keys(index, queries[:1], 10_000)  # more than there are
    assert (keys[0] == -1).any() and np.isinf(scores[0][keys[0] == -1]).all()


def test_a_release_is_indexed_checksummed_and_gated_on_recall(first_release, tmp_path):  # noqa: F811
    path, _ = first_release
    manifest = json.loads((path / "manifest.json").read_text())
    entry = manifest["index"]
    assert entry["library"] == "faiss-cpu" and entry["vectors"]["image"] > 0
    assert entry["nprobe"]["image"] >= 1 and entry["tuned_recall_at_10"]["image"] >= 0.97
    sums = (path / "SHA256SUMS").read_text()
    assert f"  {INDEX_DIR}/image.faiss" in sums and f"  {INDEX_DIR}/{CATALOGUE}" in sums

    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    # An index of other vectors under the same keys: it opens, but finds the wrong rows.
    rows = np.arange(entry["vectors"]["image"], dtype=np.int64)
    dim = manifest["model"]["dimension"]
    wrong = build(rows, clustered(len(rows), dim, 9), IndexParams())
    import faiss

    faiss.write_index(wrong, str(index_path(broken, "image")))
    policy = ValidationPolicy(coverage_threshold=0.5, require_index=True)
    problems = [p for p in validate_release(broken, policy) if p.check == "index"]
    assert problems and "recall@10" in problems[0].message, problems

    shutil.rmtree(broken / INDEX_DIR)
    messages = [str(p) for p in validate_release(broken, policy) if p.check == "index"]
    assert messages and "cannot be searched" in messages[0]
    older = ValidationPolicy(coverage_threshold=0.5)  # sqid validate on a pre-search release
    assert not [p for p in validate_release(broken, older) if p.check == "index"]


def test_a_release_without_image_vectors_still_gets_both_indexes(first_release, pipeline, tmp_path):  # noqa: F811
    path, _ = first_release
    copy = tmp_path / "no-images"
    shutil.copytree(path, copy)
    shutil.rmtree(copy / INDEX_DIR)
    table = pq.read_table(copy / "product_features.parquet")
    column = table.schema.get_field_index("clip_image_features")
    nothing = pa.nulls(len(table), table.schema.field(column).type)
    pq.write_table(table.set_column(column, table.schema.field(column), nothing),
                   copy / "product_features.parquet")  # fmt: skip
    entry = build_release_index(copy, pipeline[1])
    assert entry["vectors"]["image"] == 0 and entry["vectors"]["title"] == len(table)
    dim = json.loads((copy / "manifest.json").read_text())["model"]["dimension"]
    image = open_index(copy, "image")
    assert image.ntotal == 0 and image.d == dim
    keys, _ = search_keys(image, normalise(np.ones((1, dim), np.float32)), 3)
    assert (keys == -1).all()


def _with_image(release) -> tuple[str, str]:
    catalogue = pq.read_table(release / INDEX_DIR / CATALOGUE).to_pylist()
    row = next(r for r in catalogue if r["image_sha256"])
    return row["product_id"], row["image_sha256"]


def test_cli_search_by_image_text_and_product(first_release, pipeline, tmp_path, capsys):  # noqa: F811
    path, _ = first_release
    root = pipeline[0]
    product_id, sha = _with_image(path)
    image = tmp_path / "query.jpg"
    image.write_bytes(ContentCache(root / "image-cache").read(sha))

    assert cli(["search", str(path), "--image", str(image), "-k", "5", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    same_image = {h["product_id"] for h in hits if h["image_sha256"] == sha}
    assert len(hits) == 5 and hits[0]["image_sha256"] == sha and product_id in same_image
    assert hits[0]["score"] > 0.99  # an image searched by itself

    assert cli(["search", str(path), "--product", product_id, "-k", "3", "--json"]) == 0
    similar = json.loads(capsys.readouterr().out)
    assert len(similar) == 3 and product_id not in {h["product_id"] for h in similar}

    assert cli(["search", str(path), "--text", "red running shoes", "-k", "4"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["#", "product_id", "score"] and len(table) == 5

    assert cli(["search", str(path), "--text", "shoes", "--feedback", "red"]) == 2
    assert "--feedback refines an image search" in capsys.readouterr().err
    assert cli(["search", str(tmp_path), "--text", "shoes"]) == 2
    assert "no search index" in capsys.readouterr().err
    assert cli(["search", str(path), "--image", "https://10.0.0.5/x.jpg"]) == 2
    assert "forbidden_host (IP literal 10.0.0.5 not allowed)" in capsys.readouterr().err


def test_feedback_moves_the_results_toward_the_text(first_release, pipeline):  # noqa: F811
    path, _ = first_release
    _, sha = _with_image(path)
    data = ContentCache(pipeline[0] / "image-cache").read(sha)
    searcher = Searcher(path)
    text = searcher.text_vector("bright floral pattern")
    image = searcher.image_vector(data)
    moved = slerp(image, text, 0.5)
    assert np.dot(moved, text) > np.dot(image, text)  # the query point moves
    assert np.isclose(np.linalg.norm(moved), 1.0, atol=1e-5)

    def toward_text(hits) -> float:
        rows = [searcher.product_ids.index(h.product_id) for h in hits]
        vectors = np.stack([searcher.product_vector(searcher.product_ids[r])[1] for r in rows])
        return float(np.mean(vectors @ text))

    plain = searcher.by_image(data, k=3)
    refined = searcher.by_image(data, k=3, feedback="bright floral pattern", weight=0.9)
    assert toward_text(refined) > toward_text(plain)
    query = slerp(image, text, 0.9)
    for hit in refined:  # ranked by the moved point, not by the image
        vector = searcher.product_vector(hit.product_id)[1]
        assert np.isclose(hit.score, float(vector @ query), atol=2e-3)


def test_qdrant_export_in_local_mode(first_release, tmp_path, capsys):  # noqa: F811
    pytest.importorskip("qdrant_client")
    path, _ = first_release
    store = tmp_path / "qdrant"
    assert cli(["export-qdrant", str(path), "--path", str(store), "--collection", "sqid"]) == 0
    assert "products into collection 'sqid'" in capsys.readouterr().out
    from qdrant_client import QdrantClient

    client = QdrantClient(path=str(store))
    catalogue = pq.read_table(path / INDEX_DIR / CATALOGUE)
    assert client.count("sqid").count == catalogue.num_rows
    product_id, _ = _with_image(path)
    row = catalogue.column("product_id").to_pylist().index(product_id)
    [point] = client.retrieve("sqid", [row], with_vectors=True)
    found = client.query_points("sqid", query=point.vector["image"], using="image", limit=1)
    assert found.points[0].payload["image_sha256"] == point.payload["image_sha256"]
    assert point.payload["product_id"] == product_id
    client.close()
