"""Search over a release: an approximate nearest-neighbour index of its image and title
vectors (``index``), text, reverse-image and feedback queries against it (``engine``),
and an export of its vectors to a Qdrant collection (``qdrant``)."""
