"""The DAGs through Airflow itself (dag.test), chained as in production, on loopback servers.

Each stage's run is a module fixture that asks for the stage before it, so any test runs
alone (setting up what it needs) and the module runs each upstream DAG once.
"""

import os

import duckdb
import pytest
from sqid.ingest.sqd import CHECKSUM_MANIFEST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_ready():
    from sqid.airflow_local import prepare

    return prepare()


@pytest.fixture(scope="module")
def ingested(airflow_ready, sample_sqd):
    from sqid.airflow_local import test_dag
    from sqid.localserve.files import FileServer

    with FileServer(sample_sqd.out_dir) as srv:
        return test_dag(
            "sqid_ingest", {"source": srv.base_url, "checksums": srv.url(CHECKSUM_MANIFEST)}
        )


@pytest.fixture(scope="module")
def product_site(ingested):
    """The local product site, with faults, as the scraper's connection for the module."""
    from sqid.localserve.site import ProductSite, SiteConfig

    site_config = SiteConfig(
        rates={"503": 0.05, "429": 0.02, "reset": 0.02, "captcha": 0.01, "404": 0.01},
        retry_after="0",
        page_size=50_000,
    )
    with ProductSite(site_config) as site:
        os.environ.update(
            site.connection_env(requests_per_second=200, concurrency=4, captcha_pause=0.1,
                                backoff_base=0.05, throttle_error_delay=0.01)
        )  # fmt: skip
        yield site


@pytest.fixture(scope="module")
def scraped(product_site):
    from sqid.airflow_local import test_dag

    return test_dag("sqid_scrape", {"shard_size": 200, "limit": 600})


@pytest.fixture(scope="module")
def embedded(scraped, tmp_path_factory):
    from sqid.airflow_local import test_dag
    from sqid.embed.tinyclip import build
    from sqid.localserve.cdn import ImageCDN

    model = build(tmp_path_factory.mktemp("tiny-clip"))
    with ImageCDN() as cdn:
        os.environ.update(cdn.mirror_env())
        return test_dag("sqid_embed", {"model_id": str(model), "shard_size": 300, "limit": 400})


def _scalar(db_path, sql):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_ingest_dag(airflow_ready, sample_sqd, ingested):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqid.airflow_local import task_states

    run = ingested
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["check_published_test_products"] == "skipped"
    assert states["announce"] == "success"
    assert all(states[f"download[{i}]"] == "success" for i in range(3))

    db_path = airflow_ready.duckdb_path
    assert _scalar(db_path, "SELECT count(*) FROM sqd_examples") == [(sample_sqd.examples,)]
    [(test_products,)] = _scalar(
        db_path, "SELECT count(*) FROM sqid_products WHERE product_set = 'test'"
    )
    with create_session() as session:
        extras = [
            e.extra for e in session.query(AssetEvent).all() if e.asset.name == "sqid.sqid_sets"
        ]
    assert extras and extras[-1]["test_products"] == test_products


def test_scrape_dag_with_faults(airflow_ready, scraped):
    from sqid.airflow_local import task_states, test_dag

    db_path = airflow_ready.duckdb_path
    run = scraped
    # The product site stays up for the whole module: later runs meet the same faults.
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["announce"] == "success"
    assert sum(1 for k in states if k.startswith("scrape_shard[")) == 3

    [(selected,)] = _scalar(db_path, "SELECT count(*) FROM product_images")
    assert selected == 600  # every selected product ends with a status
    [(dupes,)] = _scalar(
        db_path, "SELECT count(*) - count(DISTINCT attempt_id) FROM scrape_attempts"
    )
    assert dupes == 0
    statuses = dict(_scalar(db_path, "SELECT status, count(*) FROM product_images GROUP BY 1"))
    assert statuses.get("ok", 0) > 500

    # A second run picks up only what is new or retryable-and-stale: here, nothing
    # but the remaining products, so nothing scraped before is duplicated.
    run = test_dag("sqid_scrape", {"shard_size": 500, "limit": 100})
    assert str(run.state) == "success"

    # A run with no work emits no Asset event, so it starts no embed or release run.
    idle = test_dag("sqid_scrape", {"product_ids": ["B0NOSUCHID"]})
    states = task_states(idle)
    assert str(idle.state) == "success", states
    assert states["merge"] == "success" and states["announce"] == "skipped"
    [(after,)] = _scalar(db_path, "SELECT count(*) FROM product_images")
    assert after == 700
    [(dupes,)] = _scalar(
        db_path, "SELECT count(*) - count(DISTINCT product_id) FROM product_images"
    )
    assert dupes == 0


