"""A release's vectors in a Qdrant collection, for search served from a cluster.

One point per product of ``product_features.parquet`` (its row number is the point id),
with named vectors ``image`` and ``title`` (cosine; a product without one simply lacks
it) and the catalogue's fields as payload: ``product_id``, ``title``, ``image_url``,
``image_sha256``. Tested against qdrant-client's local mode, which speaks the same API
as a server.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from sqid.files import read_batches
from sqid.release.layout import CATALOGUE, INDEX_DIR, KINDS, manifest_of

BATCH = 1_024


def qdrant_client(url: str | None = None, path: str | None = None):
    """A client for a Qdrant server (``url``) or a local folder (``path``)."""
    try:
        from qdrant_client import QdrantClient
    except ImportError as exc:
        raise ValueError("qdrant-client is not installed (pip install qdrant-client)") from exc
    if bool(url) == bool(path):
        raise ValueError("give exactly one of a server URL and a local path")
    return QdrantClient(url=url) if url else QdrantClient(path=path)


def export_release(release: Path, client, collection: str) -> int:
    """(Re)create ``collection`` from the release; returns the number of points."""
    from qdrant_client import models

    release = Path(release)
    features = pq.ParquetFile(release / "product_features.parquet")
    dim = manifest_of(release)["model"].get("dimension")
    if not dim:
        raise ValueError(f"{release}: the manifest names no vector dimension (no vectors)")
    if client.collection_exists(collection):
        client.delete_collection(collection)
    cosine = models.VectorParams(size=dim, distance=models.Distance.COSINE)
    client.create_collection(collection, vectors_config=dict.fromkeys(KINDS, cosine))
    catalogue = pq.read_table(release / INDEX_DIR / CATALOGUE)
    payload_columns = {name: catalogue.column(name).to_pylist() for name in catalogue.column_names}
    row = 0
    for batch in read_batches(features, list(KINDS.values()), max_rows=BATCH):
        vectors = {kind: batch.column(column).to_pylist() for kind, column in KINDS.items()}
        points = []
        for i in range(batch.num_rows):
            named = {kind: v[i] for kind, v in vectors.items() if v[i]}
            payload = {name: values[row + i] for name, values in payload_columns.items()}
            points.append(models.PointStruct(id=row + i, vector=named, payload=payload))
        client.upsert(collection, points=points, wait=True)
        row += batch.num_rows
    return row
