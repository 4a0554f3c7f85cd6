"""The scrape stage's merge: every shard's checkpoints into DuckDB (the single writer),
then the data-driven rule for images shared by many products. Idempotent: attempt IDs
are keys and an outcome only replaces an older one, so re-running a shard or the merge
never duplicates or loses rows."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid import db, telemetry
from sqid.runs import planning, settle
from sqid.scrape.placeholders import SharedImageRule, find_shared_images
from sqid.scrape.plan import ensure_tables
from sqid.scrape.records import RETRYABLE_STATUSES
from sqid.scrape.shard import ERROR_PAGES, LAYOUT_DRIFT

log = logging.getLogger(__name__)


def merge_run(run_dir: Path, db_path: Path) -> dict[str, Any]:
    """Load every checkpoint of a run into DuckDB; return status counts after the merge."""
    run_dir = Path(run_dir)
    outcomes = sorted(str(p) for p in run_dir.glob("shard-*/outcomes-*.parquet"))
    attempts = sorted(str(p) for p in run_dir.glob("shard-*/attempts-*.parquet"))
    ensure_tables(db_path)
    with planning(run_dir.parent):
        con = db.connect(db_path)
        try:
            run = summarise_shards(run_dir)
            with db.transaction(con):
                if attempts:
                    db.run(con, "scrape/merge_attempts", {"files": attempts})
                if outcomes:
                    db.run(con, "scrape/merge_outcomes", {"files": outcomes})
                run_id = _run_id(outcomes or attempts)
                if run_id is not None:
                    _record(con, run_dir, run_id, run)
            counts = dict(db.run(con, "scrape/count_product_images").fetchall())
            telemetry.export(con)
        finally:
            con.close()
        settle(run_dir)  # its products are in DuckDB now: later plans judge them there
    merged = {
        "outcome_files": len(outcomes),
        "attempt_files": len(attempts),
        "statuses": counts,
        "run": run,
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
        "seconds": round(seconds, 3),
    }


def _run_id(files: list[str]) -> str | None:
    """The pipeline run the part files belong to (one run's folder holds one run)."""
    if not files:
        return None
    column = pq.read_table(files[0], columns=["run_id"]).column("run_id")
    return column[0].as_py() if len(column) else None


def _record(con, run_dir: Path, run_id: str, run: dict[str, Any]) -> None:
    """The run's statistics into the telemetry tables, and the first page of each error
    status (over its shards) copied to ``<run>/error-pages/``."""
    totals = db.fetch_dict(con, "telemetry/scrape_attempt_totals", {"run_id": run_id})
    reasons = sorted({s["reason"] for s in run["stopped"]})
    stats = {
        **totals, "shards": run["shards"], "items": run["products"],
        "seconds": run["seconds"], "per_second": run["requests_per_second_per_shard"],
        "retries": run["retries"], "captchas": run["captchas"], "throttled": run["throttled"],
        "drift_stops": sum(r == LAYOUT_DRIFT for r in (s["reason"] for s in run["stopped"])),
        "cache_hits": None, "finish_reason": ", ".join(reasons) if reasons else "finished",
    }  # fmt: skip
    pages = _collect_error_pages(run_dir)
    telemetry.record_run(con, "scrape", run_id, stats,
                         {"outcome": run["statuses"], "error_page": dict.fromkeys(pages, 1)})  # fmt: skip


def _collect_error_pages(run_dir: Path) -> list[str]:
    """The first saved page of each error status across the shards, in the run's folder."""
    kept = []
    for status_dir in sorted(run_dir.glob(f"shard-*/{ERROR_PAGES}/*")):
        target = run_dir / ERROR_PAGES / status_dir.name
        if status_dir.name not in kept and not target.exists():
            shutil.copytree(status_dir, target)
        if status_dir.name not in kept:
            kept.append(status_dir.name)
    return kept
