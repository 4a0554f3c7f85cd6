"""The scheduler path on the embedded default, started as `make airflow` starts it
(`python -m sqid.airflow_local standalone`: SQLite, the project's DAGs), driven through
the UI and the REST API. On a fresh home one click on sqid_ingest's Trigger button must
run scrape, embed and release by Asset scheduling alone, with no other run appearing; a
second start says where the first runs and exits 1; overlapping backfill runs of
sqid_scrape fetch each product once. This catches what dag.test() does not:
serialization, pools, Asset scheduling, Params validation, backfills."""

import os
import signal
import sys
from pathlib import Path

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
from sqid.orchestration import POOLS

from .browser import chromium, open_trigger_form, unavailable
from .cluster import Processes

pytestmark = pytest.mark.slow
DAGS = ("sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release")


def test_asset_chain_under_the_scheduler(tmp_path, tiny_clip):
    home = tmp_path / "sqid"
    settings = load_settings({"SQID_HOME": str(home)})
    port = free_port()
    sample = generate(tmp_path / "sqd", n_queries=250, seed=3)
    with (
        # standalone stops on SIGINT; its LocalExecutor workers can linger, so not for long.
        Processes(tmp_path, stop_signal=signal.SIGINT, grace=15) as procs,
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
            "AIRFLOW__API__HOST": "127.0.0.1",
            "SQID_SQD_SOURCE": files.base_url,
            "SQID_SQD_CHECKSUMS": files.url(CHECKSUM_MANIFEST),
            "SQID_EMBED_MODEL": str(tiny_clip),
            **cdn.mirror_env(),
            **site.connection_env(requests_per_second=100, concurrency=4),
        }
        procs.start("airflow", [sys.executable, "-m", "sqid.airflow_local", "standalone"], env)
        base = f"http://localhost:{port}"
        wait_for(lambda: requests.get(f"{base}/api/v2/monitor/health", timeout=5).ok,
                 180, "the API", procs.alive)  # fmt: skip
        airflow_home = Path(env["AIRFLOW_HOME"])
        wait_for(lambda: (airflow_home / PASSWORD_FILE).exists(), 60, "password", procs.alive)
        second_start_is_refused(env, port)
        api = Api(base, airflow_home)
        # Nothing but the project's own start: pools and active DAGs come from it.
        assert {p["name"] for p in api("GET", "/pools")["pools"]} >= set(POOLS)
        wait_for(lambda: {d["dag_id"] for d in api("GET", "/dags")["dags"]} >= set(DAGS),
                 180, "the DAGs", procs.alive)  # fmt: skip
        assert not [d["dag_id"] for d in api("GET", "/dags")["dags"] if d["is_paused"]]
        # Params are validated by the API, as in the UI's trigger form.
        bad = api.session.post(f"{base}/api/v2/dags/sqid_ingest/dagRuns",
                               json={"logical_date": None, "conf": {"check_published_counts": "maybe"}}, timeout=30)  # fmt: skip
        assert bad.status_code >= 400
        if unavailable():  # says why, or fails where SQID_REQUIRE_BROWSER=1
            api.trigger("sqid_ingest")
        else:
            trigger_from_the_form(base, api.token)
        for dag_id in DAGS:
            wait_for(lambda d=dag_id: api.succeeded(d), 420, f"{dag_id} to succeed", procs.alive)
        # One click, one run of each: active DAGs start no run of their own for a past date.
        assert [len(api.runs(d)) for d in DAGS] == [1, 1, 1, 1]
        latest = settings.release_dir / "latest"
        assert latest.exists() and (latest / "SHA256SUMS").exists()
        if not unavailable():
            releases_in_the_ui(base, api.token, latest.resolve().name)
        overlapping_backfill_fetches_each_product_once(api, site, procs)


def second_start_is_refused(env: dict[str, str], port: int) -> None:
    """`make airflow` again while one runs: one line naming the running one, exit 1, and
    no second scheduler on the same metadata database."""
    import subprocess

    again = subprocess.run([sys.executable, "-m", "sqid.airflow_local", "standalone"],
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 1, again.stdout + again.stderr
    assert "already running for this project" in again.stderr
    assert f":{port}" in again.stderr and "Traceback" not in again.stderr


def overlapping_backfill_fetches_each_product_once(api: Api, site: ProductSite, procs) -> None:
    """A backfill of three days runs its three scrape runs at once (Airflow's backfills
    ignore the DAG's max_active_runs); each re-scrapes everything (``force``), slowly
    enough that all three plan before the first merges. Claims split the work: every
    product is fetched once, and every run succeeds."""
    before = dict(site.requests)
    api("POST", "/backfills", json={
        "dag_id": "sqid_scrape", "from_date": "2026-11-01T00:00:00Z",
        "to_date": "2026-11-03T23:00:00Z", "max_active_runs": 3,
        "dag_run_conf": {"force": True, "requests_per_second": 20, "shard_size": 100},
    })  # fmt: skip

    def finished() -> list[dict]:
        runs = [r for r in api.runs("sqid_scrape") if r["run_type"] == "backfill"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return runs if len(runs) == 3 and len(done) == 3 else []

    runs = wait_for(finished, 420, "the backfill's scrape runs", procs.alive)
    assert {r["state"] for r in runs} == {"success"}, runs
    fetched = {p: n - before.get(p, 0) for p, n in site.requests.items()}
    again = [n for n in fetched.values() if n]
    assert again and max(again) == 1, sorted(fetched.items(), key=lambda kv: -kv[1])[:5]
    assert len(again) == len(site.requests)  # force: every product once, by one run


def releases_in_the_ui(base: str, token: str, version: str) -> None:
    """The UI's "SQID releases" view (the plugin's navigation entry leads to
    ``/plugin/sqid-releases``) shows the plugin's page in its frame, behind the UI's
    login, listing the release just published with its search box."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "_token", "value": token, "url": base}])
        page = context.new_page()
        page.goto(f"{base}/plugin/sqid-releases")
        frame = page.frame_locator("iframe")
        frame.get_by_text(version).first.wait_for(timeout=30_000)
        assert frame.locator("form#search").count() == 1
        context.close()


def trigger_from_the_form(base: str, token: str) -> None:
    """Every DAG's Trigger form, in headless Chromium, accepts its defaults (and refuses
    a required value cleared, so an enabled button means something); sqid_ingest is then
    triggered by clicking it, which starts the whole chain."""
    with chromium() as browser:
        for dag_id in DAGS:
            page, dialog, trigger = open_trigger_form(browser, base, token, dag_id)
            assert trigger.is_enabled(), f"{dag_id}: the Trigger button is disabled with defaults"
            if dag_id == "sqid_scrape":
                dialog.get_by_role("spinbutton").first.fill("")
                page.wait_for_timeout(500)
                assert not trigger.is_enabled(), "a cleared required number was accepted"
            if dag_id == "sqid_ingest":
                trigger.click()
                page.get_by_text("Dag Run Triggered").first.wait_for(timeout=30_000)
            page.context.close()
