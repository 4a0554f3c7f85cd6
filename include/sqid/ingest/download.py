"""Verified, resumable, atomic downloads of the SQD source files.

A file reaches its final path only after its size and sha256 match the expected spec,
so a loader never sees a partial or corrupt file. Interrupted HTTP downloads resume
from the ``.part`` file with a ``Range`` request; a ``.verified.json`` sidecar
remembers a verified file so it is neither fetched nor re-hashed again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from sqid import http
from sqid.config import ConfigError
from sqid.files import sha256_file
from sqid.http import parse_header_int
from sqid.ingest.sqd import FileSpec
from sqid.retry import RetryPolicy, decide

log = logging.getLogger(__name__)

CHUNK = 1 << 20
NET_CHUNK = 1 << 16
"""Small network reads: a dropped connection loses at most this much of the file."""


class DownloadError(RuntimeError):
    """A file could not be fetched (after retries, or for a terminal reason)."""


class ChecksumError(DownloadError):
    """A file arrived but is not the expected file."""


class MissingSourceError(DownloadError, ConfigError):
    """The run names a local source that does not exist or cannot be read: a mistake in
    its configuration, which no retry fixes."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    spec: FileSpec
    cached: bool
    """True when a previously verified file was reused and nothing was fetched."""
    bytes_fetched: int
    attempts: int


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def is_verified(path: Path, spec: FileSpec, origin: str | None = None) -> bool:
    """True if ``path`` was verified against ``spec`` and has not changed since, and, with
    ``origin``, was fetched from there (so provenance never names a source the bytes did
    not come from)."""
    try:
        stat = path.stat()
        mark = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    return (
        (origin is None or mark.get("origin") == origin)
        and mark.get("sha256") == spec.sha256
        and mark.get("size") == spec.size == stat.st_size
        and mark.get("mtime_ns") == stat.st_mtime_ns
    )


def _verify_and_install(part: Path, dest: Path, spec: FileSpec, origin: str) -> None:
    size = part.stat().st_size
    if size != spec.size:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{spec.name}: size mismatch, expected {spec.size} bytes, got {size}")
    actual = sha256_file(part)
    if actual != spec.sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{spec.name}: sha256 mismatch, expected {spec.sha256}, got {actual}")
    os.replace(part, dest)
    stat = dest.stat()
    mark = {"sha256": spec.sha256, "size": spec.size, "mtime_ns": stat.st_mtime_ns,
            "origin": origin}  # fmt: skip
    tmp = _sidecar(dest).with_suffix(".tmp")
    tmp.write_text(json.dumps(mark))
    os.replace(tmp, _sidecar(dest))


