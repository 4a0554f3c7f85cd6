"""Every setting a user can change, each declared once (see :mod:`sqid.setting`).

Groups, by where they are set:

- ``INGEST``, ``SCRAPE``, ``EMBED``, ``RELEASE``: each DAG's Params (the Trigger form);
  ``RELEASE`` is also ``sqid release``'s flags.
- ``SITE``: the extra of the ``sqid_amazon`` connection (pacing, timeouts, retries,
  breakers, the layout-drift guard), which the scrape Params of the same names override.
- ``VALIDATE``: the flags of ``sqid validate``.

The stage dataclasses (``ScrapeConfig``, ``DriftLimits``, ``EmbedConfig``,
``ReleaseConfig``, ``ValidationPolicy``, ``IngestFloors``) take their defaults from here,
and ``make settings-tables`` writes the README's tables from here
(``tests/test_settings.py`` fails when they differ). Where a setting comes from when a
run starts (environment, connection, Params) is each stage's ``resolve``.
"""

from __future__ import annotations

from sqid.scrape.vocabulary import STATUSES
from sqid.setting import Setting

DEFAULT_MODEL_ID = "openai/clip-vit-large-patch14"
"""The model SQID published its vectors with."""

_VERSION = r"v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})"
_RENDITION = r"as_scraped|original|_[A-Za-z0-9_,]+_"
_SHARE = {"minimum": 0.0, "maximum": 1.0}

INGEST = (
    Setting("source", str, None, "SQD source",
            "Where the SQD files come from: a base URL (https://…), a file:// URL or a "
            "directory holding the three files.",
            empty="$SQID_SQD_SOURCE, else Amazon's public esci-data repository"),
    Setting("checksums", str, None, "Checksums",
            "'published' (the public SQD files' sizes and sha256) or the path or URL of a "
            'JSON manifest {"<file>": {"size": …, "sha256": …}}.',
            empty="$SQID_SQD_CHECKSUMS, else 'published'"),
    Setting("force_download", bool, False, "Download again",
            "Fetch the files even if a verified copy is cached."),
    Setting("min_supp_judgements", int, 2, "Supplementary set rule",
            "Least number of judgements a non-test US Task-1 product needs to be in the "
            "supplementary set.", minimum=1),
    Setting("check_published_counts", str, "auto", "Check published counts",
            "Compare the derived sets with SQID's published counts (164,900 / 27,139 / "
            "8,956): 'auto' only when the files are the published ones.",
            choices=("auto", "always", "never")),
    Setting("min_rows", int, 1, "Minimum rows",
            "Rows each raw SQD table and the SQID product set must have.", minimum=0),
    Setting("max_row_loss", float, 0.5, "Maximum row loss",
            "The largest share of a live table's rows a new load may lose; 1 allows any "
            "(e.g. a deliberately smaller SQD version).", **_SHARE),
    Setting("min_title_share", float, 0.5, "Minimum share of titles",
            "The least share of SQID products that must have a title.", **_SHARE),
)  # fmt: skip

