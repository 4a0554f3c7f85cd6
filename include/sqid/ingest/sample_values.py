"""The values of the sample files, shaped like SQD's: 10-character ASINs and ISBN-10s,
query and product texts in three locales' words (unicode and empty fields included), and
gaps where the real files have them. Vectorised with numpy, so full scale stays fast."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WORDS = {
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


BRANDS = ["Acme", "Nordvik", "Sakura", "Zentek", "Ólafur & Co", "", "Generic", "ブランド"]


COLORS = ["Black", "White", "Rojo", "ネイビー", "Multicolor", ""]


_ALNUM_CODES = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


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


def product_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct ids: mostly ASINs, about 15% ISBN-10s (books)."""
    n_isbn = int(n * 0.15)
    ids = np.unique(np.concatenate([_asins(rng, n - n_isbn), _isbn10s(rng, n_isbn)]))
    while len(ids) < n:  # random collisions: top up with fresh ids
        ids = np.unique(np.concatenate([ids, _asins(rng, n - len(ids) + 16)]))
    rng.shuffle(ids)
    return ids[:n]


def texts(rng: np.random.Generator, words: list[str], n: int, lo: int, hi: int) -> list[str]:
    """``n`` texts of ``lo`` to ``hi`` words, drawn from a pool of distinct random texts
    (a pool keeps full-scale generation fast and memory-flat)."""
    pool_size = min(n, 8192)
    lengths = rng.integers(lo, hi + 1, size=pool_size).tolist()
    picks = np.array(words, dtype=object)[rng.integers(0, len(words), size=(pool_size, hi))]
    pool = np.array(
        [" ".join(row[:k]) for row, k in zip(picks.tolist(), lengths, strict=True)], dtype=object
    )
    return pool[rng.integers(0, pool_size, size=n)].tolist()


def with_gaps(rng: np.random.Generator, values: Sequence[str], p_null: float, p_empty: float):
    draw = rng.random(len(values))
    return [
        None if d < p_null else "" if d < p_null + p_empty else v
        for v, d in zip(values, draw, strict=True)
    ]
