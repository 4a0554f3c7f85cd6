"""A release's ``report.html``: one self-contained page (no external scripts or styles)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from sqid.release.assemble import SQID_CSV, manifest_of


def _sweep_svg(sweep: list[dict[str, float]]) -> str:
    width, height, pad = 420, 220, 40
    values = [p["ndcg"] for p in sweep]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1e-9

    def xy(p):
        x = pad + p["weight_text"] * (width - 2 * pad)
        y = height - pad - (p["ndcg"] - lo) / span * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    points = " ".join(xy(p) for p in sweep)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="nDCG by text weight">'
        f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>'
        f'<polyline points="{points}" fill="none" stroke="#1f6feb" stroke-width="2"/>'
        + "".join(
            f'<circle cx="{xy(p).split(",")[0]}" cy="{xy(p).split(",")[1]}" r="3" fill="#1f6feb"/>'
            for p in sweep
        )
        + f'<text x="{pad}" y="{height - 10}" font-size="11">text weight 0 (image only)</text>'
        f'<text x="{width - pad - 110}" y="{height - 10}" font-size="11">1 (text only)</text>'
        f'<text x="4" y="{pad - 10}" font-size="11">nDCG {hi:.4f}</text>'
        f'<text x="4" y="{height - pad + 14}" font-size="11">{lo:.4f}</text></svg>'
    )


def report_html(directory: Path, evaluation: dict[str, Any] | None, changes: dict[str, Any],
                previous_evaluation: dict[str, Any] | None = None) -> str:  # fmt: skip
    """A self-contained HTML report (no external scripts or styles)."""
    m = manifest_of(directory)
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>SQID {esc(m['version'])} report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}"
        ".grid{display:grid;grid-template-columns:repeat(6,1fr);gap:8px}.grid figure{margin:0;font-size:11px}"
        ".grid img{width:100%;height:140px;object-fit:contain;background:#fafafa}</style></head><body>",
        f"<h1>SQID {esc(m['version'])}</h1><p>Created {esc(m['created_at'])}; model "
        f"<code>{esc(str(m['model']['model_id']))}</code> @ <code>{esc(str(m['model']['revision']))}</code>; "
        f"previous release: {esc(str(m.get('previous_release')))}.</p>",
        "<h2>Coverage</h2><table><tr><th>set</th><th>products</th><th>with image</th><th>coverage</th></tr>",
    ]
    for s, counts in sorted(m["counts"]["statuses"].items()):
        total = sum(counts.values())
        parts.append(f"<tr><td>{esc(s)}</td><td>{total}</td><td>{counts.get('ok', 0)}</td>"
                     f"<td>{m['coverage'].get(s, 0):.4f}</td></tr>")  # fmt: skip
    parts.append(
        "</table><h2>Statuses</h2><table><tr><th>set</th><th>status</th><th>products</th></tr>"
    )
    for s, counts in sorted(m["counts"]["statuses"].items()):
        for status, n in sorted(counts.items()):
            parts.append(f"<tr><td>{esc(s)}</td><td>{esc(status)}</td><td>{n}</td></tr>")
    parts.append(
        "</table><h2>Scrape outcomes over time</h2><table><tr><th>day</th><th>outcome</th><th>attempts</th></tr>"
    )
    for row in m.get("status_over_time", []):
        parts.append(
            f"<tr><td>{esc(row['day'])}</td><td>{esc(str(row['outcome']))}</td><td>{row['attempts']}</td></tr>"
        )
    parts.append("</table><h2>Ranking (nDCG, US Task-1 test, gains E=1, S=0.1, C=0.01, I=0)</h2>")
    if evaluation:
        prev = previous_evaluation or {}
        parts.append("<table><tr><th>method</th><th>nDCG</th><th>previous release</th></tr>")
        for key, label in (
            ("random", "random order"),
            ("clip_text", "CLIP_text"),
            ("clip_image", "CLIP_image"),
        ):
            parts.append(
                f"<tr><td>{label}</td><td>{evaluation[key]:.4f}</td><td>{_fmt(prev.get(key))}</td></tr>"
            )
        best = evaluation["best_combination"]
        parts.append(f"<tr><td>CLIP text+image, w={best['weight_text']:.1f}</td><td>{best['ndcg']:.4f}</td>"
                     f"<td>{_fmt((prev.get('best_combination') or {}).get('ndcg'))}</td></tr></table>")  # fmt: skip
        parts.append(f"<p>{evaluation['queries']} queries, {evaluation['judgements']} judgements "
                     f"({evaluation['skipped_queries']} all-irrelevant queries left out).</p>")  # fmt: skip
        parts.append(
            "<h3>Weight sweep: w·text + (1-w)·image</h3>" + _sweep_svg(evaluation["sweep"])
        )
    else:
        parts.append("<p>Not evaluated (no SQD examples file given).</p>")
    parts.append(f"<h2>Changes</h2><pre>{esc(json.dumps(changes, indent=2))}</pre>")
    parts.append("<h2>Sample images</h2><div class=grid>")
    with (directory / SQID_CSV[0]).open() as fh:
        samples = [line.strip().split(",", 1) for line in list(fh)[1:]]
    for pid, url in [s for s in samples if len(s) == 2 and s[1]][:24]:
        parts.append(
            f'<figure><img loading=lazy src="{esc(url)}" alt="{esc(pid)}"><figcaption>{esc(pid)}</figcaption></figure>'
        )
    parts.append("</div></body></html>")
    return "".join(parts)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"
