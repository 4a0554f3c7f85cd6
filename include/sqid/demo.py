"""``make demo``: the whole pipeline, end to end, on generated sample data.

Everything runs on the embedded default: the DAGs run in-process through Airflow
(``dag.test()``) against SQLite metadata under ``$SQID_HOME/airflow``, data lands in
the DuckDB file ``$SQID_HOME/sqid.duckdb``, and the SQD files are served from a
loopback HTTP server, so the real download path is exercised without the internet.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from sqid import db
from sqid.airflow_local import prepare, test_dag
from sqid.ingest.sample import generate
from sqid.ingest.sqd import CHECKSUM_MANIFEST
from sqid.localserve.cdn import ImageCDN
from sqid.localserve.files import FileServer
from sqid.localserve.pages import PRODUCT_LAYOUTS
from sqid.localserve.site import ProductSite, SiteConfig

DEMO_QUERIES = 1_000
DEMO_SEED = 7
DEMO_SITE = SiteConfig(
    # A few of everything a real crawl meets, so the demo shows every status.
    rates={"503": 0.02, "429": 0.01, "captcha": 0.005, "reset": 0.01, "404": 0.01},
    retry_after="1",
    page_size=150_000,
    layout_weights={
        **{layout: 0.95 / len(PRODUCT_LAYOUTS) for layout in PRODUCT_LAYOUTS},
        "placeholder": 0.02,
        "default_video": 0.01,
        "no_image_null": 0.01,
        "degraded": 0.005,
        "js_shell": 0.005,
    },
)

log = logging.getLogger("sqid.demo")


def demo_model(directory):
    """The demo's CLIP: a real local copy if ``SQID_EMBED_MODEL`` names one, else a tiny
    random-weight CLIP built here (no download needed)."""
    configured = os.environ.get("SQID_EMBED_MODEL")
    if configured:
        return configured
    if not (Path(directory) / "config.json").exists():
        from sqid.embed.tinyclip import build

        build(Path(directory))
    return directory


def run_pipeline(
    sample_dir: Path,
    site_config: SiteConfig,
    model_dir: str,
    *,
    pacing: dict[str, Any],
    scrape_conf: dict[str, Any] | None = None,
    embed_conf: dict[str, Any] | None = None,
    release_conf: dict[str, Any] | None = None,
) -> dict[str, str]:
    """ingest, scrape, embed and release in this process, each DAG against its loopback
    server (``pacing`` is the ``sqid_amazon`` connection's extra); the final state of
    each DAG run, stopping at the first that does not succeed."""
    states: dict[str, str] = {}

    def step(dag_id: str, conf: dict[str, Any]) -> bool:
        states[dag_id] = str(test_dag(dag_id, conf).state)
        print(f"{dag_id}: {states[dag_id]}", flush=True)
        return states[dag_id] == "success"

    with FileServer(sample_dir) as server:
        conf = {"source": server.base_url, "checksums": server.url(CHECKSUM_MANIFEST)}
        if not step("sqid_ingest", conf):
            return states
    with ProductSite(site_config) as site:
        os.environ.update(site.connection_env(**pacing))
        if not step("sqid_scrape", scrape_conf or {}):
            return states
    with ImageCDN() as cdn:
        os.environ.update(cdn.mirror_env())
        if not step("sqid_embed", {"model_id": str(model_dir), **(embed_conf or {})}):
            return states
    step("sqid_release", release_conf or {})
    return states


def main() -> int:
    settings = prepare()
    sample_dir = settings.data_dir / f"demo_sqd_{DEMO_QUERIES}_{DEMO_SEED}"
    if not (sample_dir / CHECKSUM_MANIFEST).exists():
        summary = generate(sample_dir, n_queries=DEMO_QUERIES, seed=DEMO_SEED)
        print(f"generated sample SQD: {summary.examples} examples, {summary.products} products")

    states = run_pipeline(
        sample_dir,
        DEMO_SITE,
        demo_model(settings.home / "models" / "tiny-clip"),
        pacing={"requests_per_second": 100, "concurrency": 4, "captcha_pause": 1},
        scrape_conf={"shard_size": 250},
        embed_conf={"batch_size": 32},
        # The demo's local site injects failures on purpose: accept a lower coverage.
        release_conf={"coverage_threshold": 0.8},
    )
    if set(states.values()) != {"success"} or len(states) < 4:
        return 1
    latest = settings.release_dir / "latest"

    con = db.connect(settings.duckdb_path, read_only=True)
    try:
        tables = db.fetch_dict(con, "ingest/count_sqd_tables")
        sets = db.fetch_dict(con, "derive/count_sqid_sets")
        images = dict(db.run(con, "scrape/count_product_images").fetchall())
        vectors = db.fetch_dict(con, "embed/count_embed_tables")
    finally:
        con.close()
    print()
    print("SQID demo finished")
    print(f"  DuckDB file     {settings.duckdb_path}")
    print(f"  SQD tables      {tables}")
    print(f"  SQID sets       {sets}")
    print(f"  product images  {images}")
    print(f"  embeddings      {vectors}")
    print(f"  release         {latest.resolve()}")
    print(f"  report          {latest.resolve() / 'report.html'}")
    print(f"  Airflow home    {settings.home / 'airflow'} (make airflow to browse the runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
