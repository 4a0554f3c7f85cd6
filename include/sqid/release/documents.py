"""What ships beside the data of a release: the changelog, the dataset card, and (from
:mod:`sqid.release.croissant` and :mod:`sqid.release.report`) the Croissant metadata and
the HTML report; and the check that those documents are the ones the data make."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.release.croissant import _TABLES, CITATION, croissant
from sqid.release.layout import DATA_FILES, STATUS_FILE, manifest_of
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
