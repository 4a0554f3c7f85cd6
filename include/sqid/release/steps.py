"""The release pipeline: one sequence of steps for the DAG, the CLI and the tests.

``sqid_release`` runs each step as its own task; :func:`run_release` runs them in one
call. Either way the order is the same::

    unchanged?  ->  stage  ->  document  ->  gate  ->  publish (or discard)

The unchanged-data check comes first: it compares a fingerprint of the release's inputs,
computed in DuckDB from key columns only, with the one recorded in the newest release's
manifest, so a day on which nothing changed writes nothing and costs a few seconds. The
staged files are compared with the newest release's again after the gate (a backstop:
different inputs may still make equal files, and such a release is not published either).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqid import db
from sqid.release.assemble import (
    ReleaseConfig,
    assemble,
    inputs_fingerprint,
    resolve_model,
    same_data,
)
from sqid.release.layout import manifest_of
from sqid.release.staging import (
    discard_staging,
    mark_validated,
    new_staging,
    publish,
    run_of,
    writing,
)
from sqid.release.takedowns import read_takedowns, takedown_path
from sqid.release.versions import (
    LATEST,
    latest_version,
    next_version,
    release_lock,
    require_new,
    update_latest,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseOutcome:
    """What a run made: ``published`` is the new release's folder, ``staged`` a dry run's
    staging folder, and ``reason`` says in words why nothing was published."""

    version: str
    published: Path | None = None
    staged: Path | None = None
    reason: str = ""
    counts: dict[str, Any] | None = None


def unchanged_since(db_path: Path, config: ReleaseConfig) -> str | None:
    """The newest release when its inputs equal today's (nothing to do), else None."""
    latest = latest_version(config.release_dir)
    if latest is None:
        return None
    manifest = manifest_of(Path(config.release_dir) / latest)
    recorded = manifest.get("pipeline", {})
    if "inputs_fingerprint" not in recorded:
        return None  # written by an older version: decided after staging instead
    if "index" not in manifest:
        return None  # made before releases were searchable: the next one adds the index
    con = db.connect(db_path, read_only=True)
    try:
        model_id, revision = resolve_model(con, config)
        takedowns = read_takedowns(takedown_path(config.release_dir))
        current = inputs_fingerprint(con, {"model_id": model_id, "revision": revision}, takedowns)
    finally:
        con.close()
    return latest if current == recorded["inputs_fingerprint"] else None


def stage(
    db_path: Path, config: ReleaseConfig, version: str, run_id: str | None = None
) -> dict[str, Any]:
    """Assemble ``version`` in a fresh hidden staging folder of this process (or of
    pipeline run ``run_id``); returns its manifest."""
    with release_lock(config.release_dir):
        require_new(config.release_dir, version)
        staging = new_staging(config.release_dir, version, run_id)
    with writing(staging):
        manifest = assemble(db_path, staging, config, version)
    return {**manifest, "staging": str(staging)}


def index(staging: Path, db_path: Path) -> dict[str, Any]:
    """The search index (``index/``) and its manifest entry; before the documents, so
    the checksums cover it and the gate checks its recall."""
    from sqid.release.index import build_release_index

    with writing(staging):
        return build_release_index(staging, db_path)


def document(
    staging: Path, version: str, examples: Path | None, image_cache: Path | None = None
) -> dict[str, Any]:
    """Evaluation (when the SQD examples are at hand), documents (the report's thumbnails
    from ``image_cache``), then ``SHA256SUMS``; returns the evaluation."""
    from sqid.release.documents import document_release
    from sqid.release.evaluate import evaluate_release

    with writing(staging):
        evaluation = evaluate_release(staging, examples) if examples and examples.exists() else {}
        document_release(staging, version, evaluation or None, image_cache)
    return evaluation


def gate(staging: Path, config: ReleaseConfig) -> None:
    """Every file-level check and Croissant; raises with the failing rows. A folder that
    passes is marked, and only a marked folder, unchanged since, can be published. The
    checks, passed or not, are kept as data (:func:`sqid.release.checks_history.keep`)."""
    from sqid.release.checks_history import keep
    from sqid.release.validate import ValidationFailed, require_valid

    version, run_id = manifest_of(staging).get("version", staging.name), run_of(staging)
    try:
        rows = require_valid(staging, config.validation_policy())
    except ValidationFailed as exc:
        keep(version, exc.checks, passed=False, run_id=run_id)
        raise
    keep(version, rows, passed=True, run_id=run_id)
    mark_validated(staging)


def reason_not_to_publish(staging: Path, *, dry_run: bool, publish_unchanged: bool) -> str:
    """Why a checked staging folder is not published, or ``""`` to publish it."""
    if dry_run:
        return f"dry run: the staged release stays at {staging}"
    latest = staging.parent / LATEST
    if latest.exists() and not publish_unchanged and same_data(staging, latest):
        return f"no new version: the data equal {latest.resolve().name}"
    return ""


def discard(staging: Path) -> None:
    """Remove a staging folder that will not be published (a dry run's stays)."""
    discard_staging(staging)


def publish_release(staging: Path, version: str) -> Path:
    """Rename the validated staging folder into place, then switch ``latest``: both
    under the releases folder's lock, so no other run moves either in between."""
    with release_lock(staging.parent), writing(staging):
        final = publish(staging, staging.parent, version)
        update_latest(staging.parent, version)
    return final


def run_release(
    db_path: Path,
    config: ReleaseConfig,
    *,
    bump: str = "minor",
    version: str | None = None,
    examples: Path | None = None,
    dry_run: bool = False,
    publish_unchanged: bool = False,
    image_cache: Path | None = None,
) -> ReleaseOutcome:
    """Every step in order, in one call (``sqid release`` and the tests), holding the
    releases folder throughout: a second run at the same time stops at once with
    :class:`~sqid.release.versions.ReleaseBusyError`."""
    with release_lock(config.release_dir):
        return _run_release_locked(
            db_path, config, bump=bump, version=version, examples=examples, dry_run=dry_run,
            publish_unchanged=publish_unchanged, image_cache=image_cache,
        )  # fmt: skip


def _run_release_locked(
    db_path: Path,
    config: ReleaseConfig,
    *,
    bump: str,
    version: str | None,
    examples: Path | None,
    dry_run: bool,
    publish_unchanged: bool,
    image_cache: Path | None,
) -> ReleaseOutcome:
    version = next_version(config.release_dir, bump, version)
    require_new(config.release_dir, version)  # before the quiet-day check: a user mistake
    if not (dry_run or publish_unchanged):
        same = unchanged_since(db_path, config)
        if same:
            return ReleaseOutcome(version, reason=f"no new version: the data equal {same}")
    manifest = stage(db_path, config, version)
    staging = Path(manifest["staging"])
    index(staging, db_path)
    document(staging, version, examples, image_cache)
    gate(staging, config)  # a failed gate keeps the staging folder for inspection
    reason = reason_not_to_publish(staging, dry_run=dry_run, publish_unchanged=publish_unchanged)
    if dry_run:
        return ReleaseOutcome(version, staged=staging, reason=reason, counts=manifest["counts"])
    if reason:
        discard(staging)
        return ReleaseOutcome(version, reason=reason, counts=manifest["counts"])
    return ReleaseOutcome(version, published=publish_release(staging, version),
                          counts=manifest["counts"])  # fmt: skip
