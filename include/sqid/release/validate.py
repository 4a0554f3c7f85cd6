"""File-level validation of a SQID release directory (``sqid validate RELEASE_DIR``).

Works on any release folder, also one downloaded from elsewhere, and trusts none of it:
what a valid release must satisfy (vector dimension, norm band, coverage, share of
vectors present) is this module's :class:`ValidationPolicy`, never read from the
release; the manifest's numbers are claims, each checked against the files; files are
read only as regular files inside the folder (no symbolic links, no names that leave
it); a malformed file is a reported problem, not a traceback. Each failed check names
the rows that fail it.

Vectors are checked in Arrow batches with numpy (lengths, finiteness and norms over
the flattened values, duplicates by the hash of each vector's bytes), so memory stays
flat however large the release. The checks themselves are in
:mod:`sqid.release.file_checks` and :mod:`sqid.release.vector_checks`; this module runs
them in order, each guarded, and reports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqid.release.checked import CheckedRelease, Measure, Problem, ValidationPolicy
from sqid.release.file_checks import (
    checksums,
    documents,
    entries,
    index_recall,
    manifest,
    search_index,
    statuses,
    table,
)
from sqid.release.layout import SQID_CSV
from sqid.release.publication_checks import row_groups, taken_down, url_parquet
from sqid.release.vector_checks import dimension, product_features, query_features
from sqid.release.versions import ReleaseError


def validate_release(directory: Path, policy: ValidationPolicy | None = None) -> list[Problem]:
    """Every check; an empty list means the release is valid. Never raises on bad input."""
    return _validated(directory, policy).problems


def _validated(directory: Path, policy: ValidationPolicy | None) -> CheckedRelease:
    directory = Path(directory)
    release = CheckedRelease(directory, policy or ValidationPolicy())
    if not directory.is_dir():
        release.add("files", f"{directory} is not a directory")
        return release
    _guarded(release, "files", entries)
    if not _guarded(release, "manifest", manifest):
        return release
    _guarded(release, "checksums", checksums)
    for name in SQID_CSV:
        _guarded(release, "schema", table, name)
    for check, step in (("schema", url_parquet), ("schema", row_groups), ("status", statuses),
                        ("index", search_index), ("embeddings", product_features),
                        ("embeddings", query_features), ("embeddings", dimension),
                        ("embeddings", taken_down), ("index", index_recall),
                        ("documents", documents)):  # fmt: skip
        _guarded(release, check, step)
    return release


def _guarded(release: CheckedRelease, check: str, step: Callable[..., Any], *args: Any) -> Any:
    """Run one check; whatever a hostile file makes it raise becomes a problem of that
    check, never a traceback (each check still reports what it understood itself)."""
    try:
        return step(release, *args)
    except RecursionError:
        release.add(check, "a file is nested too deeply to be read")
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        release.add(check, f"could not be checked: {detail[:300]}")
    return None


def check_release(
    directory: Path, policy: ValidationPolicy | None = None, *, croissant: bool = True
) -> list[Problem]:
    """Every check a release must pass: the file-level checks, and its Croissant file
    (when ``croissant`` is set and the file is there); the one gate the DAG, the CLI
    and :func:`sqid.release.steps.run_release` apply."""
    return inspect_release(directory, policy, croissant=croissant)[0]


def inspect_release(
    directory: Path, policy: ValidationPolicy | None = None, *, croissant: bool = True
) -> tuple[list[Problem], list[Measure]]:
    """:func:`check_release`'s problems, and the numbers it judged (with warnings)."""
    from sqid.release.croissant import validate_croissant

    checked = _validated(directory, policy)
    problems = checked.problems
    path = Path(directory) / "croissant.json"
    if croissant and path.is_file() and not path.is_symlink():
        try:
            problems += [Problem("croissant", p) for p in validate_croissant(path)]
        except RecursionError:
            problems.append(Problem("croissant", "croissant.json is nested too deeply"))
        except Exception as exc:
            problems.append(
                Problem("croissant", f"cannot be checked: {type(exc).__name__}: {exc}"[:300])
            )
    return problems, checked.measures


def check_rows(problems: list[Problem], measures: list[Measure]) -> list[dict[str, Any]]:
    """Every check as data: each named check (failures counted against none allowed),
    then each number judged, with its severity, value, threshold and verdict."""
    failed: dict[str, int] = {}
    for p in problems:
        failed[p.check] = failed.get(p.check, 0) + 1
    rows = [{"check": name, "name": what, "severity": "fail", "value": failed.get(name, 0),
             "threshold": 0, "passed": name not in failed} for name, what in CHECKS.items()]  # fmt: skip
    rows += [{"check": m.check, "name": m.name, "severity": m.severity, "value": round(m.value, 6),
              "threshold": m.threshold, "passed": m.passed} for m in measures]  # fmt: skip
    return rows


class ValidationFailed(ReleaseError):
    """The gate refused a release; ``problems`` are the failing rows."""

    def __init__(self, message: str, problems: list[Problem],
                 checks: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.problems = problems
        self.checks = checks or []


def require_valid(directory: Path, policy: ValidationPolicy | None = None) -> list[dict[str, Any]]:
    """Raise :class:`~sqid.release.versions.ReleaseError`, naming every problem, unless
    the release passes :func:`check_release`; the checks as data (:func:`check_rows`),
    also on the exception."""
    problems, measures = inspect_release(directory, policy)
    rows = check_rows(problems, measures)
    if problems:
        raise ValidationFailed(report(problems, directory), problems, rows)
    return rows


CHECKS: dict[str, str] = {
    "files": "the layout's files, none missing, no links",
    "manifest": "manifest.json readable, its claims",
    "checksums": "SHA256SUMS lists every file and matches",
    "schema": "columns and types of every table",
    "unique_ids": "one row per product and query",
    "row_count": "rows agree across files and manifest",
    "image_urls": "Amazon image URLs, no known default",
    "coverage": "share of test products with an image",
    "status": "statuses agree with the CSVs",
    "embeddings": "dimension, finite, norms, shares",
    "index": "search index opens, recall@10",
    "documents": "card, changelog, report made from the data",
    "croissant": "croissant.json is valid Croissant",
}
"""Every check the gate runs, by the name its problems carry, with what it looks at."""


def summary(problems: list[Problem]) -> str:
    """The checks as a short table, one line each: ``pass`` or how many problems; after a
    manifest that cannot be read the later checks do not run, and say so."""
    failed: dict[str, int] = {}
    for p in problems:
        failed[p.check] = failed.get(p.check, 0) + 1
    stopped = "manifest" in failed and not any(
        c in failed for c in list(CHECKS)[list(CHECKS).index("checksums") :]
    )
    lines = [f"{'check':<12} {'result':<14} what"]
    for name, what in CHECKS.items():
        if name in failed:
            result = f"FAIL ({failed[name]})"
        elif stopped and list(CHECKS).index(name) > list(CHECKS).index("manifest"):
            result = "not run"
        else:
            result = "pass"
        lines.append(f"{name:<12} {result:<14} {what}")
    lines += [f"{name:<12} FAIL ({n})" for name, n in failed.items() if name not in CHECKS]
    return "\n".join(lines)


def report(problems: list[Problem], directory: Path) -> str:
    if not problems:
        return f"{directory}: valid SQID release"
    lines = [f"{directory}: {len(problems)} problem(s)"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)
