"""Stage 2, scrape: the main image of every SQID product page.

- ``records``: the stage's vocabulary (page kinds, statuses) and its records.
- ``pages``: what kind of page it is and its main image (pure, no network);
  ``readers``: the byte-scan and lxml readers it asks.
- ``fetch``: bounded, paced page requests.
- ``config``: a run's configuration (``ScrapeConfig.resolve``).
- ``product``: one product page to one outcome: the retry policy and final status.
- ``shard``: one shard's products on a few threads, breakers and checkpoints.
- ``drift``: the layout-drift guard.
- ``store``: choosing products, planning shards and merging them into DuckDB.
- ``defaults``: placeholder and default images, listed and data-driven.
"""
