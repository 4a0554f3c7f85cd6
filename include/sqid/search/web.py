"""The releases page and search box, as a FastAPI app (the Airflow plugin mounts it in
the api-server, behind Airflow's login; tests run it alone).

Everything the page shows comes from this app: release facts from each release's
manifest and evaluation, thumbnails from the content-addressed image cache, files from
the release folder (only the release layout's own files, regular files inside the
release, never through a link; HTML in a sandbox that cannot script the Airflow origin).
Nothing loads from another host, so the page works offline and never leaks a user's
view to a third party. The app shares the api-server with Airflow's UI, REST API and
task execution API: searching (model loading included) runs on worker threads, at most
:data:`SEARCHES_AT_ONCE` at a time, never on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from sqid.release.layout import TOP_LEVEL_FILES
from sqid.release.versions import list_versions
from sqid.search.dashboard import DAG_OF, release_checks, release_facts, run_detail, runs
from sqid.search.engine import Searcher, SearchError
from sqid.search.page import render_page, render_release, render_run
from sqid.telemetry import telemetry_dir

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_UPLOAD = 15_000_000
THUMBNAIL_SIDE = 256
OPEN_RELEASES = 4
"""Releases kept open for search at once, the most recently used."""
SEARCHES_AT_ONCE = 2
"""Searches running at once; more wait their turn (each is a model forward pass)."""
SANDBOX = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
"""Headers of every release file served: an HTML file from a release (its report)
renders, but in a sandbox with no scripts and no access to the Airflow origin."""


def release_file_path(release_dir: Path, version: str, name: str) -> Path | None:
    """The release file ``name`` may be served from, or None: only the layout's own
    top-level files, as regular files inside the release, reached through no link."""
    if name not in TOP_LEVEL_FILES or version not in list_versions(release_dir):
        return None
    folder = Path(release_dir) / version
    path = folder / name
    try:
        if folder.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
            return None
    except OSError:
        return None
    return path if path.resolve().parent == folder.resolve() else None


def create_app(release_dir: Path, image_cache: Path | None, dependencies: Sequence[Any] = (),
               telemetry: Path | None = None) -> FastAPI:  # fmt: skip
    """The app; ``dependencies`` guard every route (the plugin passes Airflow's user);
    ``telemetry``: the run statistics and kept checks (default: the pipeline's)."""
    release_dir = Path(release_dir)
    router = APIRouter(dependencies=list(dependencies))
    _release_routes(router, release_dir, Path(telemetry or telemetry_dir()))
    _search_routes(router, OpenReleases(release_dir), image_cache)
    # The schema is served behind the same guard as every route, not by FastAPI's own
    # unguarded /openapi.json.
    app = FastAPI(title="SQID releases and search", docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip

    @router.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(router)
    return app


class OpenReleases:
    """The releases opened for search; the last ``OPEN_RELEASES`` used stay open (a
    catalogue is tens of MB; the model is shared, see ``shared_encoder``)."""

    def __init__(self, release_dir: Path) -> None:
        self.release_dir = release_dir
        self._open: OrderedDict[str, Searcher] = OrderedDict()
        self._lock = threading.Lock()  # requests run on a thread pool

    def get(self, version: str) -> Searcher:
        if version not in list_versions(self.release_dir):
            raise HTTPException(404, f"no release {version!r}")
        with self._lock:
            if version not in self._open:
                try:
                    self._open[version] = Searcher(self.release_dir / version)
                except SearchError as exc:
                    raise HTTPException(409, str(exc)) from exc
                while len(self._open) > OPEN_RELEASES:
                    self._open.popitem(last=False)
            self._open.move_to_end(version)
            return self._open[version]


def _release_routes(router: APIRouter, release_dir: Path, telemetry: Path) -> None:
    """The dashboard, a release's checks, a run's statistics, the list of releases, and
    a release's own files."""
    airflow = os.environ.get("SQID_AIRFLOW_UI", "/")

    @router.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page(release_facts(release_dir, telemetry), runs(telemetry), airflow)

    @router.get("/releases/{version}", response_class=HTMLResponse)
    def release_page(version: str) -> str:
        fact = next((f for f in release_facts(release_dir, telemetry) if f["version"] == version
                     and "broken" not in f), None)  # fmt: skip
        if fact is None:
            raise HTTPException(404, f"no release {version!r}")
        return render_release(fact, release_checks(version, telemetry), airflow)

    @router.get("/runs/{stage}/{run_id}", response_class=HTMLResponse)
    def run_page(stage: str, run_id: str) -> str:
        detail = run_detail(telemetry, stage, run_id) if stage in DAG_OF else None
        if detail is None:
            raise HTTPException(404, f"no {stage} run {run_id!r} in the telemetry")
        return render_run(detail, airflow)

    @router.get("/api/releases")
    def releases() -> list[dict[str, Any]]:
        return release_facts(release_dir, telemetry)

    @router.get("/api/runs")
    def recent_runs() -> list[dict[str, Any]]:
        return runs(telemetry)

    @router.get("/files/{version}/{name:path}")
    def release_file(version: str, name: str) -> FileResponse:
        path = release_file_path(release_dir, version, name)
        if path is None:
            raise HTTPException(404, "no such file in the release")
        return FileResponse(path, headers=SANDBOX)


def _search_routes(router: APIRouter, releases: OpenReleases, image_cache: Path | None) -> None:
    """Search (at most ``SEARCHES_AT_ONCE`` at a time, off the event loop) and thumbnails."""
    searching = asyncio.Semaphore(SEARCHES_AT_ONCE)

    @router.post("/api/search")
    async def search(
        version: Annotated[str, Form()],
        text: Annotated[str, Form()] = "",
        product: Annotated[str, Form()] = "",
        feedback: Annotated[str, Form()] = "",
        weight: Annotated[float, Form(ge=0.0, le=1.0)] = 0.3,
        k: Annotated[int, Form(ge=1, le=100)] = 12,
        status: Annotated[str, Form(max_length=40)] = "",
        over: Annotated[str, Form(pattern="^(image|title)$")] = "image",
        image: Annotated[UploadFile | None, File()] = None,
    ) -> dict[str, Any]:
        data = None
        if image is not None and image.filename:
            data = await image.read(MAX_UPLOAD + 1)
            if len(data) > MAX_UPLOAD:
                raise HTTPException(422, f"the image is larger than {MAX_UPLOAD:,} bytes")
        given = [what for what, value in (("image", data), ("product ID", product.strip()),
                                          ("text", text.strip())) if value]  # fmt: skip
        if not given:
            raise HTTPException(422, "give a text, an image or a product ID")
        wanted = status or None

        def run() -> list[Any]:  # on a worker thread: the model and the index are CPU work
            engine = releases.get(version)
            if data is not None:
                return engine.by_image(data, k, feedback or None, weight, status=wanted)
            if product.strip():
                return engine.by_product(product.strip(), k, status=wanted)
            return engine.by_text(text, k, over=over, status=wanted)

        async with searching:
            try:
                hits = await run_in_threadpool(run)
            except SearchError as exc:
                raise HTTPException(422, str(exc)) from exc
        return {
            "version": version,
            "by": given[0],
            "note": conflict_note(given),
            "hits": [h.as_dict() for h in hits],
        }

    @router.get("/thumb/{sha256}")
    def thumbnail(sha256: str) -> Response:
        if not _SHA256.match(sha256) or image_cache is None:
            raise HTTPException(404, "no such image")
        from sqid.embed.cache import ContentCache

        try:
            data = ContentCache(Path(image_cache)).read(sha256)
        except (OSError, KeyError) as exc:
            raise HTTPException(404, "not in the image cache") from exc
        return Response(_thumbnail(data), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=31536000, immutable"})  # fmt: skip


def _thumbnail(data: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def conflict_note(given: list[str]) -> str | None:
    """What was left out when a search got more than one kind of query (an image wins
    over a product ID, a product ID over a text)."""
    if len(given) < 2:
        return None
    left = " and the ".join(given[1:])
    return f"searched by the {given[0]}; the {left} was left out (clear the {given[0]} to use it)"
