"""
### sqid_embed: CLIP image and text embeddings

For every scraped product image, downloads the image safely (allowlisted hosts, HTTPS,
no private addresses, byte and pixel limits, magic bytes, Pillow decode to RGB) into a
content-addressed cache, and computes its CLIP image embedding; for every product title
and benchmark query, its CLIP text embedding. Vectors are keyed by (model, revision,
sha256 of the bytes or text): only missing ones are computed, and products sharing an
image share a vector. Embedding shards run on the queue named by `SQID_EMBED_QUEUE`
(`gpu` in the production stack) in the `sqid_embed` pool; one merge task loads them
into DuckDB (`image_fetches`, `image_embeddings`, `text_embeddings`). A download that
would only fail again (not an image, too large or small, undecodable, a refused host,
HTTP 404 or 410) is not planned again unless `force` is set. `sqid.embeddings` is
emitted only when the run added a vector or changed a download: a quiet day starts no
release.

Runs when `sqid_scrape` updates `sqid.product_images`. Every ingest reaches this DAG
through the scrape it triggers, so new titles and queries are embedded in the same run
as the images, and a release never starts from half-updated vectors.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from sqid.orchestration import (
    DEFAULT_ARGS,
    DUCKDB_POOL,
    EMBED_POOL,
    EMBED_QUEUE,
    EMBEDDINGS,
    PRODUCT_IMAGES,
    TIMEOUT_EMBED_SHARD,
    TIMEOUT_QUICK,
    TIMEOUT_TABLES,
    fail_run_when_a_task_fails,
)
from sqid.orchestration.lineage import EMBEDDED, SETS, TELEMETRY, tables
from sqid.orchestration.params import embed_params, with_params_table


@dag(
    dag_id="sqid_embed",
    description="CLIP image and text embeddings of the scraped images, product titles and queries",
    schedule=[PRODUCT_IMAGES],
    catchup=False,
    # Runs only when the stage before it changed data: active from the start, so one
    # trigger of sqid_ingest carries through the whole chain.
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sqid", "embed"],
    doc_md=with_params_table(__doc__, "embed"),
    params=embed_params(),
)
def sqid_embed():
    @task(pool=DUCKDB_POOL, inlets=tables(SETS, ["product_images"], EMBEDDED),
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def plan(params=None, run_id=None) -> list[dict]:
        from sqid.orchestration.embed import plan_embed

        return plan_embed(params, run_id)

    @task(queue=EMBED_QUEUE, pool=EMBED_POOL, execution_timeout=TIMEOUT_EMBED_SHARD)
    def embed_shard(shard: dict, params=None) -> dict:
        from sqid.orchestration.embed import embed_shard as run

        return run(shard, params)

    @task(pool=DUCKDB_POOL, trigger_rule="all_done", outlets=tables(EMBEDDED, TELEMETRY),
          execution_timeout=TIMEOUT_TABLES)  # fmt: skip
    def merge(run_id=None) -> dict:
        from sqid.orchestration.embed import merge_embed

        return merge_embed(run_id)

    @task(outlets=[EMBEDDINGS], execution_timeout=TIMEOUT_QUICK)
    def announce(merged: dict, *, outlet_events=None) -> dict:
        from sqid.orchestration.embed import embed_summary

        summary = embed_summary(merged)
        outlet_events[EMBEDDINGS].extra = summary
        return summary

    shards = plan()
    done = embed_shard.expand(shard=shards)
    merged = merge()
    done >> merged
    announce(merged)


fail_run_when_a_task_fails(sqid_embed())
