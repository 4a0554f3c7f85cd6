"""Vector columns of a Parquet file, met batch by batch as numpy blocks.

Every step that needs all of a release's vectors (the evaluation, the search index, the
validator's recall check) reads them this way, once, and does all of its work on a
batch while it is in memory. At the SQID scale the product file holds about 1 GB of
vectors; decoding it costs seconds, and a dense copy of it would be as large again and
grow with the release. Here memory stays at about one row group however large the
release, and each step decodes the file once, whatever it computes from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid.files import read_batches


def vector_block(column: pa.ListArray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch's vectors as a (vectors, dim) view of Arrow's flat buffer (no copy when
    every vector has ``dim`` values) and each row's position in it (-1: none)."""
    sizes = pc.fill_null(pc.list_value_length(column), 0).to_numpy().astype(np.int64)
    offsets = column.offsets.to_numpy().astype(np.int64)
    # A sliced list's child may run past its last offset: keep only this batch's values.
    flat = column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    has = sizes > 0
    if (sizes[has] == dim).all() and len(flat) == has.sum() * dim:  # no gaps between them
        block = flat.reshape(-1, dim)
    else:  # mixed lengths (the gate refuses such a release): keep rows of ``dim`` only
        starts = offsets[:-1] - offsets[0]
        keep = sizes == dim
        block = (np.stack([flat[s : s + dim] for s in starts[keep]]) if keep.any()
                 else np.zeros((0, dim), np.float32))  # fmt: skip
        has = keep
    position = np.where(has, np.cumsum(has) - 1, -1)
    return block, position


def inverse_norms(block: np.ndarray) -> np.ndarray:
    """1 / L2 norm of each row (0 for a zero row), float32: scores times these are cosines."""
    norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
    return np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)


def unit_rows(block: np.ndarray) -> np.ndarray:
    """A normalised copy of ``block`` (Arrow's buffers are read-only)."""
    return block * inverse_norms(block)[:, None]


@dataclass(frozen=True)
class VectorBatch:
    """The rows ``first .. first + rows - 1`` of a file, with each vector column's block."""

    first: int
    rows: int
    blocks: dict[str, tuple[np.ndarray, np.ndarray]]
    """column -> (vectors, position of each row's vector in them or -1)."""

    def present(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """``(row numbers, vectors)`` of the rows that have a vector in ``column``, in file
        order (the vectors are the block itself: no copy)."""
        block, position = self.blocks[column]
        rows = np.flatnonzero(position >= 0)
        return self.first + rows, block[: len(rows)]


def scan(path: Path | pq.ParquetFile, columns: list[str], dims: dict[str, int] | None = None,
         row_group: int | None = None) -> Iterator[VectorBatch]:  # fmt: skip
    """The vector ``columns`` of a Parquet file, one row group at a time (or only
    ``row_group``). A column's dimension is ``dims[column]`` if given, else its first
    vector's length; vectors of another length are left out (``position`` -1), as the
    validator reports them."""
    parquet = path if isinstance(path, pq.ParquetFile) else pq.ParquetFile(path)
    dims = dict(dims or {})
    groups = None if row_group is None else [row_group]
    first = sum(parquet.metadata.row_group(g).num_rows for g in range(row_group or 0))
    for batch in read_batches(parquet, columns, row_groups=groups):
        blocks = {}
        for name in columns:
            column = batch.column(name)
            if name not in dims:
                lengths = pc.list_value_length(column)
                lengths = pc.filter(lengths, pc.greater(lengths, 0))
                if len(lengths):
                    dims[name] = int(lengths[0].as_py())
            if name in dims:
                blocks[name] = vector_block(column, dims[name])
            else:  # no vector met yet in this column
                blocks[name] = (np.zeros((0, 0), np.float32), np.full(batch.num_rows, -1))
        yield VectorBatch(first, batch.num_rows, blocks)
        first += batch.num_rows
