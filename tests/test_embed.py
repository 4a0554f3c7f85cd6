"""CLIP embeddings with a tiny CLIP loaded through the real from_pretrained path."""

import duckdb
import numpy as np
import pytest
from sqid.embed.clip import pipelined
from sqid.embed.config import EmbedConfig
from sqid.embed.merge import merge
from sqid.embed.plan import plan
from sqid.embed.shard import run_image_shard, run_text_shard
from sqid.localserve.cdn import ImageCDN, send, synthetic_image
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.merge import merge_run
from sqid.scrape.shard import run_shard

from .sqd_builders import ingest_case


def test_loads_through_from_pretrained(encoder, tiny_clip):
    assert encoder.dim == 16
    assert encoder.revision == "local"
    assert encoder.model.config.projection_dim == 16


def test_image_vectors_shape_dtype_determinism(encoder):
    images = [synthetic_image("71abcDEFghL", 300), synthetic_image("61zyxWVUtsL", 120)]
    first = encoder.encode_pixels(encoder.preprocess(images))
    again = encoder.encode_pixels(encoder.preprocess(images))
    assert first.shape == (2, 16) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(np.linalg.norm(first, axis=1), 1.0)  # raw, not L2-normalised
    assert not np.allclose(first[0], first[1])


def test_pipelined_keeps_order(encoder):
    images = [synthetic_image(f"7{i}abcdefgL", 64) for i in range(7)]
    batches = [([i for i in range(k, min(k + 3, 7))], images[k : k + 3]) for k in range(0, 7, 3)]
    keys, vectors = zip(*pipelined(encoder, batches, workers=2), strict=True)
    stacked = np.concatenate(vectors)
    np.testing.assert_allclose(
        stacked, encoder.encode_pixels(encoder.preprocess(images)), atol=1e-5
    )
    assert [k for ks in keys for k in ks] == list(range(7))


def test_text_vectors_truncate_to_77_tokens(encoder):
    vectors = encoder.encode_texts(["red kettle", "ワイヤレス 充電器 " * 200, ""])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    # Same text alone or in a padded batch: the same vector up to float rounding.
    np.testing.assert_allclose(vectors[0], encoder.encode_texts(["red kettle"])[0], atol=1e-5)


@pytest.fixture
def stage_db(tmp_path):
    """A DuckDB with SQID sets and a scrape of 8 products from the local site."""
    ids = [f"B0{i:08d}" for i in range(8)]
    examples = [(1, pid, "us", "E", 1, "test") for pid in ids] + [(2, ids[0], "us", "S", 1, "test")]
    products = [(pid, "us", f"Product number {i}") for i, pid in enumerate(ids)]
    db_path, _ = ingest_case(tmp_path, examples, products)
    with ProductSite(SiteConfig(layouts={ids[7]: "placeholder"})) as site:
        config = ScrapeConfig(base_url=site.base_url, requests_per_second=100, concurrency=2)
        run_shard(ids, tmp_path / "scrape", 0, config, "r1")
    merge_run(tmp_path / "scrape", db_path)
    return db_path


def run_stage(db_path, run_dir, config, encoder, cache_dir):
    planned = plan(db_path, run_dir, config, shard_size=3)
    for shard in planned["shards"]:
        if shard["kind"] == "image":
            run_image_shard(shard, config, cache_dir, encoder)
        else:
            run_text_shard(shard, config, encoder)
    return planned, merge(run_dir, db_path)


