"""Sharded runs, as the scrape and embed stages run them.

A run writes its work list once (Parquet, in the run's folder) and describes its shards
by offset, so only paths and numbers travel through XCom. A shard checkpoints Parquet
part files; a retried shard reads the keys its parts already hold and skips them. One
merge task loads every part into DuckDB, which has a single writer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

MAX_SHARDS = 512
"""Kept under Airflow's default ``max_map_length`` (1024)."""


WORKLIST_ROW_GROUP = 1_000
"""Rows per row group of a work list: the unit :func:`read_slice` reads."""


def offset_shards(
    run_dir: Path, total: int, size: int, max_shards: int = MAX_SHARDS, **extra: Any
) -> list[dict[str, Any]]:
    """Shard descriptions covering ``total`` work items, ``size`` each, grown as needed
    so that a run never maps more than ``max_shards`` tasks."""
    if total <= 0:
        return []
    size = max(size, math.ceil(total / max_shards))
    return [
        {
            "run_dir": str(run_dir),
            **extra,
            "shard": i,
            "offset": off,
            "count": min(size, total - off),
        }
        for i, off in enumerate(range(0, total, size))
    ]


def read_slice(path: Path, columns: list[str], offset: int, count: int) -> dict[str, list[Any]]:
    """One shard's rows of a work list, by column. Only the row groups that overlap the
    slice are read (work lists are written in small row groups), so each shard costs
    its own size, not the whole list's."""
    parquet = pq.ParquetFile(path)
    groups, first, start = [], None, 0
    for i in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(i).num_rows
        if start + rows > offset and start < offset + count:
            groups.append(i)
            first = start if first is None else first
        start += rows
    if not groups:
        return {c: [] for c in columns}
    table = parquet.read_row_groups(groups, columns=columns).slice(offset - first, count)
    return {c: table.column(c).to_pylist() for c in columns}


def done_keys(directory: Path, pattern: str, column: str) -> set[Any]:
    """Keys already checkpointed in ``directory``'s part files matching ``pattern``."""
    files = sorted(Path(directory).glob(pattern))
    if not files:
        return set()
    return set(pq.read_table(files, columns=[column]).column(0).to_pylist())
