"""Embedding benchmarks, each measured in one run on this machine.

(a) Pipeline efficiency: images/s of the embed stage (cached image bytes -> decode ->
    preprocess in worker threads -> model) vs the model alone on already-preprocessed
    tensors, same model and batch size. A ViT-B/32-shaped CLIP with random weights keeps
    the forward pass dominant, as ViT-L/14 is on a GPU worker.
(b) Renditions: bytes per image and cosine similarity between the embedding of each
    rendition and of the 1000 px original, for images from the local CDN. With random
    weights the similarity only shows how much the pixels the model sees change; pass
    ``--model DIR`` with real CLIP weights for the numbers that matter.

    python bench/bench_embed.py [--images 256] [--model DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import requests
from sqid.embed.clip import ClipEncoder, batched
from sqid.embed.config import EmbedConfig
from sqid.embed.decode import decode_rgb
from sqid.embed.shard import run_image_shard
from sqid.files import write_parquet_atomic
from sqid.localserve.cdn import ImageCDN, render_rendition, synthetic_image

RENDITIONS = ["", "_SL500_", "_AC_SX425_", "_SX300_", "_SX224_"]


def bench_pipeline(encoder: ClipEncoder, model_dir: str, n_images: int, batch_size: int) -> None:
    images = [synthetic_image(f"7{i:09d}L", 500) for i in range(n_images)]
    pixels = [encoder.preprocess(b) for b in batched(images, batch_size)]
    encoder.encode_pixels(pixels[0])  # warm-up
    start = time.perf_counter()
    for p in pixels:
        encoder.encode_pixels(p)
    model_only = n_images / (time.perf_counter() - start)

    with ImageCDN() as cdn, tempfile.TemporaryDirectory() as tmp:
        run_dir, cache = Path(tmp) / "run", Path(tmp) / "cache"
        urls = [cdn.url(f"7{i:09d}L", "_SL500_") for i in range(n_images)]
        write_parquet_atomic(
            [{"url": u, "image_url": u} for u in urls],
            pa.schema([("url", pa.string()), ("image_url", pa.string())]),
            run_dir / "image_work.parquet",
        )
        write_parquet_atomic([], pa.schema([("sha256", pa.string())]), run_dir / "embedded.parquet")
        policy = cdn.policy()
        config = EmbedConfig(
            model_id=model_dir, batch_size=batch_size, policy=policy, checkpoint_every=n_images
        )
        shard = {
            "run_dir": str(run_dir),
            "kind": "image",
            "shard": 0,
            "offset": 0,
            "count": n_images,
        }
        cold_start = time.perf_counter()
        run_image_shard(shard, config, cache, encoder)
        cold = n_images / (time.perf_counter() - cold_start)
        # Warm: every URL is in the content cache; this is decode + preprocess + model.
        for part in run_dir.glob("image-*/*.parquet"):
            part.unlink()
        warm_start = time.perf_counter()
        run_image_shard(shard, config, cache, encoder)
        warm = n_images / (time.perf_counter() - warm_start)
    print(f"(a) {n_images} images, batch {batch_size}, device {encoder.device}")
    print(f"    model only (preprocessed tensors)   {model_only:8.1f} images/s")
    print(
        f"    embed stage, images cached          {warm:8.1f} images/s  ratio {warm / model_only:.2f}"
    )
    print(
        f"    embed stage, incl. local downloads  {cold:8.1f} images/s  ratio {cold / model_only:.2f}"
    )


def bench_renditions(encoder: ClipEncoder, n_images: int) -> None:
    print(f"(b) renditions of {n_images} local-CDN images vs the 1000 px original")
    ids = [f"6{i:09d}L" for i in range(n_images)]
    originals = None
    for mods in RENDITIONS:
        blobs = [render_rendition(i, mods, "jpg") for i in ids]
        images = [decode_rgb(b)[1] for b in blobs]
        vectors = encoder.encode_pixels(encoder.preprocess(images))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if originals is None:
            originals = vectors
        cosine = (vectors * originals).sum(axis=1)
        print(
            f"    {mods or 'original':<12} {np.mean([len(b) for b in blobs]) / 1024:7.1f} KiB/image"
            f"   cosine to original: mean {cosine.mean():.4f}, min {cosine.min():.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", help="a CLIP directory (default: a random ViT-B/32-shaped CLIP)")
    args = parser.parse_args()
    requests.packages.urllib3.disable_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from sqid.embed.tinyclip import build

            model_dir = str(build(Path(tmp) / "vit-b", size="vit-b"))
        encoder = ClipEncoder(model_dir)
        bench_pipeline(encoder, model_dir, args.images, args.batch_size)
        bench_renditions(encoder, min(args.images, 64))


if __name__ == "__main__":
    main()
