"""A release's ``index/``: inverted-file indexes of its image and title vectors, and
the catalogue their keys point into.

faiss ``IVF,SQfp16`` was picked by measurement (``bench/bench_search.py``, 200k x 768 on
the 2-core reference machine): the k-means training of an inverted file and the adding
take seconds where an HNSW graph at recall >= 0.99 took 84 s and more (faiss HNSW,
usearch; the README has the figures); half-precision codes halve the file at no measured loss of
recall@10; queries take about a millisecond. ``nprobe`` (lists visited per query) is
tuned at build time on the release's own vectors until recall@10 against exact search
reaches ``target_recall``; the gate checks it again on other queries.

Key ``i`` is row ``i`` of ``product_features.parquet`` and of ``index/catalogue.parquet``;
vectors are L2-normalised, so inner product is cosine. Exact search over the same
vectors (numpy, :func:`exact_top_k`) is the reference.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from sqid import db
from sqid.knn import TopK, exact_top_k
from sqid.release.layout import (
    CATALOGUE,
    INDEX_DIR,
    KINDS,
    PRODUCT_FEATURES,
    index_path,
    manifest_of,
)
from sqid.release.recall import query_vectors, tune_to, tuning_queries
from sqid.vectorscan import scan, unit_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexParams:
    """How an index is built; ``nlist`` 0 means sqrt(vectors).

    sqrt(n) lists rather than more: on 200k x 768 (``bench/bench_search.py``'s vectors)
    447 lists trained and filled in 3.6 s and reached recall@10 0.987 at nprobe 2, where
    894 lists took 8.8 s for 0.964, and queries stayed near 9,000/s (10,900)."""

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

    def wanted_lists(self, n: int) -> int:
        return self.nlist or int(math.sqrt(max(n, 1)))

    def training_size(self, n: int) -> int:
        """Vectors to draw for training an index of ``n``."""
        return self.wanted_lists(n) * self.train_per_list

    def lists(self, n: int, sample: int) -> int:
        """Lists of an index of ``n`` vectors trained on ``sample`` of them: never fewer
        than ``train_per_list`` training vectors a list."""
        return max(1, min(self.wanted_lists(n), sample // self.train_per_list))


def build(rows: np.ndarray, vectors: np.ndarray, params: IndexParams):
    """An inverted-file index of ``vectors`` (unit rows) keyed by ``rows``, nprobe not yet
    tuned (:func:`tune_nprobe`)."""
    rng = np.random.default_rng(params.seed)
    train = vectors[rng.choice(len(rows), size=min(len(rows), params.training_size(len(rows))),
                               replace=False)]  # fmt: skip
    index = trained(train, len(rows), params)
    if len(rows):
        index.add_with_ids(vectors, rows.astype(np.int64))
    return index


def tune_nprobe(index, rows: np.ndarray, vectors: np.ndarray, params: IndexParams,
                k: int = 10, queries: int = 100,
                user_queries: np.ndarray | None = None) -> tuple[int, float]:  # fmt: skip
    """The smallest nprobe (1, 2, 4, ...) whose recall@k reaches the target; sets it.

    Tuned on stored vectors moved a little, and on ``user_queries`` (the release's query
    text vectors): a text query lies far from the image clusters (CLIP's modality gap),
    and an inverted file tuned on image-like queries alone would visit too few lists."""
    sample = tuning_queries(vectors, queries, params.seed, user_queries)
    truth, _ = exact_top_k(vectors, rows, sample, k)
    return tune_to(index, sample, truth, params.target_recall)


def trained(sample: np.ndarray, n: int, params: IndexParams):
    """An empty inverted-file index for ``n`` unit vectors, its lists trained (k-means)
    on ``sample``."""
    import faiss

    nlist = params.lists(n, len(sample))
    index = faiss.index_factory(sample.shape[1], f"IVF{nlist},{params.factory}",
                                faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.seed, ivf.cp.niter = params.seed, params.kmeans_iterations
    ivf.cp.min_points_per_centroid = 1  # the sample's size is chosen above: no warning
    if len(sample):
        index.train(np.ascontiguousarray(sample[: nlist * params.train_per_list]))
    else:  # nothing to index: one empty list, so a search answers "no hits", not an error
        ivf.quantizer.add(np.zeros((1, sample.shape[1]), np.float32))
        index.is_trained = ivf.is_trained = True
    return index


def build_release_index(release: Path, db_path: Path, params: IndexParams | None = None) -> dict:
    """Write ``index/`` into a staged release (catalogue and one index per vector kind)
    and record its parameters in the manifest; returns the manifest's ``index`` entry.

    Two reads of the vectors, batch by batch: the first draws a seeded sample to train
    each index's lists on, the second adds every vector and scores the tuning queries
    exactly; memory holds the indexes and one batch, not the vectors."""
    import faiss

    params = params or IndexParams()
    release = Path(release)
    features = pq.ParquetFile(release / PRODUCT_FEATURES)
    _write_catalogue(release, db_path, features)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        seconds[phase] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    samples, counts = _training_samples(features, params)
    lap("reading a training sample")
    users = query_vectors(release)
    indexes = {kind: trained(samples[kind], counts[kind], params) for kind in KINDS if counts[kind]}
    truth = {kind: TopK(tuning_queries(samples[kind], 100, params.seed, users), 10)
             for kind in indexes}  # fmt: skip
    lap("training")
    _fill(features, indexes, truth)
    lap("adding every vector")
    tuned = {kind: tune_to(indexes[kind], truth[kind].queries, truth[kind].result()[0],
                           params.target_recall) for kind in indexes}  # fmt: skip
    lap("tuning nprobe")

    entry: dict[str, Any] = {"library": "faiss-cpu", "library_version": faiss.__version__,
                             "params": asdict(params), "key": "row of product_features.parquet",
                             "metric": "inner product of L2-normalised vectors (cosine)",
                             "vectors": counts, "nlist": {}, "nprobe": {},
                             "tuned_recall_at_10": {}}  # fmt: skip
    # Timings describe the machine, not the release: logged, never written into it.
    log.info("index built in %.1f s: %s", sum(seconds.values()), seconds)
    for kind in KINDS:
        if kind in indexes:
            index, (nprobe, reached) = indexes[kind], tuned[kind]
        else:  # no vectors of this kind: an empty index, so every release has both files
            dim = manifest_of(release)["model"].get("dimension") or 1
            index, nprobe, reached = trained(np.zeros((0, dim), np.float32), 0, params), 1, 1.0
        faiss.write_index(index, str(index_path(release, kind)))
        entry["nlist"][kind] = faiss.extract_index_ivf(index).nlist
        entry["nprobe"][kind] = nprobe
        entry["tuned_recall_at_10"][kind] = round(reached, 4)
    manifest_path = release / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["index"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return entry


def _write_catalogue(release: Path, db_path: Path, features: pq.ParquetFile) -> None:
    """``index/catalogue.parquet``: what a hit shows, row for row with the features."""
    (release / INDEX_DIR).mkdir(exist_ok=True)
    con = db.connect(db_path, read_only=True)
    try:
        status = {"status_file": str(release / "product_image_status.parquet")}
        catalogue = db.arrow_reader(con, "release/catalogue", status).read_all()
    finally:
        con.close()
    if not catalogue.column("product_id").equals(features.read(columns=["product_id"]).column(0)):
        raise RuntimeError("the catalogue does not line up with product_features.parquet")
    pq.write_table(catalogue, release / INDEX_DIR / CATALOGUE)


def _training_samples(features: pq.ParquetFile,
                      params: IndexParams) -> tuple[dict[str, np.ndarray], dict[str, int]]:  # fmt: skip
    """Read 1: ``({kind: unit training vectors, shuffled}, {kind: vectors in the file})``.
    Every row is drawn with the same chance, and its vectors join the samples of the kinds
    it has; a quarter more rows are drawn than needed, as some rows lack a vector."""
    n = features.metadata.num_rows
    rng = np.random.default_rng(params.seed)
    drawn = np.zeros(n, dtype=bool)
    drawn[rng.permutation(n)[: round(1.25 * params.training_size(n))]] = True
    parts: dict[str, list[np.ndarray]] = {kind: [] for kind in KINDS}
    counts = dict.fromkeys(KINDS, 0)
    for batch in scan(features, list(KINDS.values())):
        for kind, column in KINDS.items():
            rows, block = batch.present(column)
            counts[kind] += len(rows)
            if drawn[rows].any():
                parts[kind].append(unit_rows(block[drawn[rows]]))
    samples = {}
    for kind, found in parts.items():
        sample = np.concatenate(found) if found else np.zeros((0, 1), np.float32)
        samples[kind] = sample[rng.permutation(len(sample))]
    return samples, counts


def _fill(features: pq.ParquetFile, indexes: dict[str, Any], truth: dict[str, TopK]) -> None:
    """Read 2: every vector into its kind's index and into the exact search for tuning."""
    if not indexes:
        return
    for batch in scan(features, [KINDS[kind] for kind in indexes]):
        for kind, index in indexes.items():
            rows, block = batch.present(KINDS[kind])
            if len(rows):
                unit = unit_rows(block)
                index.add_with_ids(unit, rows.astype(np.int64))
                truth[kind].add(unit, rows)
