"""Stage 2, scrape: the main image of every SQID product page.

- ``pages``: what kind of page it is and its main image (pure, no network).
- ``fetch``: bounded, paced page requests.
- ``shard``: one shard's products, with retries, breakers and checkpoints.
- ``drift``: the layout-drift guard.
- ``store``: choosing products, planning shards and merging them into DuckDB.
- ``defaults``: placeholder and default images, listed and data-driven.
"""
