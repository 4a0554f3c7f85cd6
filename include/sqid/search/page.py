"""The HTML of the releases page (the project's dashboard), a release's checks, and a
run's statistics: self-contained documents (style, charts and script inline, nothing
from another host), in Airflow's fonts and colours, light or dark as the system asks."""

from __future__ import annotations

import html
from typing import Any

from sqid.search.charts import drift_history, status_mix

esc = html.escape

_STYLE = """
:root{--bg:#fff;--fg:#1a202c;--muted:#4a5568;--line:#e2e8f0;--panel:#f7fafc;--accent:#017cee;
--ok:#2f855a;--warn:#b7791f;--fail:#c53030}
@media (prefers-color-scheme:dark){:root{--bg:#1a202c;--fg:#e2e8f0;--muted:#a0aec0;
--line:#2d3748;--panel:#171923;--accent:#63b3ed;--ok:#68d391;--warn:#f6e05e;--fail:#fc8181}}
body{font:14px Inter,system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:16px 24px;
background:var(--bg);color:var(--fg)}
a{color:var(--accent)}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
nav{color:var(--muted);margin-bottom:8px}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid var(--line);
padding:4px 10px;text-align:right;vertical-align:top}th{color:var(--muted);font-weight:600}
td:first-child,th:first-child{text-align:left}
.chart{max-width:100%;height:auto}.chart text{fill:var(--fg);font-size:11px}
.pass{color:var(--ok)}.warn{color:var(--warn)}.fail,.error{color:var(--fail)}
.muted,#status{color:var(--muted)}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:12px 0}
label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
input,select,button{font:inherit;background:var(--panel);color:var(--fg);
border:1px solid var(--line);border-radius:6px;padding:4px 8px}
button{background:var(--accent);color:#fff;border:0;cursor:pointer}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:12px}
.grid figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px;background:var(--panel)}
.grid img{width:100%;height:150px;object-fit:contain;background:var(--bg)}
.grid figcaption{font-size:12px;display:flex;flex-direction:column;gap:2px}
.grid button{font-size:12px;padding:2px 6px;margin-top:4px}.missing{height:150px;background:var(--bg)}
"""

_SCRIPT = """
const form = document.getElementById('search');
const fields = ['version', 'text', 'over', 'product', 'feedback', 'weight', 'k', 'status'];
function toUrl() {
  const params = new URLSearchParams();
  for (const name of fields) { const v = form.elements[name].value; if (v) params.set(name, v); }
  history.replaceState(null, '', '?' + params.toString() + location.hash);
}
function fromUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of fields) if (params.has(name)) form.elements[name].value = params.get(name);
  return ['text', 'product'].some((name) => params.get(name));
}
function card(hit) {
  const figure = document.createElement('figure');
  let picture;
  if (hit.image_sha256) {
    picture = document.createElement('img');
    picture.src = 'thumb/' + hit.image_sha256; picture.alt = hit.title || hit.product_id;
  } else { picture = document.createElement('div'); picture.className = 'missing'; }
  const link = document.createElement('a');
  link.href = hit.image_url || hit.product_url; link.rel = 'noreferrer'; link.target = '_blank';
  link.append(picture);
  const caption = document.createElement('figcaption');
  const product = document.createElement('a');
  product.href = hit.product_url; product.rel = 'noreferrer'; product.target = '_blank';
  product.textContent = hit.product_id;
  const line = document.createElement('span');
  line.textContent = `#${hit.rank} (${hit.score.toFixed(3)}) ${hit.status || ''}`;
  const title = document.createElement('span'); title.textContent = hit.title || '';
  const more = document.createElement('button'); more.type = 'button';
  more.textContent = 'more like this';
  more.addEventListener('click', () => {
    form.elements.text.value = ''; form.elements.product.value = hit.product_id;
    form.elements.image.value = ''; search();
  });
  caption.append(product, line, title, more);
  figure.append(link, caption);
  return figure;
}
async function search() {
  const status = document.getElementById('status');
  const grid = document.getElementById('results');
  status.className = ''; status.textContent = 'searching ...'; grid.replaceChildren();
  toUrl();
  const response = await fetch('api/search', {method: 'POST', body: new FormData(form)});
  const body = await response.json();
  if (!response.ok) {
    status.className = 'error'; status.textContent = body.detail || response.statusText; return;
  }
  status.textContent = body.hits.length + ' products' + (body.note ? ' - ' + body.note : '');
  for (const hit of body.hits) grid.append(card(hit));
}
form.addEventListener('submit', (event) => { event.preventDefault(); search(); });
if (fromUrl()) search();
"""


def _document(title: str, body: str, script: str = "") -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=color-scheme content='light dark'><title>{esc(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}"
            f"{f'<script>{script}</script>' if script else ''}</body></html>")  # fmt: skip


def _run_link(airflow: str, dag_id: str, run_id: str | None) -> str:
    if not run_id:
        return "-"
    href = f"{airflow.rstrip('/')}/dags/{dag_id}/runs/{run_id}"
    return f'<a href="{esc(href)}" target=_top>{esc(run_id)}</a>'