def test_embed_dag(airflow_ready, embedded):
    from sqid.airflow_local import task_states

    db_path = airflow_ready.duckdb_path
    run = embedded
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["announce"] == "success"
    [(vectors, dims)] = _scalar(
        db_path, "SELECT count(*), max(len(embedding)) FROM image_embeddings"
    )
    [(texts,)] = _scalar(db_path, "SELECT count(*) FROM text_embeddings")
    [(queries_missing,)] = _scalar(
        db_path,
        "SELECT count(*) FROM sqid_queries q WHERE NOT EXISTS (SELECT 1 FROM text_embeddings t"
        " WHERE t.text_sha256 = sha256(q.query))",
    )
    assert vectors == 400 and dims == 16
    assert texts > 0 and queries_missing == 0


def test_release_dag(airflow_ready, embedded):
    from sqid.airflow_local import task_states, test_dag
    from sqid.release.validate import ValidationPolicy, validate_release

    release_dir = airflow_ready.release_dir
    dry = test_dag(
        "sqid_release", {"coverage_threshold": 0.0, "min_vector_share": 0.0, "dry_run": True}
    )
    states = task_states(dry)
    assert str(dry.state) == "success", states
    assert states["validate"] == "success" and states["publish"] == "skipped"
    assert not (release_dir / "latest").exists()

    run = test_dag(
        "sqid_release", {"coverage_threshold": 0.0, "min_vector_share": 0.0, "version": "v1.0.0"}
    )
    states = task_states(run)
    assert str(run.state) == "success", states
    latest = (release_dir / "latest").resolve()
    # The embed above stopped at its limit: this release is partial, on purpose.
    partial = ValidationPolicy(coverage_threshold=0.0, min_image_vector_share=0.0)
    assert latest.name == "v1.0.0" and validate_release(latest, partial) == []
    evaluation = (latest / "evaluation.json").read_text()
    assert '"clip_image"' in evaluation

    # Nothing changed since v1.0.0: the run stops before assembling, unless told to go on.
    staged_before = sorted(release_dir.glob(".staging-*"))  # the dry run's stays to be read
    again = test_dag("sqid_release", {"coverage_threshold": 0.0, "min_vector_share": 0.0})
    states = task_states(again)
    assert str(again.state) == "success", states
    assert states["inputs_changed"] == "success" and states["assemble"] == "skipped"
    assert states["publish"] == "skipped" and states["update_latest"] == "skipped"
    assert (release_dir / "latest").resolve().name == "v1.0.0"
    assert sorted(release_dir.glob(".staging-*")) == staged_before
    forced = test_dag(
        "sqid_release",
        {"coverage_threshold": 0.0, "min_vector_share": 0.0, "publish_unchanged": True},
    )
    assert str(forced.state) == "success"
    assert (release_dir / "latest").resolve().name == "v1.1.0"

    gated = test_dag("sqid_release", {"coverage_threshold": 1.0, "version": "v2.0.0",
                                      "publish_unchanged": True})  # fmt: skip
    assert str(gated.state) == "failed"  # coverage below the gate: nothing published
    assert task_states(gated)["publish"] != "success"
    assert not (release_dir / "v2.0.0").exists()
    assert (release_dir / "latest").resolve().name == "v1.1.0"


def test_lineage_of_the_chain(tmp_path):
    """OpenLineage events (the file transport) of one chain: each task names the DuckDB
    tables and files it read and wrote."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    events = tmp_path / "events.jsonl"
    script = Path(__file__).with_name("lineage_chain.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "home"), str(events)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    seen: dict[tuple[str, str], tuple[set, set]] = {}
    for line in events.read_text().splitlines():
        e = json.loads(line)
        if e.get("eventType") == "COMPLETE" and "." in e["job"]["name"]:
            dag, _, task = e["job"]["name"].partition(".")
            inputs, outputs = seen.setdefault((dag, task), (set(), set()))
            inputs |= {d["name"] for d in e.get("inputs", [])}  # mapped tasks: every map index
            outputs |= {d["name"] for d in e.get("outputs", [])}
    assert "staging.sqd_examples" in seen[("sqid_ingest", "load")][1]
    assert "staging.sqd_examples" in seen[("sqid_ingest", "derive")][0]
    assert {"main.sqd_examples", "main.sqid_products"} <= seen[("sqid_ingest", "derive")][1]
    assert any(n.endswith("shopping_queries_dataset_examples.parquet")
               for n in seen[("sqid_ingest", "download")][1])  # fmt: skip
    assert {"main.scrape_attempts", "main.product_images"} <= seen[("sqid_scrape", "merge")][1]
    assert any("/scrape/" in n for n in seen[("sqid_scrape", "merge")][0])
    assert any("/shard-" in n for n in seen[("sqid_scrape", "scrape_shard")][1])
    assert "main.image_embeddings" in seen[("sqid_embed", "merge")][1]
    assert "main.image_embeddings" in seen[("sqid_release", "assemble")][0]
    assert any(n.endswith("releases/v0.1.0") for n in seen[("sqid_release", "publish")][1])
    assert any(n.endswith("releases/latest") for n in seen[("sqid_release", "update_latest")][1])
