"""The tasks of ``sqid_release``: one function per task, each one step of
:mod:`sqid.release.steps`."""

from __future__ import annotations

import logging
from pathlib import Path

from sqid.orchestration import RELEASE, fail_fast, quiet_libraries
from sqid.orchestration.lineage import files

log = logging.getLogger(__name__)


def release_config(params: dict):
    from sqid.config import load_settings
    from sqid.release.assemble import ReleaseConfig

    return ReleaseConfig(
        release_dir=load_settings().release_dir,
        coverage_threshold=float(params["coverage_threshold"]),
        min_vector_share=float(params["min_vector_share"]),
        model_id=params.get("model_id") or None,
        revision=params.get("revision") or None,
    )


@fail_fast
def inputs_changed(params: dict) -> bool:
    """False (skip the whole run) when the inputs equal the newest release's; a dry run
    or ``publish_unchanged`` always goes on."""
    from sqid.config import load_settings
    from sqid.orchestration.params import release_params, require_declared
    from sqid.release.steps import unchanged_since

    require_declared(params, release_params)
    if params["dry_run"] or params["publish_unchanged"]:
        return True
    same = unchanged_since(load_settings().duckdb_path, release_config(params))
    if same:
        log.info("no new version: the data equal %s", same)
    return same is None


@fail_fast
def assemble_release(params: dict, run_id: str) -> dict:
    """Stage a release: data files and manifest in a hidden folder of this run; its path
    via XCom."""
    from sqid.config import load_settings
    from sqid.release.steps import stage
    from sqid.release.versions import next_version

    config = release_config(params)
    version = next_version(config.release_dir, params["bump"], params.get("version") or None)
    manifest = stage(load_settings().duckdb_path, config, version, run_id)
    files(writes=[manifest["staging"]])
    return {key: manifest[key] for key in ("staging", "version", "counts", "coverage")}


def index_staged(staged: dict) -> dict:
    """The search index of the staged release (``index/``); the same XCom goes on."""
    from sqid.config import load_settings
    from sqid.release.steps import index

    index(Path(staged["staging"]), load_settings().duckdb_path)
    files(reads=[staged["staging"]], writes=[Path(staged["staging"]) / "index"])
    return staged


def evaluate_staged(staged: dict) -> dict:
    from sqid.config import load_settings
    from sqid.ingest.sqd import EXAMPLES
    from sqid.release.evaluate import evaluate_release

    examples = load_settings().download_dir / EXAMPLES
    files(reads=[staged["staging"], *([examples] if examples.exists() else [])])
    return evaluate_release(Path(staged["staging"]), examples) if examples.exists() else {}


def document_staged(staged: dict, evaluation: dict) -> dict:
    """Changelog, report, card, Croissant; then SHA256SUMS over everything."""
    from sqid.embed.shard import cache_dir_default
    from sqid.release.documents import document_release

    files(reads=[staged["staging"]], writes=[staged["staging"]])
    with quiet_libraries():
        return document_release(Path(staged["staging"]), staged["version"], evaluation or None,
                            cache_dir_default())  # fmt: skip


def validate_staged(staged: dict, params: dict) -> dict:
    """The gate, with the table of its checks as the log's last lines."""
    from sqid.release.steps import gate
    from sqid.release.validate import ValidationFailed, summary

    files(reads=[staged["staging"]])
    with quiet_libraries():
        try:
            gate(Path(staged["staging"]), release_config(params))
        except ValidationFailed as exc:
            log.error("checks of %s:\n%s", staged["version"], summary(exc.problems))
            raise
        log.info("checks of %s:\n%s", staged["version"], summary([]))
    return {"valid": True, "staging": staged["staging"]}


def should_publish(staged: dict, params: dict) -> bool:
    """Publish unless this is a dry run or the staged data equal the newest release's;
    an unchanged staging folder is removed (a dry run's stays for inspection)."""
    from sqid.release.steps import discard, reason_not_to_publish

    staging = Path(staged["staging"])
    reason = reason_not_to_publish(
        staging, dry_run=params["dry_run"], publish_unchanged=params["publish_unchanged"]
    )
    if reason:
        log.info(reason)
        if not params["dry_run"]:
            discard(staging)
    return not reason


def publish_staged(staged: dict) -> str:
    """Rename the validated staging folder into place (under the releases lock)."""
    from sqid.release.staging import publish, writing
    from sqid.release.versions import release_lock

    staging = Path(staged["staging"])
    with release_lock(staging.parent, wait=60), writing(staging):
        published = publish(staging, staging.parent, staged["version"])
    files(reads=[staging], writes=[published])
    return str(published)


def point_latest(published: str, staged: dict, outlet_events) -> dict:
    from sqid.release.versions import release_lock, update_latest

    with release_lock(Path(published).parent, wait=60):
        link = update_latest(Path(published).parent, staged["version"])
    files(reads=[published], writes=[link])
    summary = {"version": staged["version"], "path": published, **staged["counts"],
               "report": str(Path(published) / "report.html")}  # fmt: skip
    summary.pop("statuses", None)
    outlet_events[RELEASE].extra = summary
    return summary
