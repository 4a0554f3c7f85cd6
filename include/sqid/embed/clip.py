"""CLIP image and text embeddings, in SQID's format.

SQID publishes the raw (not L2-normalised) projected outputs of
``openai/clip-vit-large-patch14``'s ``get_image_features`` / ``get_text_features`` with
default preprocessing: 768 float32 values per image, per product title and per query.
The encoder loads weights with ``from_pretrained`` (a hub id at a pinned revision, or a
local directory) and picks CUDA with fp16 autocast when present, else CPU float32.
Image decoding and preprocessing run in worker threads while the model computes.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sqid.settings import DEFAULT_MODEL_ID

log = logging.getLogger(__name__)

DEFAULT_REVISION = "32bd64288804d66eefd0ccbe215aa642df71cc41"
"""The Hugging Face commit of ``openai/clip-vit-large-patch14`` the pipeline pins."""


def model_revision(model_id: str, revision: str | None = None) -> str:
    """The revision a model's vectors are made and stored under, for embed and release alike.

    ``local`` for a model folder; else the revision asked for; else the pinned commit for
    the default model and ``main`` for any other (the pinned commit is that repository's).
    """
    if Path(model_id).is_dir():
        return "local"
    if revision:
        return revision
    return DEFAULT_REVISION if model_id == DEFAULT_MODEL_ID else "main"


WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def weights_digest(model_id: str, revision: str | None = None) -> str | None:
    """sha256 of the model's weights file, read from a local folder or the Hugging Face
    cache (never downloaded for this); None when neither holds it. Two releases naming
    the same digest were embedded with the same weights, whatever the model's name."""
    from sqid.files import sha256_file

    for name in WEIGHT_FILES:
        path = _local_weights(model_id, revision, name)
        if path is not None:
            return sha256_file(path)
    return None


def _local_weights(model_id: str, revision: str | None, name: str) -> Path | None:
    folder = Path(model_id)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(model_id, name, revision=model_revision(model_id, revision))
    return Path(found) if isinstance(found, str) else None


MAX_TEXT_TOKENS = 77


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _features(output: Any):
    """transformers 5 returns an output object (``pooler_output``); older ones a tensor."""
    return output.pooler_output if hasattr(output, "pooler_output") else output


class ClipEncoder:
    """One CLIP model and its processor, loaded through ``from_pretrained``."""

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        revision: str | None = None,
        device: str = "auto",
    ) -> None:
        import torch
        from huggingface_hub.utils import disable_progress_bars
        from transformers import CLIPModel, CLIPProcessor
        from transformers.utils import logging as transformers_logging

        # Loading bars go to stderr, which a task log shows as ERROR lines; the load is
        # logged once instead.
        transformers_logging.disable_progress_bar()
        disable_progress_bars()
        self.model_id = model_id
        local = Path(model_id).is_dir()
        self.revision = model_revision(model_id, revision)
        kwargs = {} if local else {"revision": self.revision}
        self.device = resolve_device(device)
        self.model = CLIPModel.from_pretrained(model_id, **kwargs).eval().to(self.device)
        self.processor = CLIPProcessor.from_pretrained(model_id, **kwargs)
        self.dim = int(self.model.config.projection_dim)
        self._torch = torch
        logging.getLogger(__name__).info(
            "loaded CLIP %s (revision %s, %d dimensions) on %s",
            model_id, self.revision, self.dim, self.device,
        )  # fmt: skip

    @property
    def input_side(self) -> int:
        """The shortest image side the processor resizes to (224 for ViT-L/14)."""
        size = self.processor.image_processor.size
        side = getattr(size, "shortest_edge", None) or getattr(size, "height", None)
        if side is None and isinstance(size, dict):
            side = size.get("shortest_edge") or size.get("height")
        return int(side or 224)

    def _autocast(self):
        if self.device.startswith("cuda"):
            return self._torch.autocast("cuda", dtype=self._torch.float16)
        return self._torch.autocast("cpu", enabled=False)

    def preprocess(self, images: Sequence[Any]):
        """PIL images -> pixel tensor (CPU); safe to call from worker threads."""
        return self.processor(images=list(images), return_tensors="pt")["pixel_values"]

    def encode_pixels(self, pixel_values) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode(), self._autocast():
            out = self.model.get_image_features(pixel_values=pixel_values.to(self.device))
        return _features(out).float().cpu().numpy().astype(np.float32, copy=False)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        tokens = self.processor.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=MAX_TEXT_TOKENS,
            return_tensors="pt",
        )
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        with torch.inference_mode(), self._autocast():
            out = self.model.get_text_features(**tokens)
        return _features(out).float().cpu().numpy().astype(np.float32, copy=False)


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def prefetch_map(
    fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 2, ahead: int = 2
) -> Iterator[Any]:
    """``map(fn, items)`` in worker threads, in order, at most ``workers + ahead`` in flight.

    Used to decode and preprocess the next batches while the model computes this one.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[Any] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > max(1, workers) + ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def pipelined(
    encoder: ClipEncoder,
    batches: Iterable[tuple[list[Any], list[Any]]],
    workers: int = 2,
    ahead: int = 2,
) -> Iterator[tuple[list[Any], np.ndarray]]:
    """Embed ``(keys, images)`` batches, preprocessing ahead of the model; in input order."""
    prepared = prefetch_map(lambda kb: (kb[0], encoder.preprocess(kb[1])), batches, workers, ahead)
    for keys, pixels in prepared:
        yield keys, encoder.encode_pixels(pixels)


def embed_texts(encoder: ClipEncoder, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    start = time.monotonic()
    out = np.concatenate([encoder.encode_texts(b) for b in batched(texts, batch_size)])
    log.info("embedded %d texts in %.1fs", len(texts), time.monotonic() - start)
    return out
