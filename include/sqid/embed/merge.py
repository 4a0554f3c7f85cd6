"""The embed stage's merge: every shard's part files into DuckDB (the single writer),
idempotently (vectors keyed by model, revision and content hash)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqid import db, telemetry
from sqid.embed.plan import ensure_tables
from sqid.runs import planning, settle


def merge(run_dir: Path, db_path: Path, run_id: str | None = None) -> dict[str, Any]:
    """Load every part file of a run into DuckDB (idempotent) and record the run's
    statistics (``run_id``: the pipeline run); return table counts."""
    run_dir = Path(run_dir)
    groups = {
        "embed/merge_fetches": sorted(str(p) for p in run_dir.glob("image-*/fetches-*.parquet")),
        "embed/merge_image_vectors": sorted(
            str(p) for p in run_dir.glob("image-*/vectors-*.parquet")
        ),
        "embed/merge_text_vectors": sorted(
            str(p) for p in run_dir.glob("text-*/vectors-*.parquet")
        ),
    }
    ensure_tables(db_path)
    changed = dict.fromkeys(groups, 0)
    with planning(run_dir.parent):
        con = db.connect(db_path)
        try:
            with db.transaction(con):
                for statement, files in groups.items():
                    if files:
                        [(changed[statement],)] = db.run(
                            con, statement, {"files": files}
                        ).fetchall()
                if run_id is not None:
                    _record(con, run_dir, run_id)
            counts = db.fetch_dict(con, "embed/count_embed_tables")
            statuses = dict(db.run(con, "embed/count_fetch_statuses").fetchall())
            telemetry.export(con)
        finally:
            con.close()
        settle(run_dir)
    return {**counts, "fetch_statuses": statuses, "files": {k: len(v) for k, v in groups.items()},
            "changed": {k.removeprefix("embed/merge_"): v for k, v in changed.items()}}  # fmt: skip


def _record(con, run_dir: Path, run_id: str) -> None:
    """The image shards' summaries summed into the run's telemetry."""
    summaries = [json.loads(p.read_text()) for p in sorted(run_dir.glob("image-*/summary.json"))]
    statuses: dict[str, int] = {}
    for s in summaries:
        for status, n in s["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    embedded = sum(s["embedded"] for s in summaries)
    seconds = sum(s["seconds"] for s in summaries)
    stats = {"started_at": None, "finished_at": None, "shards": len(summaries),
             "items": sum(s["urls"] for s in summaries), "requests": embedded,
             "seconds": seconds, "per_second": round(embedded / seconds, 3) if seconds else 0.0,
             "bytes": None, "retries": None, "captchas": None, "throttled": None,
             "drift_stops": None, "cache_hits": sum(s.get("cache_hits", 0) for s in summaries),
             "finish_reason": "finished"}  # fmt: skip
    telemetry.record_run(con, "embed", run_id, stats, {"outcome": statuses})
