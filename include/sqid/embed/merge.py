"""The embed stage's merge: every shard's part files into DuckDB (the single writer),
idempotently (vectors keyed by model, revision and content hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqid import db
from sqid.embed.plan import ensure_tables
from sqid.runs import planning, settle


def merge(run_dir: Path, db_path: Path) -> dict[str, Any]:
    """Load every part file of a run into DuckDB (idempotent); return table counts."""
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
            counts = db.fetch_dict(con, "embed/count_embed_tables")
            statuses = dict(db.run(con, "embed/count_fetch_statuses").fetchall())
        finally:
            con.close()
        settle(run_dir)
    return {**counts, "fetch_statuses": statuses, "files": {k: len(v) for k, v in groups.items()},
            "changed": {k.removeprefix("embed/merge_"): v for k, v in changed.items()}}  # fmt: skip
