"""Stage 3, embed: CLIP vectors of product images, titles and queries.

- ``images``: safe image download, verification and decoding; the content-addressed cache.
- ``clip``: the CLIP encoder (``from_pretrained``) and batching helpers.
- ``stage``: planning, image and text shards, and the merge into DuckDB.
- ``tinyclip``: a tiny random-weight CLIP for tests and the demo.
"""
