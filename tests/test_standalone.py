"""The scheduler path on the embedded default: `airflow standalone` (SQLite) with the
project's DAGs, driven through the REST API as the UI does. Triggering `sqid_ingest`
must run scrape, embed and release by Asset scheduling alone. This catches what
dag.test() does not: serialization, pools, Asset scheduling, Params validation."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqid.airflow_local import airflow_env
from sqid.config import load_settings
from sqid.localserve.cdn import ImageCDN
from sqid.localserve.files import FileServer
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.orchestration import POOLS
from sqid.sample import generate
from sqid.sqd import CHECKSUM_MANIFEST

pytestmark = pytest.mark.slow
DAGS = ("sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base: str, home: Path):
        self.base = base
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())[
            "admin"
        ]
        token = requests.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        )
        token.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def __call__(self, method: str, path: str, **kwargs):
        resp = self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)
        assert resp.status_code < 400, (method, path, resp.status_code, resp.text)
        return resp.json()


def wait_for(predicate, timeout: float, what: str, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"airflow standalone exited while waiting for {what}"
        try:
            value = predicate()
        except (requests.RequestException, OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def test_asset_chain_under_the_scheduler(tmp_path, tiny_clip):
    home = tmp_path / "sqid"
    settings = load_settings({"SQID_HOME": str(home)})
    port = free_port()
    sample = generate(tmp_path / "sqd", n_queries=250, seed=3)
    log = (tmp_path / "standalone.log").open("w")
    with (
        FileServer(sample.out_dir) as files,
        ProductSite(SiteConfig(page_size=20_000)) as site,
        ImageCDN() as cdn,
    ):
        env = {
            **os.environ,
            **airflow_env(settings),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # standalone starts its components as `airflow ...` from PATH
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
            "SQID_SQD_SOURCE": files.base_url,
            "SQID_SQD_CHECKSUMS": files.url(CHECKSUM_MANIFEST),
            "SQID_EMBED_MODEL": str(tiny_clip),
            **cdn.mirror_env(),
            **site.connection_env(requests_per_second=100, concurrency=4),
        }
        Path(env["AIRFLOW_HOME"]).mkdir(parents=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://localhost:{port}"
            wait_for(
                lambda: requests.get(f"{base}/api/v2/monitor/health", timeout=5).ok,
                180,
                "the API",
                proc,
            )
            airflow_home = Path(env["AIRFLOW_HOME"])
            wait_for(
                lambda: (airflow_home / "simple_auth_manager_passwords.json.generated").exists(),
                60,
                "password",
                proc,
            )
            api = Api(base, airflow_home)
            for name, (slots, description) in POOLS.items():
                api(
                    "POST",
                    "/pools",
                    json={"name": name, "slots": slots, "description": description},
                )
            wait_for(
                lambda: {d["dag_id"] for d in api("GET", "/dags")["dags"]} >= set(DAGS),
                180,
                "the DAGs",
                proc,
            )
            for dag_id in DAGS:
                api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
            # Params are validated by the API, as in the UI's trigger form.
            bad = api.session.post(f"{base}/api/v2/dags/sqid_ingest/dagRuns",
                                   json={"logical_date": None, "conf": {"check_published_counts": "maybe"}}, timeout=30)  # fmt: skip
            assert bad.status_code >= 400
            api("POST", "/dags/sqid_ingest/dagRuns", json={"logical_date": None, "conf": {}})

            def finished(dag_id):
                runs = api("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
                states = {r["state"] for r in runs}
                assert "failed" not in states, (dag_id, runs)
                return "success" in states

            for dag_id in DAGS:
                wait_for(lambda d=dag_id: finished(d), 420, f"{dag_id} to succeed", proc)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()
    latest = settings.release_dir / "latest"
    assert latest.exists() and (latest / "SHA256SUMS").exists()
