"""Search over published releases, which it only reads: text, reverse-image and
feedback queries against a release's index (``engine``), the releases page and search
box (``web``), the CLI (``cli``) and an export to Qdrant (``qdrant``). Building the index
is part of making a release (``sqid.release.index``); the nearest-neighbour primitives
both use are in ``sqid.knn``."""
