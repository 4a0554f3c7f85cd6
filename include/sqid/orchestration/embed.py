"""The tasks of ``sqid_embed``: one function per task."""

from __future__ import annotations

import os

from sqid.orchestration import run_dir_for


def embed_config(params: dict):
    """EmbedConfig from run Params and the environment (model default, image mirror)."""
    from sqid.embed.clip import DEFAULT_MODEL_ID
    from sqid.embed.images import ImagePolicy
    from sqid.embed.stage import EmbedConfig
    from sqid.imageurl import AMAZON_IMAGE_HOSTS, UrlParts, split_url

    extra_hosts = {h for h in os.environ.get("SQID_IMAGE_EXTRA_HOSTS", "").split(",") if h}
    mirror = split_url(os.environ.get("SQID_IMAGE_CDN") or "")
    policy = ImagePolicy(
        allowed_hosts=AMAZON_IMAGE_HOSTS | extra_hosts,
        allow_http=os.environ.get("SQID_IMAGE_ALLOW_HTTP", "") == "1",
        allow_private_addresses=os.environ.get("SQID_IMAGE_ALLOW_PRIVATE", "") == "1",
        # Only the mirror's own port, if it names one: Amazon's URLs name none.
        allowed_ports=frozenset({mirror.port})
        if isinstance(mirror, UrlParts) and mirror.port
        else frozenset(),
    )
    return EmbedConfig(
        model_id=params.get("model_id") or os.environ.get("SQID_EMBED_MODEL", DEFAULT_MODEL_ID),
        revision=params.get("revision") or os.environ.get("SQID_EMBED_REVISION") or None,
        device=params.get("device") or "auto",
        batch_size=params.get("batch_size") or 64,
        rendition=params.get("rendition") or "as_scraped",
        image_cdn=os.environ.get("SQID_IMAGE_CDN") or None,
        policy=policy,
    )


def plan_embed(params: dict, run_id: str) -> list[dict]:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.embed.stage import plan

    result = plan(
        load_settings().duckdb_path,
        Path(run_dir_for("embed", run_id)),
        embed_config(params),
        force=params["force"],
        limit=params["limit"],
        shard_size=params["shard_size"],
    )
    return result["shards"]


def embed_shard(shard: dict, params: dict) -> dict:
    from sqid.embed.stage import cache_dir_default, run_image_shard, run_text_shard

    config = embed_config(params)
    if shard["kind"] == "image":
        return run_image_shard(shard, config, cache_dir_default())
    return run_text_shard(shard, config)


def merge_embed(run_id: str) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.embed.stage import merge

    return merge(Path(run_dir_for("embed", run_id)), load_settings().duckdb_path)
