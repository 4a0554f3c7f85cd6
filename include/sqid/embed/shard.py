"""The embed stage's shards: an image shard downloads its URLs safely into the content
cache and embeds each new image once, a text shard embeds titles and queries; both
checkpoint Parquet part files, and a retried shard skips what its parts hold."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sqid.embed.cache import ContentCache
from sqid.embed.clip import (
    ClipEncoder,
    batched,
    embed_texts,
    prefetch_map,
)
from sqid.embed.config import EmbedConfig
from sqid.embed.decode import decode_rgb
from sqid.embed.images import (
    OK,
    ImagePolicy,
    fetch_image,
    image_session,
)
from sqid.files import write_parquet_atomic
from sqid.progress import Ticker
from sqid.runs import (
    done_keys,
    read_slice,
)

log = logging.getLogger(__name__)

FETCH_SCHEMA = pa.schema(
    [("url", pa.string()), ("image_url", pa.string()), ("sha256", pa.string()), ("status", pa.string()),
     ("error", pa.string()), ("http_status", pa.int32()), ("attempts", pa.int32()),
     ("fetched_at", pa.int64())]
)  # fmt: skip
IMAGE_VECTOR_SCHEMA = pa.schema(
    [("model_id", pa.string()), ("revision", pa.string()), ("sha256", pa.string()),
     ("embedding", pa.list_(pa.float32()))]
)  # fmt: skip


TEXT_VECTOR_SCHEMA = pa.schema(
    [("model_id", pa.string()), ("revision", pa.string()), ("text_sha256", pa.string()),
     ("embedding", pa.list_(pa.float32()))]
)  # fmt: skip


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _prepare(encoder: ClipEncoder, policy: ImagePolicy, cache: ContentCache, shas: list[str]):
    """Read, decode and preprocess one batch in a worker thread; report undecodable images.

    Bytes are read here, one batch at a time, so a shard holds the bytes of the batches
    in flight only, never those of a whole checkpoint.
    """
    keys, images, failures = [], [], []
    for sha in shas:
        status, image, error = decode_rgb(
            cache.read(sha), policy.max_pixels, min_side=policy.min_side,
            reduce_to=encoder.input_side,
        )  # fmt: skip
        if status == OK:
            keys.append(sha)
            images.append(image)
        else:
            failures.append((sha, status, error))
    return keys, (encoder.preprocess(images) if images else None), failures


def _open_shard(
    shard: dict[str, Any], kind: str, columns: list[str]
) -> tuple[Path, dict[str, list[Any]]]:
    """The shard's own folder (created, inside the run's) and its slice of the work list."""
    run_dir = Path(shard["run_dir"])
    directory = run_dir / f"{kind}-{shard['shard']:05d}"
    directory.mkdir(parents=True, exist_ok=True)
    work = read_slice(run_dir / f"{kind}_work.parquet", columns, shard["offset"], shard["count"])
    return directory, work


def run_image_shard(shard: dict[str, Any], config: EmbedConfig, cache_dir: Path,
                    encoder: ClipEncoder | None = None) -> dict[str, Any]:  # fmt: skip
    """Fetch, verify and embed one shard of image URLs; resumable from its part files."""
    directory, work = _open_shard(shard, "image", ["url", "image_url"])
    run_dir = directory.parent
    urls = work["url"]
    image_urls = dict(zip(urls, work["image_url"], strict=True))
    done_urls = done_keys(directory, "fetches-*.parquet", "url")
    skip = done_keys(run_dir, "embedded.parquet", "sha256") | done_keys(
        directory, "vectors-*.parquet", "sha256"
    )
    cache = ContentCache(cache_dir)
    part = len(list(directory.glob("fetches-*.parquet")))
    counts: Counter[str] = Counter()
    start, ticker = time.monotonic(), Ticker()
    embedded = 0
    session = image_session(config.policy, config.download_workers)
    downloads = ThreadPoolExecutor(max_workers=config.download_workers)
    encoder = encoder or ClipEncoder(config.model_id, config.revision, config.device)
    revision = config.model_revision()

    def fetch_one(url: str) -> dict[str, Any]:
        sha = cache.lookup(url)
        if sha is not None:
            return {"url": url, "image_url": image_urls[url], "sha256": sha, "status": OK, "error": None,
                    "http_status": None, "attempts": 0, "fetched_at": _now_us()}  # fmt: skip
        got = fetch_image(config.transport_url(url), session, config.policy)
        if got.status == OK:
            cache.put(url, got.sha256, got.data)
        return {"url": url, "image_url": image_urls[url], "sha256": got.sha256, "status": got.status,
                "error": got.error,
                "http_status": got.http_status, "attempts": got.attempts,
                "fetched_at": _now_us()}  # fmt: skip

    def fetch_all(batch_urls: list[str]):
        rows = list(downloads.map(fetch_one, batch_urls))
        to_embed = {
            r["sha256"]: r["url"] for r in rows if r["status"] == OK and r["sha256"] not in skip
        }
        return rows, to_embed

    try:
        # The next checkpoint's downloads run while the model embeds this one's images.
        fetched = prefetch_map(
            fetch_all, batched([u for u in urls if u not in done_urls], config.checkpoint_every),
            workers=1,
        )  # fmt: skip
        for rows, to_embed in fetched:
            vectors, failed = [], {}
            prepared = prefetch_map(
                lambda b: _prepare(encoder, config.policy, cache, b),
                batched(list(to_embed), config.batch_size),
                workers=config.workers,
            )
            for keys, pixels, failures in prepared:
                for sha, status, error in failures:
                    failed[sha] = (status, error)
                if pixels is not None:
                    for sha, vector in zip(keys, encoder.encode_pixels(pixels), strict=True):
                        vectors.append({"model_id": config.model_id, "revision": revision,
                                        "sha256": sha, "embedding": vector.tolist()})  # fmt: skip
                if ticker.due():
                    rate = (embedded + len(vectors)) / (time.monotonic() - start)
                    log.info("image shard %d: %d embedded (%.2f images/s), %d of %d URLs "
                             "checkpointed", shard["shard"], embedded + len(vectors), rate,
                             sum(counts.values()), len(urls))  # fmt: skip
            for row in rows:  # a file that cannot be decoded is the URL's status
                if row["sha256"] in failed:
                    row["status"], row["error"] = failed[row["sha256"]]
                counts[row["status"]] += 1
            skip.update(v["sha256"] for v in vectors)
            embedded += len(vectors)
            write_parquet_atomic(
                vectors, IMAGE_VECTOR_SCHEMA, directory / f"vectors-{part:05d}.parquet"
            )
            write_parquet_atomic(rows, FETCH_SCHEMA, directory / f"fetches-{part:05d}.parquet")
            part += 1
            elapsed = time.monotonic() - start
            finished = sum(counts.values())
            rate = finished / elapsed if elapsed else 0.0
            eta = (len(urls) - len(done_urls) - finished) / rate if rate else 0.0
            log.info("image shard %d: %d/%d URLs, %d embedded, %.1f images/s, ETA %.0fs, %s",
                     shard["shard"], finished, len(urls), embedded, rate, eta, dict(counts))  # fmt: skip
    finally:
        downloads.shutdown()
        session.close()
    return {"kind": "image", "shard": shard["shard"], "urls": len(urls), "statuses": dict(counts),
            "embedded": embedded, "seconds": round(time.monotonic() - start, 2)}  # fmt: skip


def run_text_shard(shard: dict[str, Any], config: EmbedConfig,
                   encoder: ClipEncoder | None = None) -> dict[str, Any]:  # fmt: skip
    directory, work = _open_shard(shard, "text", ["text_sha256", "text"])
    done = done_keys(directory, "vectors-*.parquet", "text_sha256")
    pairs = [
        (s, t) for s, t in zip(work["text_sha256"], work["text"], strict=True) if s not in done
    ]
    encoder = encoder or ClipEncoder(config.model_id, config.revision, config.device)
    revision = config.model_revision()
    start = time.monotonic()
    part = len(list(directory.glob("vectors-*.parquet")))
    ticker, done_now = Ticker(), 0
    for chunk in batched(pairs, config.checkpoint_every * 4):
        vectors = embed_texts(encoder, [t for _, t in chunk], config.text_batch_size)
        done_now += len(chunk)
        if ticker.due():
            log.info("text shard %d: %d/%d texts embedded", shard["shard"], done_now, len(pairs))
        rows = [{"model_id": config.model_id, "revision": revision, "text_sha256": s,
                 "embedding": v.tolist()} for (s, _), v in zip(chunk, vectors, strict=True)]  # fmt: skip
        write_parquet_atomic(rows, TEXT_VECTOR_SCHEMA, directory / f"vectors-{part:05d}.parquet")
        part += 1
    return {"kind": "text", "shard": shard["shard"], "texts": len(pairs),
            "seconds": round(time.monotonic() - start, 2)}  # fmt: skip


def cache_dir_default() -> Path:
    from sqid.config import load_settings

    return Path(os.environ.get("SQID_IMAGE_CACHE", load_settings().data_dir / "image_cache"))