def render_page(facts: list[dict[str, Any]], runs: list[dict[str, Any]], airflow: str = "/") -> str:
    """The dashboard: releases, their status mix, the scrape runs' drift history, the
    latest runs, and search."""
    parts = ["<h1>SQID releases</h1>"]
    if not facts:
        parts.append("<p>No release yet: run the sqid_release DAG.</p>")
    else:
        parts += [_releases_table(facts, airflow), "<h2>Status mix and coverage of the test set</h2>",
                  status_mix(facts)]  # fmt: skip
    if runs:
        parts += ["<h2>Pages not understood per scrape run</h2>", drift_history(runs),
                  "<p class=muted>Red: the layout-drift guard stopped a shard of that run.</p>",
                  "<h2>Latest runs</h2>", _runs_table(runs, airflow)]  # fmt: skip
    if any(f.get("searchable") for f in facts):
        parts.append(_search_form(facts))
        return _document("SQID releases", "".join(parts), _SCRIPT)
    return _document("SQID releases", "".join(parts))


def _releases_table(facts: list[dict[str, Any]], airflow: str) -> str:
    rows = ["<table><tr><th>version</th><th>created</th><th>test products</th><th>coverage</th>"
            "<th>checks</th><th>changes</th><th>nDCG text</th><th>nDCG image</th>"
            "<th>recall@100 (image)</th><th>made by run</th><th>files</th></tr>"]  # fmt: skip
    for f in facts:
        version = esc(f["version"])
        if "broken" in f:
            rows.append(f"<tr><td>{version}</td><td colspan=10 class=error>broken: "
                        f"{esc(f['broken'])}</td></tr>")  # fmt: skip
            continue
        retrieval = (f["retrieval"] or {}).get("image") or {}
        files = " ".join(f'<a href="files/{version}/{esc(name)}">{esc(name)}</a>'
                         for name in f["files"] if "/" not in name)  # fmt: skip
        changes = ", ".join(f"{k} {v:,}" for k, v in (f["changes"] or {}).items()) or "-"
        checks = f["checks"]
        run = _run_link(airflow, "sqid_release", (checks or {}).get("run_id"))
        rows.append(
            f'<tr><td><a href="releases/{version}">{version}</a></td>'
            f"<td>{esc(str(f['created_at']))}</td><td>{f['counts'].get('test_products', 0):,}</td>"
            f"<td>{f['coverage'].get('test', 0):.1%}</td><td>{_verdict(checks)}</td>"
            f"<td>{esc(changes)}</td><td>{_num(f['ndcg'].get('clip_text'))}</td>"
            f"<td>{_num(f['ndcg'].get('clip_image'))}</td><td>{_num(retrieval.get('recall@100'))}</td>"
            f"<td>{run}</td><td>{files}</td></tr>"
        )
    return "".join(rows) + "</table>"


def _verdict(checks: dict[str, Any] | None) -> str:
    if checks is None:
        return "<span class=muted>not kept</span>"
    if checks["failed"]:
        return f"<span class=fail>{checks['failed']} failed</span>"
    warn = f", <span class=warn>{checks['warnings']} warnings</span>" if checks["warnings"] else ""
    return f"<span class=pass>passed</span>{warn}"


def _runs_table(runs: list[dict[str, Any]], airflow: str) -> str:
    rows = ["<table><tr><th>stage</th><th>run</th><th>recorded</th><th>items</th><th>per second</th>"
            "<th>retries</th><th>captchas</th><th>429s</th><th>drift stops</th><th>cache hits</th>"
            "<th>finish</th><th>Airflow</th></tr>"]  # fmt: skip
    for r in runs:
        stage, run_id = esc(r["stage"]), esc(r["run_id"])
        cells = [_int(r.get(k)) for k in ("items",)] + [f"{r['per_second']:.2f}"]
        cells += [
            _int(r.get(k))
            for k in ("retries", "captchas", "throttled", "drift_stops", "cache_hits")
        ]
        finish = esc(r["finish_reason"])
        rows.append(
            f'<tr><td>{stage}</td><td><a href="runs/{stage}/{run_id}">{run_id}</a></td>'
            f"<td>{esc(str(r['recorded_at'])[:19])}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td class={'pass' if finish == 'finished' else 'warn'}>{finish}</td>"
            f"<td>{_run_link(airflow, r['dag_id'], r['run_id'])}</td></tr>"
        )
    return "".join(rows) + "</table>"


