"""Stage 2, scrape: the main image of every SQID product page.

A stage of the same shape as embed: ``plan`` (which products and why, claimed),
``shard`` (one mapped task's products, checkpointed; ``product``: one page to one
outcome) and ``merge`` (into DuckDB), on the shared run machinery of ``sqid.runs``.

- ``vocabulary``: page kinds and statuses; ``records``: the stage's records.
- ``pages``: what kind of page it is and its main image (pure, no network);
  ``readers``: the byte-scan and lxml readers it asks.
- ``fetch``: bounded, paced page requests.
- ``config``: a run's configuration (``ScrapeConfig.resolve``).
- ``plan``, ``shard`` (+ ``product``), ``merge``: the stage's three steps.
- ``drift``: the layout-drift guard.
- ``placeholders``: placeholder and default images, listed and data-driven.
"""
