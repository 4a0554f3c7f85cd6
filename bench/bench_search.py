"""Search benchmark: the release index vs exact numpy search, and HNSW peers.

200,000 x 768 synthetic vectors (``--vectors``), L2-normalised, from a two-level mixture
(200 broad groups of 4,000 clusters), so neighbourhoods have some of the structure
embeddings have (uniform random vectors have none, and no ANN index does well on them);
1,000 queries from the same mixture. Prints, in one run: build seconds (training,
adding and, for the project, tuning nprobe), single-query latency (p50/p95), batch
queries/s and recall@10 against exact search, for

- exact search, numpy over the normalised matrix (the anchor and the reference);
- the project's index (``sqid.release.index``: faiss IVF with float16 codes, nprobe tuned
  to recall@10 >= 0.97 on its own vectors);
- faiss ``IndexHNSWFlat`` (M=16, efConstruction=128, efSearch=128), and usearch's HNSW
  (float16, the same graph parameters) when ``usearch`` is installed.

All figures are on synthetic vectors.

    python bench/bench_search.py
    python bench/bench_search.py --vectors 50000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sqid.knn import exact_top_k, normalise, recall, search_keys
from sqid.release.index import IndexParams, build, tune_nprobe

K = 10


def mixture(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    picked = centres[rng.integers(0, len(centres), n)]
    dim = centres.shape[1]
    return normalise(picked + rng.standard_normal((n, dim), dtype=np.float32) * 1.2 / np.sqrt(dim))


def two_level_centres(rng: np.random.Generator, dim: int) -> np.ndarray:
    groups = normalise(rng.standard_normal((200, dim), dtype=np.float32))
    spread = rng.standard_normal((4_000, dim), dtype=np.float32) * 0.9 / np.sqrt(dim)
    return normalise(groups[rng.integers(0, 200, 4_000)] + spread)


def latency(search_one, queries: np.ndarray) -> tuple[float, float]:
    times = []
    for q in queries[:300]:
        start = time.perf_counter()
        search_one(q)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = two_level_centres(rng, args.dim)
    vectors = mixture(args.vectors, rng, centres)
    queries = mixture(args.queries, rng, centres)
    rows = np.arange(len(vectors), dtype=np.int64)
    print(f"{args.vectors:,} x {args.dim} synthetic vectors (two-level mixture), "
          f"{args.queries:,} queries, k={K}")  # fmt: skip

    start = time.perf_counter()
    truth, _ = exact_top_k(vectors, rows, queries, K)
    exact_batch = time.perf_counter() - start
    p50, p95 = latency(lambda q: exact_top_k(vectors, rows, q[None, :], K), queries)
    results = [("exact numpy (anchor)", 0.0, p50, p95, args.queries / exact_batch, 1.0)]

    def measure(name: str, built: float, search) -> None:
        start = time.perf_counter()
        found = search(queries)
        batch = time.perf_counter() - start
        p50, p95 = latency(lambda q: search(q[None, :]), queries)
        results.append((name, built, p50, p95, args.queries / batch, recall(found, truth)))

    params = IndexParams()
    start = time.perf_counter()
    index = build(rows, vectors, params)
    nprobe, _ = tune_nprobe(index, rows, vectors, params)
    measure(f"faiss IVF,SQfp16 nprobe={nprobe} (project)", time.perf_counter() - start,
            lambda q: search_keys(index, q, K)[0])  # fmt: skip

    import faiss

    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(args.dim, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 128
    hnsw.add(vectors)
    hnsw.hnsw.efSearch = 128
    measure("faiss HNSWFlat", time.perf_counter() - start, lambda q: hnsw.search(q, K)[1])

    try:
        from usearch.index import Index
    except ImportError:
        print("usearch is not installed: its row is left out (pip install usearch)")
    else:
        start = time.perf_counter()
        graph = Index(ndim=args.dim, metric="ip", dtype="f16", connectivity=16,
                      expansion_add=128, expansion_search=128)  # fmt: skip
        graph.add(rows.astype(np.uint64), vectors)

        def usearch_keys(q: np.ndarray) -> np.ndarray:
            return np.asarray(graph.search(q, K).keys, dtype=np.int64).reshape(len(q), -1)

        measure("usearch HNSW f16", time.perf_counter() - start, usearch_keys)

    print(f"{'method':<40} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'batch q/s':>10} "
          f"{'recall@10':>10}")  # fmt: skip
    for name, built, p50, p95, qps, rec in results:
        print(f"{name:<40} {built:>8.1f} {p50:>8.2f} {p95:>8.2f} {qps:>10,.0f} {rec:>10.3f}")
    anchor_qps = results[0][4]
    for name, _, _, _, qps, rec in results[1:]:
        print(f"{name}: {qps / anchor_qps:.1f}x the queries/s of exact search at recall@10 "
              f"{rec:.3f} (synthetic vectors)")  # fmt: skip


if __name__ == "__main__":
    main()
