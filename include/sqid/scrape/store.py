"""The scrape stage's DuckDB side: choose products, plan shards, merge shard files.

DuckDB has a single writer, so shard tasks never touch it: they write Parquet, and one
merge task loads every shard file. The merge is idempotent (attempt IDs are keys, and
an outcome only replaces an older one), so re-running it or a shard never duplicates.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid import db
from sqid.files import write_parquet_atomic
from sqid.runs import WORKLIST_ROW_GROUP, offset_shards, read_slice
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.defaults import SharedImageRule, find_shared_images
from sqid.scrape.drift import ANALYSED_KINDS, HELD_PREFIX, DriftBaseline
from sqid.scrape.records import NO_IMAGE, RETRYABLE_STATUSES, UNRECOGNISED
from sqid.scrape.shard import run_shard

log = logging.getLogger(__name__)

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
        rows = db.run(
            con,
            "scrape/select_products",
            {
                "product_ids": list(product_ids or []),
                "statuses": list(statuses or []),
                "force": bool(force),
                "retryable": sorted(RETRYABLE_STATUSES),
                "retry_age_hours": int(retry_age_hours),
                "limit": int(limit) if limit else 2**62,
            },
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


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


def drift_baseline(db_path: Path) -> DriftBaseline:
    """The product set's history for the layout-drift guard (zeros before any scrape)."""
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
            },
        ).fetchone()
    finally:
        con.close()
    return DriftBaseline(float(unrecognised), float(no_image), int(pages))


def write_drift_baseline(run_dir: Path, db_path: Path) -> None:
    """Fix the run's baseline once, at its first plan: retries judge against the same one."""
    path = Path(run_dir) / DRIFT_BASELINE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(drift_baseline(db_path))))
        tmp.replace(path)


def read_drift_baseline(run_dir: Path) -> DriftBaseline:
    path = Path(run_dir) / DRIFT_BASELINE
    return DriftBaseline(**json.loads(path.read_text())) if path.exists() else DriftBaseline()


def scrape_planned_shard(
    shard: dict[str, Any], config: ScrapeConfig, run_id: str
) -> dict[str, Any]:
    run_dir = Path(shard["run_dir"])
    chunk = read_slice(run_dir / WORKLIST, ["product_id"], shard["offset"], shard["count"])[
        "product_id"
    ]
    baseline = read_drift_baseline(run_dir)
    return run_shard(chunk, run_dir, shard["shard"], config, run_id, baseline=baseline).to_dict()


def merge_run(run_dir: Path, db_path: Path) -> dict[str, Any]:
    """Load every checkpoint of a run into DuckDB; return status counts after the merge."""
    run_dir = Path(run_dir)
    outcomes = sorted(str(p) for p in run_dir.glob("shard-*/outcomes-*.parquet"))
    attempts = sorted(str(p) for p in run_dir.glob("shard-*/attempts-*.parquet"))
    ensure_tables(db_path)
    con = db.connect(db_path)
    try:
        with db.transaction(con):
            if attempts:
                db.run(con, "scrape/merge_attempts", {"files": attempts})
            if outcomes:
                db.run(con, "scrape/merge_outcomes", {"files": outcomes})
        counts = dict(db.run(con, "scrape/count_product_images").fetchall())
    finally:
        con.close()
    merged = {
        "outcome_files": len(outcomes),
        "attempt_files": len(attempts),
        "statuses": counts,
        "run": summarise_shards(run_dir),
    }
    log.info("merged %s", merged)
    return merged


def detect_shared_defaults(
    db_path: Path, report_path: Path, rule: SharedImageRule | None = None
) -> dict[str, Any]:
    """Apply the data-driven default rule to the scraped images; flag and report."""
    rule = rule or SharedImageRule()
    con = db.connect(db_path)
    try:
        rows = db.run(con, "scrape/image_sharing").fetchall()
        shared = find_shared_images(rows, rule)
        flagged = [s for s in shared if s.is_default]
        if flagged:
            with db.transaction(con):
                db.run(
                    con,
                    "scrape/flag_shared_defaults",
                    {"image_keys": [s.image_id for s in flagged]},
                )
    finally:
        con.close()
    report = {
        "rule": asdict(rule),
        "shared_images": [
            {
                "image_id": s.image_id,
                "n_products": s.n_products,
                "title_similarity": s.title_similarity,
                "flagged_as_default": s.is_default,
                "product_ids": s.product_ids[:100],
            }
            for s in shared
        ],
        "flagged_products": sum(s.n_products for s in flagged),
    }
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2))
    return {
        "report": str(report_path),
        "flagged_images": len(flagged),
        **{"flagged_products": report["flagged_products"]},
    }


def summarise_shards(run_dir: Path) -> dict[str, Any]:
    """Totals over the shards' ``summary.json`` files: counts, requests/s, retries, captchas."""
    summaries = [
        json.loads(p.read_text()) for p in sorted(Path(run_dir).glob("shard-*/summary.json"))
    ]
    statuses: dict[str, int] = {}
    for s in summaries:
        for k, v in s["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    requests = sum(s["requests"] for s in summaries)
    seconds = sum(s["seconds"] for s in summaries)
    return {
        "shards": len(summaries),
        "stopped_shards": sum(1 for s in summaries if s["stopped"]),
        "stopped": [
            {"shard": s["shard"], "reason": s["stopped"], "drift": s.get("drift")}
            for s in summaries
            if s["stopped"]
        ],
        "products": sum(s["scraped"] for s in summaries),
        "statuses": statuses,
        "requests": requests,
        "retries": sum(s["retries"] for s in summaries),
        "captchas": sum(s["captchas"] for s in summaries),
        "throttled": sum(s.get("throttled", 0) for s in summaries),
        "gave_up": sum(v for k, v in statuses.items() if k in RETRYABLE_STATUSES),
        "requests_per_second_per_shard": round(requests / seconds, 3) if seconds else 0.0,
    }
