"""What ships beside the data of a release: the changelog, the dataset card, and (from
:mod:`sqid.release.croissant` and :mod:`sqid.release.report`) the Croissant metadata and
the HTML report; and the check that those documents are the ones the data make."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.release.card import dataset_card
from sqid.release.changes import CHANGE_KINDS, CHANGES_SCHEMA, changes_table, write_changes
from sqid.release.croissant import croissant
from sqid.release.layout import CHANGES, DATA_FILES, STATUS_FILE, manifest_of
from sqid.release.report import report_html

CHANGELOG_LISTED = 20


def _status(directory: Path) -> dict[str, dict[str, Any]]:
    rows = pq.read_table(directory / STATUS_FILE, columns=["product_id", "status"])
    return {r["product_id"]: r for r in rows.to_pylist()}


def changelog(previous: Path | None, current: Path, version: str,
              changes: pa.Table | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """CHANGELOG.md text and its numbers against ``previous``: the per-product
    ``changes`` (:mod:`sqid.release.changes`) summed up, status moves and coverage."""
    manifest = manifest_of(current)
    lines = [f"# SQID {version}", "", f"Created {manifest['created_at']}."]
    if previous is None:
        lines += ["", "First release."]
        return "\n".join(lines) + "\n", {"previous": None}
    changes = changes if changes is not None else changes_table(previous, current)
    by_kind = {kind: [] for kind in CHANGE_KINDS}
    for row in changes.select(["product_id", "change"]).to_pylist():
        by_kind[row["change"]].append(row["product_id"])
    old, new = _status(previous), _status(current)
    moves: dict[str, int] = {}
    for p in set(old) & set(new):
        if old[p]["status"] != new[p]["status"]:
            key = f"{old[p]['status']} -> {new[p]['status']}"
            moves[key] = moves.get(key, 0) + 1
    old_cov, new_cov = manifest_of(previous).get("coverage", {}), manifest.get("coverage", {})
    stats = {
        "previous": previous.name,
        **{kind: len(ids) for kind, ids in by_kind.items()},
        "status_moves": dict(sorted(moves.items())),
        "coverage_delta": {
            s: new_cov.get(s, 0) - old_cov.get(s, 0) for s in sorted(set(new_cov) | set(old_cov))
        },
    }
    lines += ["", f"Compared with {previous.name}. Every changed product, with its old and "
              f"new image IDs, is in `{CHANGES}`.", ""]  # fmt: skip
    words = {"added": "products added", "removed": "products removed",
             "image_changed": "image changed (another image, or one gained or lost)",
             "vectors_changed": "vectors changed (same image)"}  # fmt: skip
    lines += [f"- {words[kind]}: {len(ids)}" + _examples(ids) for kind, ids in by_kind.items()]
    lines += ["- status moves:" + (" none" if not moves else "")]
    lines += [f"  - `{k}`: {v}" for k, v in sorted(moves.items())]
    lines += ["- image coverage change:"]
    lines += [f"  - {s}: {old_cov.get(s, 0):.4f} -> {new_cov.get(s, 0):.4f} ({d:+.4f})"
              for s, d in stats["coverage_delta"].items()]  # fmt: skip
    return "\n".join(lines) + "\n", stats


def _examples(ids: list[str]) -> str:
    if not ids:
        return ""
    shown = ", ".join(f"`{i}`" for i in ids[:CHANGELOG_LISTED])
    return f" ({shown}{', …' if len(ids) > CHANGELOG_LISTED else ''})"


def document_release(
    staging: Path,
    version: str,
    evaluation: dict[str, Any] | None,
    image_cache: Path | None = None,
) -> dict[str, Any]:
    """The documents of a staged release, compared with the release its manifest names
    as previous, then ``SHA256SUMS`` over every file; returns the changes."""
    from sqid.release.layout import write_checksums

    named = manifest_of(staging).get("previous_release")
    previous = staging.parent / named if named and (staging.parent / named).is_dir() else None
    sums = {name: sha256_file(staging / name) for name in DATA_FILES}  # hashed once for both
    changes = write_docs(staging, version, previous, evaluation, sums, image_cache)
    write_checksums(staging, sums)
    return changes


def write_docs(
    directory: Path,
    version: str,
    previous: Path | None,
    evaluation: dict[str, Any] | None,
    sums: dict[str, str] | None = None,
    image_cache: Path | None = None,
) -> dict[str, Any]:
    """changes.parquet (after a first release), CHANGELOG.md, report.html, README.md,
    croissant.json and evaluation.json."""
    table = write_changes(previous, directory) if previous is not None else None
    text, changes = changelog(previous, directory, version, table)
    (directory / "CHANGELOG.md").write_text(text)
    previous_evaluation = None
    if previous is not None and (previous / "evaluation.json").exists():
        previous_evaluation = json.loads((previous / "evaluation.json").read_text())
    (directory / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
    (directory / "report.html").write_text(
        report_html(directory, evaluation, changes, previous_evaluation, image_cache)
    )
    (directory / "README.md").write_text(dataset_card(directory, evaluation))
    (directory / "croissant.json").write_text(json.dumps(croissant(directory, sums), indent=2))
    return changes


_PREVIOUS = re.compile(r"^Compared with (v[0-9]+\.[0-9]+\.[0-9]+)\.", re.MULTILINE)
_PICTURE = re.compile(
    r'<img src="data:image/jpeg;base64,[A-Za-z0-9+/=]*" alt="[^"<>]*">'
    r"|<div class=missing>not in the image cache</div>"
)
_ACTIVE_HTML = re.compile(
    r"<\s*/?\s*(script|iframe|object|embed|form|link|meta\s+http-equiv|base)\b"
    r"|\son[a-z]+\s*=|javascript:",
    re.IGNORECASE,
)


def document_problems(directory: Path) -> list[str]:
    """How the release's documents differ from what its own data produce.

    The card and the Croissant file are made again from the release and must be equal.
    The changelog and the report also depend on the release they compare with (named in
    the changelog): where it is beside this one they are made again too, the report's
    thumbnails (from an image cache the reader may not have) aside; where it is not, the
    report must at least hold nothing active (no script, frame, form, handler)."""
    directory = Path(directory)
    problems: list[str] = []
    evaluation = json.loads((directory / "evaluation.json").read_text()) or None
    sums = {name: sha256_file(directory / name) for name in DATA_FILES}
    expected = {
        "README.md": dataset_card(directory, evaluation),
        "croissant.json": json.dumps(croissant(directory, sums), indent=2),
    }
    changelog_text = (directory / "CHANGELOG.md").read_text()
    named = _PREVIOUS.search(changelog_text)
    previous = directory.parent / named.group(1) if named else None
    report = (directory / "report.html").read_text()
    problems += _changes_problems(directory, previous)
    if previous is None or previous.is_dir():
        text, changes = changelog(previous, directory, manifest_of(directory)["version"])
        expected["CHANGELOG.md"] = text
        previous_evaluation = None
        if previous is not None and (previous / "evaluation.json").exists():
            previous_evaluation = json.loads((previous / "evaluation.json").read_text())
        made = report_html(directory, evaluation, changes, previous_evaluation, None)
        if _PICTURE.sub("<picture>", made) != _PICTURE.sub("<picture>", report):
            problems.append("report.html is not the report this release's data make")
    elif _ACTIVE_HTML.search(report):
        problems.append("report.html holds active content (script, frame, form or handler)")
    for name, text in expected.items():
        if (directory / name).read_text() != text:
            problems.append(f"{name} is not the document this release's data make")
    return problems


def _changes_problems(directory: Path, previous: Path | None) -> list[str]:
    """``changes.parquet`` is there exactly when the release has a previous one, and,
    where that one is beside it, holds exactly the changes the two make."""
    path = directory / CHANGES
    if previous is None:
        return [f"{CHANGES} is in a first release"] if path.exists() else []
    if not path.is_file() or path.is_symlink():
        return [f"{CHANGES} is missing (the release names {previous.name} as previous)"]
    found = pq.read_table(path)
    if found.schema != CHANGES_SCHEMA:
        return [f"{CHANGES} has the columns {found.schema.names}, not {CHANGES_SCHEMA.names}"]
    if previous.is_dir() and not found.equals(changes_table(previous, directory)):
        return [f"{CHANGES} is not what {previous.name} and this release make"]
    return []
