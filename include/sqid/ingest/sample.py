"""Deterministic generator of SQD-shaped sample files at any size.

The files have the real SQD schemas and realistic value shapes (10-character ASINs and
ISBN-10s, E/S/C/I mixes, three locales, train/test splits, small/large versions,
unicode text and empty fields, up to 40 judgements per query), so every stage can be
exercised end to end without the 1.1 GB originals.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.ingest.sample_values import BRANDS, COLORS, WORDS, product_ids, texts, with_gaps
from sqid.ingest.sqd import CHECKSUM_MANIFEST, EXAMPLES, PRODUCTS, SOURCES, FileSpec, manifest_text

FULL_SCALE_QUERIES = 130_652
"""Number of queries in the real SQD; ``--queries`` at this value gives about 2.6M examples."""

EXAMPLES_SCHEMA = pa.schema(
    [
        ("example_id", pa.int64()),
        ("query", pa.string()),
        ("query_id", pa.int64()),
        ("product_id", pa.string()),
        ("product_locale", pa.string()),
        ("esci_label", pa.string()),
        ("small_version", pa.int64()),
        ("large_version", pa.int64()),
        ("split", pa.string()),
    ]
)
PRODUCTS_SCHEMA = pa.schema(
    [
        ("product_id", pa.string()),
        ("product_title", pa.string()),
        ("product_description", pa.string()),
        ("product_bullet_point", pa.string()),
        ("product_brand", pa.string()),
        ("product_color", pa.string()),
        ("product_locale", pa.string()),
    ]
)

LOCALES = ("us", "es", "jp")
LOCALE_WEIGHTS = (0.62, 0.19, 0.19)
LABELS = ("E", "S", "C", "I")
LABEL_WEIGHTS = (0.65, 0.22, 0.03, 0.10)
SOURCE_NAMES = ("other", "negations", "parse_pattern", "behavioral", "nlqec")
SOURCE_WEIGHTS = (0.87, 0.053, 0.047, 0.029, 0.001)


@dataclass(frozen=True)
class SampleSummary:
    out_dir: Path
    specs: dict[str, FileSpec]
    examples: int
    products: int
    queries: int


def generate(out_dir: Path, n_queries: int = 1_000, seed: int = 0) -> SampleSummary:
    """Write the three SQD files and a checksum manifest to ``out_dir``. The same seed
    gives the same bytes: each part draws from one generator in a fixed order."""
    if n_queries < 1:
        raise ValueError("n_queries must be at least 1")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries = _queries(rng, n_queries)
    examples = _examples(rng, queries)
    products = _products(rng, examples)
    sources = rng.choice(len(SOURCE_NAMES), size=n_queries, p=SOURCE_WEIGHTS)
    specs = write_sqd_files(
        out_dir, examples, products, [(q, SOURCE_NAMES[s]) for q, s in enumerate(sources.tolist())]
    )
    return SampleSummary(out_dir, specs, examples.num_rows, products.num_rows, n_queries)


def _queries(rng: np.random.Generator, n_queries: int) -> dict[str, np.ndarray]:
    """Each query's locale, versions, split, number of judgements and text."""
    locale = rng.choice(len(LOCALES), size=n_queries, p=LOCALE_WEIGHTS)
    small = (rng.random(n_queries) < 0.37).astype(np.int64)
    test = rng.random(n_queries) < 0.3
    # Most queries carry about 20 judgements, some only a handful; never more than 40.
    few = rng.random(n_queries) < 0.2
    count = np.where(few, rng.integers(1, 11, n_queries), rng.poisson(24, n_queries))
    text = np.empty(n_queries, dtype=object)
    for li, loc in enumerate(LOCALES):
        mask = locale == li
        text[mask] = texts(rng, WORDS[loc], int(mask.sum()), 1, 5)
    return {"locale": locale, "small": small, "test": test, "count": np.clip(count, 1, 40),
            "text": text}  # fmt: skip


