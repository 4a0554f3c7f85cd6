"""A release's data files in the published SQID layout, and its manifest.

Everything is streamed from DuckDB in record batches (vectors as ``list<float32>``), so
memory stays flat as the release grows; :func:`inputs_fingerprint` says, from key columns
alone, whether anything a release is made of has changed since the last one.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid import db
from sqid.embed.clip import model_revision, weights_digest
from sqid.release.layout import (
    DATA_FILES,
    MANIFEST,
    PRODUCT_FEATURES,
    PRODUCT_FEATURES_SCHEMA,
    QUERY_FEATURES,
    QUERY_FEATURES_SCHEMA,
    SQID_CSV,
    STATUS_FILE,
    URL_PARQUET,
    URL_SCHEMA,
    read_checksums,
)
from sqid.release.takedowns import Takedown, TakenDown, digest, read_takedowns, takedown_path
from sqid.release.vectors import MixedDimensionsError, product_feature_batches
from sqid.release.versions import ReleaseError, latest_version
from sqid.release.writers import empty_as_null, published_urls, write_csv, write_parquet
from sqid.settings import COVERAGE_THRESHOLD, MIN_VECTOR_SHARE, NORM_BAND


@dataclass(frozen=True)
class ReleaseConfig:
    release_dir: Path
    coverage_threshold: float = COVERAGE_THRESHOLD.default
    min_vector_share: float = MIN_VECTOR_SHARE.default
    norm_band: tuple[float, float] = NORM_BAND
    model_id: str | None = None
    revision: str | None = None
    previous: str | None = None
    """Version to compare with; default: the newest published one."""
    extra: dict[str, Any] = field(default_factory=dict)

    def validation_policy(self):
        """The gate's policy: this configuration's thresholds, never the manifest's."""
        from sqid.release.validate import ValidationPolicy

        return ValidationPolicy(
            require_index=True,
            norm_band=self.norm_band,
            coverage_threshold=self.coverage_threshold,
            min_image_vector_share=self.min_vector_share,
            min_text_vector_share=self.min_vector_share,
        )


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("SQID_GIT_COMMIT", "unknown")


def package_version() -> str:
    return _installed_version("sqid-pipeline") or "unknown"


def _installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def resolve_model(con, config: ReleaseConfig) -> tuple[str, str]:
    if config.model_id:
        return config.model_id, model_revision(config.model_id, config.revision)
    row = db.run(con, "release/default_model").fetchone()
    if row is None:
        raise ReleaseError("no image embeddings in the database: run sqid_embed first")
    return row[0], row[1]


def inputs_fingerprint(con, model: dict[str, str], takedowns: list[Takedown]) -> str:
    """A digest of everything the data files are made of (see the SQL for what counts),
    with the takedown list and the package version (a new writer may write other bytes
    from the same rows)."""
    cursor = db.run(con, "release/inputs_fingerprint", model)
    [values] = cursor.fetchall()  # fetched to the end: the connection is free again
    row = dict(zip([d[0] for d in cursor.description], values, strict=True))
    row.update(model, package_version=package_version(), takedowns=digest(takedowns))
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


