"""A release's ``report.html``: one self-contained page that works offline and forever.

Nothing is loaded from elsewhere: plots are inline SVG drawn with matplotlib, sample
images are thumbnails embedded as data URIs from the content-addressed image cache (the
bytes that were embedded, not URLs on a CDN that may change or vanish). A release made
from synthetic data or a model other than a known CLIP says so in a banner at the top.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sqid.release.layout import SQID_CSV, STATUS_FILE, display_model, manifest_of

SAMPLES = 24
THUMBNAIL_SIDE = 160
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#1f2328}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;"
    "padding:4px 8px;text-align:right}th{background:#f6f8fa}td:first-child{text-align:left}"
    ".banner{background:#fff8c5;border:1px solid #d4a72c;padding:.8em 1em;border-radius:6px}"
    ".grid{display:grid;grid-template-columns:repeat(6,1fr);gap:8px}"
    ".grid figure{margin:0;font-size:11px;text-align:center}"
    ".grid img{width:100%;height:140px;object-fit:contain;background:#fafafa}"
    ".missing{height:140px;display:flex;align-items:center;justify-content:center;"
    "background:#f6f8fa;color:#57606a}"
)


def synthetic_reasons(manifest: dict[str, Any]) -> list[str]:
    """Why this release is not the real SQID: files other than the published SQD, or
    vectors from a model that is not a known CLIP (a demo's or a test's tiny one)."""
    from sqid.ingest.sqd import PUBLISHED_SPECS
    from sqid.release.layout import KNOWN_DIMENSIONS

    reasons = []
    published = {name: spec.sha256 for name, spec in PUBLISHED_SPECS.items()}
    files = {f["file_name"]: f["sha256"] for f in manifest.get("sqd_files", [])}
    if files and any(published.get(name) != digest for name, digest in files.items()):
        reasons.append("the SQD files are not the published ones (generated sample data)")
    model = manifest.get("model", {})
    if model.get("model_id") not in KNOWN_DIMENSIONS:
        reasons.append(
            f"the vectors come from {display_model(str(model.get('model_id')))} ({model.get('dimension')} "
            "dimensions), not a published CLIP: its scores say nothing about CLIP"
        )
    return reasons


def _svg(figure) -> str:
    """The figure as inline SVG with its words as ``<text>`` (selectable, searchable and
    read by screen readers; matplotlib's default draws them as glyph outlines). The same
    figure gives the same bytes (fixed element ids, no date), so the validator can make
    the report again and compare."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "sqid"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def sweep_plot(evaluation: dict[str, Any]) -> str:
    """nDCG against the weight of the text score, with the baselines as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = [p["weight_text"] for p in evaluation["sweep"]]
    values = [p["ndcg"] for p in evaluation["sweep"]]
    figure, axes = plt.subplots(figsize=(6.4, 3.4))
    axes.plot(weights, values, marker="o", color="#1f6feb", label="w·text + (1-w)·image")
    for key, label, style in (("random", "random order", ":"), ("clip_text", "text only", "--"),
                              ("clip_image", "image only", "-.")):  # fmt: skip
        axes.axhline(evaluation[key], linestyle=style, color="#57606a", linewidth=1, label=label)
    axes.set_xlabel("weight of the text score w")
    axes.set_ylabel("nDCG (US Task-1 test)")
    axes.set_xlim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    svg = _svg(figure)
    plt.close(figure)
    return svg


def _thumbnail(data: bytes) -> str | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sample_images(directory: Path, image_cache: Path | None) -> list[tuple[str, str, str | None]]:
    """(product_id, image_url, thumbnail data URI or None) for the first sample products
    with an image; the thumbnail comes from the cache by the image's sha256."""
    with (directory / SQID_CSV[0]).open(newline="") as fh:
        rows = [(r["product_id"], r["image_url"]) for r in csv.DictReader(fh) if r["image_url"]]
    rows = rows[:SAMPLES]
    status = pq.read_table(directory / STATUS_FILE, columns=["product_id", "image_sha256"])
    sha = dict(zip(status.column(0).to_pylist(), status.column(1).to_pylist(), strict=True))
    samples = []
    for product_id, url in rows:
        thumbnail = None
        digest = sha.get(product_id)
        blob = image_cache / "sha256" / digest[:2] / digest if image_cache and digest else None
        if blob is not None and blob.is_file():
            thumbnail = _thumbnail(blob.read_bytes())
        samples.append((product_id, url, thumbnail))
    return samples


def _changes(changes: dict[str, Any]) -> str:
    if not changes or changes.get("previous") is None:
        return "<p>The first release.</p>"
    esc = html.escape
    items = [f"<li>products added: {changes['added']:,}, removed: {changes['removed']:,}</li>",
             f"<li>image changed (another image, or one gained or lost): "
             f"{changes['image_changed']:,}; vectors changed (same image): "
             f"{changes['vectors_changed']:,} (every one in <code>changes.parquet</code>)</li>"]  # fmt: skip
    moves = changes.get("status_moves") or {}
    items.append("<li>status moves: " + (", ".join(
        f"<code>{esc(k)}</code> {v:,}" for k, v in moves.items()) or "none") + "</li>")  # fmt: skip
    items.append("<li>image coverage change: " + ", ".join(
        f"{esc(s)} {d:+.2%}" for s, d in (changes.get("coverage_delta") or {}).items()) + "</li>")  # fmt: skip
    return f"<p>Compared with {esc(changes['previous'])}:</p><ul>{''.join(items)}</ul>"


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _retrieval(retrieval: dict[str, Any]) -> str:
    """Whole-catalogue search from the query text: recall of E products, nDCG@10."""
    cutoffs = retrieval["cutoffs"]
    head = "".join(f"<th>recall@{k}</th>" for k in cutoffs)
    rows = [f"<table><tr><th>scored by</th>{head}<th>nDCG@10</th></tr>"]
    for key, label in (("text", "query text vs title vectors"),
                       ("image", "query text vs image vectors"),
                       ("combined", "sum of both")):  # fmt: skip
        m = retrieval[key]
        cells = "".join(f"<td>{m[f'recall@{k}']:.4f}</td>" for k in cutoffs)
        rows.append(f"<tr><td>{label}</td>{cells}<td>{m['ndcg@10']:.4f}</td></tr>")
    rows.append("</table>")
    rows.append(
        f"<p>{retrieval['queries']:,} queries (of {retrieval['of_queries']:,} with an E-labelled "
        "product in the catalogue) search all test products; recall counts their E-labelled "
        "products found. How fast the index answered on the machine that built it is in that "
        "run's log, not here: a release is the same bytes wherever it is built.</p>"
    )
    return "".join(rows)


def report_html(directory: Path, evaluation: dict[str, Any] | None, changes: dict[str, Any],
                previous_evaluation: dict[str, Any] | None = None,
                image_cache: Path | None = None) -> str:  # fmt: skip
    """The report of the release in ``directory``."""
    m = manifest_of(directory)
    sections = [
        _heading(m), _coverage(m), _ranking(evaluation, previous_evaluation or {}),
        "<h2>Changes</h2>" + _changes(changes), _samples(directory, image_cache),
    ]  # fmt: skip
    return "".join(sections) + "</body></html>"


def _heading(m: dict[str, Any]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>SQID {esc(m['version'])} report</title><style>{STYLE}</style></head><body>",
        f"<h1>SQID {esc(m['version'])}</h1>",
    ]
    reasons = synthetic_reasons(m)
    if reasons:
        parts.append("<p class=banner><b>Not the real SQID.</b> This release is for trying "
                     "the pipeline out: " + "; ".join(esc(r) for r in reasons) + ".</p>")  # fmt: skip
    parts.append(
        f"<p>Created {esc(m['created_at'])}; model <code>{esc(display_model(str(m['model']['model_id'])))}</code> "
        f"@ <code>{esc(str(m['model']['revision']))}</code>, {m['model']['dimension']} dimensions; "
        f"previous release: {esc(str(m.get('previous_release') or 'none'))}.</p>"
    )
    return "".join(parts)


def _coverage(m: dict[str, Any]) -> str:
    """Coverage per set, products per status, and the page kinds seen per day."""
    esc = html.escape
    parts = ["<h2>Coverage</h2><table><tr><th>set</th><th>products</th><th>with image</th>"
             "<th>coverage</th></tr>"]  # fmt: skip
    for s, counts in sorted(m["counts"]["statuses"].items()):
        total = sum(counts.values())
        parts.append(f"<tr><td>{esc(s)}</td><td>{total:,}</td><td>{counts.get('ok', 0):,}</td>"
                     f"<td>{m['coverage'].get(s, 0):.2%}</td></tr>")  # fmt: skip
    parts.append("</table><h2>Product statuses</h2><p>As in <code>product_image_status."
                 "parquet</code> and the README's status table.</p><table><tr><th>set</th>"
                 "<th>status</th><th>products</th></tr>")  # fmt: skip
    for s, counts in sorted(m["counts"]["statuses"].items()):
        for status, n in sorted(counts.items()):
            parts.append(f"<tr><td>{esc(s)}</td><td>{esc(status)}</td><td>{n:,}</td></tr>")
    parts.append("</table><h2>Page kinds seen per day</h2><p>Every request of every scrape "
                 "run: the kind of page it returned, or its error.</p><table><tr><th>day</th>"
                 "<th>page kind or error</th><th>requests</th></tr>")  # fmt: skip
    for row in m.get("status_over_time", []):
        parts.append(f"<tr><td>{esc(row['day'])}</td><td>{esc(str(row['outcome']))}</td>"
                     f"<td>{row['attempts']:,}</td></tr>")  # fmt: skip
    return "".join(parts) + "</table>"


def _ranking(evaluation: dict[str, Any] | None, prev: dict[str, Any]) -> str:
    parts = ["<h2>Ranking (nDCG, US Task-1 test, gains E=1, S=0.1, C=0.01, I=0)</h2>"]
    if not evaluation:
        return parts[0] + "<p>Not evaluated (no SQD examples file given).</p>"
    parts.append("<table><tr><th>method</th><th>nDCG</th><th>previous release</th></tr>")
    for key, label in (("random", "random order (expected)"), ("clip_text", "CLIP text (title)"),
                       ("clip_image", "CLIP image")):  # fmt: skip
        parts.append(f"<tr><td>{label}</td><td>{evaluation[key]:.4f}</td>"
                     f"<td>{_fmt(prev.get(key))}</td></tr>")  # fmt: skip
    best = evaluation["best_combination"]
    parts.append(f"<tr><td>CLIP text+image, w={best['weight_text']:.1f}</td><td>{best['ndcg']:.4f}</td>"
                 f"<td>{_fmt((prev.get('best_combination') or {}).get('ndcg'))}</td></tr></table>")  # fmt: skip
    parts.append(f"<p>{evaluation['queries']:,} queries, {evaluation['judgements']:,} judgements "
                 f"({evaluation['skipped_queries']:,} all-irrelevant queries left out).</p>")  # fmt: skip
    parts.append("<h3>Weight sweep</h3>" + sweep_plot(evaluation))
    if evaluation.get("retrieval", {}).get("queries"):
        parts.append("<h2>Search</h2>" + _retrieval(evaluation["retrieval"]))
    return "".join(parts)


def _samples(directory: Path, image_cache: Path | None) -> str:
    esc = html.escape
    parts = ["<h2>Sample images</h2><div class=grid>"]
    for product_id, url, thumbnail in sample_images(directory, image_cache):
        picture = (f'<img src="{thumbnail}" alt="{esc(product_id)}">' if thumbnail
                   else "<div class=missing>not in the image cache</div>")  # fmt: skip
        parts.append(f'<figure>{picture}<figcaption><a href="{esc(url)}">{esc(product_id)}</a>'
                     "</figcaption></figure>")  # fmt: skip
    return "".join(parts) + "</div>"
