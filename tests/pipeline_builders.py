"""A small but complete SQID database (sets, scrape, vectors) built through the real code."""

from __future__ import annotations

from pathlib import Path

from sqid.embed.clip import ClipEncoder
from sqid.embed.config import EmbedConfig
from sqid.embed.merge import merge
from sqid.embed.plan import plan
from sqid.embed.shard import run_image_shard, run_text_shard
from sqid.localserve.cdn import ImageCDN
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.scrape.config import ScrapeConfig
from sqid.scrape.merge import merge_run
from sqid.scrape.shard import run_shard

from .sqd_builders import ingest_case


def build_sets(root: Path, n_products: int = 12, n_supp: int = 3) -> tuple[Path, list[str]]:
    """SQD files and a DuckDB with the SQID sets: ``n_products`` test products judged by
    three queries, plus ``n_supp`` supplementary products judged twice in train."""
    ids = [f"B0{i:08d}" for i in range(n_products)]
    supp = [f"B1{i:08d}" for i in range(n_supp)]
    examples = [
        (q, pid, "us", "ESCI"[(i + q) % 4], 1, "test")
        for q in (1, 2, 3)
        for i, pid in enumerate(ids)
    ]
    examples += [(q, pid, "us", "E", 1, "train") for q in (4, 5) for pid in supp]
    products = [(pid, "us", f"Product {pid} in colour {i % 5}") for i, pid in enumerate(ids + supp)]
    return ingest_case(root, examples, products)[0], ids + supp


def scrape(root: Path, db_path: Path, ids: list[str], site_config: SiteConfig, run: str) -> None:
    with ProductSite(site_config) as site:
        config = ScrapeConfig(base_url=site.base_url, requests_per_second=200, concurrency=2,
                              backoff_base=0.01, captcha_pause=0.01)  # fmt: skip
        run_shard(ids, root / f"scrape-{run}", 0, config, run)
    merge_run(root / f"scrape-{run}", db_path)


def embed(root: Path, db_path: Path, model_dir: Path, encoder: ClipEncoder, run: str) -> dict:
    with ImageCDN() as cdn:
        config = EmbedConfig(model_id=str(model_dir), image_cdn=cdn.base_url, policy=cdn.policy())
        planned = plan(db_path, root / f"embed-{run}", config)
        for shard in planned["shards"]:
            if shard["kind"] == "image":
                run_image_shard(shard, config, root / "image-cache", encoder)
            else:
                run_text_shard(shard, config, encoder)
    return merge(root / f"embed-{run}", db_path, run)
