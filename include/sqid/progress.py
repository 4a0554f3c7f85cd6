"""How far a scrape or embed run has got, read from its shard files alone.

Shards checkpoint Parquet part files as they go (written to a temp name, then renamed),
so a reader that only counts the rows of finished part files against the run's work
list sees progress without touching DuckDB or Airflow's metadata, from any process.
``make demo`` draws it as a progress bar while a DAG runs. A shard's own log says how
far it has got at least every :data:`LOG_EVERY` seconds (:class:`Ticker`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pyarrow.parquet as pq

# For each kind of run: its work lists, and the part files whose rows are finished work
# (one row per product for scrape; per image URL fetched, or text embedded, for embed).
WORK = {
    "scrape": (("worklist.parquet",), ("shard-*/outcomes-*.parquet",)),
    "embed": (
        ("image_work.parquet", "text_work.parquet"),
        ("image-*/fetches-*.parquet", "text-*/vectors-*.parquet"),
    ),
}


LOG_EVERY = 10.0
"""Seconds between a running shard's progress lines: a task log that stays quiet for
longer looks hung to whoever is watching it."""


class Ticker:
    """True from :meth:`due` at most once every ``every`` seconds (thread-safe)."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        self.every = every
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every:
                return False
            self._last = now
            return True


def _rows(paths) -> int:
    total = 0
    for path in paths:
        try:
            total += pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError):  # renamed away or being replaced: counted next time
            continue
    return total


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


def run_progress(run_dir: Path, kind: str) -> Progress | None:
    """Rows done and planned in one run's folder; None before its work list exists."""
    lists, parts = WORK[kind]
    if not all((run_dir / name).exists() for name in lists):
        return None
    total = _rows(run_dir / name for name in lists)
    done = _rows(path for pattern in parts for path in run_dir.glob(pattern))
    return Progress(min(done, total), total)


def newest_run(kind_dir: Path, since: float) -> Path | None:
    """The run folder under ``kind_dir`` created at or after ``since`` (epoch seconds)."""
    if not kind_dir.is_dir():
        return None
    runs = [p for p in kind_dir.iterdir() if p.is_dir() and p.stat().st_mtime >= since]
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


class ProgressBar:
    """A tqdm bar on ``stream`` for the run of ``kind`` that starts after this is
    entered, polled from a thread; nothing is drawn if ``stream`` is not a terminal."""

    def __init__(self, kind_dir: Path, kind: str, stream: TextIO, interval: float = 0.5):
        self.kind_dir, self.kind, self.stream, self.interval = kind_dir, kind, stream, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ProgressBar:
        import time

        self._since = time.time() - 1  # mtimes may have a coarse clock
        if self.kind in WORK and self.stream.isatty():
            self._thread = threading.Thread(target=self._poll, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self) -> None:
        from tqdm import tqdm

        bar = None
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                run = newest_run(self.kind_dir, self._since)
                progress = run_progress(run, self.kind) if run else None
                if progress and progress.total:
                    if bar is None:
                        unit = "products" if self.kind == "scrape" else "items"
                        bar = tqdm(total=progress.total, file=self.stream, unit=f" {unit}",
                                   leave=False, dynamic_ncols=True, desc=f"  {self.kind}")  # fmt: skip
                    bar.update(progress.done - bar.n)
                if stopping:
                    return
        finally:
            if bar is not None:
                bar.close()
