"""The production stack without Docker: docker-compose.yaml's services on loopback.

PostgreSQL (metadata and Celery results), Redis (broker), the api-server, scheduler and
dag-processor, two CPU Celery workers on the `default` queue and one on `gpu`, all
started with the compose services' environment and commands. The pipeline is triggered
through the REST API, one CPU worker is SIGKILLed while it holds a scrape shard, and the
final tables must equal those of an in-process run (`dag.test()`) of the same data.

Run on its own with `pytest -m distributed`; it needs Debian's postgresql and
redis-server (`make cluster-deps`) and skips without them unless SQID_REQUIRE_CLUSTER=1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from sqid.airflow_local import airflow_env
from sqid.airflow_rest import PASSWORD_FILE, Api, free_port, wait_for
from sqid.config import load_settings
from sqid.ingest.sample import generate
from sqid.ingest.sqd import CHECKSUM_MANIFEST
from sqid.localserve.cdn import ImageCDN
from sqid.localserve.files import FileServer
from sqid.localserve.site import ProductSite, SiteConfig

from .cluster import (
    SERVER_BINARIES,
    VENV_BIN,
    Processes,
    find_binary,
    init_script,
    load_compose,
    loopback_environment,
    secrets_for_env_file,
    service_argv,
    start_postgres,
    start_redis,
)

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

DAGS = ("sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release")
N_QUERIES = 550  # about 800 SQID products: two scrape shards at the default 500
SITE = SiteConfig(page_size=20_000)  # no random faults: both runs must see the same site
CPU_WORKERS = ("cpu-1", "cpu-2")
GPU_WORKER = "gpu-1"

# Tables and the columns that must be equal; times, run ids and local URLs differ.
COMPARED = {
    "sqid_products": "*",
    "sqid_queries": "*",
    "product_images": "* EXCLUDE (scraped_at, run_id)",
    "scrape_attempts": "product_id, attempt, http_status, page_kind, bytes, error",
    "image_fetches": "image_url, sha256, status, error, http_status, attempts",
}
VECTORS = {"image_embeddings": "sha256", "text_embeddings": "text_sha256"}
RELEASE_FILES = ("product_image_urls.csv", "supp_product_image_urls.csv")
RELEASE_TABLES = ("product_features.parquet", "query_features.parquet")

REFERENCE = """
import json, sys
from pathlib import Path
from sqid.airflow_local import prepare
from sqid.demo import run_pipeline
from sqid.localserve.site import SiteConfig

args = json.loads(sys.argv[1])
prepare()
states = run_pipeline(Path(args["sample"]), SiteConfig(**args["site"]), args["model"],
                      pacing={"requests_per_second": 200, "concurrency": 4})
sys.exit(0 if list(states.values()) == ["success"] * 4 else 1)
"""

WORKER_IDENTITY = """
import os

def hostname():
    return os.environ["SQID_WORKER_NAME"]
"""


def require_servers() -> None:
    missing = [name for name in SERVER_BINARIES if not find_binary(name)]
    if missing:
        reason = f"{', '.join(missing)} not installed: `make cluster-deps` installs them"
        if os.environ.get("SQID_REQUIRE_CLUSTER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def worker_env(env: dict[str, str], name: str, identity_dir: Path) -> dict[str, str]:
    """Containers have hostnames of their own; workers sharing this machine get one each
    through Airflow's ``hostname_callable``, so task instances say which worker ran them."""
    return {
        **env,
        "SQID_WORKER_NAME": name,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(identity_dir), env.get("PYTHONPATH")])),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "sqid_worker_identity.hostname",
    }


