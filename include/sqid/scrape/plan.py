"""The scrape stage's plan: which products a run scrapes and why, claimed against
overlapping runs, written once as the run's work list and described as shards by offset;
the layout-drift baseline fixed at the same time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid import db
from sqid.files import write_parquet_atomic
from sqid.runs import (
    WORKLIST_ROW_GROUP,
    claim,
    claimed_keys,
    offset_shards,
    open_claims,
    planning,
)
from sqid.scrape.drift import HELD_PREFIX, DriftBaseline
from sqid.scrape.records import NO_IMAGE, RETRYABLE_STATUSES, UNRECOGNISED
from sqid.scrape.vocabulary import ANALYSED_KINDS

WORKLIST = "worklist.parquet"
DRIFT_BASELINE = "drift_baseline.json"


def ensure_tables(db_path: Path) -> None:
    db.apply_schema(db_path, "scrape/create_scrape_tables")


def sqid_sets_exist(db_path: Path) -> bool:
    """False on a fresh deployment, until sqid_ingest first succeeds: a scheduled scrape
    that starts before then has nothing to select and must not fail for it."""
    if not Path(db_path).exists():
        return False
    con = db.connect(db_path, read_only=True)
    try:
        return bool(db.run(con, "derive/sqid_sets_exist").fetchone()[0])
    finally:
        con.close()


def _selection_params(product_ids, statuses, force, limit, retry_age_hours) -> dict[str, Any]:
    return {
        "product_ids": list(product_ids or []),
        "statuses": list(statuses or []),
        "force": bool(force),
        "retryable": sorted(RETRYABLE_STATUSES),
        "retry_age_hours": int(retry_age_hours),
        "limit": int(limit) if limit else 2**62,
    }


def select_products(
    db_path: Path,
    *,
    product_ids: list[str] | None = None,
    statuses: list[str] | None = None,
    force: bool = False,
    limit: int | None = None,
    retry_age_hours: int = 24,
) -> list[str]:
    ensure_tables(db_path)
    con = db.connect(db_path)
    try:
        params = _selection_params(product_ids, statuses, force, limit, retry_age_hours)
        rows = db.run(con, "scrape/select_products", params).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def selection_breakdown(db_path: Path, retry_age_hours: int = 24) -> dict[str, int]:
    """Where the product set stands for the default rule, for the plan's log."""
    con = db.connect(db_path, read_only=True)
    try:
        return db.fetch_dict(con, "scrape/selection_breakdown", {
            "retryable": sorted(RETRYABLE_STATUSES), "retry_age_hours": int(retry_age_hours)})  # fmt: skip
    finally:
        con.close()


@dataclass(frozen=True)
class Selection:
    """What a run was asked to scrape (its Params)."""

    product_ids: list[str]
    statuses: list[str]
    force: bool
    limit: int
    retry_age_hours: int

    def rule(self) -> str:
        if self.product_ids:
            return f"the {len(self.product_ids)} product IDs given"
        if self.statuses:
            return f"products now in status {', '.join(self.statuses)}"
        if self.force:
            return "every product (force)"
        return f"never scraped, or retryable and older than {self.retry_age_hours} h"


def plan_run(
    run_dir: Path,
    db_path: Path,
    run_id: str,
    selection: Selection,
    *,
    shard_size: int,
    is_active: Callable[[str], bool] = lambda run_id: True,
) -> tuple[list[dict[str, Any]], str]:
    """Select, claim and shard this run's products; the shards and a sentence saying
    what was selected and why. Products another open run has claimed are left to it,
    so overlapping runs never fetch a product twice. A retried plan reuses its list."""
    run_dir = Path(run_dir)
    with planning(run_dir.parent):
        if (run_dir / WORKLIST).exists():
            shards = plan_shards(run_dir, [], shard_size=shard_size)
            return shards, f"reusing this run's work list of {_planned(shards)} products"
        chosen = select_products(
            db_path, product_ids=selection.product_ids, statuses=selection.statuses,
            force=selection.force, retry_age_hours=selection.retry_age_hours,
        )  # fmt: skip
        others = open_claims(run_dir.parent, run_dir, is_active)
        held = claimed_keys(others, WORKLIST, "product_id")
        free = [p for p in chosen if p not in held]
        ids = free[: selection.limit or None]
        write_drift_baseline(run_dir, db_path, ids)
        shards = plan_shards(run_dir, ids, shard_size=shard_size)
        claim(run_dir, run_id)
    why = f"selected {len(ids):,} products ({selection.rule()})"
    if len(chosen) > len(free):
        runs = ", ".join(r for _, r in others)
        why += f"; {len(chosen) - len(free):,} left to runs still scraping them ({runs})"
    if len(free) > len(ids):
        why += f"; {len(free) - len(ids):,} beyond the limit of {selection.limit:,}"
    if not (selection.product_ids or selection.statuses or selection.force):
        b = selection_breakdown(db_path, selection.retry_age_hours)
        why += (
            f". The set has {b['products']:,}: {b['never_scraped']:,} never scraped, "
            f"{b['retryable_due']:,} retryable and due, {b['retryable_recent']:,} retryable "
            f"but scraped in the last {selection.retry_age_hours} h, {b['final']:,} final"
        )
    return shards, why


def plan_shards(
    run_dir: Path, product_ids: list[str], shard_size: int = 500
) -> list[dict[str, Any]]:
    """Write the work list once and describe shards by offset (paths, not data, in XCom)."""
    run_dir = Path(run_dir)
    worklist = run_dir / WORKLIST
    if not worklist.exists():
        write_parquet_atomic(
            [{"product_id": p} for p in product_ids],
            pa.schema([("product_id", pa.string())]),
            worklist,
            row_group_size=WORKLIST_ROW_GROUP,
        )
    return offset_shards(run_dir, pq.read_metadata(worklist).num_rows, shard_size)


def _planned(shards: list[dict[str, Any]]) -> int:
    return sum(s["count"] for s in shards)


def drift_baseline(db_path: Path, product_ids: list[str] | None = None) -> DriftBaseline:
    """What the layout-drift guard expects of a run over ``product_ids``: each product as
    its latest analysed page was, a new one as the product set is (zeros before any
    scrape; the set's shares when no products are named)."""
    ensure_tables(db_path)
    con = db.connect(db_path, read_only=True)
    try:
        pages, unrecognised, no_image = db.run(
            con,
            "scrape/drift_baseline",
            {
                "unrecognised": UNRECOGNISED,
                "no_image": NO_IMAGE,
                "analysed_kinds": sorted(ANALYSED_KINDS),
                "held_prefix": HELD_PREFIX,
                "product_ids": list(product_ids or []),
            },
        ).fetchone()
    finally:
        con.close()
    return DriftBaseline(float(unrecognised), float(no_image), int(pages))


def write_drift_baseline(run_dir: Path, db_path: Path, product_ids: list[str]) -> None:
    """Fix the run's baseline once, at its first plan: retries judge against the same one."""
    path = Path(run_dir) / DRIFT_BASELINE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(drift_baseline(db_path, product_ids))))
        tmp.replace(path)


def read_drift_baseline(run_dir: Path) -> DriftBaseline:
    path = Path(run_dir) / DRIFT_BASELINE
    return DriftBaseline(**json.loads(path.read_text())) if path.exists() else DriftBaseline()
