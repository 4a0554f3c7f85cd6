"""``product_features.parquet`` written by gathering vectors in key order.

Letting DuckDB ``ORDER BY product_id`` a join that carries two 768-float vectors per row
sorts a gigabyte of payload (most of a release's staging time at SQID scale). Here
DuckDB sorts only the keys (product id and the row ids of its title and image vectors),
each vector table is read once per slice into a numpy matrix, and every output batch is
a fancy-index of those matrices: the same bytes, in the same order, at a fraction of the
cost. Output slices are sized so the vectors held at once stay under a byte budget, so
memory stays bounded as the release grows (a larger release takes more passes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sqid import db

VECTOR_BUDGET_BYTES = 1 << 30
"""Most bytes of vectors one slice holds in memory (both columns together)."""
BATCH_ROWS = 20_000
"""Rows per output batch (and per Parquet row group)."""


class MixedDimensionsError(ValueError):
    """Vectors of one model have more than one length; the release cannot be written."""


@dataclass
class _Matrix:
    """The vectors of some rows of one table: ``values[i]`` is the vector of ``rows[i]``."""

    rows: np.ndarray  # sorted distinct row ids
    values: np.ndarray  # (len(rows), dim) float32

    def gather(self, wanted: np.ndarray) -> pa.Array:
        """A ``list<float32>`` array of the vectors of ``wanted`` row ids (-1: null)."""
        present = wanted >= 0
        dim = self.values.shape[1]
        picked = self.values[np.searchsorted(self.rows, wanted[present])]
        lengths = np.where(present, dim, 0).astype(np.int32)
        offsets = np.zeros(len(wanted) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        mask = pa.array(~present) if not present.all() else None
        return pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(picked.reshape(-1)), mask=mask
        ).cast(pa.list_(pa.float32()))


def _read_matrix(con, statement: str, rows: np.ndarray, dims: set[int]) -> _Matrix:
    """The vectors of ``rows`` (sorted distinct row ids) from ``sql/<statement>.sql``,
    each batch copied straight into its place (the matrix is the only copy held)."""
    values = None
    found = 0
    con.register("wanted_rows", pa.table({"row_id": pa.array(rows, pa.int64())}))
    try:
        for batch in db.arrow_reader(con, statement, batch_rows=BATCH_ROWS):
            if len(batch) == 0:
                continue
            vectors = batch.column(1)
            dims.update(int(x) for x in np.unique(np.diff(vectors.offsets.to_numpy())))
            if len(dims) > 1:
                raise MixedDimensionsError(f"vectors of lengths {sorted(dims)} in one release")
            if values is None:
                values = np.empty((len(rows), next(iter(dims))), dtype=np.float32)
            flat = vectors.flatten().to_numpy(zero_copy_only=False)
            at = np.searchsorted(rows, batch.column(0).to_numpy())
            values[at] = flat.reshape(len(batch), -1)
            found += len(batch)
    finally:
        con.unregister("wanted_rows")
    if found != len(rows):  # a vector row vanished between the two queries
        raise RuntimeError(f"{statement}: {len(rows) - found} of {len(rows)} vectors not found")
    return _Matrix(rows, values if values is not None else np.empty((0, 0), np.float32))


def _slices(text_rows: np.ndarray, image_rows: np.ndarray, bytes_per_vector: int,
            budget: int, batch_rows: int) -> Iterator[slice]:  # fmt: skip
    """Contiguous output slices whose vectors fit ``budget`` bytes (at least one batch)."""
    per_row = ((text_rows >= 0).astype(np.int64) + (image_rows >= 0)) * bytes_per_vector
    start, n = 0, len(per_row)
    cumulative = np.cumsum(per_row)
    while start < n:
        spent = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, spent + budget, side="right"))
        stop = min(n, max(stop, start + batch_rows))
        yield slice(start, stop)
        start = stop


def product_feature_batches(
    con,
    model: dict[str, str],
    dims: set[int],
    budget: int = VECTOR_BUDGET_BYTES,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """``product_id, clip_text_features, clip_image_features`` of the test set, ordered by
    product id, in batches; adds the vector lengths seen to ``dims``."""
    keys = db.arrow_reader(con, "release/product_feature_rows", model).read_all()
    product_ids = keys.column("product_id")
    text_rows = keys.column("text_row").fill_null(-1).to_numpy()
    image_rows = keys.column("image_row").fill_null(-1).to_numpy()
    bytes_per_vector = 4 * (max(dims) if dims else _probe_dimension(con, model))
    for part in _slices(text_rows, image_rows, bytes_per_vector, budget, batch_rows):
        texts = _read_matrix(con, "release/text_vectors_by_row", _distinct(text_rows[part]), dims)
        images = _read_matrix(
            con, "release/image_vectors_by_row", _distinct(image_rows[part]), dims
        )
        for start in range(part.start, part.stop, batch_rows):
            rows = slice(start, min(start + batch_rows, part.stop))
            yield pa.record_batch(
                [
                    product_ids[rows].combine_chunks(),
                    texts.gather(text_rows[rows]),
                    images.gather(image_rows[rows]),
                ],
                names=["product_id", "clip_text_features", "clip_image_features"],
            )


def _distinct(rows: np.ndarray) -> np.ndarray:
    return np.unique(rows[rows >= 0])


def _probe_dimension(con, model: dict[str, Any]) -> int:
    """The length of one of the model's vectors, to size slices (768 if there are none)."""
    rows = db.run(con, "release/vector_length", model).fetchall()  # to the end: frees con
    return int(rows[0][0]) if rows and rows[0][0] else 768
