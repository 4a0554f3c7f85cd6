"""Deterministic generator of SQD-shaped sample files at any size.

The files have the real SQD schemas and realistic value shapes (10-character ASINs and
ISBN-10s, E/S/C/I mixes, three locales, train/test splits, small/large versions,
unicode text and empty fields, up to 40 judgements per query), so every stage can be
exercised end to end without the 1.1 GB originals.

Over 300 lines, most of it word lists and schemas: the generator itself is one function.
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

_WORDS = {
    "us": [
        "wireless",
        "charger",
        "stainless",
        "steel",
        "kids",
        "water",
        "bottle",
        "leather",
        "wallet",
        "men",
        "women",
        "organic",
        "coffee",
        "beans",
        "running",
        "shoes",
        "phone",
        "case",
        "usb-c",
        "cable",
        "led",
        "desk",
        "lamp",
        "yoga",
        "mat",
        "cast",
        "iron",
        "skillet",
        "noise",
        "cancelling",
        "headphones",
        "4k",
        "monitor",
        "dog",
        "toy",
        "bluetooth",
        "speaker",
        "ceramic",
        "vase",
        "café",
        "crème",
        "brûlée",
        "naïve",
        "résumé",
        "12oz",
        "2-pack",
        "xl",
    ],
    "es": [
        "cargador",
        "inalámbrico",
        "acero",
        "inoxidable",
        "botella",
        "niños",
        "cartera",
        "cuero",
        "café",
        "orgánico",
        "zapatillas",
        "funda",
        "móvil",
        "lámpara",
        "escritorio",
        "esterilla",
        "cámara",
        "teléfono",
        "año",
        "señal",
        "pequeño",
        "grande",
        "algodón",
        "camión",
    ],
    "jp": [
        "ワイヤレス",
        "充電器",
        "ステンレス",
        "水筒",
        "子供",
        "財布",
        "メンズ",
        "レディース",
        "コーヒー豆",
        "ランニングシューズ",
        "スマホケース",
        "ケーブル",
        "デスクライト",
        "ヨガマット",
        "鉄",
        "フライパン",
        "ヘッドホン",
        "モニター",
        "犬",
        "おもちゃ",
        "スピーカー",
        "花瓶",
        "日本製",
        "送料無料",
    ],
}
_BRANDS = ["Acme", "Nordvik", "Sakura", "Zentek", "Ólafur & Co", "", "Generic", "ブランド"]
_COLORS = ["Black", "White", "Rojo", "ネイビー", "Multicolor", ""]
_ALNUM_CODES = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


@dataclass(frozen=True)
class SampleSummary:
    out_dir: Path
    specs: dict[str, FileSpec]
    examples: int
    products: int
    queries: int


def _ascii_rows(codes: np.ndarray) -> np.ndarray:
    """Rows of ASCII codes (n, k) as an array of k-character strings, without a Python loop."""
    return (
        np.ascontiguousarray(codes, dtype=np.uint8).view(f"S{codes.shape[1]}").ravel().astype(str)
    )


def _asins(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = _ALNUM_CODES[rng.integers(0, len(_ALNUM_CODES), size=(n, 10))]
    codes[:, 0], codes[:, 1] = ord("B"), ord("0")
    return _ascii_rows(codes)


def _isbn10s(rng: np.random.Generator, n: int) -> np.ndarray:
    digits = rng.integers(0, 10, size=(n, 9))
    check = (11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11) % 11
    codes = np.empty((n, 10), dtype=np.uint8)
    codes[:, :9] = digits + ord("0")
    codes[:, 9] = np.where(check == 10, ord("X"), check + ord("0"))
    return _ascii_rows(codes)


def _product_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct ids: mostly ASINs, about 15% ISBN-10s (books)."""
    n_isbn = int(n * 0.15)
    ids = np.unique(np.concatenate([_asins(rng, n - n_isbn), _isbn10s(rng, n_isbn)]))
    while len(ids) < n:  # random collisions: top up with fresh ids
        ids = np.unique(np.concatenate([ids, _asins(rng, n - len(ids) + 16)]))
    rng.shuffle(ids)
    return ids[:n]


def _texts(rng: np.random.Generator, words: list[str], n: int, lo: int, hi: int) -> list[str]:
    """``n`` texts of ``lo`` to ``hi`` words, drawn from a pool of distinct random texts
    (a pool keeps full-scale generation fast and memory-flat)."""
    pool_size = min(n, 8192)
    lengths = rng.integers(lo, hi + 1, size=pool_size).tolist()
    picks = np.array(words, dtype=object)[rng.integers(0, len(words), size=(pool_size, hi))]
    pool = np.array(
        [" ".join(row[:k]) for row, k in zip(picks.tolist(), lengths, strict=True)], dtype=object
    )
    return pool[rng.integers(0, pool_size, size=n)].tolist()