def test_stage_is_incremental(stage_db, tmp_path, encoder, tiny_clip):
    with ImageCDN() as cdn:
        policy = cdn.policy()
        config = EmbedConfig(
            model_id=str(tiny_clip), image_cdn=cdn.base_url, policy=policy, batch_size=2
        )
        planned, merged = run_stage(
            stage_db, tmp_path / "run1", config, encoder, tmp_path / "cache"
        )
        assert planned["images"] == 7  # the placeholder product has no image to embed
        assert planned["texts"] == 8 + 2  # titles and queries
        assert merged["image_embeddings"] == 7 and merged["text_embeddings"] == 10
        assert merged["fetch_statuses"] == {"ok": 7}
        fetched = sum(cdn.requests.values())

        again, merged_again = run_stage(
            stage_db, tmp_path / "run2", config, encoder, tmp_path / "cache"
        )
        assert (again["images"], again["texts"]) == (0, 0)  # a re-run computes nothing
        assert merged_again["image_embeddings"] == 7 and sum(cdn.requests.values()) == fetched
        assert not any(merged_again["changed"].values())  # so nothing is announced

        con = duckdb.connect(str(stage_db))
        con.execute(
            "UPDATE product_images SET image_url = 'https://m.media-amazon.com/images/I/'"
            " || image_id || '._SX300_.jpg' WHERE product_id = 'B000000003'"
        )
        con.close()
        changed, merged_changed = run_stage(
            stage_db, tmp_path / "run3", config, encoder, tmp_path / "cache"
        )
        assert changed["images"] == 1  # only the changed image is fetched and embedded
        assert merged_changed["image_embeddings"] == 8
        assert merged_changed["changed"] == {"fetches": 1, "image_vectors": 1, "text_vectors": 0}

        # A URL that is gone (404) is recorded once and not planned again.
        gone = "/images/I/71GoneGone1.jpg"
        cdn.extra[gone] = lambda handler: send(handler, 404, b"gone", "text/plain")
        con = duckdb.connect(str(stage_db))
        con.execute("UPDATE product_images SET image_url = ? WHERE product_id = 'B000000004'",
                    [f"https://m.media-amazon.com{gone}"])  # fmt: skip
        con.close()
        first, merged_first = run_stage(
            stage_db, tmp_path / "run4", config, encoder, tmp_path / "cache"
        )
        assert first["images"] == 1 and merged_first["fetch_statuses"]["http_error"] == 1
        later, merged_later = run_stage(
            stage_db, tmp_path / "run5", config, encoder, tmp_path / "cache"
        )
        assert later["images"] == 0 and not any(merged_later["changed"].values())
        assert cdn.requests[gone] == 1

    con = duckdb.connect(str(stage_db), read_only=True)
    dims = con.execute("SELECT DISTINCT len(embedding), revision FROM image_embeddings").fetchall()
    con.close()
    assert dims == [(16, "local")]


def test_same_bytes_are_embedded_once(tmp_path, encoder, tiny_clip, stage_db):
    """Two products whose URLs serve identical bytes share one vector."""
    con = duckdb.connect(str(stage_db))
    con.execute(
        "UPDATE product_images SET image_url = (SELECT image_url FROM product_images"
        " WHERE product_id = 'B000000001') WHERE product_id = 'B000000002'"
    )
    con.close()
    with ImageCDN() as cdn:
        policy = cdn.policy()
        config = EmbedConfig(model_id=str(tiny_clip), image_cdn=cdn.base_url, policy=policy)
        planned, merged = run_stage(stage_db, tmp_path / "run", config, encoder, tmp_path / "cache")
    assert planned["images"] == 6 and merged["image_embeddings"] == 6


def test_one_revision_rule_for_embed_and_release(tmp_path, tiny_clip):
    from sqid.embed.clip import DEFAULT_MODEL_ID, DEFAULT_REVISION, model_revision
    from sqid.release.assemble import ReleaseConfig, resolve_model

    assert model_revision(DEFAULT_MODEL_ID) == DEFAULT_REVISION  # the pinned commit
    assert model_revision("openai/clip-vit-base-patch32") == "main"  # not CLIP-L's commit
    assert model_revision(DEFAULT_MODEL_ID, "abc123") == "abc123"
    assert model_revision(str(tiny_clip), "abc123") == "local"
    # A release asked for the default model finds the vectors embed stored for it.
    assert EmbedConfig().model_revision() == DEFAULT_REVISION
    config = ReleaseConfig(release_dir=tmp_path, model_id=DEFAULT_MODEL_ID)
    assert resolve_model(None, config) == (DEFAULT_MODEL_ID, DEFAULT_REVISION)


def test_embed_config_sources(tmp_path):
    env = {"SQID_EMBED_MODEL": "openai/clip-vit-base-patch32",
           "SQID_IMAGE_CDN": "http://localhost:8123", "SQID_IMAGE_EXTRA_HOSTS": "localhost",
           "SQID_IMAGE_ALLOW_HTTP": "1", "SQID_IMAGE_ALLOW_PRIVATE": "1"}  # fmt: skip
    config = EmbedConfig.resolve({"batch_size": 0, "rendition": ""}, env)
    assert config.model_id == "openai/clip-vit-base-patch32" and config.model_revision() == "main"
    assert config.batch_size == EmbedConfig.batch_size and config.rendition == "as_scraped"
    assert (
        config.policy.allowed_ports == frozenset({8123})
        and "localhost" in config.policy.allowed_hosts
    )
    assert EmbedConfig.resolve({"model_id": "x/y", "batch_size": 8}, {}).batch_size == 8
    assert EmbedConfig.resolve({}, {}).policy.allowed_ports == frozenset()
