"""Airflow glue shared by the DAG files: Assets, default arguments, pools, connections.

This is the only part of the package that imports Airflow; the DAG files stay wiring
only and the core modules stay testable without a scheduler.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from airflow.sdk import Asset

from sqid.config import DUCKDB_CONN_ID as DUCKDB_CONN_ID
from sqid.config import SQL_DIR

if TYPE_CHECKING:
    from sqid.scrape.shard import ScrapeConfig

OWNER = "sqid"
DUCKDB_POOL = "sqid_duckdb"
"""One slot: every task that opens the DuckDB file takes it, since DuckDB has one writer."""

POOLS: dict[str, tuple[int, str]] = {
    DUCKDB_POOL: (1, "Serialises tasks that open the SQID DuckDB file (single writer)"),
}

SQD_TABLES = Asset(name="sqid.sqd_tables", uri="sqid://duckdb/sqd_tables", group="sqid")
"""The raw SQD tables (sqd_examples, sqd_products, sqd_sources) in DuckDB."""
SQID_SETS = Asset(name="sqid.sqid_sets", uri="sqid://duckdb/sqid_sets", group="sqid")
"""The derived SQID sets (sqid_products, sqid_queries) in DuckDB."""

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

TEMPLATE_SEARCHPATH = [str(SQL_DIR)]


SCRAPE_POOL = "sqid_scrape"
POOLS[SCRAPE_POOL] = (4, "Scrape shards running at once across the cluster (politeness)")
SCRAPE_RETRY_DELAY = timedelta(seconds=float(os.environ.get("SQID_SCRAPE_RETRY_DELAY", "300")))
"""Wait before a failed or lost scrape shard runs again (doubling on each retry); a
retried shard resumes from its checkpoint. Long by default: a shard stopped by captchas
needs the site to cool down."""
AMAZON_CONN_ID = "sqid_amazon"
"""Connection (type ``generic``) to the product site: schema, host, port; extra:
requests_per_second, concurrency and other ScrapeConfig fields."""
PROXY_CONN_ID = "sqid_proxy"
"""Optional HTTP proxy for the scraper (host, port, login, password)."""
PRODUCT_IMAGES = Asset(name="sqid.product_images", uri="sqid://duckdb/product_images", group="sqid")
"""Scraped main-image outcomes (product_images, scrape_attempts) in DuckDB."""


def _optional_connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def scrape_config(params: dict) -> ScrapeConfig:
    """ScrapeConfig from the ``sqid_amazon``/``sqid_proxy`` connections and run Params."""
    from sqid.scrape.shard import ScrapeConfig

    base_url = os.environ.get("SQID_PRODUCT_BASE_URL", "https://www.amazon.com")
    extra: dict = {}
    conn = _optional_connection(AMAZON_CONN_ID)
    if conn is not None and conn.host:
        scheme = conn.schema or "https"
        port = f":{conn.port}" if conn.port else ""
        base_url = f"{scheme}://{conn.host}{port}"
        extra = conn.extra_dejson
    proxies = None
    proxy = _optional_connection(PROXY_CONN_ID)
    if proxy is not None and proxy.host:
        auth = f"{proxy.login}:{proxy.password}@" if proxy.login else ""
        url = f"http://{auth}{proxy.host}:{proxy.port or 80}"
        proxies = {"http": url, "https": url}
    fields = {f for f in ScrapeConfig.__dataclass_fields__}
    overrides = {k: v for k, v in extra.items() if k in fields}
    for key in ("requests_per_second", "concurrency"):
        if params.get(key):
            overrides[key] = params[key]
    if params.get("drift_tolerance") is not None:
        overrides["drift_tolerance"] = params["drift_tolerance"]
    if os.environ.get("SQID_RAW_PAGE_DIR"):
        overrides.setdefault("raw_page_dir", os.environ["SQID_RAW_PAGE_DIR"])
    return ScrapeConfig(base_url=base_url, proxies=proxies, **overrides)


def run_dir_for(kind: str, run_id: str) -> str:
    """A filesystem-safe folder for one DAG run's shard files."""
    import re

    from sqid.config import load_settings

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return str(load_settings().data_dir / kind / safe)


