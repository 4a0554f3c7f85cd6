"""Run the project's DAGs on the embedded default: SQLite metadata, a local DuckDB file.

Sets up an isolated ``AIRFLOW_HOME`` under ``$SQID_HOME/airflow`` with the project's
DAG and plugin folders, the DuckDB connection and the pools the DAGs use, then either
runs a DAG in-process (``dag.test()``, what ``make demo`` does), starts
``airflow standalone`` (``make airflow``), or runs Airflow's own CLI on that home
(``make airflow-cli ARGS="..."``). Airflow is imported only after the environment is
set, so nothing is ever written to ``~/airflow``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqid.config import DUCKDB_CONN_ID, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"
PLUGINS_DIR = REPO_ROOT / "plugins"
CHAIN = ("sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release")
"""The DAGs one trigger of sqid_ingest runs through, by Assets."""
STANDALONE_LOCK = "standalone.lock"
SITE_ENV = "demo-site.env"
"""Under ``$SQID_HOME``: the demo's local servers' settings, written by ``make demo-site``
while they run; ``make airflow`` and ``make airflow-cli`` read it."""


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
        # The chain fires only if every DAG in it is active; none starts a run for a past
        # date when it appears (no start_date), so active from the start costs nothing.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
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
    _point_config_at_the_project(Path(env["AIRFLOW_HOME"]) / "airflow.cfg", env)
    return settings


def _point_config_at_the_project(cfg: Path, env: dict[str, str]) -> None:
    """Write the project's folders into the home's ``airflow.cfg`` too, so Airflow's CLI
    run with only ``AIRFLOW_HOME`` set sees the project's DAGs, not an empty default."""
    if not cfg.exists():
        return
    text = cfg.read_text()
    for key, var in (("dags_folder", "AIRFLOW__CORE__DAGS_FOLDER"),
                     ("plugins_folder", "AIRFLOW__CORE__PLUGINS_FOLDER"),
                     ("load_examples", "AIRFLOW__CORE__LOAD_EXAMPLES")):  # fmt: skip
        text = re.sub(rf"(?m)^{key} = .*$", lambda _m, k=key, v=var: f"{k} = {env[v]}", text)
    cfg.write_text(text)


def unpause_chain() -> list[str]:
    """Unpause the chain's DAGs that an earlier start left paused; the ones changed."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    with create_session() as session:
        paused = list(session.scalars(select(DagModel.dag_id).where(
            DagModel.dag_id.in_(CHAIN), DagModel.is_paused.is_(True))))  # fmt: skip
        if paused:
            session.execute(
                update(DagModel).where(DagModel.dag_id.in_(paused)).values(is_paused=False)
            )
    return paused


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


def _already_running(lock_fd: int, url: str) -> str | None:
    """Why this start must not go on (another one holds the home, or the port is taken)."""
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(lock_fd, 512, 0).decode("utf-8", "replace").strip()
        return (f"Airflow is already running for this project: {holder or url}; "
                "use that one, or stop it with Ctrl-C in its terminal first")  # fmt: skip
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            return (f"{host}:{port} is in use by another program ({exc.strerror}); "
                    "set AIRFLOW__API__PORT to a free port")  # fmt: skip
    return None


def standalone() -> int:
    """``airflow standalone`` on the project-local home, stopped cleanly on Ctrl-C; a
    second start while one runs says where it is and exits 1."""
    # This machine only, unless asked otherwise; a worker pool sized for a laptop.
    os.environ.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    os.environ.setdefault("AIRFLOW__API__PORT", "8080")
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", str(max(2, min(8, os.cpu_count() or 2))))
    os.environ.setdefault("AIRFLOW__API__WORKERS", "1")
    host, port = os.environ["AIRFLOW__API__HOST"], os.environ["AIRFLOW__API__PORT"]
    home = Path(airflow_env(load_settings())["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(home / STANDALONE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    url = f"http://{host}:{port}"
    if why := _already_running(lock_fd, url):
        print(f"make airflow: {why}", file=sys.stderr)
        return 1
    os.ftruncate(lock_fd, 0)
    os.pwrite(lock_fd, f"{url} (pid {os.getpid()})".encode(), 0)
    demo_site = load_demo_site_env()
    settings = prepare()
    unpaused = unpause_chain()
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
        f"DAGs           {', '.join(CHAIN)} active"
        + (f" (unpaused {', '.join(unpaused)})" if unpaused else "")
        + "; trigger sqid_ingest to run the chain",
        f"workers        {os.environ['AIRFLOW__CORE__PARALLELISM']} task slots; Ctrl-C stops everything",
    ):
        print(line, flush=True)
    # standalone starts its components as `airflow ...`: the venv's bin must be on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return _run_until_stopped([sys.executable, "-m", "airflow", "standalone"])


def _run_until_stopped(command: list[str], grace_seconds: float = 30) -> int:
    """Run ``command`` in its own process group until it exits; the first Ctrl-C or
    SIGTERM asks it to stop (SIGINT) and kills what is left after ``grace_seconds`` (its
    LocalExecutor workers can linger), a second kills at once. Stopped on request is a
    clean exit (0)."""
    children: list[subprocess.Popen] = []
    asked: list[bool] = []

    def kill_all() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(children[0].pid, signal.SIGKILL)

    def stop(signum: int, frame: object) -> None:
        if not children:
            return
        if asked:
            kill_all()
            return
        asked.append(True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(children[0].pid, signal.SIGINT)
        timer = threading.Timer(grace_seconds, kill_all)
        timer.daemon = True  # a child that stops in time leaves nothing to wait for
        timer.start()

    # Handlers are installed before the child starts: a signal that Airflow's imports left
    # ignored here would otherwise stay ignored in the child too.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    children.append(subprocess.Popen(command, start_new_session=True))
    code = children[0].wait()
    return 0 if asked else code


def cli(args: list[str]) -> int:
    """Airflow's own CLI (``airflow ARGS``) on the project's home, DAGs and connections,
    e.g. ``backfill create`` or ``dags list-runs``."""
    load_demo_site_env()
    prepare()
    if not _chain_known():  # a fresh home: commands such as backfill need the DAGs known
        subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"],
                       check=True, capture_output=True)  # fmt: skip
    return subprocess.run([sys.executable, "-m", "airflow", *args]).returncode


def _chain_known() -> bool:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        known = session.scalar(select(func.count()).where(DagModel.dag_id.in_(CHAIN)))
    return known == len(CHAIN)


USAGE = "usage: python -m sqid.airflow_local standalone | cli AIRFLOW_ARGS..."

if __name__ == "__main__":
    if sys.argv[1:] == ["standalone"]:
        raise SystemExit(standalone())
    if sys.argv[1:2] == ["cli"] and sys.argv[2:]:
        raise SystemExit(cli(sys.argv[2:]))
    raise SystemExit(USAGE)
