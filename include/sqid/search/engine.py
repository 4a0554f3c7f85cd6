"""Queries against a release: text, reverse image, image plus feedback, similar products.

Text and images are embedded with the release's own model (its manifest names it), so a
query lands in the space of the release's vectors; everything else is the index.
Composed retrieval ("this, but more floral") is the training-free baseline: spherical
interpolation between the normalised image and text embeddings, then a nearest-
neighbour search from the point between them; ``weight`` 0 is the image alone, 1 the
text alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from sqid.knn import normalise, open_index, search_keys
from sqid.release.layout import CATALOGUE, INDEX_DIR, KINDS, manifest_of

CATALOGUE_COLUMNS = ("title", "image_url", "image_sha256", "status")
PRODUCT_PAGE = "https://www.amazon.com/dp/{}"
FILTER_OVERFETCH = 20
"""A filtered search asks the index for this many times the results it shows."""


class SearchError(ValueError):
    """A query the release cannot answer (no index, unknown product, unreadable image)."""


@dataclass(frozen=True)
class Hit:
    rank: int
    product_id: str
    score: float
    title: str | None
    image_url: str | None
    image_sha256: str | None
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "product_url": PRODUCT_PAGE.format(self.product_id)}


def slerp(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """The point ``weight`` of the way from unit vector ``a`` to unit vector ``b`` along
    the great circle between them (linear where they are (anti)parallel)."""
    a, b = normalise(a), normalise(b)
    cos = float(np.clip(np.dot(a, b), -1.0, 1.0))
    angle = np.arccos(cos)
    if np.sin(angle) < 1e-6:
        return normalise((1 - weight) * a + weight * b)
    s = np.sin(angle)
    return normalise((np.sin((1 - weight) * angle) * a + np.sin(weight * angle) * b) / s)


@lru_cache(maxsize=2)
def shared_encoder(model_id: str, revision: str | None, device: str):
    """One loaded CLIP per model, shared by every release that names it (ViT-L/14 holds
    about 1.7 GB); the least recently used of more than two is let go."""
    from sqid.embed.clip import ClipEncoder

    return ClipEncoder(model_id, revision, device)


class Searcher:
    """One release, opened for search; the model is loaded on the first text or image."""

    def __init__(self, release: Path, model: str | None = None, device: str = "auto"):
        self.release = Path(release)
        if not self.release.is_dir():
            raise SearchError(f"no such release: {self.release}")
        if not (self.release / INDEX_DIR / CATALOGUE).exists():
            raise SearchError(f"{self.release} has no search index (index/); releases made "
                              "before search was added can be indexed with a new release")  # fmt: skip
        self.manifest = manifest_of(self.release)
        self.nprobe = (self.manifest.get("index") or {}).get("nprobe") or {}
        self.model_id = model or self.manifest["model"]["model_id"]
        self.revision = None if model else self.manifest["model"].get("revision")
        self.device = device
        catalogue = pq.read_table(self.release / INDEX_DIR / CATALOGUE)
        self.product_ids = catalogue.column("product_id").to_pylist()
        self._columns = {n: catalogue.column(n) for n in CATALOGUE_COLUMNS
                         if n in catalogue.column_names}  # fmt: skip
        self.statuses = sorted(set(self._columns["status"].to_pylist()) - {None}) \
            if "status" in self._columns else []  # fmt: skip
        self._rows = {pid: i for i, pid in enumerate(self.product_ids)}
        self._indexes: dict[str, Any] = {}

    def index(self, kind: str):
        if kind not in self._indexes:
            self._indexes[kind] = open_index(self.release, kind, self.nprobe.get(kind))
        return self._indexes[kind]

    @cached_property
    def encoder(self):
        return shared_encoder(self.model_id, self.revision, self.device)

    # --- query vectors --------------------------------------------------------------

    def text_vector(self, text: str) -> np.ndarray:
        if not text.strip():
            raise SearchError("the text query is empty")
        return normalise(self.encoder.encode_texts([text])[0])

    def image_vector(self, data: bytes) -> np.ndarray:
        from sqid.embed.decode import decode_rgb

        status, image, error = decode_rgb(data, reduce_to=self.encoder.input_side)
        if image is None:
            raise SearchError(f"the image cannot be used: {status} ({error})")
        return normalise(self.encoder.encode_pixels(self.encoder.preprocess([image]))[0])

    def product_vector(self, product_id: str) -> tuple[str, np.ndarray]:
        """The product's image vector (else its title vector), and which it is."""
        row = self._rows.get(product_id)
        if row is None:
            raise SearchError(f"{product_id!r} is not in this release's catalogue")
        parquet = pq.ParquetFile(self.release / "product_features.parquet")
        group, first = 0, 0
        while first + parquet.metadata.row_group(group).num_rows <= row:
            first += parquet.metadata.row_group(group).num_rows
            group += 1
        columns = [KINDS["image"], KINDS["title"]]
        values = parquet.read_row_group(group, columns=columns).slice(row - first, 1)
        for kind in ("image", "title"):
            vector = values.column(KINDS[kind])[0].as_py()
            if vector:
                return kind, normalise(np.asarray(vector, dtype=np.float32))
        raise SearchError(f"{product_id!r} has neither an image nor a title vector")

    # --- searches ---------------------------------------------------------------------

    def nearest(self, vector: np.ndarray, kind: str, k: int, exclude: str | None = None,
                status: str | None = None) -> list[Hit]:  # fmt: skip
        """The ``k`` products whose ``kind`` vectors are nearest ``vector`` (with
        ``status``, among the products of that status: the index is asked for more)."""
        if status and "status" not in self._columns:
            raise SearchError("this release's catalogue has no statuses to filter by")
        wanted = k + (1 if exclude else 0)
        ask = min(len(self.product_ids), wanted * FILTER_OVERFETCH) if status else wanted
        keys, scores = search_keys(self.index(kind), vector[None, :].astype(np.float32), ask)
        hits = []
        for key, score in zip(keys[0], scores[0], strict=True):
            if key < 0 or self.product_ids[key] == exclude or len(hits) == k:
                continue
            if status and self._columns["status"][int(key)].as_py() != status:
                continue
            hits.append(self._hit(len(hits) + 1, int(key), float(score)))
        return hits

    def _hit(self, rank: int, row: int, score: float) -> Hit:
        value = {n: c[row].as_py() for n, c in self._columns.items()}
        return Hit(rank, self.product_ids[row], round(score, 6), **value)

    def by_text(self, text: str, k: int = 10, over: str = "image",
                status: str | None = None) -> list[Hit]:  # fmt: skip
        """Products for a text: over their images (CLIP's cross-modal search) or titles."""
        return self.nearest(self.text_vector(text), over, k, status=status)

    def by_image(self, data: bytes, k: int = 10, feedback: str | None = None,
                 weight: float = 0.3, status: str | None = None) -> list[Hit]:  # fmt: skip
        """Products that look like an image; with ``feedback``, moved toward the text."""
        vector = self.image_vector(data)
        if feedback:
            vector = slerp(vector, self.text_vector(feedback), weight)
        return self.nearest(vector, "image", k, status=status)

    def by_product(self, product_id: str, k: int = 10, status: str | None = None) -> list[Hit]:
        """Products like this one (by image if it has one, else by title), itself left out."""
        kind, vector = self.product_vector(product_id)
        return self.nearest(vector, kind, k, exclude=product_id, status=status)
