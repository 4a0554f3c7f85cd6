"""GPU embedding benchmark for a machine with CUDA (e.g. a GPU worker of the stack).

ViT-L/14 architecture with random weights (the real model's speed), fp16 autocast, the
same ClipEncoder and prefetching pipeline as the embed stage. For each DataLoader-style
worker count and batch size it prints images/s through decode + preprocess + model,
the model-only rate on preprocessed tensors, and the mean GPU utilisation sampled with
nvidia-smi. The anchor to beat: about 310 images/s per A100 (clip-retrieval).

    python bench/gpu_embed.py [--images 2048] [--batch-sizes 64 128 256 512] [--workers 2 8 16]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from sqid.embed.clip import ClipEncoder, batched, prefetch_map
from sqid.embed.decode import decode_rgb
from sqid.embed.tinyclip import build
from sqid.localserve.cdn import synthetic_image


def gpu_utilisation(stop: threading.Event, samples: list[float]) -> None:
    while not stop.is_set():
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode == 0 and out.stdout.strip():
            samples.append(float(out.stdout.split()[0]))
        time.sleep(0.2)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 8, 16])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    with tempfile.TemporaryDirectory() as tmp:
        encoder = ClipEncoder(str(build(Path(tmp) / "vit-l", size="vit-l")), device="cuda")
    print(f"device {torch.cuda.get_device_name()}, ViT-L/14 random weights, fp16 autocast")
    blobs = []
    for i in range(256):
        out = io.BytesIO()
        synthetic_image(f"7{i:09d}L", 500).save(out, "JPEG", quality=85)
        blobs.append(out.getvalue())
    items = [blobs[i % len(blobs)] for i in range(args.images)]

    def prepare(batch: list[bytes]):
        return encoder.preprocess([decode_rgb(b)[1] for b in batch])

    for batch_size in args.batch_sizes:
        pixels = prepare(items[:batch_size])
        for _ in range(3):
            encoder.encode_pixels(pixels)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(max(1, args.images // batch_size)):
            encoder.encode_pixels(pixels)
        torch.cuda.synchronize()
        model_only = max(1, args.images // batch_size) * batch_size / (time.perf_counter() - start)
        for workers in args.workers:
            samples: list[float] = []
            stop = threading.Event()
            sampler = threading.Thread(target=gpu_utilisation, args=(stop, samples), daemon=True)
            sampler.start()
            start = time.perf_counter()
            for p in prefetch_map(prepare, batched(items, batch_size), workers=workers, ahead=2):
                encoder.encode_pixels(p)
            torch.cuda.synchronize()
            rate = args.images / (time.perf_counter() - start)
            stop.set()
            sampler.join()
            util = sum(samples) / len(samples) if samples else float("nan")
            print(f"batch {batch_size:4d} workers {workers:3d}: {rate:8.1f} images/s end to end, "
                  f"{model_only:8.1f} model only, ratio {rate / model_only:.2f}, GPU {util:5.1f}%")  # fmt: skip


if __name__ == "__main__":
    main()
