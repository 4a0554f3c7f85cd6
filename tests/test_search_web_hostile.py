"""The releases app against hostile releases and slow searches: it serves only the
layout's own files, never through a link, HTML in a sandbox; its schema is behind the
guard; a broken release is listed as broken; a search never stalls the api-server."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time

import pytest
import requests
from fastapi import Depends, Header, HTTPException
from fastapi.testclient import TestClient
from sqid.airflow_rest import free_port
from sqid.search.web import create_app

from .test_release import first_release, pipeline  # noqa: F401  (fixtures)


@pytest.fixture
def releases(first_release, tmp_path):  # noqa: F811
    """A copy of the first release, to tamper with."""
    path, _ = first_release
    root = tmp_path / "releases"
    shutil.copytree(path, root / path.name, symlinks=True)
    return root, path.name


def _list(release, name: str, data: bytes = b"x") -> None:
    """Add ``name`` to the release's SHA256SUMS as a hostile writer would."""
    digest = hashlib.sha256(data).hexdigest()
    with (release / "SHA256SUMS").open("a") as sums:
        sums.write(f"{digest}  {name}\n")


def test_only_the_layouts_own_regular_files_are_served(releases, tmp_path):
    root, version = releases
    release = root / version
    _list(release, "../../../../etc/passwd")
    _list(release, "/etc/hostname")
    _list(release, "notes.html")
    (release / "notes.html").write_text("<script>alert(1)</script>")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (release / "evaluation.json").unlink()
    (release / "evaluation.json").symlink_to(secret)
    client = TestClient(create_app(root, None))
    for name in ("../../../../etc/passwd", "%2Fetc%2Fhostname", "notes.html",
                 "evaluation.json", "index/catalogue.parquet"):  # fmt: skip
        assert client.get(f"/files/{version}/{name}").status_code == 404, name
    manifest = client.get(f"/files/{version}/manifest.json")
    assert manifest.status_code == 200 and manifest.json()["version"] == version
    report = client.get(f"/files/{version}/report.html")
    assert report.status_code == 200
    assert report.headers["content-security-policy"].startswith("sandbox")
    assert report.headers["x-content-type-options"] == "nosniff"
    page = client.get("/").text
    assert "notes.html" not in page and "etc/passwd" not in page


def test_a_linked_release_folder_is_not_served(releases):
    root, version = releases
    os.rename(root / version, root / "elsewhere")
    (root / version).symlink_to(root / "elsewhere")
    client = TestClient(create_app(root, None))
    assert client.get(f"/files/{version}/manifest.json").status_code == 404


def test_the_schema_is_behind_the_guard(releases):
    def guard(authorization: str = Header("")) -> None:
        if authorization != "Bearer ok":
            raise HTTPException(401, "log in")

    root, _ = releases
    client = TestClient(create_app(root, None, dependencies=[Depends(guard)]))
    for path in ("/openapi.json", "/docs", "/redoc", "/api/releases", "/"):
        assert client.get(path).status_code in (401, 404), path
    schema = client.get("/openapi.json", headers={"Authorization": "Bearer ok"})
    assert schema.status_code == 200 and "/api/search" in schema.json()["paths"]


@pytest.mark.parametrize("evaluation", [b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000])
def test_a_broken_release_is_listed_as_broken(releases, evaluation):
    root, version = releases
    (root / version / "evaluation.json").write_bytes(evaluation)
    client = TestClient(create_app(root, None))
    page = client.get("/")
    assert page.status_code == 200 and "broken" in page.text and version in page.text
    (fact,) = client.get("/api/releases").json()
    assert fact["version"] == version and fact["broken"]


def test_a_search_does_not_stall_the_other_routes(first_release, monkeypatch):  # noqa: F811
    """The app shares Airflow's api-server event loop: a slow search (a big upload, a
    model loading) must not delay anything else it serves."""
    import uvicorn
    from sqid.search.engine import Searcher

    def slow(self, text, k=10):
        time.sleep(2.0)  # stands for CPU work: it blocks whatever thread runs it
        return []

    monkeypatch.setattr(Searcher, "by_text", slow)
    path, _ = first_release
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(path.parent, None), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        searching = threading.Thread(target=requests.post, args=(f"{base}/api/search",),
                                     kwargs={"data": {"version": path.name, "text": "shoes"}})  # fmt: skip
        searching.start()
        time.sleep(0.3)  # the search is running now
        start = time.monotonic()
        assert requests.get(f"{base}/api/releases", timeout=10).status_code == 200
        latency = time.monotonic() - start
        searching.join()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert latency < 0.5, f"another route waited {latency:.2f} s for a search"


def test_a_non_image_upload_is_one_plain_line(first_release):  # noqa: F811
    path, _ = first_release
    client = TestClient(create_app(path.parent, None))
    response = client.post("/api/search", data={"version": path.name},
                           files={"image": ("x.jpg", b"not an image", "image/jpeg")})  # fmt: skip
    detail = response.json()["detail"]
    assert response.status_code == 422 and "not an image format" in detail
    assert "BytesIO" not in detail and "0x" not in detail
