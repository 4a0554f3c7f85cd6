"""Stage 3, embed: CLIP vectors of product images, titles and queries.

A stage of the same shape as scrape: ``plan`` (the work lists, claimed), ``shard`` (one
mapped task's work, checkpointed) and ``merge`` (into DuckDB), on the shared run
machinery of ``sqid.runs``. Vectors are keyed by (model id, revision, sha256 of the
image bytes or of the text), so only missing ones are computed: a re-run computes
nothing, a changed image recomputes that image alone, and products sharing an image
share one vector.

- ``images``: safe image download and verification; ``decode``: bytes to RGB, safely;
  ``cache``: the content-addressed image cache.
- ``clip``: the CLIP encoder (``from_pretrained``) and batching helpers.
- ``config``: a run's configuration (``EmbedConfig.resolve``).
- ``plan``, ``shard``, ``merge``: the stage's three steps.
- ``tinyclip``: a tiny random-weight CLIP for tests and the demo.
"""