def _search_form(facts: list[dict[str, Any]]) -> str:
    options = "".join(f"<option>{esc(f['version'])}</option>" for f in facts if f.get("searchable"))
    statuses = sorted({s for f in facts if "broken" not in f
                       for s in f["statuses"].get("test", {})})  # fmt: skip
    status_options = "".join(f"<option>{esc(s)}</option>" for s in statuses)
    return (
        "<h2>Search</h2><form id=search>"
        f"<label>release<select name=version>{options}</select></label>"
        "<label>text<input name=text placeholder='red running shoes'></label>"
        "<label>a text matches<select name=over><option value=image>images</option>"
        "<option value=title>titles</option></select></label>"
        "<label>image<input type=file name=image accept='image/*'></label>"
        "<label>feedback (with an image)<input name=feedback placeholder='more floral'></label>"
        "<label>weight<input name=weight type=number min=0 max=1 step=0.1 value=0.3></label>"
        "<label>or a product ID<input name=product placeholder='B0...'></label>"
        f"<label>status<select name=status><option value=''>any</option>{status_options}</select></label>"
        "<label>results<input name=k type=number min=1 max=100 value=12></label>"
        "<button type=submit>Search</button></form><p id=status></p>"
        "<p class=muted>Search covers the test set: SQID's files hold vectors for its products "
        "only (the supplementary set has image URLs, no vectors).</p>"
        "<div class=grid id=results></div>"
    )


def render_release(fact: dict[str, Any], checks: dict[str, Any], airflow: str = "/") -> str:
    """A release: its checks (severity, value, threshold, verdict) and their history."""
    version = esc(fact["version"])
    parts = [f'<nav><a href="../">SQID releases</a> / {version}</nav><h1>SQID {version}</h1>']
    record = checks["record"]
    if record is None:
        parts.append("<p class=muted>No checks were kept for this release (made before the "
                     "gate kept them).</p>")  # fmt: skip
        return _document(f"SQID {fact['version']}", "".join(parts))
    parts.append(f"<p>Checked {esc(record['checked_at'])}: "
                 f"{'passed' if record['passed'] else 'failed'}; made by run "
                 f"{_run_link(airflow, 'sqid_release', record.get('run_id'))}.</p>")  # fmt: skip
    rows = ["<h2>Checks</h2><table><tr><th>check</th><th>what</th><th>severity</th><th>value</th>"
            "<th>threshold</th><th>verdict</th></tr>"]  # fmt: skip
    for r in record["checks"]:
        verdict = "pass" if r["passed"] else r["severity"]
        rows.append(f"<tr><td>{esc(r['check'])}</td><td>{esc(r['name'])}</td><td>{esc(r['severity'])}</td>"
                    f"<td>{_num(r['value'])}</td><td>{_num(r['threshold'])}</td>"
                    f"<td class={verdict}>{'passed' if r['passed'] else esc(r['severity'])}</td></tr>")  # fmt: skip
    parts.append("".join(rows) + "</table>")
    versions = checks["versions"]
    head = "".join(f"<th>{esc(v)}</th>" for v in versions)
    rows = [f"<h2>History</h2><table><tr><th>what</th>{head}</tr>"]
    for name, by_version in checks["history"].items():
        cells = "".join(f"<td>{_num(by_version.get(v))}</td>" for v in versions)
        rows.append(f"<tr><td>{esc(name)}</td>{cells}</tr>")
    parts.append("".join(rows) + "</table>")
    return _document(f"SQID {fact['version']}", "".join(parts))


def render_run(detail: dict[str, Any], airflow: str = "/") -> str:
    """One run's statistics: totals, counts by dimension, latency per host."""
    run_id = esc(detail["run_id"])
    parts = [f'<nav><a href="../../">SQID releases</a> / {esc(detail["stage"])} run</nav>',
             f"<h1>{esc(detail['dag_id'])} {run_id}</h1>",
             f"<p>{_run_link(airflow, detail['dag_id'], detail['run_id'])} in Airflow; finish: "
             f"{esc(detail['finish_reason'])}.</p><table>"]  # fmt: skip
    for key in ("started_at", "finished_at", "shards", "items", "requests", "seconds", "per_second",
                "bytes", "retries", "captchas", "throttled", "drift_stops", "cache_hits"):  # fmt: skip
        if detail.get(key) is not None:
            parts.append(
                f"<tr><th>{esc(key.replace('_', ' '))}</th><td>{esc(str(detail[key]))}</td></tr>"
            )
    parts.append("</table>")
    for dimension, counts in sorted(detail["counts"].items()):
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{n:,}</td></tr>" for k, n in
                       sorted(counts.items(), key=lambda kv: -kv[1]))  # fmt: skip
        parts.append(f"<h2>{esc(dimension.replace('_', ' '))}</h2><table>{rows}</table>")
    if detail["counts"].get("error_page"):
        parts.append("<p class=muted>The first page of each error kind is kept under the run's "
                     "folder, <code>error-pages/&lt;status&gt;/</code>; read one with "
                     "<code>sqid parse-page</code>.</p>")  # fmt: skip
    if detail["latency"]:
        rows = "".join(f"<tr><td>{esc(r['host'])}</td><td>{r['requests']:,}</td>"
                       f"<td>{_num(r['p50_ms'])}</td><td>{_num(r['p95_ms'])}</td>"
                       f"<td>{_num(r['p99_ms'])}</td></tr>" for r in detail["latency"])  # fmt: skip
        parts.append("<h2>Latency per host (ms)</h2><table><tr><th>host</th><th>requests</th>"
                     f"<th>p50</th><th>p95</th><th>p99</th></tr>{rows}</table>")  # fmt: skip
    return _document(f"{detail['dag_id']} {detail['run_id']}", "".join(parts))


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"
