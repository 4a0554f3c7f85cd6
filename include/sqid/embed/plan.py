"""The embed stage's plan: the image URLs and texts that have no vector yet for the
run's model, claimed against overlapping runs and written once as the run's work lists,
described as image and text shards by offset."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid import db
from sqid.embed.config import EmbedConfig
from sqid.embed.images import FINAL_FAILURES, GONE
from sqid.files import write_parquet_atomic
from sqid.runs import (
    MAX_SHARDS,
    WORKLIST_ROW_GROUP,
    claim,
    claimed_keys,
    offset_shards,
    open_claims,
    planning,
)

IMAGE_WORK = "image_work.parquet"
TEXT_WORK = "text_work.parquet"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ensure_tables(db_path: Path) -> None:
    db.apply_schema(db_path, "embed/create_embed_tables")


def plan(
    db_path: Path,
    run_dir: Path,
    config: EmbedConfig,
    *,
    force: bool = False,
    limit: int = 0,
    shard_size: int = 2000,
    run_id: str | None = None,
    is_active: Callable[[str], bool] = lambda run_id: True,
) -> dict[str, Any]:
    """Write the run's work lists (missing image URLs, missing texts) and claim them;
    describe shards. What another open run has claimed is left to it, so overlapping
    runs never download an image or embed a text twice."""
    run_dir = Path(run_dir)
    with planning(run_dir.parent):
        return _plan_locked(db_path, run_dir, config, force, limit, shard_size,
                            run_id or run_dir.name, is_active)  # fmt: skip


def _plan_locked(
    db_path: Path,
    run_dir: Path,
    config: EmbedConfig,
    force: bool,
    limit: int,
    shard_size: int,
    run_id: str,
    is_active: Callable[[str], bool],
) -> dict[str, Any]:
    images_list, texts_list = run_dir / IMAGE_WORK, run_dir / TEXT_WORK
    held_by: list[str] = []
    if not images_list.exists():
        others = open_claims(run_dir.parent, run_dir, is_active)
        held_by = [r for _, r in others]
        known = _known(db_path, config)
        urls = _images_to_embed(known, config, force, claimed_keys(others, IMAGE_WORK, "url"))
        held_texts = claimed_keys(others, TEXT_WORK, "text_sha256")
        texts: dict[str, str] = {}
        for (text,) in known["text_rows"]:
            sha = text_sha256(text)
            if sha not in held_texts and (force or sha not in known["embedded_texts"]):
                texts.setdefault(sha, text)
        work = [{"url": u, "image_url": i} for u, i in urls.items()][: limit or None]
        work_schema = pa.schema([("url", pa.string()), ("image_url", pa.string())])
        write_parquet_atomic(work, work_schema, images_list, row_group_size=WORKLIST_ROW_GROUP)
        write_parquet_atomic(
            [{"text_sha256": k, "text": v} for k, v in texts.items()],
            pa.schema([("text_sha256", pa.string()), ("text", pa.string())]),
            texts_list,
            row_group_size=WORKLIST_ROW_GROUP,
        )
        write_parquet_atomic(
            [{"sha256": s} for s in sorted(known["embedded"])] if not force else [],
            pa.schema([("sha256", pa.string())]),
            run_dir / "embedded.parquet",
        )
        claim(run_dir, run_id)
    n_images = pq.read_metadata(images_list).num_rows
    n_texts = pq.read_metadata(texts_list).num_rows
    # Image and text shards share one mapped task: half of the map's room each.
    half = MAX_SHARDS // 2
    shards = offset_shards(run_dir, n_images, shard_size, half, kind="image")
    shards += offset_shards(run_dir, n_texts, shard_size * 10, half, kind="text")
    return {"images": n_images, "texts": n_texts, "shards": shards, "left_to": held_by}


def _known(db_path: Path, config: EmbedConfig) -> dict[str, Any]:
    """What DuckDB knows: the candidate images and texts, the downloads and their final
    failures, and what this model has embedded already."""
    ensure_tables(db_path)
    model = {"model_id": config.model_id, "revision": config.model_revision()}
    con = db.connect(db_path, read_only=True)
    try:
        return {
            "image_rows": db.run(con, "embed/image_candidates").fetchall(),
            "fetched": dict(db.run(con, "embed/fetched_ok").fetchall()),
            "failed": {r[0] for r in db.run(con, "embed/final_failures", {
                "final_statuses": list(FINAL_FAILURES), "gone": list(GONE)}).fetchall()},
            "embedded": {r[0] for r in db.run(con, "embed/embedded_images", model).fetchall()},
            "text_rows": db.run(con, "embed/text_candidates").fetchall(),
            "embedded_texts": {r[0] for r in db.run(con, "embed/embedded_texts", model).fetchall()},
        }  # fmt: skip
    finally:
        con.close()


def _images_to_embed(known: dict[str, Any], config: EmbedConfig, force: bool,
                     held: set[str]) -> dict[str, str]:  # fmt: skip
    """Fetch URL -> the product's image_url, for each image not downloaded yet (and not a
    final failure) or downloaded but not embedded; URLs another run holds are left out."""
    urls: dict[str, str] = {}
    for (image_url,) in known["image_rows"]:
        url = config.fetch_url(image_url)
        if url in held:
            continue
        sha = known["fetched"].get(url)
        if (
            force
            or (sha is None and url not in known["failed"])
            or (sha and sha not in known["embedded"])
        ):
            urls.setdefault(url, image_url)
    return urls
