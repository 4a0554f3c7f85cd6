"""The full-scale rehearsal: all four DAGs through a real Airflow scheduler on loopback,
at a given share of SQID's size, measured stage by stage (``make rehearsal SCALE=...``,
``bench/rehearsal.py``).

Local servers stand in for the internet: the SQD files (generated at the scale), the
product site (SQID-like status mix, placeholders, shared images, transient faults) and
the image CDN, with a tiny CLIP. ``python -m sqid.airflow_local standalone`` runs the
DAGs (scheduler, LocalExecutor, SQLite metadata) on a home of the rehearsal's own. Three
days: the first from nothing; the next with nothing changed on the site; one where 1% of
the products show another image and a user re-scrapes them. Everything measured comes
from Airflow's REST API (run and task times), the project's telemetry (each task's peak
memory, ``plugins/sqid_telemetry.py``) and the files on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqid.airflow_rest import PASSWORD_FILE, Api, free_port, wait_for
from sqid.config import load_settings
from sqid.ingest.sample import FULL_SCALE_QUERIES, generate
from sqid.ingest.sqd import CHECKSUM_MANIFEST
from sqid.localserve.pages import PRODUCT_LAYOUTS
from sqid.localserve.site import SiteConfig
from sqid.rehearsal_report import CHAIN, Stage, day_totals, report_line

SITE = SiteConfig(
    rates={"503": 0.01, "429": 0.005, "captcha": 0.002, "reset": 0.005},
    retry_after="0",
    page_size=60_000,
    layout_weights={**{layout: 0.94 / len(PRODUCT_LAYOUTS) for layout in PRODUCT_LAYOUTS},
                    "placeholder": 0.03, "default_video": 0.003, "no_image_null": 0.01,
                    "not_found": 0.015, "degraded": 0.001, "js_shell": 0.001},
)  # fmt: skip
"""SQID's mix: about 95% of products with an image, the rest placeholders, default video
art, gone pages and a few odd ones; transient faults that retries absorb."""
PACING = {"requests_per_second": 2000, "concurrency": 8, "captcha_pause": 0.05,
          "backoff_base": 0.01, "throttle_error_delay": 0.001}  # fmt: skip
"""Unthrottled: the rehearsal measures the pipeline, not politeness."""


def rehearse(scale: float, workdir: Path, log: Callable[[str], None] = print) -> list[Stage]:
    """Run the three days at ``scale`` in ``workdir``; every stage measured."""
    from sqid.embed.tinyclip import build
    from sqid.localserve.cdn import ImageCDN
    from sqid.localserve.files import FileServer
    from sqid.localserve.site import ProductSite

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sample = generate(workdir / "sqd", n_queries=max(50, round(FULL_SCALE_QUERIES * scale)), seed=5)
    log(f"SQD sample: {sample.queries:,} queries, {sample.examples:,} judgements, "
        f"{sample.products:,} products (synthetic, scale {scale})")  # fmt: skip
    model = build(workdir / "tiny-clip") if not (workdir / "tiny-clip" / "config.json").exists() \
        else workdir / "tiny-clip"  # fmt: skip
    site_config = SiteConfig(**{**asdict(SITE), "layouts": {}})
    with FileServer(sample.out_dir) as files, ProductSite(site_config) as site, ImageCDN() as cdn:
        env = {"SQID_SQD_SOURCE": files.base_url, "SQID_SQD_CHECKSUMS": files.url(CHECKSUM_MANIFEST),
               "SQID_EMBED_MODEL": str(model), **cdn.mirror_env(),
               **site.connection_env(**PACING)}  # fmt: skip
        with _Airflow(workdir, env) as airflow:
            stages = _day_one(airflow, log)
            stages += _routine_day(airflow, "day 2 (retries)", log)
            stages += _routine_day(airflow, "day 3 (nothing changed)", log)
            stages += _changed_day(airflow, site, log)
    for line in day_totals(stages):
        log(line)
    return stages


def _day_one(airflow: _Airflow, log: Callable[[str], None]) -> list[Stage]:
    since = airflow.now()
    airflow.api.trigger("sqid_ingest", {"check_published_counts": "never"})
    return [airflow.measure("day 1", dag_id, since, log) for dag_id in CHAIN]


def _routine_day(airflow: _Airflow, day: str, log: Callable[[str], None]) -> list[Stage]:
    """The next day's routine run: retryable products older than the retry age (0: a day
    has passed), with nothing changed on the site. The first such day retries what the
    site's transient faults left; the second finds (almost) nothing."""
    since = airflow.now()
    airflow.api.trigger("sqid_scrape", {"retry_age_hours": 0})
    return airflow.measure_chain(day, since, log)