def test_celery_stack_runs_the_pipeline_and_survives_a_lost_worker(tmp_path, tiny_clip):
    require_servers()
    compose = load_compose()
    variables = secrets_for_env_file()
    sample = generate(tmp_path / "sqd", n_queries=N_QUERIES, seed=5)
    settings = load_settings({"SQID_HOME": str(tmp_path / "sqid")})
    airflow_home = tmp_path / "airflow"
    airflow_home.mkdir()
    ports = {name: free_port() for name in ("postgres", "redis", "api")}
    identity_dir = tmp_path / "identity"
    identity_dir.mkdir()
    (identity_dir / "sqid_worker_identity.py").write_text(WORKER_IDENTITY)

    with (
        Processes(tmp_path) as procs,
        FileServer(sample.out_dir) as files,
        ProductSite(SITE) as site,
        ImageCDN() as cdn,
    ):
        # The in-process reference runs beside the cluster's start-up.
        reference_home = tmp_path / "reference"
        args = {"sample": str(sample.out_dir), "site": {"page_size": SITE.page_size},
                "model": str(tiny_clip)}  # fmt: skip
        reference_env = {**os.environ, "SQID_HOME": str(reference_home)}
        reference = procs.start("reference", [sys.executable, "-c", REFERENCE, json.dumps(args)],
                                reference_env, finite=True)  # fmt: skip

        start_postgres(procs, ports["postgres"], variables["POSTGRES_USER"],
                       variables["POSTGRES_PASSWORD"], variables["POSTGRES_DB"])  # fmt: skip
        start_redis(procs, ports["redis"], variables["REDIS_PASSWORD"])
        env = {
            **os.environ,
            **airflow_env(settings, airflow_home),
            **loopback_environment(compose, variables, ports, settings.home),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "SQID_SQD_SOURCE": files.base_url,
            "SQID_SQD_CHECKSUMS": files.url(CHECKSUM_MANIFEST),
            "SQID_EMBED_MODEL": str(tiny_clip),
            **cdn.mirror_env(),
            # Paced so that a shard takes about 20 s: long enough to be caught half done.
            **site.connection_env(requests_per_second=25, concurrency=2),
            # Failure handling at test speed: a task without heartbeat for 20 s (default
            # 300) is declared lost, and its shard is retried 5 s later (default 300).
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "SQID_SCRAPE_RETRY_DELAY": "5",
        }
        init = procs.start("airflow-init", init_script(compose, variables), env, finite=True)
        assert init.wait(timeout=300) == 0, f"airflow-init failed; see {tmp_path}/airflow-init.log"

        api_argv = service_argv(compose, "airflow-apiserver", port=str(ports["api"]))
        procs.start("api-server", [*api_argv, "--host", "127.0.0.1"], env)
        procs.start("scheduler", service_argv(compose, "airflow-scheduler"), env)
        procs.start("dag-processor", service_argv(compose, "airflow-dag-processor"), env)
        for name in CPU_WORKERS:
            # One task at a time each, so that the two scrape shards go one to each worker.
            argv = service_argv(compose, "airflow-worker", concurrency="1",
                                celery_hostname=f"{name}@%h")  # fmt: skip
            procs.start(name, [*argv, "--skip-serve-logs"], worker_env(env, name, identity_dir))
        argv = service_argv(compose, "airflow-worker-gpu", celery_hostname=f"{GPU_WORKER}@%h")
        procs.start(GPU_WORKER, [*argv, "--skip-serve-logs"],
                    worker_env(env, GPU_WORKER, identity_dir))  # fmt: skip

        base = f"http://127.0.0.1:{ports['api']}"
        wait_for(lambda: requests.get(f"{base}/api/v2/monitor/health", timeout=5).ok,
                 240, "the API", procs.alive)  # fmt: skip
        wait_for(lambda: (airflow_home / PASSWORD_FILE).exists(), 60, "password", procs.alive)
        api = Api(base, airflow_home)
        pools = {p["name"]: p["slots"] for p in api("GET", "/pools")["pools"]}
        assert pools["sqid_scrape"] == 4 and pools["sqid_duckdb"] == 1  # from airflow-init
        # airflow-init's connection; the test's AIRFLOW_CONN_SQID_AMAZON (the local site)
        # overrides it in the components, as environment connections do.
        assert api("GET", "/connections/sqid_amazon")["host"] == variables["SQID_PRODUCT_HOST"]
        wait_for(lambda: {d["dag_id"] for d in api("GET", "/dags")["dags"]} >= set(DAGS),
                 240, "the DAGs", procs.alive)  # fmt: skip
        api.unpause(*DAGS)
        api.trigger("sqid_ingest")

        # The fault: SIGKILL the worker (and its task processes) holding a scrape shard
        # once the shard has checkpointed some products (every 50) and not the rest.
        def shard_dir(ti) -> Path:
            [folder] = settings.data_dir.glob(f"scrape/*/shard-{ti['map_index']:05d}")
            return folder

        def running_shard():
            for run in api.runs("sqid_scrape"):
                for ti in api.task_instances("sqid_scrape", run["dag_run_id"]):
                    running = ti["task_id"] == "scrape_shard" and ti["state"] == "running"
                    if running and len(list(shard_dir(ti).glob("outcomes-*.parquet"))) >= 2:
                        return ti
            return None

        shard = wait_for(running_shard, 600, "a running scrape shard", procs.alive, 0.5)
        victim = shard["hostname"]
        assert victim in CPU_WORKERS, shard
        procs.kill(victim)

        for dag_id in DAGS:
            wait_for(lambda d=dag_id: api.succeeded(d), 600, f"{dag_id} to succeed", procs.alive)
        # Unpausing sqid_ingest also starts its latest monthly run; the scrape run that
        # follows it finds no work and announces nothing, so embed and release run once.
        assert [len(api.runs(d)) for d in ("sqid_embed", "sqid_release")] == [1, 1]

        # Where everything ran, from the task instances' tries.
        tries = []
        for dag_id in DAGS:
            for run in api.runs(dag_id):
                for ti in api.task_instances(dag_id, run["dag_run_id"]):
                    if ti["state"] != "skipped":
                        tries += api.tries(
                            dag_id, run["dag_run_id"], ti["task_id"], ti["map_index"]
                        )
        scrape = [t for t in tries if t["task_id"] == "scrape_shard"]
        embed = [t for t in tries if t["task_id"] == "embed_shard"]
        assert {t["hostname"] for t in scrape} == set(CPU_WORKERS)
        assert embed and {(t["hostname"], t["queue"]) for t in embed} == {(GPU_WORKER, "gpu")}
        others = [t for t in tries if t["task_id"] != "embed_shard"]
        assert {t["hostname"] for t in others} <= set(CPU_WORKERS)
        assert {t["queue"] for t in others} == {"default"}

        killed = sorted(
            (
                t
                for t in scrape
                if (t["dag_run_id"], t["map_index"]) == (shard["dag_run_id"], shard["map_index"])
            ),
            key=lambda t: t["try_number"],
        )
        assert killed[0]["hostname"] == victim and killed[0]["state"] == "failed", killed
        assert killed[-1]["state"] == "success" and killed[-1]["hostname"] != victim, killed
        # The retry resumed from the checkpoints and scraped only what was left.
        summary = json.loads((shard_dir(shard) / "summary.json").read_text())
        assert summary["skipped_done"] >= 100, summary
        assert summary["skipped_done"] + summary["scraped"] == summary["selected"], summary

        assert reference.wait(timeout=600) == 0, (
            f"reference run failed; see {tmp_path}/reference.log"
        )

    reference_settings = load_settings({"SQID_HOME": str(reference_home)})
    assert_same_tables(settings.duckdb_path, reference_settings.duckdb_path)
    assert_same_release(settings.release_dir / "latest", reference_settings.release_dir / "latest")


