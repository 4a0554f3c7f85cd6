"""Checks of what a release promises its users beyond SQID's own files: the typed
Parquet twins of the CSVs hold the same rows, every Parquet row group fits the Hub's
dataset viewer, and taken-down products publish no vectors and are counted."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid.release.checked import CheckedRelease
from sqid.release.layout import (
    CHANGES,
    PRODUCT_FEATURES,
    QUERY_FEATURES,
    SQID_CSV,
    STATUS_FILE,
    URL_PARQUET,
    URL_SCHEMA,
)
from sqid.release.takedowns import TAKEN_DOWN

HUB_VIEWER_ROW_GROUP_BYTES = 286 * 1024 * 1024
"""The largest row group (in memory) the Hub's dataset viewer reads."""


def url_parquet(release: CheckedRelease) -> None:
    """Each typed twin holds the rows of its CSV (a missing URL null, not empty)."""
    for csv_name, name in zip(SQID_CSV, URL_PARQUET, strict=True):
        parquet = release.read(name, {f.name: f.type for f in URL_SCHEMA})
        if parquet is None or csv_name not in release.csv_rows:
            continue
        rows = parquet.read(columns=URL_SCHEMA.names).to_pylist()
        found = [(r["product_id"], r["image_url"] or "") for r in rows]
        if found != release.csv_rows[csv_name]:
            release.add("row_count", f"{name}: rows differ from {csv_name}")
        if any(r["image_url"] == "" for r in rows):
            release.add("schema", f"{name}: an empty image_url where a missing one is null")
        release.claim(f"rows[{name!r}]", release.manifest["rows"].get(name), len(rows))


def row_groups(release: CheckedRelease) -> None:
    """Row groups small enough for the Hub's dataset viewer (it reads at most 286 MiB)."""
    for name in (*URL_PARQUET, PRODUCT_FEATURES, QUERY_FEATURES, STATUS_FILE, CHANGES):
        path = release.file(name)
        if path is None:
            continue
        metadata = pq.ParquetFile(path).metadata
        big = [i for i in range(metadata.num_row_groups)
               if metadata.row_group(i).total_byte_size > HUB_VIEWER_ROW_GROUP_BYTES]  # fmt: skip
        if big:
            release.add("schema", f"{name}: row groups over 286 MiB, which the Hub's dataset "
                                  "viewer cannot read", big)  # fmt: skip


def taken_down(release: CheckedRelease) -> None:
    """Taken-down products publish no vectors, and the manifest counts them."""
    taken = {pid for pid, status in release.statuses.items() if status == TAKEN_DOWN}
    release.claim("counts['taken_down']", release.manifest["counts"].get("taken_down", 0),
                  len(taken))  # fmt: skip
    parquet = release.read(PRODUCT_FEATURES, {"product_id": pa.string()})
    if parquet is None or not taken:
        return
    columns = ["product_id", "clip_text_features", "clip_image_features"]
    with_vectors = []
    for batch in release.batches(parquet, columns):
        ids = batch.column(0).to_pylist()
        present = pc.or_(batch.column(1).is_valid(), batch.column(2).is_valid()).to_pylist()
        with_vectors += [pid for pid, has in zip(ids, present, strict=True) if has and pid in taken]
    if with_vectors:
        release.add("embeddings", "taken-down products with vectors", with_vectors)
