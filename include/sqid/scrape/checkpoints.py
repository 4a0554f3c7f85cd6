"""A scrape shard's checkpoints: Parquet part files of its finished products and their
attempts, written to a temp name and renamed, so a killed worker loses at most the
requests in flight and a re-run resumes where it stopped; and the outcomes that hold the
pages read while the layout drifted, so they are read again."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid.files import write_parquet_atomic
from sqid.scrape.drift import HELD_PREFIX
from sqid.scrape.product import now_utc
from sqid.scrape.records import (
    ATTEMPT_SCHEMA,
    OUTCOME_SCHEMA,
    UNRECOGNISED,
    ProductOutcome,
)


def shard_dir(run_dir: Path, shard: int) -> Path:
    return Path(run_dir) / f"shard-{shard:05d}"


def done_products(directory: Path) -> set[str]:
    """Products with an outcome checkpointed in ``directory``, less those whose latest
    outcome holds a page read while the layout drifted (they are read again)."""
    files = sorted(Path(directory).glob("outcomes-*.parquet"))
    if not files:
        return set()
    table = pq.read_table(files, columns=["product_id", "scraped_at", "error"])
    latest: dict[str, tuple[Any, str | None]] = {}
    rows = zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
    for product_id, scraped_at, error in rows:  # part files in order: a tie goes to the later
        if product_id not in latest or scraped_at >= latest[product_id][0]:
            latest[product_id] = (scraped_at, error)
    return {pid for pid, (_, error) in latest.items() if not _held_for_drift(error)}


def _held_for_drift(error: str | None) -> bool:
    return error is not None and error.startswith(HELD_PREFIX)


def drift_holds(suspects: list[tuple[str, str]], run_id: str) -> list[dict[str, Any]]:
    """Outcomes that supersede those of pages read while the layout drifted."""
    at = now_utc()
    return [
        asdict(ProductOutcome(
            product_id=pid, status=UNRECOGNISED, page_kind=UNRECOGNISED, scraped_at=at,
            run_id=run_id,
            error=f"{HELD_PREFIX} read as {cls} while the layout drifted; read again on resume",
        ))
        for pid, cls in suspects
    ]  # fmt: skip


class Checkpoints:
    """A shard's finished products, written as Parquet part files every ``every``
    outcomes (attempts first: an outcome file on disk means its attempts are there
    too). Callers hold the shard's lock."""

    def __init__(self, directory: Path, every: int) -> None:
        self.directory, self.every = directory, every
        self.part = len(list(directory.glob("outcomes-*.parquet")))
        self.outcomes: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    def add(self, outcome: Any, attempts: list[Any], held: list[dict[str, Any]]) -> None:
        self.outcomes.append(asdict(outcome))
        self.attempts.extend(asdict(a) for a in attempts)
        self.outcomes.extend(held)
        if len(self.outcomes) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.outcomes:
            return
        name = f"{self.part:05d}.parquet"
        write_parquet_atomic(self.attempts, ATTEMPT_SCHEMA, self.directory / f"attempts-{name}")
        write_parquet_atomic(self.outcomes, OUTCOME_SCHEMA, self.directory / f"outcomes-{name}")
        self.part += 1
        self.outcomes, self.attempts = [], []
