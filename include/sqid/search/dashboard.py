"""What the releases page shows, read from files only: each release's facts (manifest,
evaluation, changes, the gate's checks), the checks' history, and the statistics of the
scrape and embed runs (the telemetry Parquet copy). Never the DuckDB file: a task may be
writing it. Everything is an aggregate: at 192k products the page still moves a few
kilobytes, never a table of products.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid.release.checks_history import history
from sqid.release.layout import CHANGES, INDEX_DIR, TOP_LEVEL_FILES, manifest_of, read_checksums
from sqid.release.versions import list_versions

BROKEN_ERRORS = (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError)
DAG_OF = {"scrape": "sqid_scrape", "embed": "sqid_embed", "release": "sqid_release"}


def release_facts(release_dir: Path, telemetry: Path | None = None) -> list[dict[str, Any]]:
    """Newest first: version, date, counts, coverage, status mix, nDCG and retrieval,
    changes, the gate's verdict, files. A release whose manifest or evaluation cannot be
    read is listed as broken, with why."""
    checks = {r.get("version"): r for r in history(telemetry)}
    facts = []
    for version in reversed(list_versions(release_dir)):
        try:
            facts.append(_facts_of(Path(release_dir) / version, checks.get(version)))
        except BROKEN_ERRORS as exc:
            facts.append({"version": version, "broken": f"{type(exc).__name__}: {exc}"[:300]})
    return facts


def _facts_of(folder: Path, checks: dict[str, Any] | None) -> dict[str, Any]:
    manifest = manifest_of(folder)
    evaluation_file = folder / "evaluation.json"
    evaluation = json.loads(evaluation_file.read_text()) if evaluation_file.exists() else {}
    if not isinstance(manifest, dict) or not isinstance(evaluation, dict):
        raise ValueError("manifest.json or evaluation.json is not a JSON object")
    rows = (checks or {}).get("checks") or []
    return {
        "version": folder.name,
        "created_at": manifest.get("created_at"),
        "model": manifest.get("model", {}).get("model_id"),
        "counts": {k: v for k, v in manifest.get("counts", {}).items() if k != "statuses"},
        "statuses": manifest.get("counts", {}).get("statuses", {}),
        "coverage": manifest.get("coverage", {}),
        "ndcg": {k: evaluation.get(k) for k in ("random", "clip_text", "clip_image")
                 if k in evaluation},
        "retrieval": evaluation.get("retrieval"),
        "changes": _change_counts(folder),
        "checks": {"failed": sum(not r["passed"] and r["severity"] == "fail" for r in rows),
                   "warnings": sum(not r["passed"] and r["severity"] == "warn" for r in rows),
                   "run_id": (checks or {}).get("run_id")} if checks else None,
        "searchable": (folder / INDEX_DIR).is_dir(),
        "files": [name for name in read_checksums(folder)
                  if name in TOP_LEVEL_FILES or name.startswith(f"{INDEX_DIR}/")],
    }  # fmt: skip


def _change_counts(folder: Path) -> dict[str, int] | None:
    path = folder / CHANGES
    if not path.is_file() or path.is_symlink():
        return None
    table = pq.read_table(path, columns=["change"])
    counts = table.group_by("change").aggregate([([], "count_all")]).to_pylist()
    return {r["change"]: r["count_all"] for r in counts}


def release_checks(version: str, telemetry: Path | None = None) -> dict[str, Any]:
    """The gate's checks of ``version`` and, per check, its value in every release."""
    records = history(telemetry)
    mine = next((r for r in records if r.get("version") == version), None)
    past: dict[str, dict[str, Any]] = {}
    for record in records[-12:]:
        for row in record.get("checks", []):
            past.setdefault(row["name"], {})[record["version"]] = row["value"]
    return {"record": mine, "versions": [r["version"] for r in records[-12:]], "history": past}


def _table(telemetry: Path, name: str) -> list[dict[str, Any]]:
    path = Path(telemetry) / f"{name}.parquet"
    if not path.is_file():
        return []
    return pq.read_table(path).to_pylist()


def runs(telemetry: Path, limit: int = 30) -> list[dict[str, Any]]:
    """The latest runs, newest first, each with its outcome mix and, for a scrape, the
    share of pages not understood (the drift history)."""
    stats = _table(telemetry, "run_stats")[-limit:][::-1]
    path = Path(telemetry) / "run_counts.parquet"
    outcomes: dict[tuple[str, str], dict[str, int]] = {}
    if path.is_file():
        counts = pq.read_table(path)
        counts = counts.filter(pc.equal(counts.column("dimension"), "outcome")).to_pylist()
        for row in counts:
            outcomes.setdefault((row["stage"], row["run_id"]), {})[row["key"]] = row["n"]
    for run in stats:
        mix = outcomes.get((run["stage"], run["run_id"]), {})
        run["outcomes"] = mix
        run["dag_id"] = DAG_OF[run["stage"]]
        run["unrecognised_share"] = (
            mix.get("unrecognised", 0) / run["items"] if run["items"] else 0.0
        )
    return stats


def run_detail(telemetry: Path, stage: str, run_id: str) -> dict[str, Any] | None:
    """One run's statistics, its counts by dimension, and its latency per host."""
    found = [r for r in _table(telemetry, "run_stats")
             if r["stage"] == stage and r["run_id"] == run_id]  # fmt: skip
    if not found:
        return None
    counts: dict[str, dict[str, int]] = {}
    for row in _table(telemetry, "run_counts"):
        if row["stage"] == stage and row["run_id"] == run_id:
            counts.setdefault(row["dimension"], {})[row["key"]] = row["n"]
    latency = [r for r in _table(telemetry, "run_latency") if r["run_id"] == run_id]
    return {**found[0], "dag_id": DAG_OF[stage], "counts": counts, "latency": latency}