def plan_scrape(params: dict, run_id: str) -> list[dict]:
    """Select the products of this run and describe its shards."""
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowSkipException

    from sqid.config import load_settings
    from sqid.scrape.store import (
        WORKLIST,
        plan_shards,
        select_products,
        sqid_sets_exist,
        write_drift_baseline,
    )

    run_dir = Path(run_dir_for("scrape", run_id))
    db_path = load_settings().duckdb_path
    ids = []
    if not (run_dir / WORKLIST).exists():
        if not sqid_sets_exist(db_path):
            raise AirflowSkipException("no SQID product set yet: sqid_ingest has not run")
        ids = select_products(
            db_path,
            product_ids=params["product_ids"],
            statuses=params["statuses"],
            force=params["force"],
            limit=params["limit"],
            retry_age_hours=params["retry_age_hours"],
        )
        write_drift_baseline(run_dir, db_path)
    return plan_shards(run_dir, ids, shard_size=params["shard_size"])


def merge_scrape(run_id: str) -> dict:
    from pathlib import Path

    from airflow.sdk.exceptions import AirflowSkipException

    from sqid.config import load_settings
    from sqid.scrape.store import WORKLIST, merge_run

    run_dir = Path(run_dir_for("scrape", run_id))
    if not (run_dir / WORKLIST).exists():
        raise AirflowSkipException("this run planned no work")
    return merge_run(run_dir, load_settings().duckdb_path)


def scrape_summary(merged: dict, defaults: dict) -> dict:
    """The ``sqid.product_images`` event of a run; a run that scraped nothing emits none,
    so the daily retry pass does not start embed and release runs when it found no work."""
    from airflow.sdk.exceptions import AirflowSkipException

    if not merged["run"]["products"]:
        raise AirflowSkipException("no product was scraped in this run: nothing to announce")
    return {**merged["run"], "statuses_now": merged["statuses"], **defaults}


def flag_defaults(run_id: str) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.scrape.store import detect_shared_defaults

    run_dir = Path(run_dir_for("scrape", run_id))
    return detect_shared_defaults(load_settings().duckdb_path, run_dir / "shared_images.json")


EMBED_POOL = "sqid_embed"
POOLS[EMBED_POOL] = (1, "Embedding shards at once (one per GPU in the production stack)")
EMBED_QUEUE = os.environ.get("SQID_EMBED_QUEUE", "default")
"""Celery queue of the embedding tasks: ``gpu`` in the production stack."""
EMBEDDINGS = Asset(name="sqid.embeddings", uri="sqid://duckdb/embeddings", group="sqid")
"""CLIP vectors (image_embeddings, text_embeddings, image_fetches) in DuckDB."""


def embed_config(params: dict):
    """EmbedConfig from run Params and the environment (model default, image mirror)."""
    from sqid.embed.clip import DEFAULT_MODEL_ID
    from sqid.embed.images import ImagePolicy
    from sqid.embed.stage import EmbedConfig
    from sqid.imageurl import AMAZON_IMAGE_HOSTS, UrlParts, split_url

    extra_hosts = {h for h in os.environ.get("SQID_IMAGE_EXTRA_HOSTS", "").split(",") if h}
    mirror = split_url(os.environ.get("SQID_IMAGE_CDN") or "")
    policy = ImagePolicy(
        allowed_hosts=AMAZON_IMAGE_HOSTS | extra_hosts,
        allow_http=os.environ.get("SQID_IMAGE_ALLOW_HTTP", "") == "1",
        allow_private_addresses=os.environ.get("SQID_IMAGE_ALLOW_PRIVATE", "") == "1",
        # Only the mirror's own port, if it names one: Amazon's URLs name none.
        allowed_ports=frozenset({mirror.port})
        if isinstance(mirror, UrlParts) and mirror.port
        else frozenset(),
    )
    return EmbedConfig(
        model_id=params.get("model_id") or os.environ.get("SQID_EMBED_MODEL", DEFAULT_MODEL_ID),
        revision=params.get("revision") or os.environ.get("SQID_EMBED_REVISION") or None,
        device=params.get("device") or "auto",
        batch_size=params.get("batch_size") or 64,
        rendition=params.get("rendition") or "as_scraped",
        image_cdn=os.environ.get("SQID_IMAGE_CDN") or None,
        policy=policy,
    )


def plan_embed(params: dict, run_id: str) -> list[dict]:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.embed.stage import plan

    result = plan(
        load_settings().duckdb_path,
        Path(run_dir_for("embed", run_id)),
        embed_config(params),
        force=params["force"],
        limit=params["limit"],
        shard_size=params["shard_size"],
    )
    return result["shards"]


