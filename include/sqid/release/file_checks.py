"""The checks of a release's files other than its vectors (those are in
:mod:`sqid.release.vector_checks`), each a short function over a
:class:`~sqid.release.checked.CheckedRelease`, in the order :mod:`sqid.release.validate`
runs them: entries, manifest, checksums, tables, statuses, the search index, documents.
Each records problems on the release and reads files only as regular files inside it."""

from __future__ import annotations

import csv
import json
import math
import re

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.imageurl import canonical_image_url, canonical_mask
from sqid.release.checked import CheckedRelease
from sqid.release.layout import (
    CHECKSUMS,
    DATA_FILES,
    DOCUMENTS,
    INDEX_DIR,
    MANIFEST,
    PRODUCT_FEATURES,
    SQID_CSV,
    STATUS_FILE,
    TOP_LEVEL_FILES,
)
from sqid.release.recall import RecallCheck
from sqid.release.warn_checks import status_warnings
from sqid.scrape.placeholders import known_defaults
from sqid.scrape.records import is_valid_product_id

_SUM_LINE = re.compile(r"^([0-9a-f]{64})  ((?:index/)?[^/\\\x00-\x1f]+)$")
STATUS_COLUMNS = {"product_id": pa.string(), "product_set": pa.string(), "status": pa.string(),
                  "image_url": pa.string(), "image_sha256": pa.string()}  # fmt: skip


def search_index(release: CheckedRelease) -> None:
    """The index's files and its catalogue against product_features; then prepares its
    recall check, which the scan of product_features feeds (:func:`index_recall`)."""
    from sqid.release.layout import CATALOGUE, KINDS, index_path

    folder = release.directory / INDEX_DIR
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        release.add("index", f"{INDEX_DIR} is not a folder")
        return
    if not folder.exists():
        if release.policy.require_index:
            release.add("index", f"no {INDEX_DIR}/ folder: the release cannot be searched")
        return
    needed = [CATALOGUE, *(index_path(release.directory, k).name for k in KINDS)]
    missing = [n for n in needed if release.file(f"{INDEX_DIR}/{n}") is None]
    if missing or "index" not in release.manifest:
        release.add("index", "index files or the manifest's index entry missing", missing)
        return
    try:
        ids = pq.read_table(folder / CATALOGUE, columns=["product_id"]).column(0)
        features = pq.read_table(release.directory / PRODUCT_FEATURES, columns=["product_id"])
        if not ids.equals(features.column(0)):
            release.add(
                "index", f"{CATALOGUE} does not list the products of {PRODUCT_FEATURES} in order"
            )
            return
        release.recall = RecallCheck(release.directory)
    except Exception as exc:  # a broken index is a finding, not a crash
        release.add("index", f"the index cannot be read or searched: {exc}")


def index_recall(release: CheckedRelease) -> None:
    """recall@10 of each index against exact search on the release's own vectors."""
    if release.recall is None:
        return
    try:
        recalls = release.recall.result()
    except Exception as exc:  # a broken index is a finding, not a crash
        release.add("index", f"the index cannot be read or searched: {exc}")
        return
    for kind, value in recalls.items():
        release.measure("index", f"recall@10 of the {kind} index", value,
                        release.policy.min_recall_at_10)  # fmt: skip
    low = [f"{kind}: {value:.3f}" for kind, value in recalls.items()
           if value < release.policy.min_recall_at_10]  # fmt: skip
    if low:
        release.add("index", f"recall@10 against exact search below "
                    f"{release.policy.min_recall_at_10}", low)  # fmt: skip


def entries(release: CheckedRelease) -> None:
    links = sorted(p.name for p in release.directory.iterdir() if p.is_symlink())
    if links:
        release.add("files", "symbolic links in the release (it holds regular files only)", links)
    missing = [n for n in DATA_FILES if not (release.directory / n).is_file()]
    if missing:
        release.add("files", "missing files", missing)


def manifest(release: CheckedRelease) -> bool:
    path = release.file(MANIFEST)
    if path is None:
        release.add("files", f"{MANIFEST} is missing: not a release directory")
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        release.add("manifest", f"{MANIFEST} is not valid JSON: {exc}")
        return False
    if not isinstance(manifest, dict):
        release.add("manifest", f"{MANIFEST} must hold a JSON object")
        return False
    for key, kind in (("rows", dict), ("counts", dict), ("model", dict), ("coverage", dict)):
        if not isinstance(manifest.get(key), kind):
            release.add("manifest", f"{MANIFEST}: {key!r} is missing or not an object")
            manifest[key] = {}
    release.manifest = manifest
    return True


def checksums(release: CheckedRelease) -> None:
    path = release.file(CHECKSUMS)
    if path is None:
        release.add("checksums", f"{CHECKSUMS} is missing")
        return
    listed: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        release.add("checksums", f"{CHECKSUMS} is not UTF-8 text")
        return
    malformed = []
    for number, line in enumerate(lines, 1):
        match = _SUM_LINE.match(line)
        if match is None or match.group(2) in (".", ".."):
            malformed.append(f"line {number}")
        else:
            listed[match.group(2)] = match.group(1)
    if malformed:
        release.add(
            "checksums",
            f"{CHECKSUMS}: lines that are not '<sha256>  <file name in the release>'",
            malformed,
        )
    bad = [
        n
        for n, digest in listed.items()
        if (p := release.file(n)) is None or sha256_file(p) != digest
    ]
    if bad:
        release.add("checksums", "files missing or not matching SHA256SUMS", bad)
    present = {p.name for p in release.directory.iterdir() if p.is_file() and not p.is_symlink()}
    folder = release.directory / INDEX_DIR
    if folder.is_dir() and not folder.is_symlink():
        present |= {f"{INDEX_DIR}/{p.name}" for p in folder.iterdir()
                    if p.is_file() and not p.is_symlink()}  # fmt: skip
    unlisted = sorted(present - set(listed) - {CHECKSUMS})
    if unlisted:
        release.add("checksums", "files not listed in SHA256SUMS", unlisted)
    foreign = sorted(n for n in set(listed) | present if not _in_layout(n))
    if foreign:
        release.add("files", "files that are not part of the SQID release layout", foreign)


