"""Versioned, immutable SQID releases in the published SQID layout.

A release is assembled in a hidden staging folder next to the published ones, checked,
then renamed into place in one step: readers see a whole release or none, a crash
leaves only a hidden staging folder (cleaned up on the next run), and an existing
version is never overwritten. ``latest`` is a symbolic link, switched last.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid import db
from sqid.embed.clip import model_revision
from sqid.files import sha256_file
from sqid.imageurl import canonical_image_url

SQID_CSV = ("product_image_urls.csv", "supp_product_image_urls.csv")
PRODUCT_FEATURES = "product_features.parquet"
QUERY_FEATURES = "query_features.parquet"
STATUS_FILE = "product_image_status.parquet"
DATA_FILES = (*SQID_CSV, PRODUCT_FEATURES, QUERY_FEATURES, STATUS_FILE)
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
LATEST = "latest"
_NUMBER = r"(0|[1-9][0-9]{0,5})"
_VERSION = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}")
"""ASCII digits without leading zeros, matched whole (``fullmatch``): ``\\d`` would accept
Arabic-Indic digits, ``$`` a trailing newline and ``01`` a leading zero, each a second
name for the same version."""


def parse_version(name: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of a version name like ``v1.2.3``, else None."""
    match = _VERSION.fullmatch(name) if isinstance(name, str) else None
    return tuple(int(x) for x in match.groups()) if match else None  # type: ignore[return-value]


FEATURE_TYPE = pa.list_(pa.float32())
PRODUCT_FEATURES_SCHEMA = pa.schema(
    [("product_id", pa.string()), ("clip_text_features", FEATURE_TYPE),
     ("clip_image_features", FEATURE_TYPE)]
)  # fmt: skip
QUERY_FEATURES_SCHEMA = pa.schema([("query_id", pa.string()), ("clip_text_features", FEATURE_TYPE)])


class ReleaseError(RuntimeError):
    """A release cannot be published (it exists already, or it failed validation)."""


@dataclass(frozen=True)
class ReleaseConfig:
    release_dir: Path
    coverage_threshold: float = 0.9
    min_vector_share: float = 0.9
    """Least share of title vectors, and of image vectors among products with an image URL."""
    norm_band: tuple[float, float] = (0.001, 10_000.0)
    model_id: str | None = None
    revision: str | None = None
    previous: str | None = None
    """Version to compare with; default: the newest published one."""
    extra: dict[str, Any] = field(default_factory=dict)

    def validation_policy(self):
        """The gate's policy: this configuration's thresholds, never the manifest's."""
        from sqid.release.validate import ValidationPolicy

        return ValidationPolicy(
            norm_band=self.norm_band,
            coverage_threshold=self.coverage_threshold,
            min_image_vector_share=self.min_vector_share,
            min_text_vector_share=self.min_vector_share,
        )


def list_versions(release_dir: Path) -> list[str]:
    if not Path(release_dir).is_dir():
        return []
    versions = [
        p.name
        for p in Path(release_dir).iterdir()
        if p.is_dir() and not p.is_symlink() and parse_version(p.name)
    ]
    return sorted(versions, key=parse_version)


def latest_version(release_dir: Path) -> str | None:
    """The newest published version, or None before the first release."""
    versions = list_versions(release_dir)
    return versions[-1] if versions else None


def next_version(release_dir: Path, bump: str = "minor", explicit: str | None = None) -> str:
    if explicit:
        if not parse_version(explicit):
            raise ValueError(f"version must look like v1.2.3 (ASCII digits), not {explicit!r}")
        return explicit
    latest = latest_version(release_dir)
    major, minor, patch = parse_version(latest) if latest else (0, 0, 0)
    if bump == "major":
        return f"v{major + 1}.0.0"
    if bump == "minor":
        return f"v{major}.{minor + 1}.0"
    if bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    raise ValueError(f"bump must be major, minor or patch, not {bump!r}")


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
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sqid-pipeline")
    except PackageNotFoundError:
        return "unknown"