def assemble(db_path: Path, staging: Path, config: ReleaseConfig, version: str) -> dict[str, Any]:
    """Write the data files and the manifest (without checksums) into ``staging``."""
    con = db.connect(db_path, read_only=True)
    try:
        db.run(con, "release/memory_limit")
        model_id, revision = resolve_model(con, config)
        model = {"model_id": model_id, "revision": revision}
        takedowns = read_takedowns(takedown_path(config.release_dir))
        fingerprint = inputs_fingerprint(con, model, takedowns)
        rows, dimensions, taken_down = _write_data_files(con, staging, model, takedowns)
        sqd_files = [dict(zip(("file_name", "url", "size", "sha256"), r, strict=True))
                     for r in db.run(con, "release/sqd_files").fetchall()]  # fmt: skip
        rule = db.run(con, "release/set_rule").fetchone()
        history = [dict(zip(("day", "outcome", "attempts"), r, strict=True))
                   for r in db.run(con, "release/status_over_time").fetchall()]  # fmt: skip
    finally:
        con.close()
    statuses = _statuses(staging / STATUS_FILE)
    manifest = {
        "name": "Shopping Queries Image Dataset (SQID)",
        "version": version,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "previous_release": config.previous or latest_version(config.release_dir),
        "sqd_files": sqd_files,
        "rows": rows,
        "counts": {
            "test_products": rows[SQID_CSV[0]],
            "supp_products": rows[SQID_CSV[1]],
            "queries": rows[QUERY_FEATURES],
            "taken_down": taken_down,
            "statuses": statuses,
        },
        "coverage": {
            s: (c.get("ok", 0) / sum(c.values()) if c else 0.0) for s, c in statuses.items()
        },
        # More than one dimension: the gate names them.
        "model": {
            **model,
            "dimension": min(dimensions) if dimensions else None,
            "weights_sha256": weights_digest(model_id, revision),
        },
        "pipeline": {
            "package_version": package_version(),
            "git_commit": git_commit(),
            "airflow_version": _installed_version("apache-airflow"),
            "inputs_fingerprint": fingerprint,
        },
        "config": {
            "coverage_threshold": config.coverage_threshold,
            "min_vector_share": config.min_vector_share,
            "norm_band": list(config.norm_band),
            "min_supp_judgements": rule[0] if rule else None,
            "image_url": "the page's display rendition of the main image (see product_image_status.parquet for hires_url)",
            **config.extra,
        },
        "status_over_time": history,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _write_data_files(con, staging: Path, model: dict[str, str],
                      taken: list[Takedown]) -> tuple[dict[str, int], set[int], int]:  # fmt: skip
    """The data files of the layout; their rows in the manifest's order, the vector
    dimensions seen, and how many products are taken down. The vector file is a
    gigabyte, and writing it waits on the disk more than on the CPU: it goes on a second
    thread (its own DuckDB cursor) while this one writes the other files."""
    rows: dict[str, int] = {}
    dimensions: set[int] = set()
    status = db.arrow_reader(con, "release/product_image_status").read_all()
    removed = TakenDown(taken, status)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="product-features") as pool:
        vectors = pool.submit(
            write_parquet,
            product_feature_batches(con.cursor(), model, dimensions),
            PRODUCT_FEATURES_SCHEMA,
            staging / PRODUCT_FEATURES,
            removed.apply,
        )
        for csv_name, twin, product_set in zip(
            SQID_CSV, URL_PARQUET, ("test", "supp"), strict=True
        ):
            urls = db.arrow_reader(con, "release/product_image_urls", {"product_set": product_set})
            table = removed.apply(published_urls(urls.read_all()))
            rows[csv_name] = write_csv(table, staging / csv_name)
            rows[twin] = write_parquet([empty_as_null(table)], URL_SCHEMA, staging / twin)
        rows[QUERY_FEATURES] = write_parquet(
            db.arrow_reader(con, "release/query_features", model),
            QUERY_FEATURES_SCHEMA,
            staging / QUERY_FEATURES,
        )
        rows[STATUS_FILE] = write_parquet(status.to_batches(), status.schema,
                                           staging / STATUS_FILE, removed.apply)  # fmt: skip
        try:
            rows[PRODUCT_FEATURES] = vectors.result()
        except MixedDimensionsError as exc:
            raise ReleaseError(f"{model['model_id']}@{model['revision']}: {exc}") from exc
    return {name: rows[name] for name in DATA_FILES}, dimensions, len(removed)


def _statuses(status_file: Path) -> dict[str, dict[str, int]]:
    """Products per status in each set, sorted (the manifest's claim the gate checks)."""
    status = pq.read_table(status_file, columns=["product_set", "status"])
    statuses: dict[str, dict[str, int]] = {}
    for r in status.group_by(["product_set", "status"]).aggregate([([], "count_all")]).to_pylist():
        statuses.setdefault(r["product_set"], {})[r["status"]] = r["count_all"]
    return {s: dict(sorted(c.items())) for s, c in sorted(statuses.items())}


def same_data(staging: Path, published: Path) -> bool:
    """Whether the staged data files are byte for byte those of ``published``, by their
    ``SHA256SUMS`` (the gate has checked the staged ones, so nothing is hashed again);
    the documents (manifest, report, changelog) always differ by date and do not count.
    A published release without a search index (made before search existed) differs."""
    new, old = read_checksums(staging), read_checksums(published)
    searchable = not any(n.startswith("index/") for n in new) or any(
        n.startswith("index/") for n in old
    )
    return searchable and all(name in old and new.get(name) == old[name] for name in DATA_FILES)
