"""File-level validation of a SQID release directory (``sqid validate RELEASE_DIR``).

Works on any release folder, also one downloaded from elsewhere: it needs only the
files and their manifest. Each failed check names the rows that fail it.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.defaults import default_reason
from sqid.imageurl import parse_image_url
from sqid.release import (
    CHECKSUMS,
    DATA_FILES,
    MANIFEST,
    PRODUCT_FEATURES,
    PRODUCT_FEATURES_SCHEMA,
    QUERY_FEATURES,
    QUERY_FEATURES_SCHEMA,
    SQID_CSV,
    STATUS_FILE,
    manifest_of,
    read_checksums,
    sha256_of,
)

MAX_LISTED = 10


@dataclass
class Problem:
    check: str
    message: str
    rows: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        more = (
            f" (e.g. {', '.join(self.rows[:MAX_LISTED])}{' …' if len(self.rows) > MAX_LISTED else ''})"
            if self.rows
            else ""
        )
        return f"[{self.check}] {self.message}{more}"


def _checksums(directory: Path) -> list[Problem]:
    path = directory / CHECKSUMS
    if not path.exists():
        return [Problem("checksums", f"{CHECKSUMS} is missing")]
    listed = read_checksums(directory)
    bad = [
        n
        for n, d in listed.items()
        if not (directory / n).is_file() or sha256_of(directory / n) != d
    ]
    unlisted = [
        p.name
        for p in directory.iterdir()
        if p.is_file() and p.name != CHECKSUMS and p.name not in listed
    ]
    problems = []
    if bad:
        problems.append(Problem("checksums", "files missing or not matching SHA256SUMS", bad))
    if unlisted:
        problems.append(Problem("checksums", "files not listed in SHA256SUMS", unlisted))
    return problems


def _csv(directory: Path, name: str, expected_rows: int | None, threshold: float) -> list[Problem]:
    problems = []
    with (directory / name).open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != ["product_id", "image_url"]:
            return [
                Problem("schema", f"{name}: header must be product_id,image_url, found {header}")
            ]
        rows = list(reader)
    problems += _ids(name, "product_id", [r[0] if r else "" for r in rows], expected_rows)
    bad_urls, defaults = [], []
    for row in rows:
        if len(row) != 2:
            bad_urls.append(",".join(row))
            continue
        pid, url = row
        if not url:
            continue
        if default_reason(url):
            defaults.append(pid)
        elif parse_image_url(url) is None:
            bad_urls.append(pid)
    if bad_urls:
        problems.append(
            Problem("image_urls", f"{name}: not an allowlisted Amazon product image URL", bad_urls)
        )
    if defaults:
        problems.append(
            Problem("image_urls", f"{name}: default or placeholder image published", defaults)
        )
    covered = sum(1 for r in rows if len(r) == 2 and r[1])
    coverage = covered / len(rows) if rows else 0.0
    if coverage < threshold:
        problems.append(
            Problem("coverage", f"{name}: image coverage {coverage:.3f} below {threshold}")
        )
    return problems


def _ids(name: str, key: str, ids: list[str], expected_rows: int | None) -> list[Problem]:
    """Unique ids, and as many rows as the manifest says."""
    problems = []
    dupes = [i for i, n in _counts(ids).items() if n > 1]
    if dupes:
        problems.append(Problem("unique_ids", f"{name}: duplicate {key}", dupes))
    if expected_rows is not None and len(ids) != expected_rows:
        problems.append(
            Problem("row_count", f"{name}: {len(ids)} rows, manifest says {expected_rows}")
        )
    return problems


def _counts(values):
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return counts


def _schema(table: pa.Table, expected: pa.Schema, name: str) -> list[Problem]:
    found = {f.name: f.type for f in table.schema}
    wrong = [
        f"{f.name}: expected {f.type}, found {found.get(f.name, 'nothing')}"
        for f in expected
        if f.name not in found or not found[f.name].equals(f.type)
    ]
    return [Problem("schema", f"{name}: wrong columns", wrong)] if wrong else []


def _vectors(name: str, ids: list[str], column: str, values: list, dim: int | None,
             band: tuple[float, float], required: bool) -> list[Problem]:  # fmt: skip
    problems, missing, wrong_dim, not_finite, out_of_band = [], [], [], [], []
    for key, vector in zip(ids, values, strict=True):
        if vector is None:
            missing.append(key)
            continue
        if dim is not None and len(vector) != dim:
            wrong_dim.append(key)
            continue
        if not all(math.isfinite(x) for x in vector):
            not_finite.append(key)
            continue
        norm = math.sqrt(sum(x * x for x in vector))
        if not band[0] <= norm <= band[1]:
            out_of_band.append(key)
    if required and missing:
        problems.append(Problem("embeddings", f"{name}: {column} missing", missing))
    if wrong_dim:
        problems.append(
            Problem("embeddings", f"{name}: {column} not of dimension {dim}", wrong_dim)
        )
    if not_finite:
        problems.append(
            Problem("embeddings", f"{name}: {column} has NaN or infinite values", not_finite)
        )
    if out_of_band:
        problems.append(Problem("embeddings", f"{name}: {column} norm outside {band}", out_of_band))
    return problems


def validate_release(directory: Path) -> list[Problem]:
    """Every file-level check; an empty list means the release is valid."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        return [Problem("files", f"{MANIFEST} is missing: not a release directory")]
    manifest = manifest_of(directory)
    missing = [n for n in DATA_FILES if not (directory / n).is_file()]
    problems = [Problem("files", "missing files", missing)] if missing else []
    problems += _checksums(directory)
    rows = manifest.get("rows", {})
    config = manifest.get("config", {})
    threshold = float(config.get("coverage_threshold", 0.0))
    band = tuple(config.get("norm_band", (0.0, math.inf)))
    dim = manifest.get("model", {}).get("dimension")
    for name in SQID_CSV:
        if (directory / name).is_file():
            problems += _csv(
                directory, name, rows.get(name), threshold if name == SQID_CSV[0] else 0.0
            )
    if table := _table(directory, PRODUCT_FEATURES, PRODUCT_FEATURES_SCHEMA, problems):
        ids = table.column("product_id").to_pylist()
        problems += _ids(PRODUCT_FEATURES, "product_id", ids, rows.get(PRODUCT_FEATURES))
        test_ids = _csv_ids(directory / SQID_CSV[0])
        if test_ids is not None and set(ids) != test_ids:
            problems.append(Problem("row_count", f"{PRODUCT_FEATURES}: products differ from {SQID_CSV[0]}",
                                    sorted(set(ids) ^ test_ids)))  # fmt: skip
        images = table.column("clip_image_features").to_pylist()
        problems += _vectors(PRODUCT_FEATURES, ids, "clip_text_features",
                             table.column("clip_text_features").to_pylist(), dim, band, False)  # fmt: skip
        problems += _vectors(PRODUCT_FEATURES, ids, "clip_image_features", images, dim, band, False)
        problems += _shared_vectors(directory, ids, images)
    if table := _table(directory, QUERY_FEATURES, QUERY_FEATURES_SCHEMA, problems):
        ids = table.column("query_id").to_pylist()
        problems += _ids(QUERY_FEATURES, "query_id", ids, rows.get(QUERY_FEATURES))
        problems += _vectors(QUERY_FEATURES, ids, "clip_text_features",
                             table.column("clip_text_features").to_pylist(), dim, band, True)  # fmt: skip
    return problems


