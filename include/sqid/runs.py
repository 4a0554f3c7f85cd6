"""Sharded runs, as the scrape and embed stages run them.

A run writes its work list once (Parquet, in the run's folder) and describes its shards
by offset, so only paths and numbers travel through XCom. A shard checkpoints Parquet
part files; a retried shard reads the keys its parts already hold and skips them. One
merge task loads every part into DuckDB, which has a single writer. Overlapping runs of
a stage claim their work (below), so none does another's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import time
from collections.abc import Callable, Iterator
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


# Runs that overlap (a backfill beside the daily run, two manual runs) must not do the
# same work twice. A run claims its work list when it plans, and holds the claim until
# its merge has loaded the work into DuckDB; a later plan leaves out whatever an open
# claim holds. Plans and merges of one stage take the stage's planning lock, so a plan
# never reads a claim that is half written or a merge that is half recorded.

CLAIM = "claim.json"
MERGED = "merged.json"
PLAN_LOCK = ".plan.lock"


@contextlib.contextmanager
def planning(stage_dir: Path) -> Iterator[None]:
    """Hold ``stage_dir``'s planning lock (the kernel's: a killed holder releases it)."""
    stage_dir = Path(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    with (stage_dir / PLAN_LOCK).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def claim(run_dir: Path, run_id: str) -> None:
    """Mark ``run_dir``'s work list as this run's until :func:`settle` (under the lock)."""
    path = Path(run_dir) / CLAIM
    tmp = path.with_name(f".{CLAIM}.tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "planned_at": time.time()}))
    tmp.replace(path)


def settle(run_dir: Path) -> None:
    """The run's work is in DuckDB: its claim no longer holds anything back."""
    path = Path(run_dir) / MERGED
    if Path(run_dir).is_dir() and not path.exists():
        path.write_text(json.dumps({"merged_at": time.time()}))


def open_claims(
    stage_dir: Path, this_run: Path, is_active: Callable[[str], bool] = lambda run_id: True
) -> list[tuple[Path, str]]:
    """(run folder, run id) of every other run of the stage whose claim still holds: it
    planned, has not merged, and ``is_active`` says its run is still going (a run that
    failed before merging, or was deleted, holds nothing)."""
    found = []
    for path in sorted(Path(stage_dir).glob(f"*/{CLAIM}")):
        run_dir = path.parent
        if run_dir == Path(this_run) or (run_dir / MERGED).exists():
            continue
        try:
            run_id = json.loads(path.read_text())["run_id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if is_active(run_id):
            found.append((run_dir, run_id))
    return found


def claimed_keys(claims: list[tuple[Path, str]], list_name: str, column: str) -> set[Any]:
    """The keys in the ``list_name`` work lists of ``claims``."""
    files = [str(d / list_name) for d, _ in claims if (d / list_name).exists()]
    if not files:
        return set()
    return set(pq.read_table(files, columns=[column]).column(0).to_pylist())