def assert_same_tables(got: Path, want: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS got (READ_ONLY)", [str(got)])
        con.execute("ATTACH ? AS want (READ_ONLY)", [str(want)])
        for table, columns in COMPARED.items():
            [(rows,)] = con.execute(f"SELECT count(*) FROM want.{table}").fetchall()
            assert rows > 0, table
            for a, b in (("got", "want"), ("want", "got")):
                [(extra,)] = con.execute(
                    f"SELECT count(*) FROM (SELECT {columns} FROM {a}.{table}"
                    f" EXCEPT ALL SELECT {columns} FROM {b}.{table})"
                ).fetchall()
                assert extra == 0, f"{table}: {extra} rows in {a} that are not in {b}"
        # Every product once, every attempt once, in spite of the killed shard.
        [(products, images, distinct)] = con.execute(
            "SELECT (SELECT count(*) FROM got.sqid_products), count(*),"
            " count(DISTINCT product_id) FROM got.product_images"
        ).fetchall()
        assert products == images == distinct
        for table, key in VECTORS.items():
            got_vectors = _vectors(con, f"got.{table}", key)
            want_vectors = _vectors(con, f"want.{table}", key)
            assert got_vectors.keys() == want_vectors.keys(), table
            keys = sorted(want_vectors)
            np.testing.assert_allclose(
                np.stack([got_vectors[k] for k in keys]),
                np.stack([want_vectors[k] for k in keys]),
                atol=1e-5,
            )
    finally:
        con.close()


def _vectors(con, table: str, key: str) -> dict[str, np.ndarray]:
    rows = con.execute(f"SELECT {key}, embedding FROM {table}").fetchall()
    return {k: np.asarray(v, dtype=np.float32) for k, v in rows}


def assert_same_release(got: Path, want: Path) -> None:
    assert got.resolve().name == want.resolve().name  # the same first version
    for name in RELEASE_FILES:
        assert (got / name).read_bytes() == (want / name).read_bytes(), name
    for name in RELEASE_TABLES:
        got_table, want_table = pq.read_table(got / name), pq.read_table(want / name)
        assert got_table.schema == want_table.schema, name
        assert got_table.num_rows == want_table.num_rows, name
        for column in want_table.column_names:
            a, b = got_table[column].to_pylist(), want_table[column].to_pylist()
            if not pa.types.is_list(want_table.schema.field(column).type):
                assert a == b, (name, column)
                continue
            assert [x is None for x in a] == [x is None for x in b], (name, column)
            pairs = [(x, y) for x, y in zip(a, b, strict=True) if y is not None]
            np.testing.assert_allclose(*np.array(pairs, dtype=float).transpose(1, 0, 2), atol=1e-5)
