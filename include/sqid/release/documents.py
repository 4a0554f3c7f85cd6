"""What ships beside the data of a release: changelog, Croissant metadata, the dataset
card, and (from :mod:`sqid.release.report`) the HTML report. Over 300 lines, a third of
them the Croissant vocabulary and the card's text."""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.release.layout import (
    CHECKSUMS,
    DATA_FILES,
    PRODUCT_FEATURES,
    QUERY_FEATURES,
    STATUS_FILE,
    manifest_of,
    read_checksums,
)
from sqid.release.report import report_html

CHANGELOG_LISTED = 20


def _status(directory: Path) -> dict[str, dict[str, Any]]:
    rows = pq.read_table(
        directory / STATUS_FILE, columns=["product_id", "product_set", "status", "image_key"]
    )
    return {r["product_id"]: r for r in rows.to_pylist()}


def changelog(previous: Path | None, current: Path, version: str) -> tuple[str, dict[str, Any]]:
    """CHANGELOG.md text and its numbers: products added/removed, images changed,
    status moves and coverage change against ``previous``."""
    manifest = manifest_of(current)
    lines = [f"# SQID {version}", "", f"Created {manifest['created_at']}."]
    if previous is None:
        lines += ["", "First release."]
        return "\n".join(lines) + "\n", {"previous": None}
    old, new = _status(previous), _status(current)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    common = set(old) & set(new)
    changed = sorted(p for p in common if old[p]["image_key"] != new[p]["image_key"]
                     and old[p]["status"] == new[p]["status"] == "ok")  # fmt: skip
    moves: dict[str, int] = {}
    for p in common:
        if old[p]["status"] != new[p]["status"]:
            key = f"{old[p]['status']} -> {new[p]['status']}"
            moves[key] = moves.get(key, 0) + 1
    old_cov, new_cov = manifest_of(previous).get("coverage", {}), manifest.get("coverage", {})
    stats = {
        "previous": previous.name,
        "added": len(added),
        "removed": len(removed),
        "image_changed": len(changed),
        "status_moves": dict(sorted(moves.items())),
        "coverage_delta": {
            s: new_cov.get(s, 0) - old_cov.get(s, 0) for s in sorted(set(new_cov) | set(old_cov))
        },
    }
    lines += ["", f"Compared with {previous.name}.", ""]
    lines += [f"- products added: {len(added)}" + _examples(added)]
    lines += [f"- products removed: {len(removed)}" + _examples(removed)]
    lines += [
        f"- image changed (same status `ok`, another image): {len(changed)}" + _examples(changed)
    ]
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


CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

_TABLES = {
    "product_image_urls": ("product_image_urls.csv", "text/csv", [("product_id", "sc:Text"), ("image_url", "sc:URL")]),
    "supp_product_image_urls": ("supp_product_image_urls.csv", "text/csv", [("product_id", "sc:Text"), ("image_url", "sc:URL")]),
    "product_features": (PRODUCT_FEATURES, "application/x-parquet",
                         [("product_id", "sc:Text"), ("clip_text_features", "sc:Float"), ("clip_image_features", "sc:Float")]),
    "query_features": (QUERY_FEATURES, "application/x-parquet", [("query_id", "sc:Text"), ("clip_text_features", "sc:Float")]),
    "product_image_status": (STATUS_FILE, "application/x-parquet",
                             [("product_id", "sc:Text"), ("product_set", "sc:Text"), ("status", "sc:Text"),
                              ("image_id", "sc:Text"), ("hires_url", "sc:URL")]),
}  # fmt: skip

CITATION = (
    "Al Ghossein, M., Chen, C.-W., Tang, J. Shopping Queries Image Dataset (SQID): An Image-Enriched "
    "ESCI Dataset for Exploring Multimodal Learning in Product Search. arXiv:2405.15190 (2024). "
    "Reddy, C. K. et al. Shopping Queries Dataset: A Large-Scale ESCI Benchmark for Improving Product "
    "Search. arXiv:2206.06588 (2022)."
)


def croissant(directory: Path, sums: dict[str, str] | None = None) -> dict[str, Any]:
    """Croissant 1.0 metadata of a release folder (``sums``: its data files' sha256)."""
    m = manifest_of(directory)
    sums = sums or {}
    distribution, record_sets = [], []
    for rs, (file_name, fmt, fields) in _TABLES.items():
        distribution.append({
            "@type": "cr:FileObject", "@id": file_name, "name": file_name,
            "contentUrl": file_name, "encodingFormat": fmt,
            "sha256": sums.get(file_name) or sha256_file(directory / file_name),
        })  # fmt: skip
        record_sets.append({
            "@type": "cr:RecordSet", "@id": rs, "name": rs,
            "field": [
                {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name, "dataType": dtype,
                 **({"repeated": True} if name.startswith("clip_") else {}),
                 "source": {"fileObject": {"@id": file_name}, "extract": {"column": name}}}
                for name, dtype in fields
            ],
        })  # fmt: skip
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": "SQID",
        "description": "Shopping Queries Image Dataset: product image URLs and CLIP image and text "
        "embeddings for the US products of the Shopping Queries Dataset (ESCI).",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": "https://opensource.org/licenses/MIT",
        "url": "https://github.com/Crossing-Minds/shopping-queries-image-dataset",
        "version": m["version"].lstrip("v"),
        "datePublished": m["created_at"][:10],
        "citeAs": CITATION,
        "distribution": distribution,
        "recordSet": record_sets,
    }


CROISSANT_SAMPLE_ROWS = 10
"""Rows of each data file the records are read from (mlcroissant casts every float)."""


