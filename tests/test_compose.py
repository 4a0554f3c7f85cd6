"""The production stack's compose file agrees with the DAGs (no Docker engine needed)."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = (
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-worker", "airflow-worker-gpu", "airflow-init", "flower",
)  # fmt: skip


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_services(compose):
    services = compose["services"]
    assert {"postgres", "redis", *AIRFLOW_SERVICES} <= set(services)
    assert services["flower"]["profiles"] == ["flower"]
    flower_env = services["flower"]["environment"]
    assert flower_env["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:?set in .env}"
    assert flower_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"  # the shared env, merged
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]


def test_every_airflow_service_shares_image_build_and_environment(compose):
    services = compose["services"]
    common = compose["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["context"] == common["build"]["context"], name
        for key, value in common["environment"].items():
            assert service["environment"][key] == value, (name, key)
        assert service["volumes"] == common["volumes"], name
        if name != "airflow-worker-gpu":
            assert service["image"] == common["image"], name
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "postgresql" in common["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_gpu_worker_listens_on_the_embedding_queue(compose):
    services = compose["services"]
    gpu = services["airflow-worker-gpu"]
    queue = gpu["command"][gpu["command"].index("--queues") + 1]
    assert queue == compose["x-airflow-common"]["environment"]["SQID_EMBED_QUEUE"] == "gpu"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX"]
    cpu = services["airflow-worker"]
    assert cpu["command"][cpu["command"].index("--queues") + 1] == "default"
    # The DAG reads the same variable at parse time for its embed_shard queue.
    source = (ROOT / "dags" / "sqid_embed.py").read_text()
    assert "queue=EMBED_QUEUE" in source


def test_init_creates_the_pools_and_connections_the_dags_use(compose):
    script = compose["services"]["airflow-init"]["command"][-1]
    # One module creates both, from the names the DAGs import.
    assert "python -m sqid.orchestration.deploy" in script
    assert "airflow db migrate" in script
    env = compose["x-airflow-common"]["environment"]
    assert '"host": "/data/sqid/sqid.duckdb"' in env["AIRFLOW_CONN_SQID_DUCKDB"]


def test_no_default_secrets(compose):
    text = (ROOT / "docker-compose.yaml").read_text()
    for secret in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
    ):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^POSTGRES_PASSWORD=$", example, re.M)
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0


def test_dockerfile_installs_from_the_lock_and_bakes_in_the_project():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/lock.txt" in dockerfile
    for folder in ("dags/", "sql/", "include/", "plugins/"):
        assert f"COPY {folder} {folder}" in dockerfile
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in dockerfile
