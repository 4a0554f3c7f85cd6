"""What each run did, kept for history: scrape and embed run statistics in DuckDB, and a
Parquet copy of them for readers that must not open the database.

A merge task (the single writer) records its run: one ``run_stats`` row, its counts by
dimension (outcome, HTTP status, page kind, error, retry reason, saved error pages) in
``run_counts``, and for a scrape the latency per host in ``run_latency``. Recording
replaces the run's earlier rows, so a re-run merge never duplicates them. After each
record the tables are written to ``$SQID_DATA_DIR/telemetry/*.parquet`` (temp file, then
rename): the releases page reads those, never the database a task may be writing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid import db

TABLES = ("run_stats", "run_counts", "run_latency")


def telemetry_dir() -> Path:
    from sqid.config import load_settings

    return Path(os.environ.get("SQID_TELEMETRY_DIR") or load_settings().data_dir / "telemetry")


def ensure_tables(con) -> None:
    db.run_script(con, "telemetry/create_telemetry_tables")


def record_run(con, stage: str, run_id: str, stats: Mapping[str, Any],
               counts: Mapping[str, Mapping[str, int]]) -> None:  # fmt: skip
    """Replace run ``run_id``'s telemetry; call inside the merge's transaction."""
    ensure_tables(con)
    key = {"stage": stage, "run_id": run_id}
    for statement in ("telemetry/forget_run", "telemetry/forget_run_counts"):
        db.run(con, statement, key)
    db.run(con, "telemetry/insert_run_stats", {**key, **stats})
    for dimension, by_key in counts.items():
        for name, n in sorted(by_key.items()):
            db.run(con, "telemetry/insert_run_count",
                   {**key, "dimension": dimension, "key": str(name), "n": int(n)})  # fmt: skip
    if stage == "scrape":
        db.run(con, "telemetry/forget_run_latency", {"run_id": run_id})
        db.run(con, "telemetry/insert_scrape_counts", {"run_id": run_id})
        db.run(con, "telemetry/insert_scrape_latency", {"run_id": run_id})


def export(con, directory: Path | None = None) -> Path:
    """Every telemetry table as ``<directory>/<table>.parquet``, each replaced in one rename."""
    directory = Path(directory or telemetry_dir())
    directory.mkdir(parents=True, exist_ok=True)
    ensure_tables(con)
    for table in TABLES:
        rows = db.arrow_reader(con, f"telemetry/all_{table}").read_all()
        tmp = directory / f".{table}.parquet.tmp"
        pq.write_table(rows, tmp)
        os.replace(tmp, directory / f"{table}.parquet")
    return directory


TASKS = "tasks.jsonl"
"""One line per finished task: what it cost (appended whole: a line under 4 kB is one
``write`` on an ``O_APPEND`` file, so concurrent tasks never interleave)."""


def record_task(task_instance: Any, state: str, directory: Path | None = None) -> None:
    """Append a task's duration and peak resident memory (this process's high-water
    mark, read when the task ends in its own process)."""
    import json
    import resource
    from datetime import UTC, datetime

    started = getattr(task_instance, "start_date", None)
    ended = datetime.now(UTC)
    line = json.dumps({
        "dag_id": task_instance.dag_id, "task_id": task_instance.task_id,
        "run_id": task_instance.run_id, "map_index": getattr(task_instance, "map_index", -1),
        "state": state, "ended_at": ended.isoformat(),
        "seconds": round((ended - started).total_seconds(), 3) if started else None,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })  # fmt: skip
    directory = Path(directory or telemetry_dir())
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / TASKS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def task_costs(directory: Path | None = None) -> list[dict[str, Any]]:
    path = Path(directory or telemetry_dir()) / TASKS
    if not path.is_file():
        return []
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
