"""product_features rows gathered by row id equal an ordered join, in any slicing."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sqid import db
from sqid.release.vectors import MixedDimensionsError, product_feature_batches

MODEL = {"model_id": "m", "revision": "r"}
DIM = 4


def _insert(con, table: str, rows: pa.Table) -> None:
    con.register("frame", rows)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")
    con.unregister("frame")


def _vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> list[list[float]]:
    return rng.standard_normal((n, dim)).astype(np.float32).tolist()


@pytest.fixture
def catalogue():
    """40 test products (some without a title vector, some without an image) and supp
    products that must not appear; titles shuffled so row ids and key order differ."""
    rng = np.random.default_rng(3)
    con = duckdb.connect()
    for script in ("derive/create_sqid_sets", "scrape/create_scrape_tables",
                   "embed/create_embed_tables"):  # fmt: skip
        db.run_script(con, script)
    ids = [f"B{i:09d}" for i in rng.permutation(48)]
    sets = ["test"] * 40 + ["supp"] * 8
    titles = [f"title {i}" for i in range(48)]
    _insert(con, "sqid_products", pa.table({
        "product_id": ids, "product_set": sets, "title": titles,
        "n_queries": [1] * 48, "n_judgements": [1] * 48}))  # fmt: skip
    with_image = [i for i in range(48) if i % 5]
    _insert(con, "product_images", pa.table({
        "product_id": [ids[i] for i in with_image], "status": ["ok"] * len(with_image),
        "image_url": [f"u{i}" for i in with_image], "attempts": [1] * len(with_image),
        "scraped_at": pa.array([0] * len(with_image), pa.timestamp("s", "UTC")),
        "run_id": ["r"] * len(with_image)}))  # fmt: skip
    _insert(con, "image_fetches", pa.table({
        "url": [f"u{i}" for i in with_image], "image_url": [f"u{i}" for i in with_image],
        "sha256": [f"h{i % 17}" for i in with_image], "status": ["ok"] * len(with_image),
        "fetched_at": pa.array([0] * len(with_image), pa.timestamp("s", "UTC"))}))  # fmt: skip
    _insert(con, "image_embeddings", pa.table({
        "model_id": ["m"] * 17, "revision": ["r"] * 17, "sha256": [f"h{k}" for k in range(17)],
        "embedding": _vectors(rng, 17)}))  # fmt: skip
    titled = [t for i, t in enumerate(titles) if i % 7][::-1]
    _insert(con, "text_embeddings", con.sql(
        "SELECT 'm' AS model_id, 'r' AS revision, sha256(t) AS text_sha256 FROM "
        "unnest($t) AS u(t)", params={"t": titled}).to_arrow_table().append_column(
        "embedding", pa.array(_vectors(rng, len(titled)))))  # fmt: skip
    yield con
    con.close()


def _reference(con) -> pa.Table:
    return con.sql(
        """
        SELECT p.product_id, t.embedding AS clip_text_features,
               e.embedding AS clip_image_features
        FROM sqid_products p
        LEFT JOIN product_images i ON i.product_id = p.product_id AND i.status = 'ok'
        LEFT JOIN image_fetches f ON f.image_url = i.image_url
        LEFT JOIN image_embeddings e ON e.sha256 = f.sha256
        LEFT JOIN text_embeddings t ON t.text_sha256 = sha256(p.title)
        WHERE p.product_set = 'test' ORDER BY p.product_id
        """
    ).to_arrow_table()


@pytest.mark.parametrize("budget,batch_rows", [(1 << 30, 20_000), (64, 3), (200, 7)])
def test_gathered_rows_equal_an_ordered_join(catalogue, budget, batch_rows):
    dims: set[int] = set()
    batches = list(product_feature_batches(catalogue, MODEL, dims, budget, batch_rows))
    got = pa.Table.from_batches(batches)
    expected = _reference(catalogue)
    assert got.num_rows == 40 and got.column("clip_image_features").null_count == 8
    assert got.column("clip_text_features").null_count == 6
    assert got.cast(expected.schema).equals(expected)
    assert dims == {DIM} and all(len(b) <= batch_rows for b in batches)


def test_vectors_of_two_lengths_are_refused(catalogue):
    catalogue.execute("UPDATE image_embeddings SET embedding = [1.0, 2.0] WHERE sha256 = 'h3'")
    with pytest.raises(MixedDimensionsError, match=r"lengths \[2, 4\]"):
        list(product_feature_batches(catalogue, MODEL, set()))