def embed_shard(shard: dict, params: dict) -> dict:
    from sqid.embed.stage import cache_dir_default, run_image_shard, run_text_shard

    config = embed_config(params)
    if shard["kind"] == "image":
        return run_image_shard(shard, config, cache_dir_default())
    return run_text_shard(shard, config)


def merge_embed(run_id: str) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.embed.stage import merge

    return merge(Path(run_dir_for("embed", run_id)), load_settings().duckdb_path)


RELEASE = Asset(name="sqid.release", uri="sqid://releases/latest", group="sqid")
"""The newest published SQID release (row counts as Asset metadata)."""


def release_config(params: dict):
    from sqid.config import load_settings
    from sqid.release.assemble import ReleaseConfig

    return ReleaseConfig(
        release_dir=load_settings().release_dir,
        coverage_threshold=float(params["coverage_threshold"]),
        min_vector_share=float(params.get("min_vector_share", 0.9)),
        model_id=params.get("model_id") or None,
        revision=params.get("revision") or None,
    )


def release_version(params: dict) -> str:
    from sqid.release.assemble import next_version

    config = release_config(params)
    return next_version(config.release_dir, params["bump"], params.get("version") or None)


def assemble_release(params: dict) -> dict:
    """Stage a release: data files and manifest in a hidden folder; its path via XCom."""
    from sqid.config import load_settings
    from sqid.release.assemble import assemble, new_staging

    config = release_config(params)
    version = release_version(params)
    staging = new_staging(config.release_dir, version)
    manifest = assemble(load_settings().duckdb_path, staging, config, version)
    return {"staging": str(staging), "version": version, "counts": manifest["counts"],
            "coverage": manifest["coverage"]}  # fmt: skip


def evaluate_staged(staged: dict) -> dict:
    from pathlib import Path

    from sqid.config import load_settings
    from sqid.ingest.sqd import EXAMPLES
    from sqid.release.documents import evaluate_release

    examples = load_settings().download_dir / EXAMPLES
    if not examples.exists():
        return {}
    return evaluate_release(Path(staged["staging"]), examples)


def document_staged(staged: dict, evaluation: dict) -> dict:
    """Changelog, report, card, Croissant; then SHA256SUMS over everything."""
    from pathlib import Path

    from sqid.release.assemble import list_versions, write_checksums
    from sqid.release.documents import write_docs

    staging = Path(staged["staging"])
    release_dir = staging.parent
    versions = list_versions(release_dir)
    previous = release_dir / versions[-1] if versions else None
    changes = write_docs(staging, staged["version"], previous, evaluation or None)
    write_checksums(staging)
    return changes


def validate_staged(staged: dict, params: dict) -> dict:
    """The gate: every file-level check and Croissant; raises with the failing rows."""
    from pathlib import Path

    from sqid.release.assemble import ReleaseError
    from sqid.release.documents import validate_croissant
    from sqid.release.validate import Problem, report, validate_release

    staging = Path(staged["staging"])
    problems = validate_release(staging, release_config(params).validation_policy())
    problems += [Problem("croissant", p) for p in validate_croissant(staging / "croissant.json")]
    if problems:
        raise ReleaseError(report(problems, staging))
    return {"valid": True, "staging": str(staging)}


def should_publish(staged: dict, params: dict) -> bool:
    """Publish unless this is a dry run, or the data equal the latest release's (a run
    that changed nothing must not mint a version; ``publish_unchanged`` forces it)."""
    import logging
    from pathlib import Path

    from sqid.release.assemble import LATEST, same_data

    log = logging.getLogger(__name__)
    if params["dry_run"]:
        log.info("dry run: the staged release stays at %s", staged["staging"])
        return False
    latest = Path(staged["staging"]).parent / LATEST
    unchanged = latest.exists() and same_data(Path(staged["staging"]), latest)
    if unchanged and not params["publish_unchanged"]:
        log.info("the data equal those of %s: nothing to publish", latest.resolve().name)
        return False
    return True


def publish_staged(staged: dict) -> str:
    from pathlib import Path

    from sqid.release.assemble import publish

    staging = Path(staged["staging"])
    return str(publish(staging, staging.parent, staged["version"]))


def point_latest(published: str, staged: dict, outlet_events) -> dict:
    from pathlib import Path

    from sqid.release.assemble import update_latest

    update_latest(Path(published).parent, staged["version"])
    summary = {"version": staged["version"], "path": published, **staged["counts"],
               "report": str(Path(published) / "report.html")}  # fmt: skip
    summary.pop("statuses", None)
    outlet_events[RELEASE].extra = summary
    return summary
