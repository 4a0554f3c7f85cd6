"""The tasks of ``sqid_release``: one function per task."""

from __future__ import annotations

from sqid.orchestration import RELEASE


def release_config(params: dict):
    from sqid.config import load_settings
    from sqid.release.assemble import ReleaseConfig

    return ReleaseConfig(
        release_dir=load_settings().release_dir,
        coverage_threshold=float(params["coverage_threshold"]),
        min_vector_share=float(params.get("min_vector_share", 0.9)),
        model_id=params.get("model_id") or None,
        revision=params.get("revision") or None,
    )


def release_version(params: dict) -> str:
    from sqid.release.assemble import next_version

    config = release_config(params)
    return next_version(config.release_dir, params["bump"], params.get("version") or None)


def assemble_release(params: dict) -> dict:
    """Stage a release: data files and manifest in a hidden folder; its path via XCom."""
    from sqid.config import load_settings
    from sqid.release.assemble import assemble, new_staging

    config = release_config(params)
    version = release_version(params)
    staging = new_staging(config.release_dir, version)
    manifest = assemble(load_settings().duckdb_path, staging, config, version)
    return {"staging": str(staging), "version": version, "counts": manifest["counts"],
            "coverage": manifest["coverage"]}  # fmt: skip


def evaluate_staged(staged: dict) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.ingest.sqd import EXAMPLES
    from sqid.release.evaluate import evaluate_release

    examples = load_settings().download_dir / EXAMPLES
    if not examples.exists():
        return {}
    return evaluate_release(Path(staged["staging"]), examples)


def document_staged(staged: dict, evaluation: dict) -> dict:
    """Changelog, report, card, Croissant; then SHA256SUMS over everything."""
    from pathlib import Path

    from sqid.release.documents import document_release

    return document_release(Path(staged["staging"]), staged["version"], evaluation or None)


def validate_staged(staged: dict, params: dict) -> dict:
    """The gate: every file-level check and Croissant; raises with the failing rows."""
    from pathlib import Path

    from sqid.release.validate import require_valid

    staging = Path(staged["staging"])
    require_valid(staging, release_config(params).validation_policy())
    return {"valid": True, "staging": str(staging)}


def should_publish(staged: dict, params: dict) -> bool:
    """Publish unless this is a dry run, or the data equal the latest release's (a run
    that changed nothing must not mint a version; ``publish_unchanged`` forces it)."""
    import logging
    from pathlib import Path

    from sqid.release.assemble import LATEST, same_data

    log = logging.getLogger(__name__)
    if params["dry_run"]:
        log.info("dry run: the staged release stays at %s", staged["staging"])
        return False
    latest = Path(staged["staging"]).parent / LATEST
    unchanged = latest.exists() and same_data(Path(staged["staging"]), latest)
    if unchanged and not params["publish_unchanged"]:
        log.info("the data equal those of %s: nothing to publish", latest.resolve().name)
        return False
    return True


def publish_staged(staged: dict) -> str:
    from pathlib import Path

    from sqid.release.assemble import publish

    staging = Path(staged["staging"])
    return str(publish(staging, staging.parent, staged["version"]))


def point_latest(published: str, staged: dict, outlet_events) -> dict:
    from pathlib import Path

    from sqid.release.assemble import update_latest

    update_latest(Path(published).parent, staged["version"])
    summary = {"version": staged["version"], "path": published, **staged["counts"],
               "report": str(Path(published) / "report.html")}  # fmt: skip
    summary.pop("statuses", None)
    outlet_events[RELEASE].extra = summary
    return summary