def _in_layout(name: str) -> bool:
    from sqid.release.layout import CATALOGUE, KINDS

    index_files = {CATALOGUE, *(f"{kind}.faiss" for kind in KINDS)}
    folder, _, file = name.rpartition("/")
    return (
        name in TOP_LEVEL_FILES | {CHECKSUMS}
        if not folder
        else (folder == INDEX_DIR and file in index_files)
    )


def documents(release: CheckedRelease) -> None:
    from sqid.release.documents import document_problems

    if all(release.file(n) for n in DOCUMENTS):
        for problem in document_problems(release.directory):
            release.add("documents", problem)


def table(release: CheckedRelease, name: str) -> None:
    path = release.file(name)
    if path is None:
        return
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if header != ["product_id", "image_url"]:
                release.add(
                    "schema", f"{name}: header must be product_id,image_url, found {header}"
                )
                return
            raw = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        release.add("schema", f"{name}: not a readable UTF-8 CSV file: {exc}")
        return
    malformed = [f"line {i + 2}" for i, r in enumerate(raw) if len(r) != 2]
    if malformed:
        release.add("schema", f"{name}: rows without exactly two fields", malformed)
    rows = [(r[0], r[1]) for r in raw if len(r) == 2]
    release.csv_rows[name] = rows
    ids = [pid for pid, _ in rows]
    release.ids(name, "product_id", ids)
    bad_ids = [pid for pid in ids if not is_valid_product_id(pid)]
    if bad_ids:
        release.add("unique_ids", f"{name}: not a 10-character ASIN or ISBN-10", bad_ids)
    urls = pa.array([url or None for _, url in rows], pa.string())
    fast = canonical_mask(urls)
    not_canonical = [pid for (pid, url), ok in zip(rows, fast, strict=True)
                     if url and not ok and canonical_image_url(url) != url]  # fmt: skip
    if not_canonical:
        release.add(
            "image_urls",
            f"{name}: not a canonical Amazon product image URL (https, Amazon image host, no "
            "credentials, port, query or backslash)",
            not_canonical,
        )
    defaults = [pid for (pid, _), bad in zip(rows, known_defaults(urls), strict=True) if bad]
    if defaults:
        release.add("image_urls", f"{name}: default or placeholder image published", defaults)
    release.claim(f"rows[{name!r}]", release.manifest["rows"].get(name), len(rows))
    product_set = "test" if name == SQID_CSV[0] else "supp"
    release.claim(f"counts[{product_set + '_products'!r}]",
           release.manifest["counts"].get(f"{product_set}_products"), len(rows))  # fmt: skip
    coverage = sum(1 for _, url in rows if url) / len(rows) if rows else 0.0
    claimed = release.manifest["coverage"].get(product_set)
    if not isinstance(claimed, int | float) or not math.isclose(claimed, coverage, abs_tol=1e-9):
        release.add("manifest", f"{MANIFEST} claims coverage[{product_set!r}] = {claimed!r}, "
                                f"the files hold {coverage!r}")  # fmt: skip
    if name == SQID_CSV[0]:
        release.measure("coverage", "image coverage of the test set", coverage,
                        release.policy.coverage_threshold)  # fmt: skip
    if name == SQID_CSV[0] and coverage < release.policy.coverage_threshold:
        release.add("coverage", f"{name}: image coverage {coverage:.3f} below "
                                f"{release.policy.coverage_threshold}")  # fmt: skip


def statuses(release: CheckedRelease) -> None:
    parquet = release.read(STATUS_FILE, STATUS_COLUMNS)
    if parquet is None:
        return
    table = parquet.read(columns=list(STATUS_COLUMNS))
    rows = table.to_pylist()
    release.image_sha256 = {r["product_id"]: r["image_sha256"] for r in rows}
    release.statuses = {r["product_id"]: r["status"] for r in rows}
    release.ids(STATUS_FILE, "product_id", [r["product_id"] for r in rows])
    expected = {pid: ("test" if name == SQID_CSV[0] else "supp", url)
                for name, pairs in release.csv_rows.items() for pid, url in pairs}  # fmt: skip
    by_id = {r["product_id"]: r for r in rows}
    if release.csv_rows and set(by_id) != set(expected):
        release.add("row_count", f"{STATUS_FILE}: products differ from the CSV files",
                    sorted(set(by_id) ^ set(expected)))  # fmt: skip
    wrong = [pid for pid, (product_set, url) in expected.items() if pid in by_id and (
        by_id[pid]["product_set"] != product_set
        or (by_id[pid]["status"] == "ok") != bool(url)
        or (url and by_id[pid]["image_url"] != url))]  # fmt: skip
    if wrong:
        release.add("status", f"{STATUS_FILE}: set, status or image_url disagree with the CSV "
                              "files (a product has an image_url exactly when its status is ok)",
                    wrong)  # fmt: skip
    statuses: dict[str, dict[str, int]] = {}
    for r in rows:
        per_set = statuses.setdefault(r["product_set"], {})
        per_set[r["status"]] = per_set.get(r["status"], 0) + 1
    release.claim("counts['statuses']", release.manifest["counts"].get("statuses"), statuses)
    status_warnings(release, statuses.get("test", {}))
    release.claim(f"rows[{STATUS_FILE!r}]", release.manifest["rows"].get(STATUS_FILE), len(rows))
