"""The tasks of ``sqid_embed``: one function per task."""

from __future__ import annotations

import logging

from sqid.orchestration import fail_fast, run_dir_for, run_is_active
from sqid.orchestration.lineage import files


def embed_config(params: dict):
    """EmbedConfig from run Params and the environment (model default, image mirror)."""
    from sqid.embed.config import EmbedConfig

    return EmbedConfig.resolve(params)


@fail_fast
def plan_embed(params: dict, run_id: str) -> list[dict]:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.embed.plan import plan
    from sqid.orchestration.params import embed_params, require_declared

    require_declared(params, embed_params)
    result = plan(
        load_settings().duckdb_path,
        Path(run_dir_for("embed", run_id)),
        embed_config(params),
        force=params["force"],
        limit=params["limit"],
        shard_size=params["shard_size"],
        run_id=run_id,
        is_active=run_is_active("sqid_embed"),
    )
    left = (
        f"; left to runs still embedding them: {', '.join(result['left_to'])}"
        if result["left_to"]
        else ""
    )
    logging.getLogger(__name__).info(
        "planned %d images and %d texts not embedded yet (model %s)%s; %d shards",
        result["images"], result["texts"], params.get("model_id") or "default", left,
        len(result["shards"]),
    )  # fmt: skip
    files(writes=[run_dir_for("embed", run_id)])
    return result["shards"]


@fail_fast
def embed_shard(shard: dict, params: dict) -> dict:
    from sqid.embed.shard import cache_dir_default, run_image_shard, run_text_shard

    config = embed_config(params)
    files(reads=[shard["run_dir"]], writes=[shard["run_dir"]])
    if shard["kind"] == "image":
        return run_image_shard(shard, config, cache_dir_default())
    return run_text_shard(shard, config)


def merge_embed(run_id: str) -> dict:
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowSkipException

    from sqid.config import load_settings
    from sqid.embed.merge import merge
    from sqid.embed.plan import IMAGE_WORK

    run_dir = Path(run_dir_for("embed", run_id))
    if not (run_dir / IMAGE_WORK).exists():
        raise AirflowSkipException("this run planned no work")
    files(reads=[run_dir])
    return merge(run_dir, load_settings().duckdb_path, run_id)


def embed_summary(merged: dict) -> dict:
    """The ``sqid.embeddings`` event of a run; a run that changed no vector and no
    download emits none, so a quiet day does not start a release run."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not any(merged["changed"].values()):
        raise AirflowSkipException("this run added no vector and changed no download")
    return merged