def _with_gaps(rng: np.random.Generator, values: Sequence[str], p_null: float, p_empty: float):
    draw = rng.random(len(values))
    return [
        None if d < p_null else "" if d < p_null + p_empty else v
        for v, d in zip(values, draw, strict=True)
    ]


def generate(out_dir: Path, n_queries: int = 1_000, seed: int = 0) -> SampleSummary:
    """Write the three SQD files and a checksum manifest to ``out_dir``."""
    if n_queries < 1:
        raise ValueError("n_queries must be at least 1")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    q_locale = rng.choice(len(LOCALES), size=n_queries, p=LOCALE_WEIGHTS)
    q_small = (rng.random(n_queries) < 0.37).astype(np.int64)
    q_test = rng.random(n_queries) < 0.3
    # Most queries carry about 20 judgements, some only a handful; never more than 40.
    few = rng.random(n_queries) < 0.2
    q_count = np.where(few, rng.integers(1, 11, n_queries), rng.poisson(24, n_queries))
    q_count = np.clip(q_count, 1, 40)
    q_text = np.empty(n_queries, dtype=object)
    for li, loc in enumerate(LOCALES):
        mask = q_locale == li
        q_text[mask] = _texts(rng, _WORDS[loc], int(mask.sum()), 1, 5)

    # Judgements: products drawn from a per-locale pool.
    ex_query = np.repeat(np.arange(n_queries), q_count)
    ex_locale = q_locale[ex_query]
    ex_product = np.empty(len(ex_query), dtype=object)
    for li in range(len(LOCALES)):
        mask = ex_locale == li
        n_ex = int(mask.sum())
        # Like the real SQD (1.8M products for 2.6M judgements): most products are
        # judged once, a popular head many times.
        pool = _product_ids(rng, max(1, 2 * n_ex))
        head = max(1, n_ex // 20)
        idx = np.where(
            rng.random(n_ex) < 0.8,
            rng.integers(0, len(pool), n_ex),
            np.minimum(head - 1, (rng.pareto(1.0, n_ex) * head / 10).astype(np.int64)),
        )
        ex_product[mask] = pool[idx]
    # One judgement per (query, product).
    _, keep = np.unique(
        np.char.add(ex_query.astype(str), ex_product.astype(str)), return_index=True
    )
    keep.sort()
    ex_query, ex_locale, ex_product = ex_query[keep], ex_locale[keep], ex_product[keep]
    n_ex = len(ex_query)

    examples = pa.table(
        {
            "example_id": np.arange(n_ex, dtype=np.int64),
            "query": q_text[ex_query].tolist(),
            "query_id": ex_query.astype(np.int64),
            "product_id": ex_product.tolist(),
            "product_locale": np.array(LOCALES)[ex_locale].tolist(),
            "esci_label": np.array(LABELS)[rng.choice(4, size=n_ex, p=LABEL_WEIGHTS)].tolist(),
            "small_version": q_small[ex_query],
            "large_version": np.ones(n_ex, dtype=np.int64),
            "split": np.where(q_test[ex_query], "test", "train").tolist(),
        },
        schema=EXAMPLES_SCHEMA,
    )

    product_cols: dict[str, list[Any]] = {name: [] for name in PRODUCTS_SCHEMA.names}
    for li, loc in enumerate(LOCALES):
        ids = np.unique(ex_product[ex_locale == li])
        n = len(ids)
        titles = _texts(rng, _WORDS[loc], n, 2, 14)
        product_cols["product_id"] += ids.tolist()
        product_cols["product_title"] += _with_gaps(rng, titles, 0.002, 0.001)
        product_cols["product_description"] += _with_gaps(
            rng, _texts(rng, _WORDS[loc], n, 10, 40), 0.45, 0.02
        )
        product_cols["product_bullet_point"] += _with_gaps(
            rng, _texts(rng, _WORDS[loc], n, 5, 25), 0.15, 0.01
        )
        product_cols["product_brand"] += _with_gaps(
            rng, [_BRANDS[i] for i in rng.integers(0, len(_BRANDS), n)], 0.05, 0.0
        )
        product_cols["product_color"] += _with_gaps(
            rng, [_COLORS[i] for i in rng.integers(0, len(_COLORS), n)], 0.35, 0.0
        )
        product_cols["product_locale"] += [loc] * n
    products = pa.table(product_cols, schema=PRODUCTS_SCHEMA)

    sources = rng.choice(len(SOURCE_NAMES), size=n_queries, p=SOURCE_WEIGHTS)
    specs = write_sqd_files(
        out_dir,
        examples,
        products,
        [(q, SOURCE_NAMES[s]) for q, s in enumerate(sources.tolist())],
    )
    return SampleSummary(out_dir, specs, n_ex, products.num_rows, n_queries)


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