SITE = (
    Setting("requests_per_second", float, 1.0, "Requests per second",
            "Pace of each shard: a token bucket per host.", minimum=0.001),
    Setting("concurrency", int, 2, "Threads per shard",
            "Concurrent requests of each shard.", minimum=1, maximum=64),
    Setting("connect_timeout", float, 5.0, "Connect timeout", "Seconds to connect.",
            minimum=0.1),
    Setting("read_timeout", float, 20.0, "Read timeout",
            "Seconds to wait for each read of a response.", minimum=0.1),
    Setting("request_deadline", float, 60.0, "Request deadline",
            "Wall-clock limit of one request, body included (a dripping body is a timeout).",
            minimum=1.0),
    Setting("max_redirects", int, 3, "Redirects", "Redirects one request may follow.",
            minimum=0, maximum=10),
    Setting("max_body_bytes", int, 8_000_000, "Largest page",
            "Bytes of a page past which it is recorded as too_large.", minimum=1024),
    Setting("max_attempts", int, 4, "Attempts", "Attempts per product within a run.",
            minimum=1, maximum=20),
    Setting("backoff_base", float, 2.0, "Backoff base",
            "Seconds before the second attempt, doubling for each further one.", minimum=0.0),
    Setting("backoff_max", float, 120.0, "Longest backoff", "Seconds a backoff is capped at.",
            minimum=0.0),
    Setting("max_retry_after", float, 120.0, "Longest Retry-After",
            "The longest Retry-After a thread waits for; a longer one ends the product's "
            "attempts with a retryable status for a later run.", minimum=0.0),
    Setting("captcha_pause", float, 30.0, "Captcha pause",
            "Seconds every thread of the shard pauses after a captcha.", minimum=0.0),
    Setting("captcha_breaker", int, 5, "Captcha breaker",
            "Consecutive captchas that stop the shard (retryable: a later run resumes).",
            minimum=1),
    Setting("throttle_breaker", int, 10, "Throttle breaker",
            "Consecutive 429 responses that stop the shard, like captchas.", minimum=1),
    Setting("throttle_error_delay", float, 1.0, "Delay after a failure",
            "Seconds between requests after a failure, doubled on each further failure.",
            minimum=0.0),
    Setting("throttle_max_delay", float, 60.0, "Longest delay",
            "Seconds the delay after failures is capped at.", minimum=0.0),
    Setting("checkpoint_every", int, 50, "Checkpoint every",
            "Products between two Parquet checkpoints of a shard.", minimum=1),
    Setting("drift_tolerance", float, 0.2, "Layout-drift tolerance",
            "How far above the product set's history the share of unrecognised pages (or "
            "of no-image pages no placeholder explains) may rise in a shard's window before "
            "the shard stops with a retryable error.", **_SHARE),
    Setting("drift_window", int, 200, "Layout-drift window",
            "The latest analysed pages of a shard the drift guard judges.", minimum=10),
    Setting("drift_min_pages", int, 50, "Layout-drift minimum",
            "Pages a shard must have analysed before the drift guard judges.", minimum=1),
)  # fmt: skip


def _site(name: str) -> Setting:
    return next(s for s in SITE if s.name == name)


_CONNECTION = "the sqid_amazon connection"

SCRAPE = (
    Setting("product_ids", list, [], "Products",
            "Scrape exactly these product IDs, whatever their status. Empty: every product "
            "the status rules select."),
    Setting("statuses", list, [], "Statuses to scrape again",
            "Scrape the products whose current status is one of these, whatever their age "
            "('pending': never scraped). Empty: products never scraped, and retryable "
            "statuses older than retry_age_hours.", choices=(*STATUSES, "pending")),
    Setting("force", bool, False, "Force",
            "Scrape everything selected again, final statuses included."),
    Setting("limit", int, 0, "Limit", "At most this many products (0: no limit).", minimum=0),
    Setting("retry_age_hours", int, 24, "Retry after (hours)",
            "A retryable status is tried again once it is this old.", minimum=0),
    Setting("shard_size", int, 500, "Shard size", "Products per mapped scrape task.",
            minimum=1),
    _site("requests_per_second").over(_CONNECTION),
    _site("concurrency").over(_CONNECTION),
    _site("drift_tolerance").over(_CONNECTION),
)  # fmt: skip

