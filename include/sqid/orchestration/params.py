"""Every DAG's Params, with the titles and descriptions the Trigger form shows.

An empty value that means "the default" is ``null`` (a nullable type): Airflow's form
treats an empty string as a missing required value and would not let a run be
triggered with the defaults. Closed sets are enums, so a typo is refused by Airflow's
own validation before a run starts (``tests/test_dags.py`` checks every default passes
that validation, and that every Param has a title and a description).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk import Param

from sqid.config import ConfigError
from sqid.scrape.vocabulary import STATUSES

_VERSION = r"^v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$"
_RENDITION = r"^(as_scraped|original|_[A-Za-z0-9_,]+_)$"


class UnknownParamsError(ConfigError):
    """A run's conf names keys the DAG declares no Param for."""


def require_declared(params: Mapping[str, Any], declared: Callable[[], dict[str, Param]]) -> None:
    """Fail a run whose conf has a key the DAG does not declare. Airflow validates each
    declared Param but merges any other conf key into ``params`` without a word, so a typo
    such as ``{"limitt": 5}`` would run with the default limit: the first task of each
    DAG calls this, so such a run fails at once and names the keys it knows."""
    known = declared()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UnknownParamsError(
            f"unknown Params {unknown} in the run's conf; this DAG takes {sorted(known)}"
        )


def _optional_text(title: str, description: str, **schema: object) -> Param:
    return Param(None, type=["null", "string"], title=title, description=description, **schema)


def ingest_params() -> dict[str, Param]:
    return {
        "source": _optional_text(
            "SQD source",
            "Where the SQD files come from: a base URL, a file:// URL or a directory. "
            "Empty: $SQID_SQD_SOURCE, else Amazon's public GitHub repository.",
        ),
        "checksums": _optional_text(
            "Checksums",
            "'published' (the public SQD files' sizes and sha256) or the path or URL of a "
            "checksum manifest. Empty: $SQID_SQD_CHECKSUMS, else 'published'.",
        ),
        "force_download": Param(
            False,
            type="boolean",
            title="Download again",
            description="Fetch the files even if a verified copy is cached.",
        ),
        "min_supp_judgements": Param(
            2,
            type="integer",
            minimum=1,
            title="Supplementary set rule",
            description="Least number of judgements a non-test product needs to be in the "
            "supplementary set.",
        ),
        "check_published_counts": Param(
            "auto",
            enum=["auto", "always", "never"],
            title="Check published counts",
            description="Compare the derived sets with SQID's published counts: 'auto' when "
            "the files are the published ones.",
        ),
        "min_rows": Param(
            1,
            type="integer",
            minimum=0,
            title="Minimum rows",
            description="Rows each raw SQD table and the SQID product set must have.",
        ),
        "max_row_loss": Param(
            0.5,
            type="number",
            minimum=0,
            maximum=1,
            title="Maximum row loss",
            description="The largest share of a live table's rows a new load may lose; 1 "
            "allows any (e.g. a deliberately smaller SQD version).",
        ),
        "min_title_share": Param(
            0.5,
            type="number",
            minimum=0,
            maximum=1,
            title="Minimum share of titles",
            description="The least share of SQID products that must have a title.",
        ),
    }


def scrape_params() -> dict[str, Param]:
    return {
        "product_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Products",
            description="Scrape only these product IDs. Empty: every product the status "
            "rules select.",
        ),
        "statuses": Param(
            [],
            type="array",
            items={"type": "string", "enum": [*STATUSES, "pending"]},
            uniqueItems=True,
            title="Statuses to scrape again",
            description="Scrape the products whose current status is one of these, whatever "
            "their age ('pending': never scraped). Empty: products never scraped, "
            "and retryable statuses older than retry_age_hours.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Scrape everything selected again, final statuses included.",
        ),
        "limit": Param(
            0,
            type="integer",
            minimum=0,
            title="Limit",
            description="At most this many products (0: no limit).",
        ),
        "retry_age_hours": Param(
            24,
            type="integer",
            minimum=0,
            title="Retry after (hours)",
            description="A retryable status is tried again once it is this old.",
        ),
        "shard_size": Param(
            500,
            type="integer",
            minimum=1,
            title="Shard size",
            description="Products per mapped scrape task.",
        ),
        "requests_per_second": Param(
            0.0,
            type="number",
            minimum=0,
            title="Requests per second",
            description="Pace of each shard. 0: the sqid_amazon connection's, else 1.",
        ),
        "concurrency": Param(
            0,
            type="integer",
            minimum=0,
            title="Threads per shard",
            description="Concurrent requests of each shard. 0: the connection's, else 2.",
        ),
        "drift_tolerance": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            title="Layout-drift tolerance",
            description="How far above the product set's history the share of unrecognised "
            "pages (or of no-image pages no placeholder explains) may rise in a "
            "shard's latest 200 pages before the shard stops with a retryable "
            "error. Empty: 0.2.",
        ),
    }


def embed_params() -> dict[str, Param]:
    return {
        "model_id": _optional_text(
            "Model",
            "Hugging Face model id or a local CLIP directory. Empty: $SQID_EMBED_MODEL, else "
            "openai/clip-vit-large-patch14.",
        ),
        "revision": _optional_text(
            "Revision", "The model's hub revision. Empty: the pinned commit of the default model."
        ),
        "device": Param(
            "auto",
            enum=["auto", "cpu", "cuda"],
            title="Device",
            description="auto: CUDA with fp16 autocast when present, else CPU.",
        ),
        "batch_size": Param(
            64,
            type="integer",
            minimum=1,
            title="Batch size",
            description="Images per forward pass.",
        ),
        "shard_size": Param(
            2000,
            type="integer",
            minimum=1,
            title="Shard size",
            description="Image URLs per mapped task (texts: ten times that).",
        ),
        "limit": Param(
            0,
            type="integer",
            minimum=0,
            title="Limit",
            description="At most this many images (0: all).",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Ignore existing vectors and final download failures; recompute.",
        ),
        "rendition": Param(
            "as_scraped",
            type="string",
            pattern=_RENDITION,
            title="Rendition",
            examples=["as_scraped", "original", "_SX224_", "_AC_SX425_"],
            description="Which image to embed: the release's image_url (as_scraped, what "
            "SQID embedded), the original, or CDN modifiers such as _SX224_.",
        ),
    }


def release_params() -> dict[str, Param]:
    return {
        "bump": Param(
            "minor",
            enum=["major", "minor", "patch"],
            title="Version bump",
            description="Which part of the newest release's version to raise.",
        ),
        "version": _optional_text(
            "Version", "An explicit version like v1.2.0 instead of a bump.", pattern=_VERSION
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Assemble, evaluate, document and validate, but do not "
            "publish (the staging folder stays for inspection).",
        ),
        "publish_unchanged": Param(
            False,
            type="boolean",
            title="Publish unchanged",
            description="Publish even when nothing changed since the newest release.",
        ),
        "coverage_threshold": Param(
            0.9,
            type="number",
            minimum=0,
            maximum=1,
            title="Coverage threshold",
            description="The least share of test products with an image URL.",
        ),
        "min_vector_share": Param(
            0.9,
            type="number",
            minimum=0,
            maximum=1,
            title="Minimum share of vectors",
            description="The least share of products with a title vector, and of products "
            "with an image URL that have an image vector (lower it only to "
            "publish a partial release).",
        ),
        "model_id": _optional_text(
            "Model", "Which model's vectors to release. Empty: the one with the most vectors."
        ),
        "revision": _optional_text("Revision", "The model revision of those vectors."),
    }
