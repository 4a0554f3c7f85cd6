"""The releases page and search box: through Airflow's own app (plugin, login, UI entry)
and in headless Chromium (upload an image, see a grid)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from sqid.airflow_rest import free_port
from sqid.embed.cache import ContentCache
from sqid.search.web import create_app

from .browser import chromium
from .test_release import first_release, pipeline  # noqa: F401  (fixtures)

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

# Runs in a fresh interpreter: Airflow caches its plugins per process.
_THROUGH_AIRFLOW = """
import json
from airflow.utils.db import resetdb
resetdb()
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app, get_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
client = TestClient(create_app())
token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
auth = {"Authorization": f"Bearer {token}"}
out = {"anonymous": client.get("/sqid/api/releases").status_code}
out["releases"] = client.get("/sqid/api/releases", headers=auth).json()
out["page"] = client.get("/sqid/", cookies={"_token": token}).text
search = client.post("/sqid/api/search", headers=auth,
                     data={"version": out["releases"][0]["version"], "text": "shoes", "k": "3"})
out["search"] = [search.status_code, search.json()]
out["plugins"] = client.get("/api/v2/plugins", headers=auth).json()["plugins"]
print("RESULT" + json.dumps(out))
"""


def test_plugin_behind_airflow_login(first_release, pipeline, tmp_path):  # noqa: F811
    """The plugin mounts the app in Airflow's api-server, behind its login, in the UI."""
    path, _ = first_release
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
        "SQID_RELEASE_DIR": str(path.parent),
        "SQID_IMAGE_CACHE": str(pipeline[0] / "image-cache"),
    }
    done = subprocess.run([sys.executable, "-c", _THROUGH_AIRFLOW], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT") :])
    assert out["anonymous"] == 401  # behind Airflow's login
    [release] = [r for r in out["releases"] if r["version"] == path.name]
    assert release["searchable"] and "index/image.faiss" in release["files"]
    assert release["counts"]["test_products"] > 0 and "clip_text" in release["ndcg"]
    assert path.name in out["page"] and "<form id=search>" in out["page"]
    status, body = out["search"]
    assert status == 200 and len(body["hits"]) == 3 and body["hits"][0]["rank"] == 1
    [plugin] = [p for p in out["plugins"] if p["name"] == "sqid_search"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/sqid"
    assert plugin["external_views"][0]["href"] == "/sqid/"


@pytest.fixture
def served(first_release, pipeline):  # noqa: F811
    """The app alone (no Airflow login) under uvicorn on a loopback port."""
    import uvicorn

    path, _ = first_release
    app = create_app(path.parent, pipeline[0] / "image-cache")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield base, path
    server.should_exit = True
    thread.join(timeout=10)


def test_api_refuses_bad_queries_and_serves_only_listed_files(served):
    base, path = served
    version = path.name
    assert (
        requests.post(f"{base}/api/search", data={"version": "v9.9.9", "text": "x"}).status_code
        == 404
    )
    empty = requests.post(f"{base}/api/search", data={"version": version})
    assert empty.status_code == 422 and "give a text" in empty.json()["detail"]
    junk = requests.post(f"{base}/api/search", data={"version": version},
                         files={"image": ("x.jpg", b"not an image", "image/jpeg")})  # fmt: skip
    assert junk.status_code == 422 and "cannot be used" in junk.json()["detail"]
    assert requests.get(f"{base}/files/{version}/manifest.json").json()["version"] == version
    assert requests.get(f"{base}/files/{version}/../../etc/passwd").status_code == 404
    assert requests.get(f"{base}/thumb/not-a-hash").status_code == 404


def test_page_in_chromium_upload_an_image_see_a_grid(served, pipeline, tmp_path):  # noqa: F811
    base, path = served
    catalogue = json.loads(requests.get(f"{base}/api/releases").text)
    assert catalogue[0]["searchable"]
    import pyarrow.parquet as pq

    rows = pq.read_table(path / "index" / "catalogue.parquet").to_pylist()
    sha = next(r["image_sha256"] for r in rows if r["image_sha256"])
    image = tmp_path / "query.jpg"
    image.write_bytes(ContentCache(pipeline[0] / "image-cache").read(sha))
    with chromium() as browser:
        page = browser.new_page()
        remote: list[str] = []
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(base) else None)
        page.goto(f"{base}/")
        page.set_input_files("input[name=image]", str(image))
        page.fill("input[name=feedback]", "more floral")
        page.click("button[type=submit]")
        page.wait_for_selector("#results figure")
        page.wait_for_load_state("networkidle")
        figures = page.locator("#results figure").count()
        loaded = page.eval_on_selector_all(
            "#results img", "els => els.map(e => e.complete && e.naturalWidth > 0)"
        )
        status = page.inner_text("#status")
    assert remote == [], remote
    assert figures >= 1 and loaded and all(loaded), (figures, loaded)
    assert status.endswith("products")


def test_the_app_keeps_recent_releases_open_and_one_model(first_release, tmp_path, monkeypatch):  # noqa: F811
    from fastapi.testclient import TestClient
    from sqid.search import web
    from sqid.search.engine import Searcher

    path, _ = first_release
    for version in ("v0.1.0", "v0.2.0", "v0.3.0"):
        shutil.copytree(path, tmp_path / version)
    opened = []

    class Counted(Searcher):
        def __init__(self, release, *args, **kwargs):
            opened.append(Path(release).name)
            super().__init__(release, *args, **kwargs)

    monkeypatch.setattr(web, "Searcher", Counted)
    monkeypatch.setattr(web, "OPEN_RELEASES", 2)
    client = TestClient(web.create_app(tmp_path, None))
    product = pq.read_table(path / "product_features.parquet").column("product_id")[0].as_py()
    for version in ("v0.1.0", "v0.2.0", "v0.1.0", "v0.3.0", "v0.2.0"):
        reply = client.post("/api/search", data={"version": version, "product": product, "k": 2})
        assert reply.status_code == 200, reply.text
    # v0.1.0 was used again before v0.3.0 came, so v0.2.0 was the one let go.
    assert opened == ["v0.1.0", "v0.2.0", "v0.3.0", "v0.2.0"]
    first, second = Searcher(tmp_path / "v0.1.0"), Searcher(tmp_path / "v0.2.0")
    assert first.encoder is second.encoder  # one CLIP for every release of one model