def fetch_file(
    url: str,
    dest: Path,
    spec: FileSpec,
    *,
    session: requests.Session | None = None,
    policy: RetryPolicy | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Fetch ``url`` to ``dest`` and verify it against ``spec``.

    ``url`` may be ``http(s)://`` (streamed, resumed, retried) or ``file://`` (copied).
    Raises :class:`ChecksumError` if the bytes are wrong (nothing is installed and the
    partial file is discarded) and :class:`DownloadError` when the source cannot be read.
    Two runs fetching the same file take turns (a lock beside it): the second finds the
    first's verified copy instead of writing into the same partial file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.with_name(dest.name + ".lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released by the kernel if we die
        return _fetch_file_locked(url, dest, spec, session, policy, timeout, force, sleep)


def _fetch_file_locked(
    url: str,
    dest: Path,
    spec: FileSpec,
    session: requests.Session | None,
    policy: RetryPolicy | None,
    timeout: tuple[float, float],
    force: bool,
    sleep: Callable[[float], None],
) -> DownloadResult:
    scheme = urlparse(url).scheme
    source = Path(unquote(urlparse(url).path)) if scheme == "file" else None
    if source is not None and not (source.is_file() and os.access(source, os.R_OK)):
        what = "is not readable" if source.is_file() else "does not exist"
        raise MissingSourceError(f"{spec.name}: the source {source} {what}")
    if force:
        dest.unlink(missing_ok=True)
        _sidecar(dest).unlink(missing_ok=True)
    elif is_verified(dest, spec, origin=url):
        log.info("%s: verified copy of %s at %s, not downloading", spec.name, url, dest)
        return DownloadResult(dest, spec, cached=True, bytes_fetched=0, attempts=0)

    part = dest.with_name(dest.name + ".part")
    if source is not None:
        shutil.copyfile(source, part)
        _verify_and_install(part, dest, spec, url)
        return DownloadResult(dest, spec, False, spec.size, 1)
    if scheme not in ("http", "https"):
        raise DownloadError(f"{spec.name}: unsupported URL scheme in {url!r}")

    own_session = session is None
    session = session or http.session(public_only=False)
    try:
        return _download(session, url, part, dest, spec, policy or RetryPolicy(), timeout, sleep)
    finally:
        if own_session:
            session.close()


def _download(session: requests.Session, url: str, part: Path, dest: Path, spec: FileSpec,
              policy: RetryPolicy, timeout: tuple[float, float],
              sleep: Callable[[float], None]) -> DownloadResult:  # fmt: skip
    """Attempts under ``policy``, each resuming the ``.part`` file, until it verifies."""
    fetched = 0
    for attempt in range(1, policy.max_attempts + 1):
        status, error, retry_after, got = _try_once(session, url, part, spec, timeout)
        fetched += got
        if status is not None and 200 <= status < 300 and error is None:
            _verify_and_install(part, dest, spec, url)
            log.info("%s: verified (%d bytes fetched, %d attempts)", spec.name, fetched, attempt)
            return DownloadResult(dest, spec, False, fetched, attempt)
        decision = decide(policy, attempt, status=status, error=error, retry_after=retry_after)
        what = error or f"HTTP {status}"
        if not decision.retry:
            raise DownloadError(
                f"{spec.name}: giving up on {url} after {attempt} attempt(s): {what}"
            )
        kept = part.stat().st_size if part.exists() else 0
        log.warning("%s: attempt %d failed (%s); %d bytes kept, retrying in %.1fs",
                    spec.name, attempt, what, kept, decision.delay)  # fmt: skip
        sleep(decision.delay)
    raise DownloadError(f"{spec.name}: no attempts allowed by the retry policy")


def _try_once(
    session: requests.Session,
    url: str,
    part: Path,
    spec: FileSpec,
    timeout: tuple[float, float],
) -> tuple[int | None, str | None, str | None, int]:
    """One GET, resuming ``part``. Returns (status, error kind, Retry-After, bytes written)."""
    have = part.stat().st_size if part.exists() else 0
    if have > spec.size:  # cannot be a prefix of the right file
        part.unlink()
        have = 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    written = 0
    try:
        # The deadline covers connecting and the headers; the body's pace is the read
        # timeout's (a dataset file can rightly take longer than any fixed deadline).
        headers_by = time.monotonic() + sum(timeout)
        with (
            http.within(headers_by),
            session.get(url, headers=headers, stream=True, timeout=timeout) as resp,
        ):
            if resp.status_code == 416 and have:
                # The server says we already hold every byte; let verification decide.
                return 200, None, None, 0
            if resp.status_code >= 300:
                return resp.status_code, None, resp.headers.get("Retry-After"), 0
            if resp.status_code == 206:
                mode = "ab"
            else:  # 200: the server ignored Range, start over
                mode, have = "wb", 0
            with part.open(mode) as fh:
                for block in resp.iter_content(NET_CHUNK):
                    fh.write(block)
                    written += len(block)
                    if have + written > spec.size:
                        # Longer than the expected file: stop reading, verification fails.
                        return resp.status_code, None, None, written
            expected_len = parse_header_int(resp.headers.get("Content-Length"))
            if expected_len is not None and written < expected_len:
                return resp.status_code, "truncated", None, written
            return resp.status_code, None, None, written
    except requests.Timeout:
        return None, "timeout", None, written
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        return None, "connection", None, written
