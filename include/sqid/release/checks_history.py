"""The gate's checks as data, kept per release: every check with its severity, value,
threshold and verdict, written when the gate runs (also when it fails) to
``$SQID_DATA_DIR/telemetry/release_checks/<version>.json``, beside the run statistics.
The releases page reads them for a release's checks and their history."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqid.release.versions import parse_version
from sqid.telemetry import telemetry_dir

CHECKS_DIR = "release_checks"


def keep(version: str, rows: list[dict[str, Any]], *, passed: bool,
         run_id: str | None = None) -> Path:  # fmt: skip
    """Write the checks of ``version`` (the latest gate's verdict replaces an earlier one),
    with the pipeline run that made it when there was one."""
    folder = telemetry_dir() / CHECKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    record = {"version": version, "checked_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "passed": passed, "run_id": run_id, "checks": rows}  # fmt: skip
    path = folder / f"{version}.json"
    tmp = folder / f".{version}.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)
    return path


def history(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every kept record, oldest version first; an unreadable one is left out."""
    folder = Path(directory or telemetry_dir()) / CHECKS_DIR
    records = []
    for path in folder.glob("v*.json"):
        if parse_version(path.stem) is None or path.is_symlink():
            continue
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: parse_version(r.get("version", "")) or (0, 0, 0))