def _table(
    directory: Path, name: str, schema: pa.Schema, problems: list[Problem]
) -> pa.Table | None:
    """The Parquet file ``name`` when it is present, readable and of ``schema``; else
    ``None``, with what is wrong added to ``problems`` (a missing file is reported by the
    file-presence check)."""
    if not (directory / name).is_file() or (table := _read(directory / name, problems)) is None:
        return None
    schema_problems = _schema(table, schema, name)
    problems += schema_problems
    return None if schema_problems else table


def _read(path: Path, problems: list[Problem]) -> pa.Table | None:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        problems.append(Problem("files", f"{path.name}: cannot read as Parquet: {exc}"))
        return None


def _csv_ids(path: Path) -> set[str] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        return {r[0] for r in list(csv.reader(fh))[1:] if r}


def _shared_vectors(directory: Path, ids: list[str], images: list) -> list[Problem]:
    """No two different images may share an identical vector."""
    keys = {}
    if (directory / STATUS_FILE).is_file():
        status = pq.read_table(
            directory / STATUS_FILE, columns=["product_id", "image_sha256"]
        ).to_pylist()
        keys = {r["product_id"]: r["image_sha256"] for r in status}
    by_vector: dict[str, set[str]] = defaultdict(set)
    products: dict[str, list[str]] = defaultdict(list)
    for pid, vector in zip(ids, images, strict=True):
        if vector is None:
            continue
        digest = hashlib.sha256(repr(vector).encode()).hexdigest()
        by_vector[digest].add(keys.get(pid) or pid)
        products[digest].append(pid)
    clashes = [p for d, owners in by_vector.items() if len(owners) > 1 for p in products[d]]
    if clashes:
        return [Problem("embeddings", "different images share an identical image vector", clashes)]
    return []


def report(problems: list[Problem], directory: Path) -> str:
    if not problems:
        return f"{directory}: valid SQID release"
    lines = [f"{directory}: {len(problems)} problem(s)"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)
