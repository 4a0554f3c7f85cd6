"""The releases page's charts, drawn on the server as small inline SVG (no script, no
library, nothing from another host): the status mix and coverage of each release, and
the share of pages not understood in each scrape run (the layout-drift history)."""

from __future__ import annotations

import html
from typing import Any

STATUS_COLOURS = {
    "ok": "#2f9e44", "no_image": "#74c0fc", "not_found": "#868e96", "invalid_id": "#adb5bd",
    "too_large": "#ced4da", "taken_down": "#495057", "captcha": "#f08c00",
    "service_error": "#e8590c", "degraded": "#fcc419", "unrecognised": "#e03131",
    "http_error": "#c2255c", "network_error": "#9c36b5", "not_scraped": "#dee2e6",
}  # fmt: skip
_WIDTH, _BAR, _LABEL = 640, 18, 90


def status_mix(facts: list[dict[str, Any]]) -> str:
    """One bar per release (oldest first): the test set's statuses as shares, and its
    image coverage as a label."""
    releases = [f for f in reversed(facts) if "broken" not in f][-20:]
    if not releases:
        return ""
    height = len(releases) * (_BAR + 6) + 30
    parts = [f'<svg class=chart role=img viewBox="0 0 {_WIDTH} {height}" width="{_WIDTH}" '
             f'height="{height}" aria-label="status mix of the test set per release">']  # fmt: skip
    span = _WIDTH - _LABEL - 60
    seen: list[str] = []
    for i, fact in enumerate(releases):
        y = i * (_BAR + 6)
        test = fact["statuses"].get("test", {})
        total = sum(test.values()) or 1
        x = float(_LABEL)
        parts.append(f'<text x="0" y="{y + 13}">{html.escape(fact["version"])}</text>')
        for status, n in sorted(test.items(), key=lambda kv: -kv[1]):
            w = span * n / total
            seen += [status] if status not in seen else []
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_BAR}" '
                         f'fill="{STATUS_COLOURS.get(status, "#999")}"><title>{html.escape(status)}: '
                         f'{n:,} ({n / total:.1%})</title></rect>')  # fmt: skip
            x += w
        coverage = fact["coverage"].get("test", 0)
        parts.append(f'<text x="{_LABEL + span + 6}" y="{y + 13}">{coverage:.1%}</text>')
    parts.append(_legend(seen, height - 12))
    return "".join(parts) + "</svg>"


def _legend(statuses: list[str], y: int) -> str:
    items, x = [], 0
    for status in statuses:
        items.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
                     f'fill="{STATUS_COLOURS.get(status, "#999")}"/>'
                     f'<text x="{x + 14}" y="{y}">{html.escape(status)}</text>')  # fmt: skip
        x += 14 + 7 * len(status) + 12
    return "".join(items)


def drift_history(runs: list[dict[str, Any]]) -> str:
    """One column per scrape run (oldest first): the share of its pages not understood;
    a run the drift guard stopped is marked."""
    scrapes = [r for r in reversed(runs) if r["stage"] == "scrape"][-40:]
    if not scrapes:
        return ""
    height, column = 120, max(6, min(24, (_WIDTH - 40) // len(scrapes)))
    top = max(0.05, max(r["unrecognised_share"] for r in scrapes))
    parts = [f'<svg class=chart role=img viewBox="0 0 {_WIDTH} {height + 20}" width="{_WIDTH}" '
             f'height="{height + 20}" aria-label="share of pages not understood per scrape run">',
             f'<text x="0" y="10">{top:.0%}</text><text x="0" y="{height}">0%</text>']  # fmt: skip
    for i, run in enumerate(scrapes):
        share = run["unrecognised_share"]
        h = (height - 10) * share / top
        x = 40 + i * column
        colour = "#e03131" if run.get("drift_stops") else "#017cee"
        parts.append(f'<rect x="{x}" y="{height - h:.1f}" width="{column - 2}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{html.escape(run["run_id"])}: {share:.1%} '
                     f'unrecognised, {run.get("drift_stops") or 0} drift stops</title></rect>')  # fmt: skip
    return "".join(parts) + "</svg>"
