"""``make demo``: the whole pipeline, end to end, on generated sample data.

Everything runs on the embedded default: the DAGs run in-process through Airflow
(``dag.test()``) against SQLite metadata under ``$SQID_HOME/airflow``, data lands in
the DuckDB file ``$SQID_HOME/sqid.duckdb``, and the SQD files are served from a
loopback HTTP server, so the real download path is exercised without the internet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sqid import db
from sqid.airflow_local import SITE_ENV, prepare, test_dag
from sqid.config import load_settings
from sqid.ingest.sample import generate
from sqid.ingest.sqd import CHECKSUM_MANIFEST
from sqid.localserve.cdn import ImageCDN
from sqid.localserve.files import FileServer
from sqid.localserve.pages import PRODUCT_LAYOUTS
from sqid.localserve.site import ProductSite, SiteConfig
from sqid.progress import ProgressBar

DEMO_QUERIES = 1_000
DEMO_SEED = 7
DEMO_SITE = SiteConfig(
    # A few of everything a real crawl meets, so the demo shows every status.
    rates={"503": 0.02, "429": 0.01, "captcha": 0.005, "reset": 0.01, "404": 0.01},
    retry_after="1",
    page_size=150_000,
    layout_weights={
        **{layout: 0.95 / len(PRODUCT_LAYOUTS) for layout in PRODUCT_LAYOUTS},
        "placeholder": 0.02,
        "default_video": 0.01,
        "no_image_null": 0.01,
        "degraded": 0.005,
        "js_shell": 0.005,
    },
)

log = logging.getLogger("sqid.demo")


def demo_model(directory):
    """The demo's CLIP: a real local copy if ``SQID_EMBED_MODEL`` names one, else a tiny
    random-weight CLIP built here (no download needed)."""
    configured = os.environ.get("SQID_EMBED_MODEL")
    if configured:
        return configured
    if not (Path(directory) / "config.json").exists():
        from sqid.embed.tinyclip import build

        build(Path(directory))
    return directory


@contextlib.contextmanager
def output_to(log_file: Path | None) -> Iterator[TextIO]:
    """Send everything this process and its children write to ``log_file`` (Airflow's
    task logs, warnings), at the file-descriptor level; None: leave it. Yields a stream
    on the terminal, for what the user should still see (the progress bar)."""
    if log_file is None:
        yield sys.stdout
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_file.open("a") as fh, os.fdopen(os.dup(saved[0]), "w") as terminal:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def stage_summary(dag_id: str, run: Any) -> str:
    """Key counts after a stage, in a few words."""
    from sqid.airflow_local import task_states

    settings = load_settings()
    if dag_id == "sqid_release":
        states = task_states(run)
        latest = settings.release_dir / "latest"
        if states.get("publish") == "success":
            return f"published {latest.resolve().name}"
        if latest.exists():
            return f"no new version: the data equal {latest.resolve().name}"
        return "nothing published"
    con = db.connect(settings.duckdb_path, read_only=True)
    try:
        if dag_id == "sqid_ingest":
            sets = db.fetch_dict(con, "derive/count_sqid_sets")
            return ", ".join(f"{k} {v:,}" for k, v in sets.items())
        if dag_id == "sqid_scrape":
            statuses = dict(db.run(con, "scrape/count_product_images").fetchall())
            return "products " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items()))
        counts = db.fetch_dict(con, "embed/count_embed_tables")
        return ", ".join(f"{k} {v:,}" for k, v in counts.items())
    finally:
        con.close()


def run_pipeline(
    sample_dir: Path,
    site_config: SiteConfig,
    model_dir: str,
    *,
    pacing: dict[str, Any],
    scrape_conf: dict[str, Any] | None = None,
    embed_conf: dict[str, Any] | None = None,
    release_conf: dict[str, Any] | None = None,
    log_file: Path | None = None,
) -> dict[str, str]:
    """ingest, scrape, embed and release in this process, each DAG against its loopback
    server (``pacing`` is the ``sqid_amazon`` connection's extra); the final state of
    each DAG run, stopping at the first that does not succeed. One line per stage on
    the terminal; with ``log_file``, Airflow's own output goes there."""
    states: dict[str, str] = {}

    def step(dag_id: str, conf: dict[str, Any]) -> bool:
        start = time.monotonic()
        print(f"{dag_id:<13} running ...", end="\r", flush=True)
        kind = dag_id.removeprefix("sqid_")
        with (
            output_to(log_file) as terminal,
            ProgressBar(load_settings().data_dir / kind, kind, terminal),
        ):
            run = test_dag(dag_id, conf)
        states[dag_id] = str(run.state)
        ok = states[dag_id] == "success"
        detail = stage_summary(dag_id, run) if ok else f"see {log_file or 'the log above'}"
        print(f"{dag_id:<13} {states[dag_id]:<8} {time.monotonic() - start:6.1f} s   {detail}",
              flush=True)  # fmt: skip
        return ok

    with FileServer(sample_dir) as server:
        conf = {"source": server.base_url, "checksums": server.url(CHECKSUM_MANIFEST)}
        if not step("sqid_ingest", conf):
            return states
    with ProductSite(site_config) as site:
        os.environ.update(site.connection_env(**pacing))
        if not step("sqid_scrape", scrape_conf or {}):
            return states
    with ImageCDN() as cdn:
        os.environ.update(cdn.mirror_env())
        if not step("sqid_embed", {"model_id": str(model_dir), **(embed_conf or {})}):
            return states
    step("sqid_release", release_conf or {})
    return states


DEMO_PACING = {"requests_per_second": 100, "concurrency": 4, "captcha_pause": 1}


def _sample_dir(settings) -> Path:
    sample_dir = settings.data_dir / f"demo_sqd_{DEMO_QUERIES}_{DEMO_SEED}"
    if not (sample_dir / CHECKSUM_MANIFEST).exists():
        summary = generate(sample_dir, n_queries=DEMO_QUERIES, seed=DEMO_SEED)
        print(f"generated sample SQD files: {summary.examples:,} judgements, "
              f"{summary.products:,} products")  # fmt: skip
    return sample_dir


def serve(site_port: int = 8781, cdn_port: int = 8782) -> int:
    """Serve the demo's product site and image CDN until Ctrl-C, and write the settings
    that point the DAGs at them (and at the demo's SQD files and tiny CLIP) to
    ``$SQID_HOME/demo-site.env``, which ``make airflow`` reads while it exists."""
    import signal

    settings = load_settings()
    sample_dir = _sample_dir(settings)
    with output_to(settings.home / "demo.log"):
        model = demo_model(settings.home / "models" / "tiny-clip")
    env_file = settings.home / SITE_ENV
    with ProductSite(DEMO_SITE, port=site_port) as site, ImageCDN(port=cdn_port) as cdn:
        env = {
            "SQID_SQD_SOURCE": str(sample_dir),
            "SQID_SQD_CHECKSUMS": str(sample_dir / CHECKSUM_MANIFEST),
            "SQID_EMBED_MODEL": str(model),
            **site.connection_env(**DEMO_PACING),
            **cdn.mirror_env(),
        }
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        print(f"demo product site  http://{site.host_name}:{site.port}/dp/<product_id>")
        print(f"demo image CDN     {cdn.base_url}")
        print(f"settings           {env_file} (make airflow uses them while this runs)")
        print("Ctrl-C stops the servers")
        stopped = threading.Event()
        # Both set here: a parent that ignores SIGINT (as Airflow's processes can) passes
        # that on, and Python then raises no KeyboardInterrupt for Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        try:
            while not stopped.wait(0.5):
                pass
        finally:
            env_file.unlink(missing_ok=True)
    return 0


def main() -> int:
    log_file = load_settings().home / "demo.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("")  # this run's output only
    print(f"SQID demo: the four DAGs on generated data (Airflow's output: {log_file})")
    with output_to(log_file):
        settings = prepare()
        model = demo_model(settings.home / "models" / "tiny-clip")
    states = run_pipeline(
        _sample_dir(settings),
        DEMO_SITE,
        model,
        pacing=DEMO_PACING,
        scrape_conf={"shard_size": 250},
        embed_conf={"batch_size": 32},
        # The demo's local site injects failures on purpose: accept a lower coverage.
        release_conf={"coverage_threshold": 0.8},
        log_file=log_file,
    )
    if set(states.values()) != {"success"} or len(states) < 4:
        print(f"the demo stopped: see {log_file}")
        return 1
    latest = (settings.release_dir / "latest").resolve()
    print()
    print(f"latest release {latest}")
    print(f"  report       {latest / 'report.html'}")
    print("  (a demo: synthetic SQD files, a local product site and image CDN, and a tiny")
    print("   random-weight CLIP; the scores say nothing about CLIP)")
    print(f"DuckDB file    {settings.duckdb_path}")
    print(f"Airflow home   {settings.home / 'airflow'} (make airflow to browse the runs;")
    print("               make demo-site beside it points the DAGs at the demo's local site)")
    print(f"check it       .venv/bin/sqid validate {latest} --coverage-threshold 0.8")
    print(f'search it      .venv/bin/sqid search {latest} --text "red running shoes" -k 5')
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["serve"] else main())
