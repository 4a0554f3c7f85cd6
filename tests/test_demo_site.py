"""`make demo-site`: the demo's servers for `make airflow`, and the settings it hands over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqid import airflow_local
from sqid.airflow_local import SITE_ENV
from sqid.airflow_rest import free_port


def test_demo_site_serves_and_make_airflow_takes_its_settings(tmp_path, monkeypatch, tiny_clip):
    home = tmp_path / "sqid"
    site_port, cdn_port = free_port(), free_port()
    env = {**os.environ, "SQID_HOME": str(home), "SQID_EMBED_MODEL": str(tiny_clip)}
    code = f"from sqid.demo import serve; raise SystemExit(serve({site_port}, {cdn_port}))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    env_file = home / SITE_ENV
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no settings file"
            time.sleep(0.2)
        settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        conn = json.loads(settings["AIRFLOW_CONN_SQID_AMAZON"])
        assert conn["port"] == site_port and settings["SQID_IMAGE_CDN"].endswith(str(cdn_port))
        manifest = json.loads(Path(settings["SQID_SQD_CHECKSUMS"]).read_text())
        assert manifest and settings["SQID_EMBED_MODEL"] == str(tiny_clip)
        page = requests.get(f"http://127.0.0.1:{site_port}/dp/B000000001", timeout=10)
        assert page.status_code in (200, 404, 503) and page.text

        # make airflow: the file's settings, unless the environment already has one.
        monkeypatch.setenv("SQID_HOME", str(home))
        monkeypatch.setenv("SQID_EMBED_MODEL", "/my/own/model")
        for name in settings:
            if name != "SQID_EMBED_MODEL":
                monkeypatch.delenv(name, raising=False)
        assert airflow_local.load_demo_site_env() == env_file
        assert os.environ["SQID_SQD_SOURCE"] == settings["SQID_SQD_SOURCE"]
        assert os.environ["SQID_EMBED_MODEL"] == "/my/own/model"
        assert airflow_local.product_site() == f"http://127.0.0.1:{site_port} (sqid_amazon)"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert not env_file.exists()  # servers gone: make airflow no longer points at them
    assert airflow_local.load_demo_site_env() is None


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """load_demo_site_env writes os.environ directly: restore it after the test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