EMBED = (
    Setting("model_id", str, None, "Model",
            "Hugging Face model id or a local CLIP directory.",
            empty=f"$SQID_EMBED_MODEL, else {DEFAULT_MODEL_ID}"),
    Setting("revision", str, None, "Revision", "The model's hub revision.",
            empty="$SQID_EMBED_REVISION, else the pinned commit of the default model"),
    Setting("device", str, "auto", "Device",
            "auto: CUDA with fp16 autocast when present, else CPU.",
            choices=("auto", "cpu", "cuda")),
    Setting("batch_size", int, 64, "Batch size", "Images per forward pass.", minimum=1),
    Setting("shard_size", int, 2000, "Shard size",
            "Image URLs per mapped task (texts: ten times that).", minimum=1),
    Setting("limit", int, 0, "Limit", "At most this many images (0: all).", minimum=0),
    Setting("force", bool, False, "Force",
            "Ignore existing vectors and final download failures; recompute."),
    Setting("rendition", str, "as_scraped", "Rendition",
            "Which image to embed: the release's image_url (as_scraped, what SQID "
            "embedded), the original, or CDN modifiers such as _SX224_.",
            pattern=_RENDITION, examples=("as_scraped", "original", "_SX224_", "_AC_SX425_")),
)  # fmt: skip

COVERAGE_THRESHOLD = Setting(
    "coverage_threshold", float, 0.9, "Coverage threshold",
    "The least share of test products with an image URL.", **_SHARE,
)  # fmt: skip
MIN_VECTOR_SHARE = Setting(
    "min_vector_share", float, 0.9, "Minimum share of vectors",
    "The least share of products with a title vector, and of products with an image URL "
    "that have an image vector (lower it only to publish a partial release).", **_SHARE,
)  # fmt: skip

RELEASE = (
    Setting("bump", str, "minor", "Version bump",
            "Which part of the newest release's version to raise (the first release is "
            "v0.1.0 for minor).", choices=("major", "minor", "patch")),
    Setting("version", str, None, "Version",
            "An explicit version instead of a bump.", pattern=_VERSION,
            examples=("v1.2.3",), empty="the bump"),
    Setting("dry_run", bool, False, "Dry run",
            "Assemble, evaluate, document and validate, but do not publish (the staging "
            "folder stays for inspection)."),
    Setting("publish_unchanged", bool, False, "Publish unchanged",
            "Publish even when the data files equal those of the newest release; otherwise "
            "such a run mints no version."),
    COVERAGE_THRESHOLD,
    MIN_VECTOR_SHARE,
    Setting("model_id", str, None, "Model", "Which model's vectors to release.",
            empty="the model with the most image vectors"),
    Setting("revision", str, None, "Revision", "The model revision of those vectors.",
            empty="that model's revision with the most image vectors"),
)  # fmt: skip

NORM_BAND = (0.001, 10_000.0)
"""The band every vector's L2 norm must lie in: wide, since it catches only zero and
exploded vectors (CLIP's raw features have norms near 1 to 40)."""

VALIDATE = (
    Setting("dimension", int, None, "Dimension", "Vector dimension.", minimum=1,
            empty="from the model id for known models (768 for "
            f"{DEFAULT_MODEL_ID}), else one dimension throughout"),
    Setting("norm_min", float, NORM_BAND[0], "Least norm",
            "The least L2 norm of a vector.", minimum=0.0),
    Setting("norm_max", float, NORM_BAND[1], "Largest norm",
            "The largest L2 norm of a vector.", minimum=0.0),
    COVERAGE_THRESHOLD,
    MIN_VECTOR_SHARE.renamed("min_image_vectors", "Minimum share of image vectors",
                             "The least share of products with an image URL that have an "
                             "image vector."),
    MIN_VECTOR_SHARE.renamed("min_text_vectors", "Minimum share of title vectors",
                             "The least share of products that have a title vector."),
)  # fmt: skip

GROUPS = {"ingest": INGEST, "scrape": SCRAPE, "site": SITE, "embed": EMBED,
          "release": RELEASE, "validate": VALIDATE}  # fmt: skip
"""Every group by the name its README table is marked with."""


if __name__ == "__main__":  # make settings-tables: the README's tables from here
    import sys
    from pathlib import Path

    from sqid.setting import with_tables

    readme = Path(sys.argv[1])
    readme.write_text(with_tables(readme.read_text(encoding="utf-8"), GROUPS), encoding="utf-8")
