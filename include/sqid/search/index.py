"""A release's ``index/``: inverted-file indexes of its image and title vectors, and
the catalogue their keys point into.

faiss ``IVF,SQfp16`` was picked by measurement (``bench/bench_search.py``, 200k x 768 on
the 2-core reference machine): the k-means training of an inverted file and the adding
take seconds where an HNSW graph at recall >= 0.99 took minutes (usearch 155 s, faiss
HNSW 129 s per index); half-precision codes halve the file at no measured loss of
recall@10; queries take about a millisecond. ``nprobe`` (lists visited per query) is
tuned at build time on the release's own vectors until recall@10 against exact search
reaches ``target_recall``; the gate checks it again on other queries.

Key ``i`` is row ``i`` of ``product_features.parquet`` and of ``index/catalogue.parquet``;
vectors are L2-normalised, so inner product is cosine. Exact search over the same
vectors (numpy, :func:`exact_top_k`) is the reference.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sqid import db
from sqid.files import read_batches

INDEX_DIR = "index"
CATALOGUE = "catalogue.parquet"
KINDS = {"image": "clip_image_features", "title": "clip_text_features"}
"""Index name -> vector column of product_features.parquet."""


@dataclass(frozen=True)
class IndexParams:
    """How an index is built; ``nlist`` 0 means about 2 x sqrt(vectors)."""

    factory: str = "SQfp16"
    """faiss codes of the inverted lists: SQfp16 (half precision), SQ8 or Flat."""
    nlist: int = 0
    target_recall: float = 0.97
    """nprobe grows until recall@10 on the build's own sample reaches this."""
    train_per_list: int = 40
    """Training vectors per list (k-means): faiss wants at least 39."""
    kmeans_iterations: int = 10
    """faiss's default is 25; past 10 the lists barely move and recall does not change."""
    seed: int = 0

    def lists(self, n: int) -> int:
        wanted = self.nlist or int(2 * math.sqrt(max(n, 1)))
        return max(1, min(wanted, n // self.train_per_list))


def index_path(release: Path, kind: str) -> Path:
    return Path(release) / INDEX_DIR / f"{kind}.faiss"


def dense_unit_vectors(path: Path, columns: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{column: (vectors, present)}`` for vector columns of a Parquet file, read in one
    pass by row group: row ``i`` of ``vectors`` is row ``i``'s vector L2-normalised (zeros
    where it has none), ``present[i]`` whether it has one. Each batch is written straight
    into its place: no per-batch blocks to concatenate, no second copy. The dimension is
    the first vector's (the gate refuses a release with more than one)."""
    from sqid.release.evaluate import vector_block

    parquet = pq.ParquetFile(path)
    n = parquet.metadata.num_rows
    present = {name: np.zeros(n, dtype=bool) for name in columns}
    vectors: dict[str, np.ndarray] = {}
    first = 0
    for batch in read_batches(parquet, columns):
        rows = slice(first, first + batch.num_rows)  # the rows of a batch are contiguous
        first += batch.num_rows
        for name in columns:
            column = batch.column(name)
            if name not in vectors:
                lengths = pa.compute.list_value_length(column).drop_null()
                if not len(lengths):
                    continue  # no vector yet: these rows stay absent
                vectors[name] = np.zeros((n, int(lengths[0].as_py())), np.float32)
            block, position = vector_block(column, vectors[name].shape[1])
            here = position >= 0
            view = vectors[name][rows]
            if here.all():
                view[:] = block[: len(view)]
            else:
                view[here] = block[position[here]]
            _normalise_in_place(view)
            present[name][rows] = here
    return {name: (vectors.get(name, np.zeros((n, 0), np.float32)), present[name])
            for name in columns}  # fmt: skip


def unit_vectors(path: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, vectors)``: the row numbers that have a vector in ``column``, and those
    vectors L2-normalised (float32)."""
    vectors, present = dense_unit_vectors(path, [column])[column]
    rows = np.flatnonzero(present)
    return rows, vectors[rows] if len(rows) < len(present) else vectors


def release_vectors(release: Path) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(kind, rows, unit vectors)`` for each index of a release, from one read of
    product_features.parquet."""
    dense = dense_unit_vectors(Path(release) / "product_features.parquet", list(KINDS.values()))
    for kind, column in KINDS.items():
        vectors, present = dense.pop(column)
        rows = np.flatnonzero(present)
        yield kind, rows, vectors[rows]
        del vectors


def _normalise_in_place(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length where they are not zero; ``matrix`` itself changes."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]
    return np.divide(matrix, norms, out=matrix, where=norms > 0)


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    single = np.ndim(matrix) == 1
    rows = np.array(matrix, dtype=np.float32, ndmin=2)  # a copy: the caller's stays as it is
    _normalise_in_place(rows)
    return rows[0] if single else rows


def build(rows: np.ndarray, vectors: np.ndarray, params: IndexParams):
    """An inverted-file index of ``vectors`` (unit rows) keyed by ``rows``, nprobe not yet
    tuned (:func:`tune_nprobe`)."""
    import faiss

    n, dim = vectors.shape
    nlist = params.lists(n)
    index = faiss.index_factory(dim, f"IVF{nlist},{params.factory}", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(params.seed)
    train = vectors[rng.choice(n, size=min(n, nlist * params.train_per_list), replace=False)]
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed, ivf.cp.niter = params.seed, params.kmeans_iterations
    if n:
        index.train(train)
        index.add_with_ids(vectors, rows.astype(np.int64))
    return index


def tune_nprobe(index, rows: np.ndarray, vectors: np.ndarray, params: IndexParams,
                k: int = 10, queries: int = 100,
                user_queries: np.ndarray | None = None) -> tuple[int, float]:  # fmt: skip
    """The smallest nprobe (1, 2, 4, ...) whose recall@k reaches the target; sets it.

    Tuned on stored vectors moved a little, and on ``user_queries`` (the release's query
    text vectors): a text query lies far from the image clusters (CLIP's modality gap),
    and an inverted file tuned on image-like queries alone would visit too few lists."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    sample = tuning_queries(vectors, queries, params.seed, user_queries)
    truth, _ = exact_top_k(vectors, rows, sample, k)
    nprobe, reached = 1, 0.0
    while True:
        ivf.nprobe = nprobe
        reached = recall(search_keys(index, sample, k)[0], truth)
        if reached >= params.target_recall or nprobe >= ivf.nlist:
            return nprobe, reached
        nprobe = min(nprobe * 2, ivf.nlist)


def open_index(release: Path, kind: str, nprobe: int | None = None):
    """A release's index, read from its file, with the nprobe its manifest records."""
    import faiss

    index = faiss.read_index(str(index_path(release, kind)))
    if nprobe:
        faiss.extract_index_ivf(index).nprobe = int(nprobe)
    return index


def exact_top_k(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int,
                block: int = 65_536) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The reference: ``(keys, scores)`` of the ``k`` largest inner products per query,
    by numpy over blocks of the catalogue (memory stays at one block of scores)."""
    k = min(k, len(rows))
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_keys = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(rows), block):
        scores = queries @ vectors[start : start + block].T
        keys = np.broadcast_to(rows[start : start + block], scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_keys = np.concatenate([best_keys, keys], axis=1)
        top = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_keys = np.take_along_axis(all_keys, top, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_keys, order, 1), np.take_along_axis(best_scores, order, 1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k keys that ``found`` holds."""
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.sum(hits) / max(1, truth.size))


def search_keys(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, scores)`` for a batch of unit queries (key -1 where fewer than k exist)."""
    scores, keys = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return keys.astype(np.int64), np.where(keys >= 0, scores, -np.inf).astype(np.float32)


def sample_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Recall queries: stored vectors moved a little off themselves (a query equal to a
    stored vector only tests that the index finds itself)."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    noise = rng.standard_normal(picked.shape).astype(np.float32) * (0.5 / np.sqrt(picked.shape[1]))
    return normalise(picked + noise)


def tuning_queries(vectors: np.ndarray, n: int, seed: int,
                   user_queries: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """Stored vectors moved off themselves, plus up to ``n`` of the users' queries."""
    sample = sample_queries(vectors, n, seed)
    if user_queries is None or not len(user_queries):
        return sample
    rng = np.random.default_rng(seed)
    picked = user_queries[rng.choice(len(user_queries), min(n, len(user_queries)), replace=False)]
    return np.concatenate([sample, normalise(picked)])


def query_vectors(release: Path) -> np.ndarray:
    """The release's query text vectors (what users search with), normalised."""
    return unit_vectors(Path(release) / "query_features.parquet", "clip_text_features")[1]


def recall_at_k(release: Path, k: int = 10, queries: int = 100, seed: int = 1) -> dict[str, float]:
    """recall@k of each of a release's indexes against exact search, on other queries
    than those nprobe was tuned on (another seed), the release's text queries among them."""
    from sqid.release.assemble import manifest_of

    manifest = manifest_of(release)
    nprobe = ((manifest.get("index") or {}).get("nprobe")) or {}
    users = query_vectors(release)
    out = {}
    for kind, rows, vectors in release_vectors(release):
        if not len(rows):
            continue
        sample = tuning_queries(vectors, queries, seed, users)
        truth, _ = exact_top_k(vectors, rows, sample, k)
        found, _ = search_keys(open_index(release, kind, nprobe.get(kind)), sample, k)
        out[kind] = recall(found, truth)
    return out


def build_release_index(release: Path, db_path: Path, params: IndexParams | None = None) -> dict:
    """Write ``index/`` into a staged release (catalogue and one index per vector kind)
    and record its parameters in the manifest; returns the manifest's ``index`` entry."""
    import faiss

    params = params or IndexParams()
    release = Path(release)
    folder = release / INDEX_DIR
    folder.mkdir(exist_ok=True)
    features = release / "product_features.parquet"
    product_ids = pq.read_table(features, columns=["product_id"]).column(0)
    con = db.connect(db_path, read_only=True)
    try:
        status = {"status_file": str(release / "product_image_status.parquet")}
        catalogue = db.arrow_reader(con, "release/catalogue", status).read_all()
    finally:
        con.close()
    if not catalogue.column("product_id").equals(product_ids):
        raise RuntimeError("the catalogue does not line up with product_features.parquet")
    pq.write_table(catalogue, folder / CATALOGUE)
    entry: dict[str, Any] = {"library": "faiss-cpu", "library_version": faiss.__version__,
                             "params": asdict(params), "key": "row of product_features.parquet",
                             "metric": "inner product of L2-normalised vectors (cosine)",
                             "vectors": {}, "nlist": {}, "nprobe": {}, "tuned_recall_at_10": {},
                             "build_seconds": {}}  # fmt: skip
    users = query_vectors(release)
    start = time.perf_counter()
    for kind, rows, vectors in release_vectors(release):
        index = build(rows, vectors, params)
        nprobe, reached = (tune_nprobe(index, rows, vectors, params, user_queries=users)
                           if len(rows) else (1, 1.0))  # fmt: skip
        faiss.write_index(index, str(index_path(release, kind)))
        entry["vectors"][kind] = len(rows)
        entry["nlist"][kind] = faiss.extract_index_ivf(index).nlist
        entry["nprobe"][kind] = nprobe
        entry["tuned_recall_at_10"][kind] = round(reached, 4)
        entry["build_seconds"][kind] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
    manifest_path = release / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["index"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return entry
