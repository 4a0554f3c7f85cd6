"""Driving a running Airflow through its REST API v2, as the UI does: the rehearsal
benchmark and the scheduler tests trigger runs and read task instances with it. Plain
HTTP (``requests``), no Airflow import: it talks to any Airflow it can reach."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowApiError(RuntimeError):
    """The API answered a request with an error."""


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             alive: Callable[[], None], interval: float = 2.0) -> Any:  # fmt: skip
    """Poll ``predicate`` until it returns something truthy; ``alive`` raises as soon as a
    process the caller depends on has died, so a crash is reported as a crash."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive()
        try:
            value = predicate()
        except (requests.RequestException, OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Api:
    """A logged-in session as the simple auth manager's ``admin``."""

    def __init__(self, base: str, airflow_home: Path):
        self.base = base
        password = json.loads((airflow_home / PASSWORD_FILE).read_text())["admin"]
        token = requests.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        )
        token.raise_for_status()
        self.token = token.json()["access_token"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.session.request(method, f"{self.base}/api/v2{path}", timeout=30, **kwargs)
        if resp.status_code >= 400:
            raise AirflowApiError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json()

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def unpause(self, *dag_ids: str) -> None:
        for dag_id in dag_ids:
            self("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def runs(self, dag_id: str) -> list[dict]:
        return self("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]

    def succeeded(self, dag_id: str) -> list[dict]:
        """The DAG's successful runs; raises at once if a run failed."""
        runs = self.runs(dag_id)
        failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
        if failed:
            raise AirflowApiError(f"{dag_id}: runs failed: {failed}")
        return [r for r in runs if r["state"] == "success"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self("GET", path, params={"limit": 1000})["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        return self("GET", path)["task_instances"]