def _changed_day(airflow: _Airflow, site, log: Callable[[str], None]) -> list[Stage]:
    """1% of the products show another image; a user re-scrapes them."""
    import duckdb

    con = duckdb.connect(str(airflow.settings.duckdb_path), read_only=True)
    try:
        ids = [r[0] for r in con.execute(
            "SELECT product_id FROM product_images WHERE status = 'ok' ORDER BY hash(product_id)"
        ).fetchall()]  # fmt: skip
    finally:
        con.close()
    changed = ids[: max(1, len(ids) // 100)]
    for product_id in changed:
        site.config.layouts[product_id] = "landing_no_hires"  # another image ID
    since = airflow.now()
    airflow.api.trigger("sqid_scrape", {"product_ids": changed, "force": True})
    return airflow.measure_chain(f"day 4 (1% changed: {len(changed):,} products)", since, log)


class _Airflow:
    """``python -m sqid.airflow_local standalone`` on the rehearsal's own home."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        from sqid.airflow_local import airflow_env

        self.settings = load_settings({"SQID_HOME": str(workdir / "home")})
        self.port = free_port()
        self.env = {**os.environ, **airflow_env(self.settings), **env,
                    "SQID_HOME": str(self.settings.home),
                    "AIRFLOW__API__PORT": str(self.port), "AIRFLOW__API__HOST": "127.0.0.1",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{self.port}/execution/",
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
        for name in ("AIRFLOW__CORE__UNIT_TEST_MODE", "SQID_TELEMETRY_DIR", "SQID_DATA_DIR",
                     "SQID_DUCKDB_PATH", "SQID_RELEASE_DIR", "AIRFLOW__OPENLINEAGE__TRANSPORT"):  # fmt: skip
            self.env.pop(name, None)
        self.log_path = workdir / "airflow.log"

    def __enter__(self) -> _Airflow:
        self.log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "sqid.airflow_local", "standalone"],
                                     env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)  # fmt: skip
        base = f"http://localhost:{self.port}"
        import requests

        wait_for(lambda: requests.get(f"{base}/api/v2/monitor/health", timeout=5).ok, 300,
                 "the Airflow API", self.alive)  # fmt: skip
        home = Path(self.env["AIRFLOW_HOME"])
        wait_for(lambda: (home / PASSWORD_FILE).exists(), 120, "the admin password", self.alive)
        self.api = Api(base, home)
        wait_for(lambda: {d["dag_id"] for d in self.api("GET", "/dags")["dags"]} >= set(CHAIN),
                 300, "the DAGs", self.alive)  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with _suppress():
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log_file.close()

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"Airflow exited with {self.proc.returncode}; see {self.log_path}")

    def now(self) -> str:
        return datetime.now().astimezone().isoformat()

    def _finished_run(self, dag_id: str, since: str) -> dict | None:
        runs = [r for r in self.api.runs(dag_id) if (r.get("queued_at") or "") >= since]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return done[-1] if runs and len(done) == len(runs) else None

    def measure(self, day: str, dag_id: str, since: str, log: Callable[[str], None]) -> Stage:
        run = wait_for(lambda: self._finished_run(dag_id, since), 4 * 3600, f"{dag_id} to end",
                       self.alive, interval=3)  # fmt: skip
        stage = self._stage(day, dag_id, run)
        log(report_line(stage))
        return stage

    def measure_chain(self, day: str, since: str, log: Callable[[str], None]) -> list[Stage]:
        """The scrape run and whatever it starts downstream (a quiet day starts nothing)."""
        stages = [self.measure(day, "sqid_scrape", since, log)]
        for dag_id in CHAIN[2:]:
            time.sleep(15)  # the scheduler creates an Asset-triggered run within seconds
            if not [r for r in self.api.runs(dag_id) if (r.get("queued_at") or "") >= since]:
                log(f"{day:<40} {dag_id:<13} not started: nothing changed upstream")
                break
            stages.append(self.measure(day, dag_id, since, log))
        return stages

    def _stage(self, day: str, dag_id: str, run: dict) -> Stage:
        from sqid.telemetry import task_costs

        tis = [t for t in self.api.task_instances(dag_id, run["dag_run_id"]) if t.get("start_date")]
        spans = sorted((_ts(t["start_date"]), _ts(t["end_date"] or run["end_date"])) for t in tis)
        busy, end_seen = 0.0, None
        for start, end in spans:
            start = max(start, end_seen) if end_seen else start
            busy += max(0.0, end - start)
            end_seen = max(end_seen or end, end)
        wall = _ts(run["end_date"]) - _ts(run["start_date"])
        peaks = [c["peak_rss_bytes"] for c in task_costs(telemetry_dir_for(self.settings))
                 if c["dag_id"] == dag_id and c["run_id"] == run["dag_run_id"]]  # fmt: skip
        return Stage(day=day, dag_id=dag_id, run_id=run["dag_run_id"], state=run["state"],
                     wall_seconds=round(wall, 1), task_seconds=round(sum(t.get("duration") or 0 for t in tis), 1),
                     idle_seconds=round(wall - busy, 1), tasks=len(tis),
                     items=self._items(dag_id, run["dag_run_id"]),
                     peak_rss_mib=round(max(peaks, default=0) / 2**20, 1),
                     duckdb_mib=_mib(self.settings.duckdb_path),
                     release_mib=_mib(self.settings.release_dir / "latest"))  # fmt: skip

    def _items(self, dag_id: str, run_id: str) -> int:
        """What the stage handled: products derived, scraped, images handled, or released."""
        import duckdb
        import pyarrow.parquet as pq

        if dag_id == "sqid_release":
            latest = self.settings.release_dir / "latest" / "manifest.json"
            counts = json.loads(latest.read_text())["counts"] if latest.exists() else {}
            return counts.get("test_products", 0) + counts.get("supp_products", 0)
        if dag_id == "sqid_ingest":
            con = duckdb.connect(str(self.settings.duckdb_path), read_only=True)
            try:
                return con.execute("SELECT count(*) FROM sqid_products").fetchone()[0]
            finally:
                con.close()
        stats = telemetry_dir_for(self.settings) / "run_stats.parquet"
        stage = "scrape" if dag_id == "sqid_scrape" else "embed"
        rows = pq.read_table(stats).to_pylist() if stats.exists() else []
        return next((r["items"] for r in rows if r["stage"] == stage and r["run_id"] == run_id), 0)


def telemetry_dir_for(settings) -> Path:
    return settings.data_dir / "telemetry"


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _mib(path: Path) -> float:
    path = Path(path)
    if not path.exists():
        return 0.0
    if path.is_file():
        return round(path.stat().st_size / 2**20, 1)
    return round(sum(p.stat().st_size for p in path.resolve().rglob("*") if p.is_file()) / 2**20, 1)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError | OSError)
