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


def read_slice(path: Path, column: str, offset: int, count: int) -> list[Any]:
    """One shard's items of a work list (only the column asked for is read)."""
    table = pq.read_table(path, columns=[column]).slice(offset, count)
    return table.column(0).to_pylist()


def done_keys(directory: Path, pattern: str, column: str) -> set[Any]:
    """Keys already checkpointed in ``directory``'s part files matching ``pattern``."""
    files = sorted(Path(directory).glob(pattern))
    if not files:
        return set()
    return set(pq.read_table(files, columns=[column]).column(0).to_pylist())
