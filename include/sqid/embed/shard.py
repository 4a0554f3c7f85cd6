"""The embed stage's shards: an image shard downloads its URLs safely into the content
cache and embeds each new image once, a text shard embeds titles and queries; both
checkpoint Parquet part files, and a retried shard skips what its parts hold."""

from __future__ import annotations

import json
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
from sqid.runs import done_keys, read_slice

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
    return _ImageShard(shard, config, cache_dir, encoder).run()


class _ImageShard:
    """One image shard while it runs. Per checkpoint: download its URLs (the next
    checkpoint's downloads run while the model embeds this one's images), embed each new
    image once, and write its fetch rows and vectors as one pair of part files."""

    def __init__(self, shard: dict[str, Any], config: EmbedConfig, cache_dir: Path,
                 encoder: ClipEncoder | None) -> None:  # fmt: skip
        self.directory, work = _open_shard(shard, "image", ["url", "image_url"])
        self.number, self.config = shard["shard"], config
        self.urls = work["url"]
        self.image_urls = dict(zip(self.urls, work["image_url"], strict=True))
        self.done_urls = done_keys(self.directory, "fetches-*.parquet", "url")
        self.skip = done_keys(self.directory.parent, "embedded.parquet", "sha256") | done_keys(
            self.directory, "vectors-*.parquet", "sha256"
        )
        self.cache = ContentCache(cache_dir)
        self.part = len(list(self.directory.glob("fetches-*.parquet")))
        self.counts: Counter[str] = Counter()
        self.start, self.ticker, self.embedded = time.monotonic(), Ticker(), 0
        self.cache_hits = 0
        self.encoder = encoder or ClipEncoder(config.model_id, config.revision, config.device)
        self.revision = config.model_revision()

    def run(self) -> dict[str, Any]:
        self.session = image_session(self.config.policy, self.config.download_workers)
        self.downloads = ThreadPoolExecutor(max_workers=self.config.download_workers)
        todo = [u for u in self.urls if u not in self.done_urls]
        try:
            fetched = prefetch_map(
                self._fetch, batched(todo, self.config.checkpoint_every), workers=1
            )
            for rows, to_embed in fetched:
                vectors, failed = self._embed(to_embed)
                self._checkpoint(rows, vectors, failed)
        finally:
            self.downloads.shutdown()
            self.session.close()
        summary = {"kind": "image", "shard": self.number, "urls": len(self.urls),
                   "statuses": dict(self.counts), "embedded": self.embedded,
                   "cache_hits": self.cache_hits,
                   "seconds": round(time.monotonic() - self.start, 2)}  # fmt: skip
        tmp = self.directory / ".summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, self.directory / "summary.json")
        return summary

    def _fetch_one(self, url: str) -> dict[str, Any]:
        row = {"url": url, "image_url": self.image_urls[url]}
        sha = self.cache.lookup(url)
        if sha is not None:
            return {**row, "sha256": sha, "status": OK, "error": None, "http_status": None,
                    "attempts": 0, "fetched_at": _now_us()}  # fmt: skip
        got = fetch_image(self.config.transport_url(url), self.session, self.config.policy)
        if got.status == OK:
            self.cache.put(url, got.sha256, got.data)
        return {**row, "sha256": got.sha256, "status": got.status, "error": got.error,
                "http_status": got.http_status, "attempts": got.attempts,
                "fetched_at": _now_us()}  # fmt: skip

    def _fetch(self, urls: list[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rows = list(self.downloads.map(self._fetch_one, urls))
        to_embed = {
            r["sha256"]: r["url"]
            for r in rows
            if r["status"] == OK and r["sha256"] not in self.skip
        }
        return rows, to_embed

    def _embed(self, to_embed: dict[str, str]) -> tuple[list[dict], dict[str, tuple]]:
        """Vectors of the new images; the images that cannot be decoded, with why."""
        vectors: list[dict[str, Any]] = []
        failed: dict[str, tuple[str, str | None]] = {}
        config = self.config
        prepared = prefetch_map(
            lambda b: _prepare(self.encoder, config.policy, self.cache, b),
            batched(list(to_embed), config.batch_size),
            workers=config.workers,
        )
        for keys, pixels, failures in prepared:
            failed.update((sha, (status, error)) for sha, status, error in failures)
            if pixels is not None:
                for sha, vector in zip(keys, self.encoder.encode_pixels(pixels), strict=True):
                    vectors.append({"model_id": config.model_id, "revision": self.revision,
                                    "sha256": sha, "embedding": vector.tolist()})  # fmt: skip
            if self.ticker.due():
                done = self.embedded + len(vectors)
                log.info("image shard %d: %d embedded (%.2f images/s), %d of %d URLs "
                         "checkpointed", self.number, done, done / (time.monotonic() - self.start),
                         sum(self.counts.values()), len(self.urls))  # fmt: skip
        return vectors, failed

    def _checkpoint(self, rows: list[dict], vectors: list[dict], failed: dict) -> None:
        for row in rows:  # a file that cannot be decoded is the URL's status
            if row["sha256"] in failed:
                row["status"], row["error"] = failed[row["sha256"]]
            self.counts[row["status"]] += 1
            self.cache_hits += row["attempts"] == 0
        self.skip.update(v["sha256"] for v in vectors)
        self.embedded += len(vectors)
        name = f"{self.part:05d}.parquet"
        write_parquet_atomic(vectors, IMAGE_VECTOR_SCHEMA, self.directory / f"vectors-{name}")
        write_parquet_atomic(rows, FETCH_SCHEMA, self.directory / f"fetches-{name}")
        self.part += 1
        elapsed = time.monotonic() - self.start
        finished = sum(self.counts.values())
        rate = finished / elapsed if elapsed else 0.0
        eta = (len(self.urls) - len(self.done_urls) - finished) / rate if rate else 0.0
        log.info("image shard %d: %d/%d URLs, %d embedded, %.1f images/s, ETA %.0fs, %s",
                 self.number, finished, len(self.urls), self.embedded, rate, eta,
                 dict(self.counts))  # fmt: skip


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
