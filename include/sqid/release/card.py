"""The dataset card (``README.md``): what a Hugging Face user reads first and what
``datasets`` reads to load the release.

Its YAML holds the Hub's metadata (license, task and size categories, source datasets,
one Parquet config per table with the first the default, and ``dataset_info`` with each
config's features and rows), so ``load_dataset(folder, config)`` loads every config with
float32 vectors. A release built from generated data, or with vectors of a model that is
not a published CLIP, says so in its title and first line. The card names no path of
the machine that built it. Made from the release alone, so the validator makes it again
and compares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.release.layout import CHANGES, HUB_CONFIGS, display_model, manifest_of
from sqid.release.report import synthetic_reasons
from sqid.release.takedowns import TAKEN_DOWN
from sqid.scrape.vocabulary import MEANINGS, TERMINAL_STATUSES

BIBTEX = """@article{alghossein2024sqid,
  title   = {Shopping Queries Image Dataset (SQID): An Image-Enriched ESCI Dataset for
             Exploring Multimodal Learning in Product Search},
  author  = {Al Ghossein, Marie and Chen, Ching-Wei and Tang, Jason},
  journal = {arXiv preprint arXiv:2405.15190},
  year    = {2024}
}
@article{reddy2022shopping,
  title   = {Shopping Queries Dataset: A Large-Scale {ESCI} Benchmark for Improving
             Product Search},
  author  = {Reddy, Chandan K. and M{\\`a}rquez, Llu{\\'i}s and Valero, Fran and Rao, Nikhil
             and Zaragoza, Hugo and Bandyopadhyay, Sambaran and Biswas, Arnab and Xing,
             Anlu and Subbian, Karthik},
  journal = {arXiv preprint arXiv:2206.06588},
  year    = {2022}
}"""
RELEASE_STATUSES = {
    "not_scraped": "no scrape outcome yet",
    TAKEN_DOWN: "removed on request (takedown list): no URL, no image IDs, no vectors",
}
_JSON_DTYPES = {pa.string(): "string", pa.int64(): "int64", pa.int32(): "int32",
                pa.float32(): "float32", pa.float64(): "float64", pa.bool_(): "bool"}  # fmt: skip


def size_category(rows: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M")):  # fmt: skip
        if rows < bound:
            return name
    return "1M<n<10M"


def hub_configs(directory: Path) -> dict[str, str]:
    """The configs this release has files for (``changes`` only after a first release)."""
    return {name: file for name, file in HUB_CONFIGS.items() if (directory / file).is_file()}


def _feature_yaml(schema: pa.Schema) -> list[str]:
    lines = []
    for field in schema:
        if pa.types.is_list(field.type):
            lines += [
                f"    - name: {field.name}",
                f"      list: {_JSON_DTYPES[field.type.value_type]}",
            ]
        else:
            lines += [f"    - name: {field.name}", f"      dtype: {_JSON_DTYPES[field.type]}"]
    return lines


def _front_matter(directory: Path, m: dict[str, Any], title: str) -> str:
    configs, infos = [], []
    for i, (name, file) in enumerate(hub_configs(directory).items()):
        configs += [
            f"- config_name: {name}",
            "  data_files:",
            "  - split: train",
            f"    path: {file}",
        ]
        configs += ["  default: true"] if i == 0 else []
        metadata = pq.read_metadata(directory / file)
        size = (directory / file).stat().st_size
        data_bytes = sum(
            metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups)
        )
        infos += [f"- config_name: {name}", "  features:",
                  *_feature_yaml(metadata.schema.to_arrow_schema()),
                  "  splits:", "  - name: train", f"    num_bytes: {data_bytes}",
                  f"    num_examples: {metadata.num_rows}",
                  f"  download_size: {size}", f"  dataset_size: {data_bytes}"]  # fmt: skip
    counts = m["counts"]
    return "\n".join([
        "---", "license: mit", f"pretty_name: {json.dumps(title)}", "language:", "- en",
        "task_categories:", "- text-retrieval", "- feature-extraction",
        "- image-feature-extraction", "size_categories:",
        f"- {size_category(counts['test_products'] + counts['supp_products'])}",
        "source_datasets:", "- extended|amazon-science/esci-data", "tags:",
        "- product-search", "- multimodal", "- clip", "- esci", "configs:", *configs,
        "dataset_info:", *infos, "---",
    ])  # fmt: skip


def dataset_card(directory: Path, evaluation: dict[str, Any] | None) -> str:
    directory = Path(directory)
    m = manifest_of(directory)
    reasons = synthetic_reasons(m)
    version = m["version"]
    title = f"SQID {version}: a demo release, not the real SQID" if reasons else f"SQID {version}"
    warning = (
        "**Not the Shopping Queries Image Dataset.** This release was built for trying the "
        "pipeline out: " + "; ".join(reasons) + ". Its files have SQID's layout, but its "
        "numbers say nothing about SQID or CLIP.\n\n"
        if reasons else ""
    )  # fmt: skip
    return "\n".join([
        _front_matter(directory, m, title), "", f"# {title}", "", warning + _summary(m), "",
        _loading(directory, version), _files(directory), _statuses(m), _method(m),
        _limits(m), _baselines(evaluation), "## Citation", "",
        "Cite SQID, and the Shopping Queries Dataset it extends:", "", "```bibtex", BIBTEX,
        "```", "", "## License", "",
        "MIT, like SQID. The underlying Shopping Queries Dataset is published by Amazon "
        "under Apache-2.0; the images stay Amazon's and their sellers': this dataset holds "
        "their URLs and embeddings, not the images.", "",
    ])  # fmt: skip


def _summary(m: dict[str, Any]) -> str:
    c, model = m["counts"], m["model"]
    coverage = ", ".join(f"{s} {v:.1%}" for s, v in sorted(m["coverage"].items()))
    return (
        f"Main product image URLs and CLIP embeddings for the US products of the Shopping "
        f"Queries Dataset (SQD, ESCI) Task-1 test set and a supplementary set: "
        f"{c['test_products']:,} test products, {c['supp_products']:,} supplementary "
        f"products, {c['queries']:,} queries. Image coverage: {coverage}. Vectors: "
        f"{display_model(model['model_id'])}, revision `{model['revision']}`, "
        f"{model['dimension']} float32 values each, the raw (not normalised) projected "
        f"outputs."
    )


def _loading(directory: Path, version: str) -> str:
    names = ", ".join(f"`{n}`" for n in hub_configs(directory))
    return f"""## Loading

Configs: {names} (the first is the default), all Parquet, one `train` split each.

```python
from datasets import load_dataset

urls = load_dataset("OWNER/NAME", "product_image_urls", split="train")  # or a local folder
features = load_dataset("OWNER/NAME", "product_features", split="train")
features = features.with_format("numpy")  # clip_image_features: float32 vectors
```

The CSV files keep the published SQID layout (`product_id,image_url`, an empty
`image_url` where there is none). Read `product_id` as text: ISBN-10 IDs start with
zeros.

```python
import pandas as pd
urls = pd.read_csv("product_image_urls.csv", dtype=str, keep_default_na=False)
```
"""


def _files(directory: Path) -> str:
    changes = (
        f"| `{CHANGES}` | per product changed since the previous release: `added`, `removed`, "
        "`image_changed`, `vectors_changed`, with old and new status and image ID |\n"
        if (directory / CHANGES).is_file() else ""
    )  # fmt: skip
    return f"""## Files

| file | content |
|---|---|
| `product_image_urls.csv` / `.parquet` | `product_id,image_url` for the test products (no URL: no product image) |
| `supp_product_image_urls.csv` / `.parquet` | the same for the supplementary products |
| `product_features.parquet` | `product_id`, `clip_text_features` (title), `clip_image_features` |
| `query_features.parquet` | `query_id` (string), `clip_text_features` |
| `product_image_status.parquet` | every product's status, image IDs, high-resolution URL, scrape time |
{changes}| `manifest.json`, `SHA256SUMS`, `croissant.json`, `CHANGELOG.md`, `report.html`, `evaluation.json` | provenance, checksums (`sha256sum -c SHA256SUMS`), Croissant metadata, changes, report, nDCG |
| `index/` | a search index of the vectors (faiss) |
"""


def _statuses(m: dict[str, Any]) -> str:
    seen = sorted({s for per_set in m["counts"]["statuses"].values() for s in per_set})
    rows = []
    for status in seen:
        meaning = MEANINGS.get(status) or RELEASE_STATUSES.get(status, "")
        final = "yes" if status in TERMINAL_STATUSES or status == TAKEN_DOWN else "no"
        counts = ", ".join(
            f"{s} {c.get(status, 0):,}" for s, c in sorted(m["counts"]["statuses"].items())
        )
        rows.append(f"| `{status}` | {meaning} | {final} | {counts} |")
    return "\n".join(["## What a status means", "",
                      "Only a status with positive evidence on the page is final; the others "
                      "are asked again by later runs.", "",
                      "| status | meaning | final | products |", "|---|---|---|---|", *rows, ""])  # fmt: skip


def _method(m: dict[str, Any]) -> str:
    pipeline = m.get("pipeline", {})
    return f"""## How the images were found

Each product page (`https://www.amazon.com/dp/<product_id>`) was fetched politely
(a rate limit per host, retries with backoff, a pause on robot checks) and its main
image read from the page's structure: the landing image and its size variants, the
book and e-book covers, the `colorImages` data. "No image available" placeholders and
the default digital-video art are recognised and published as no image; an image
shared by many unrelated products is flagged as a default. Images were downloaded only
from Amazon's image hosts, checked (type, size, decodable) and embedded once per
content hash. `image_url` is the page's display rendition; `hires_url` in the status
file is the largest one.

Built by sqid-pipeline {pipeline.get("package_version", "unknown")} (commit
`{pipeline.get("git_commit", "unknown")}`) on Airflow {pipeline.get("airflow_version")}; model
weights sha256 `{m["model"].get("weights_sha256")}`; `manifest.json` records the inputs
(SQD files and their sha256), the set rule, the index parameters and the checks'
thresholds.
"""


def _limits(m: dict[str, Any]) -> str:
    return f"""## Limits and bias

- US products of one snapshot of Amazon's site: pages change, products disappear, and
  a status is what the page said on the scrape date (`scraped_at`).
- Coverage is not uniform: products no longer sold (often older or niche ones) and
  digital videos lack images more often, so image-based methods see fewer of them.
- The main image is the seller's marketing photo: studio shots, text overlays and
  lifestyle images vary by category and seller.
- CLIP embeddings carry CLIP's own biases (its web training data); query and title
  vectors are English-centric.
- {m["counts"].get("taken_down", 0):,} products are taken down on request in this release. To ask
  for a takedown, open an issue naming the product or image ID and the reason.
"""


def _baselines(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return "## Baselines\n\nNot evaluated (no SQD examples file was given).\n"
    best = evaluation["best_combination"]
    return (
        "## Baselines (nDCG, US Task-1 test)\n\n| method | nDCG |\n|---|---|\n"
        f"| random order (expected) | {evaluation['random']:.4f} |\n"
        f"| CLIP text (title) | {evaluation['clip_text']:.4f} |\n"
        f"| CLIP image | {evaluation['clip_image']:.4f} |\n"
        f"| CLIP text+image (w={best['weight_text']:.1f}) | {best['ndcg']:.4f} |\n"
    )
