"""Image downloads side by side with img2dataset, in one run, against one local CDN.

Serves N synthetic product images (the local CDN's ``_SL500_`` rendition, about 10 kB
each, TCP_NODELAY) on loopback and measures images/s for:

- the project's download path alone (``fetch_image``: allowlist, size cap, magic bytes,
  content hash), 8 threads;
- the project's whole embed shard minus the model (download, verify, content cache,
  decode, CLIP preprocessing, checkpoints), with the model's forward pass replaced by
  zeros: what an image shard costs around the GPU;
- img2dataset 1.45 on the same URLs (8 threads, 1 process), with its default decode and
  resize to 224 px ("with decode") and with ``--resize_mode no`` ("download only"). It
  runs from its own virtual environment (its pins conflict with this project's), given
  by ``--img2dataset PATH/TO/python`` or ``$IMG2DATASET_PYTHON``; without one, its rows
  are left out and the run says so. Its start-up (timed on a one-URL run) is subtracted.

Loopback has no network latency: the figures compare client-side work per image.

    python bench/bench_download.py --images 2000 --img2dataset /tmp/i2dvenv/bin/python
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import requests
from sqid.embed.images import OK, fetch_image, image_session
from sqid.files import write_parquet_atomic
from sqid.localserve.cdn import ImageCDN

THREADS = 8


def project_download(urls: list[str], policy) -> float:
    session = image_session(policy, THREADS)
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda u: fetch_image(u, session, policy), urls))
    seconds = time.perf_counter() - start
    assert all(r.status == OK for r in results), {r.status for r in results}
    return len(urls) / seconds


class NoModel:
    """A CLIP encoder whose forward pass is skipped: preprocessing stays real."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.input_side = encoder.input_side

    def preprocess(self, images):
        return self.encoder.preprocess(images)

    def encode_pixels(self, pixels):
        return np.zeros((len(pixels), 16), dtype=np.float32)


def project_shard(urls: list[str], cdn: ImageCDN, workdir: Path) -> float:
    from sqid.embed.clip import ClipEncoder
    from sqid.embed.config import EmbedConfig
    from sqid.embed.shard import run_image_shard
    from sqid.embed.tinyclip import build

    encoder = NoModel(ClipEncoder(str(build(workdir / "clip"))))
    run_dir = workdir / "run"
    write_parquet_atomic([{"url": u, "image_url": u} for u in urls],
                         pa.schema([("url", pa.string()), ("image_url", pa.string())]),
                         run_dir / "image_work.parquet")  # fmt: skip
    write_parquet_atomic([], pa.schema([("sha256", pa.string())]), run_dir / "embedded.parquet")
    config = EmbedConfig(model_id=str(workdir / "clip"), policy=cdn.policy(),
                         download_workers=THREADS)  # fmt: skip
    shard = {"run_dir": str(run_dir), "kind": "image", "shard": 0, "offset": 0, "count": len(urls)}
    start = time.perf_counter()
    result = run_image_shard(shard, config, workdir / "cache", encoder)
    seconds = time.perf_counter() - start
    assert result["statuses"] == {OK: len(urls)}, result["statuses"]
    return len(urls) / seconds


def img2dataset(python: str, urls: list[str], workdir: Path, decode: bool) -> float:
    """Images/s of one img2dataset run, its start-up subtracted (measured on one URL)."""
    startup = _img2dataset_seconds(python, urls[:1], workdir, decode)
    return len(urls) / (_img2dataset_seconds(python, urls, workdir, decode) - startup)


def _img2dataset_seconds(python: str, urls: list[str], workdir: Path, decode: bool) -> float:
    url_list = workdir / "urls.txt"
    url_list.write_text("\n".join(urls) + "\n")
    out = workdir / f"i2d-{'decode' if decode else 'raw'}-{len(urls)}"
    args = [str(Path(python).parent / "img2dataset"), "--url_list", str(url_list), "--input_format", "txt",
            "--output_folder", str(out), "--output_format", "files", "--processes_count", "1",
            "--thread_count", str(THREADS), "--number_sample_per_shard", str(len(urls)),
            "--enable_wandb", "False", "--timeout", "10", "--retries", "0"]  # fmt: skip
    args += ["--image_size", "224"] if decode else ["--resize_mode", "no"]
    start = time.perf_counter()
    subprocess.run(
        args, check=True, capture_output=True, env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    )
    seconds = time.perf_counter() - start
    got = len(list(out.glob("*/*.jpg")))
    assert got == len(urls), f"img2dataset saved {got} of {len(urls)} images"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--img2dataset", default=os.environ.get("IMG2DATASET_PYTHON"),
                        help="a python with img2dataset installed")  # fmt: skip
    args = parser.parse_args()
    with ImageCDN() as cdn, tempfile.TemporaryDirectory() as tmp:
        urls = [cdn.url(f"71{i:08d}", "_SL500_") for i in range(args.images)]
        for url in urls:  # render once, so every client downloads the same cached bytes
            requests.get(url, timeout=10).raise_for_status()
        rows = [("project: download path", project_download(urls, cdn.policy()))]
        rows.append(("project: whole shard minus the model", project_shard(urls, cdn, Path(tmp))))
        if args.img2dataset:
            rows.append(
                (
                    "img2dataset: download only",
                    img2dataset(args.img2dataset, urls, Path(tmp), False),
                )
            )
            rows.append(
                (
                    "img2dataset: with decode + resize",
                    img2dataset(args.img2dataset, urls, Path(tmp), True),
                )
            )
        print(f"{args.images} images of the local CDN (synthetic), {THREADS} threads, loopback")
        for name, rate in rows:
            print(f"  {name:<40} {rate:8.0f} images/s")
        if args.img2dataset:
            rates = dict(rows)
            shard, i2d = (
                rates["project: whole shard minus the model"],
                rates["img2dataset: with decode + resize"],
            )
            print(f"whole shard minus the model: {shard / i2d:.2f}x img2dataset with decode "
                  "(img2dataset's start-up, timed on one URL, subtracted)")  # fmt: skip
        else:
            print("img2dataset: not run (give --img2dataset PATH/TO/python)")


if __name__ == "__main__":
    main()
