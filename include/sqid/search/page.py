"""The HTML of the releases page: one self-contained document (its style and script
inline, nothing from another host) listing each release's facts, with the search box."""

from __future__ import annotations

import html
from typing import Any

_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:16px;color:#1f2328}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}"
    "form{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:12px 0}"
    "label{display:flex;flex-direction:column;font-size:12px;color:#57606a}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}"
    ".grid figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:6px}"
    ".grid img{width:100%;height:150px;object-fit:contain;background:#f6f8fa}"
    ".grid figcaption{font-size:12px}.missing{height:150px;background:#f6f8fa}"
    "#status{color:#57606a}.error{color:#cf222e}"
)


_SCRIPT = """
const form = document.getElementById('search');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const status = document.getElementById('status');
  const grid = document.getElementById('results');
  status.className = ''; status.textContent = 'searching ...'; grid.replaceChildren();
  const response = await fetch('api/search', {method: 'POST', body: new FormData(form)});
  const body = await response.json();
  if (!response.ok) {
    status.className = 'error'; status.textContent = body.detail || response.statusText; return;
  }
  status.textContent = body.hits.length + ' products';
  for (const hit of body.hits) {
    const figure = document.createElement('figure');
    let picture;
    if (hit.image_sha256) {
      picture = document.createElement('img');
      picture.src = 'thumb/' + hit.image_sha256; picture.alt = hit.product_id;
    } else {
      picture = document.createElement('div'); picture.className = 'missing';
    }
    const caption = document.createElement('figcaption');
    caption.textContent = `#${hit.rank} ${hit.product_id} (${hit.score.toFixed(3)}) ${hit.title || ''}`;
    figure.append(picture, caption); grid.append(figure);
  }
});
"""


def render_page(facts: list[dict[str, Any]]) -> str:
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset=utf-8><title>SQID releases</title>",
             f"<style>{_STYLE}</style></head><body><h1>SQID releases</h1>"]  # fmt: skip
    if not facts:
        parts.append("<p>No release yet: run the sqid_release DAG.</p></body></html>")
        return "".join(parts)
    parts.append("<table><tr><th>version</th><th>created</th><th>test products</th>"
                 "<th>coverage (test)</th><th>nDCG text</th><th>nDCG image</th>"
                 "<th>recall@100 (image)</th><th>files</th></tr>")  # fmt: skip
    for f in facts:
        if "broken" in f:
            parts.append(f"<tr><td>{esc(f['version'])}</td><td colspan=7 class=error>"
                         f"broken: {esc(f['broken'])}</td></tr>")  # fmt: skip
            continue
        retrieval = (f["retrieval"] or {}).get("image") or {}
        files = " ".join(f'<a href="files/{esc(f["version"])}/{esc(name)}">{esc(name)}</a>'
                         for name in f["files"] if "/" not in name)  # fmt: skip
        parts.append(
            f"<tr><td>{esc(f['version'])}</td><td>{esc(str(f['created_at']))}</td>"
            f"<td>{f['counts'].get('test_products', 0):,}</td>"
            f"<td>{f['coverage'].get('test', 0):.1%}</td><td>{_num(f['ndcg'].get('clip_text'))}</td>"
            f"<td>{_num(f['ndcg'].get('clip_image'))}</td>"
            f"<td>{_num(retrieval.get('recall@100'))}</td><td>{files}</td></tr>"
        )
    parts.append("</table><h2>Search</h2><form id=search>")
    options = "".join(f"<option>{esc(f['version'])}</option>" for f in facts
                      if f.get("searchable"))  # fmt: skip
    parts.append(
        f"<label>release<select name=version>{options}</select></label>"
        "<label>text<input name=text placeholder='red running shoes'></label>"
        "<label>image<input type=file name=image accept='image/*'></label>"
        "<label>feedback (with an image)<input name=feedback placeholder='more floral'></label>"
        "<label>weight<input name=weight type=number min=0 max=1 step=0.1 value=0.3></label>"
        "<label>or a product id<input name=product placeholder='B0...'></label>"
        "<label>results<input name=k type=number min=1 max=100 value=12></label>"
        "<button type=submit>Search</button></form><p id=status></p>"
        f"<div class=grid id=results></div><script>{_SCRIPT}</script></body></html>"
    )
    return "".join(parts)


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"
