"""Stage 3, embed: CLIP vectors of product images, titles and queries.

- ``images``: safe image download and verification; ``decode``: bytes to RGB, safely;
  ``cache``: the content-addressed image cache.
- ``clip``: the CLIP encoder (``from_pretrained``) and batching helpers.
- ``config``: a run's configuration (``EmbedConfig.resolve``).
- ``stage``: planning, image and text shards, and the merge into DuckDB.
- ``tinyclip``: a tiny random-weight CLIP for tests and the demo.
"""