def new_staging(release_dir: Path, version: str) -> Path:
    """A fresh hidden staging folder; stale ones of the same version are removed."""
    release_dir = Path(release_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    for stale in release_dir.glob(f".staging-{version}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = release_dir / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def published_url(url: str | None) -> str | None:
    """A stored image URL as a release publishes it: in the canonical form of
    :func:`sqid.imageurl.parse_image_url` (rows scraped by earlier versions may hold
    ``http://`` or ``//`` URLs). A URL that fails the gate is kept as stored, so that
    the validation gate refuses the release and names the product."""
    return (canonical_image_url(url) or url) if url else url


def _write_csv(rows: list[tuple[str, str]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["product_id", "image_url"])
        writer.writerows((pid, published_url(url)) for pid, url in rows)


def _published_urls(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index("image_url")
    if index < 0:
        return table
    urls = [published_url(u) for u in table.column(index).to_pylist()]
    return table.set_column(index, table.schema.field(index), pa.array(urls, pa.string()))


def _write_parquet(
    con, statement: str, params: dict[str, Any], schema: pa.Schema | None, path: Path
) -> int:
    """Stream a query into a Parquet file with ``schema`` (vectors as list<float32>)."""
    reader = db.arrow_reader(con, statement, params)
    rows = 0
    writer = None
    try:
        for batch in reader:
            table = _published_urls(pa.Table.from_batches([batch]))
            table = table.cast(schema) if schema is not None else table
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:  # no rows: still a valid, typed file
            empty = schema.empty_table() if schema is not None else reader.schema.empty_table()
            pq.write_table(empty, path)
    finally:
        if writer is not None:
            writer.close()
    return rows


def resolve_model(con, config: ReleaseConfig) -> tuple[str, str]:
    if config.model_id:
        return config.model_id, model_revision(config.model_id, config.revision)
    row = db.run(con, "release/default_model").fetchone()
    if row is None:
        raise ReleaseError("no image embeddings in the database: run sqid_embed first")
    return row[0], row[1]


def assemble(db_path: Path, staging: Path, config: ReleaseConfig, version: str) -> dict[str, Any]:
    """Write the data files and the manifest (without checksums) into ``staging``."""
    con = db.connect(db_path, read_only=True)
    try:
        model_id, revision = resolve_model(con, config)
        model = {"model_id": model_id, "revision": revision}
        for name, product_set in zip(SQID_CSV, ("test", "supp"), strict=True):
            _write_csv(db.run(con, "release/product_image_urls", {"product_set": product_set}).fetchall(),
                       staging / name)  # fmt: skip
        rows = {
            PRODUCT_FEATURES: _write_parquet(
                con,
                "release/product_features",
                model,
                PRODUCT_FEATURES_SCHEMA,
                staging / PRODUCT_FEATURES,
            ),
            QUERY_FEATURES: _write_parquet(
                con,
                "release/query_features",
                model,
                QUERY_FEATURES_SCHEMA,
                staging / QUERY_FEATURES,
            ),
            STATUS_FILE: _write_parquet(
                con, "release/product_image_status", {}, None, staging / STATUS_FILE
            ),
        }
        sqd_files = [dict(zip(("file_name", "url", "size", "sha256"), r, strict=True))
                     for r in db.run(con, "release/sqd_files").fetchall()]  # fmt: skip
        rule = db.run(con, "release/set_rule").fetchone()
        history = [dict(zip(("day", "outcome", "attempts"), r, strict=True))
                   for r in db.run(con, "release/status_over_time").fetchall()]  # fmt: skip
    finally:
        con.close()
    for name in SQID_CSV:
        with (staging / name).open() as fh:
            rows[name] = sum(1 for _ in fh) - 1
    status = pq.read_table(staging / STATUS_FILE, columns=["product_set", "status"]).to_pylist()
    statuses: dict[str, dict[str, int]] = {}
    for r in status:
        statuses.setdefault(r["product_set"], {}).setdefault(r["status"], 0)
        statuses[r["product_set"]][r["status"]] += 1
    coverage = {s: (c.get("ok", 0) / sum(c.values()) if c else 0.0) for s, c in statuses.items()}
    dim = _dimension(staging / PRODUCT_FEATURES)
    previous = config.previous or latest_version(config.release_dir)
    manifest = {
        "name": "Shopping Queries Image Dataset (SQID)",
        "version": version,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "previous_release": previous,
        "sqd_files": sqd_files,
        "rows": rows,
        "counts": {
            "test_products": rows[SQID_CSV[0]],
            "supp_products": rows[SQID_CSV[1]],
            "queries": rows[QUERY_FEATURES],
            "statuses": statuses,
        },
        "coverage": coverage,
        "model": {**model, "dimension": dim},
        "pipeline": {"package_version": package_version(), "git_commit": git_commit()},
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


def _dimension(path: Path) -> int | None:
    table = pq.read_table(path, columns=["clip_image_features", "clip_text_features"])
    for column in table.columns:
        for value in column.to_pylist():
            if value is not None:
                return len(value)
    return None


def write_checksums(directory: Path) -> dict[str, str]:
    """``SHA256SUMS`` over every file of the release (checkable with ``sha256sum -c``)."""
    sums = {
        p.name: sha256_file(p)
        for p in sorted(Path(directory).iterdir())
        if p.is_file() and p.name != CHECKSUMS
    }
    (Path(directory) / CHECKSUMS).write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))
    return sums


def read_checksums(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` from a release's ``SHA256SUMS``."""
    lines = (Path(directory) / CHECKSUMS).read_text().splitlines()
    return {name: digest for digest, _, name in (line.partition("  ") for line in lines if line)}


def same_data(staging: Path, published: Path) -> bool:
    """Whether the staged data files are byte for byte those of ``published``, by their
    ``SHA256SUMS`` (the gate has checked the staged ones, so nothing is hashed again);
    the documents (manifest, report, changelog) always differ by date and do not count."""
    new, old = read_checksums(staging), read_checksums(published)
    return all(name in old and new.get(name) == old[name] for name in DATA_FILES)


def publish(staging: Path, release_dir: Path, version: str) -> Path:
    """Move a checked staging folder into place as ``version``; never overwrite."""
    final = Path(release_dir) / version
    if final.exists():
        raise ReleaseError(f"release {version} exists already at {final}; choose another version")
    os.rename(staging, final)
    return final


def update_latest(release_dir: Path, version: str) -> Path:
    """Point ``latest`` at ``version`` atomically (a symlink replaced in one rename)."""
    link = Path(release_dir) / LATEST
    tmp = Path(release_dir) / f".{LATEST}.{uuid.uuid4().hex[:8]}"
    os.symlink(version, tmp)
    os.replace(tmp, link)
    return link


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((Path(directory) / MANIFEST).read_text())
