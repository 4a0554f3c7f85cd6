"""What changed since the previous release, per product: ``changes.parquet``.

A user holding the previous release applies these rows instead of downloading again:
``added`` and ``removed`` products, ``image_changed`` (another main image, or an image
gained or lost, with the old and new image IDs), and ``vectors_changed`` (same image,
other vectors: a new model or revision, or a new title). Status moves that change
neither the image nor the vectors are in the CHANGELOG's counts, not here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import read_batches
from sqid.release.layout import CHANGES, PRODUCT_FEATURES, STATUS_FILE

CHANGE_KINDS = ("added", "removed", "image_changed", "vectors_changed")
CHANGES_SCHEMA = pa.schema(
    [("product_id", pa.string()), ("product_set", pa.string()), ("change", pa.string()),
     ("old_status", pa.string()), ("new_status", pa.string()),
     ("old_image_id", pa.string()), ("new_image_id", pa.string())]
)  # fmt: skip
_COLUMNS = ["product_id", "product_set", "status", "image_id"]


def _statuses(release: Path) -> dict[str, dict]:
    rows = pq.read_table(release / STATUS_FILE, columns=_COLUMNS).to_pylist()
    return {r["product_id"]: r for r in rows}


def _vector_digests(release: Path) -> dict[str, bytes]:
    """Per product of the features file, a digest of its title and image vectors (read in
    batches: the file is a gigabyte)."""
    digests: dict[str, bytes] = {}
    parquet = pq.ParquetFile(release / PRODUCT_FEATURES)
    columns = ["product_id", "clip_text_features", "clip_image_features"]
    for batch in read_batches(parquet, columns):
        ids = batch.column(0).to_pylist()
        parts = [_row_bytes(batch.column(i)) for i in (1, 2)]
        for row, product_id in enumerate(ids):
            digests[product_id] = hashlib.blake2b(
                parts[0][row] + b"|" + parts[1][row], digest_size=16
            ).digest()
    return digests


def _row_bytes(column: pa.Array) -> list[bytes]:
    """Each row's float32 values as bytes (b"" for a missing vector)."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    offsets = column.offsets.to_numpy()
    values = np.asarray(column.values.to_numpy(zero_copy_only=False), dtype=np.float32)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    raw = values.tobytes()
    return [
        raw[4 * offsets[i] : 4 * offsets[i + 1]] if valid[i] else b"" for i in range(len(column))
    ]


def changes_table(previous: Path, current: Path) -> pa.Table:
    """The rows of ``changes.parquet``, ordered by product ID."""
    old, new = _statuses(previous), _statuses(current)
    old_vectors, new_vectors = _vector_digests(previous), _vector_digests(current)
    rows = []
    for product_id in sorted(set(old) | set(new)):
        before, after = old.get(product_id), new.get(product_id)
        if before is None:
            change = "added"
        elif after is None:
            change = "removed"
        elif before["image_id"] != after["image_id"]:
            change = "image_changed"
        elif old_vectors.get(product_id) != new_vectors.get(product_id):
            change = "vectors_changed"
        else:
            continue
        either = after or before
        rows.append({
            "product_id": product_id, "product_set": either["product_set"], "change": change,
            "old_status": before and before["status"], "new_status": after and after["status"],
            "old_image_id": before and before["image_id"],
            "new_image_id": after and after["image_id"],
        })  # fmt: skip
    return pa.Table.from_pylist(rows, schema=CHANGES_SCHEMA)


def write_changes(previous: Path, current: Path) -> pa.Table:
    table = changes_table(previous, current)
    pq.write_table(table, current / CHANGES)
    return table


def change_counts(table: pa.Table) -> dict[str, int]:
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for change in table.column("change").to_pylist():
        counts[change] += 1
    return counts
