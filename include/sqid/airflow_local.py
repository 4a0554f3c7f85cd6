"""Run the project's DAGs on the embedded default: SQLite metadata, a local DuckDB file.

Sets up an isolated ``AIRFLOW_HOME`` under ``$SQID_HOME/airflow`` with the project's
DAG and plugin folders, the DuckDB connection and the pools the DAGs use, then either
runs a DAG in-process (``dag.test()``, what ``make demo`` does) or starts
``airflow standalone`` (``make airflow``). Airflow is imported only after the
environment is set, so nothing is ever written to ``~/airflow``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqid.config import DUCKDB_CONN_ID, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"
PLUGINS_DIR = REPO_ROOT / "plugins"


def duckdb_connection_uri(settings: Settings) -> str:
    """Connection JSON for ``AIRFLOW_CONN_SQID_DUCKDB`` (checks open the file read-only)."""
    return json.dumps(
        {"conn_type": "duckdb", "host": str(settings.duckdb_path), "extra": {"read_only": True}}
    )


def airflow_env(settings: Settings, airflow_home: Path | None = None) -> dict[str, str]:
    home = airflow_home or settings.home / "airflow"
    return {
        "SQID_HOME": str(settings.home),
        "SQID_DUCKDB_PATH": str(settings.duckdb_path),
        "SQID_DATA_DIR": str(settings.data_dir),
        "SQID_RELEASE_DIR": str(settings.release_dir),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        f"AIRFLOW_CONN_{DUCKDB_CONN_ID.upper()}": duckdb_connection_uri(settings),
    }


def prepare(settings: Settings | None = None) -> Settings:
    """Point this process at the project-local Airflow home and migrate its database."""
    settings = settings or load_settings()
    env = airflow_env(settings)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    from airflow.utils import db as airflow_db

    from sqid.orchestration.deploy import ensure_pools

    airflow_db.initdb()
    ensure_pools()
    return settings


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def test_dag(dag_id: str, run_conf: dict[str, Any] | None = None) -> Any:
    """Run ``dag_id`` in this process with ``dag.test()``; return the finished DagRun."""
    return load_dag(dag_id).test(run_conf=run_conf or {})


def task_states(run: Any) -> dict[str, str]:
    """``{task_id[map_index]: state}`` of a finished run, for summaries and tests."""
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = run.get_task_instances(session=session)
        return {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            for ti in tis
        }


def load_demo_site_env() -> Path | None:
    """Take the settings ``make demo-site`` wrote (its servers are running while the file
    exists); a variable already set in the environment wins. The file read, or None."""
    from sqid.demo import SITE_ENV

    env_file = load_settings().home / SITE_ENV
    if not env_file.exists():
        return None
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            os.environ.setdefault(name, value)
    return env_file


def product_site() -> str:
    """Where ``sqid_scrape`` will fetch pages, in words (connection, then variable)."""
    conn = os.environ.get("AIRFLOW_CONN_SQID_AMAZON")
    if conn:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            c = json.loads(conn)
            return f"{c.get('schema', 'https')}://{c['host']}:{c.get('port', '')} (sqid_amazon)"
        return "the sqid_amazon connection"
    return os.environ.get("SQID_PRODUCT_BASE_URL") or "https://www.amazon.com (the real site)"


def standalone() -> int:
    """``airflow standalone`` on the project-local home, stopped cleanly on Ctrl-C."""
    # This machine only, unless asked otherwise; a worker pool sized for a laptop.
    os.environ.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    os.environ.setdefault("AIRFLOW__API__PORT", "8080")
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", str(max(2, min(8, os.cpu_count() or 2))))
    os.environ.setdefault("AIRFLOW__API__WORKERS", "1")
    demo_site = load_demo_site_env()
    settings = prepare()
    home = Path(os.environ["AIRFLOW_HOME"])
    host, port = os.environ["AIRFLOW__API__HOST"], os.environ["AIRFLOW__API__PORT"]
    sqd = settings.sqd_source or "the public SQD files on GitHub (about 1.1 GB)"
    for line in (
        f"Airflow UI     http://{host}:{port}  (listening on {host} only)",
        f"SQID releases  http://{host}:{port}/sqid/  (search page; also in the UI's menu)",
        f"admin password {home / 'simple_auth_manager_passwords.json.generated'}",
        f"DuckDB file    {settings.duckdb_path}",
        f"releases       {settings.release_dir}",
        f"sqid_ingest    reads {sqd}",
        f"sqid_scrape    fetches product pages from {product_site()}",
        f"settings       {demo_site or 'none read; run make demo-site first to use the demo servers'}",
        f"workers        {os.environ['AIRFLOW__CORE__PARALLELISM']} task slots; Ctrl-C stops everything",
    ):
        print(line, flush=True)
    # standalone starts its components as `airflow ...`: the venv's bin must be on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    children: list[subprocess.Popen] = []
    grace_seconds = 30

    def kill_all() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(children[0].pid, signal.SIGKILL)

    def stop(signum: int, frame: object) -> None:
        # First Ctrl-C / SIGTERM: ask standalone to shut its components down, and kill
        # what is left after a grace period (its LocalExecutor workers can linger);
        # a second one kills at once.
        if not children:
            return
        if getattr(stop, "sent", False):
            kill_all()
            return
        stop.sent = True  # type: ignore[attr-defined]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(children[0].pid, signal.SIGINT)
        threading.Timer(grace_seconds, kill_all).start()

    # Handlers are installed before the child starts: a signal that Airflow's imports left
    # ignored here would otherwise stay ignored in `airflow standalone` too.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children.append(
        subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], start_new_session=True)
    )
    code = children[0].wait()
    return 0 if getattr(stop, "sent", False) else code  # stopped on request: a clean exit


if __name__ == "__main__":
    if sys.argv[1:] == ["standalone"]:
        raise SystemExit(standalone())
    raise SystemExit("usage: python -m sqid.airflow_local standalone")