def _sample_file(source: Path, target: Path, rows: int) -> None:
    """The first ``rows`` rows of a CSV or Parquet data file, in the same format."""
    if source.suffix == ".parquet":
        parquet = pq.ParquetFile(source)
        batch = next(parquet.iter_batches(batch_size=rows), None)
        pq.write_table(pa.Table.from_batches([batch]) if batch is not None
                       else parquet.schema_arrow.empty_table(), target)  # fmt: skip
    else:
        with source.open(newline="") as fh, target.open("w", newline="") as out:
            out.writelines(itertools.islice(fh, rows + 1))


def validate_croissant(path: Path, records: int = 3) -> list[str]:
    """Problems mlcroissant finds in ``path``, reading a few records of every record set.

    mlcroissant loads a whole file to yield its first record (at 192k x 768 that is
    gigabytes through pandas), so records are read from a sample: the first rows of each
    data file beside a copy of this very metadata whose ``sha256`` are the sample's. The
    metadata, its record sets and fields are checked as they are; the real files' hashes
    are checked against ``SHA256SUMS``, which the validator checks against the files.
    """
    import mlcroissant as mlc

    path = Path(path)
    try:
        metadata = json.loads(path.read_text())
        files = [d for d in metadata.get("distribution", []) if d.get("@type") == "cr:FileObject"]
    except (OSError, ValueError, AttributeError) as exc:
        return [f"{path.name}: not readable JSON-LD: {exc}"]
    problems = []
    sums = path.parent / CHECKSUMS
    listed = read_checksums(path.parent) if sums.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="sqid-croissant-") as tmp:
        for entry in files:
            name = entry.get("contentUrl")
            source = path.parent / str(name)
            if (
                not isinstance(name, str)
                or "/" in name
                or not source.is_file()
                or source.is_symlink()
            ):
                return [f"{path.name}: {name!r} is not a data file of this release"]
            if listed and entry.get("sha256") != listed.get(name):
                problems.append(f"{path.name}: sha256 of {name} differs from {CHECKSUMS}")
            _sample_file(source, Path(tmp) / name, CROISSANT_SAMPLE_ROWS)
            entry["sha256"] = sha256_file(Path(tmp) / name)
        sample = Path(tmp) / path.name
        sample.write_text(json.dumps(metadata))
        try:
            dataset = mlc.Dataset(jsonld=str(sample))
            for record_set in dataset.metadata.record_sets:
                for i, _ in enumerate(dataset.records(record_set=record_set.uuid)):
                    if i + 1 >= records:
                        break
        except Exception as exc:  # mlcroissant raises many types; all mean "not valid"
            problems.append(f"{type(exc).__name__}: {exc}")
    return problems


def dataset_card(directory: Path, evaluation: dict[str, Any] | None) -> str:
    m = manifest_of(directory)
    configs = "\n".join(
        f"- config_name: {rs}\n  data_files: {file_name}"
        for rs, (file_name, _, _) in _TABLES.items()
    )
    c = m["counts"]
    scores = ""
    if evaluation:
        best = evaluation["best_combination"]
        scores = (
            "\n## Baselines (nDCG, US Task-1 test)\n\n| method | nDCG |\n|---|---|\n"
            f"| random | {evaluation['random']:.4f} |\n| CLIP_text | {evaluation['clip_text']:.4f} |\n"
            f"| CLIP_image | {evaluation['clip_image']:.4f} |\n"
            f"| CLIP text+image (w={best['weight_text']:.1f}) | {best['ndcg']:.4f} |\n"
        )
    return f"""---
license: mit
pretty_name: Shopping Queries Image Dataset (SQID)
tags:
- product-search
- multimodal
- clip
configs:
{configs}
---

# SQID {m["version"]}

Image URLs and CLIP embeddings (`{m["model"]["model_id"]}` @ `{m["model"]["revision"]}`,
{m["model"]["dimension"]} float32 values, raw projected outputs) for the products and
queries of the Shopping Queries Dataset (SQD) benchmark: {c["test_products"]:,} test
products, {c["supp_products"]:,} supplementary products, {c["queries"]:,} queries.

| file | content |
|---|---|
| `product_image_urls.csv` | `product_id,image_url` for the test products (empty `image_url`: no product image) |
| `supp_product_image_urls.csv` | the same for the supplementary products |
| `product_features.parquet` | `product_id`, `clip_text_features` (title), `clip_image_features` |
| `query_features.parquet` | `query_id` (string), `clip_text_features` |
| `product_image_status.parquet` | why a product has no image, image IDs, high-resolution URLs, scrape times |

Image coverage: {", ".join(f"{s} {v:.1%}" for s, v in sorted(m["coverage"].items()))}.
`image_url` is the page's display rendition of the main image; `hires_url` in the status
file is the largest one. Check the files with `sha256sum -c SHA256SUMS`.
{scores}
## Citation

{CITATION}

## License

MIT, like SQID. The underlying SQD is published by Amazon under Apache-2.0.
"""


def document_release(
    staging: Path,
    version: str,
    evaluation: dict[str, Any] | None,
    image_cache: Path | None = None,
) -> dict[str, Any]:
    """The documents of a staged release, compared with the newest published one, then
    ``SHA256SUMS`` over every file; returns the changes."""
    from sqid.release.layout import write_checksums
    from sqid.release.versions import latest_version

    latest = latest_version(staging.parent)
    sums = {name: sha256_file(staging / name) for name in DATA_FILES}  # hashed once for both
    changes = write_docs(staging, version, staging.parent / latest if latest else None,
                         evaluation, sums, image_cache)  # fmt: skip
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
    """CHANGELOG.md, report.html, README.md, croissant.json and evaluation.json."""
    text, changes = changelog(previous, directory, version)
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


_PREVIOUS = re.compile(r"^Compared with (v[0-9]+\.[0-9]+\.[0-9]+)\.$", re.MULTILINE)
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
    problems = []
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