def _examples(rng: np.random.Generator, q: dict[str, np.ndarray]) -> pa.Table:
    """The judgements: products drawn from a per-locale pool, one per (query, product)."""
    ex_query = np.repeat(np.arange(len(q["locale"])), q["count"])
    ex_locale = q["locale"][ex_query]
    ex_product = np.empty(len(ex_query), dtype=object)
    for li in range(len(LOCALES)):
        mask = ex_locale == li
        n_ex = int(mask.sum())
        # Like the real SQD (1.8M products for 2.6M judgements): most products are
        # judged once, a popular head many times.
        pool = product_ids(rng, max(1, 2 * n_ex))
        head = max(1, n_ex // 20)
        idx = np.where(
            rng.random(n_ex) < 0.8,
            rng.integers(0, len(pool), n_ex),
            np.minimum(head - 1, (rng.pareto(1.0, n_ex) * head / 10).astype(np.int64)),
        )
        ex_product[mask] = pool[idx]
    _, keep = np.unique(
        np.char.add(ex_query.astype(str), ex_product.astype(str)), return_index=True
    )
    keep.sort()
    ex_query, ex_locale, ex_product = ex_query[keep], ex_locale[keep], ex_product[keep]
    n_ex = len(ex_query)
    return pa.table(
        {
            "example_id": np.arange(n_ex, dtype=np.int64),
            "query": q["text"][ex_query].tolist(),
            "query_id": ex_query.astype(np.int64),
            "product_id": ex_product.tolist(),
            "product_locale": np.array(LOCALES)[ex_locale].tolist(),
            "esci_label": np.array(LABELS)[rng.choice(4, size=n_ex, p=LABEL_WEIGHTS)].tolist(),
            "small_version": q["small"][ex_query],
            "large_version": np.ones(n_ex, dtype=np.int64),
            "split": np.where(q["test"][ex_query], "test", "train").tolist(),
        },
        schema=EXAMPLES_SCHEMA,
    )


def _products(rng: np.random.Generator, examples: pa.Table) -> pa.Table:
    """One row per judged product, with SQD's share of missing fields per column."""
    ex_product = np.array(examples.column("product_id").to_pylist(), dtype=object)
    ex_locale = np.array(examples.column("product_locale").to_pylist(), dtype=object)
    cols: dict[str, list[Any]] = {name: [] for name in PRODUCTS_SCHEMA.names}
    for loc in LOCALES:
        ids = np.unique(ex_product[ex_locale == loc])
        n = len(ids)
        cols["product_id"] += ids.tolist()
        cols["product_title"] += with_gaps(rng, texts(rng, WORDS[loc], n, 2, 14), 0.002, 0.001)
        cols["product_description"] += with_gaps(rng, texts(rng, WORDS[loc], n, 10, 40), 0.45, 0.02)
        cols["product_bullet_point"] += with_gaps(rng, texts(rng, WORDS[loc], n, 5, 25), 0.15, 0.01)
        brands = [BRANDS[i] for i in rng.integers(0, len(BRANDS), n)]
        cols["product_brand"] += with_gaps(rng, brands, 0.05, 0.0)
        colors = [COLORS[i] for i in rng.integers(0, len(COLORS), n)]
        cols["product_color"] += with_gaps(rng, colors, 0.35, 0.0)
        cols["product_locale"] += [loc] * n
    return pa.table(cols, schema=PRODUCTS_SCHEMA)


def write_sqd_files(
    out_dir: Path,
    examples: pa.Table,
    products: pa.Table,
    sources: Sequence[tuple[int, str]],
) -> dict[str, FileSpec]:
    """Write SQD-named files (atomically) and their checksum manifest; return the specs."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def _atomic(name: str, write) -> None:
        tmp = out_dir / f".{name}.tmp"
        write(tmp)
        os.replace(tmp, out_dir / name)

    _atomic(EXAMPLES, lambda p: pq.write_table(examples, p, row_group_size=500_000))
    _atomic(PRODUCTS, lambda p: pq.write_table(products, p, row_group_size=250_000))

    def _write_sources(p: Path) -> None:
        with p.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["query_id", "source"])
            writer.writerows(sources)

    _atomic(SOURCES, _write_sources)
    specs = {name: spec_of(out_dir / name) for name in (EXAMPLES, PRODUCTS, SOURCES)}
    (out_dir / CHECKSUM_MANIFEST).write_text(manifest_text(specs))
    return specs


def spec_of(path: Path) -> FileSpec:
    return FileSpec(path.name, path.stat().st_size, sha256_file(path))
