"""Fetch and verify the SQD source files: the step behind the ``download`` tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import requests

from sqid import http
from sqid.config import ConfigError, Settings, load_settings
from sqid.ingest.download import fetch_file
from sqid.ingest.sqd import FILE_NAMES, PUBLISHED_SPECS, FileSpec, parse_manifest, source_url
from sqid.retry import RetryPolicy

PUBLISHED = "published"


def read_manifest(location: str, session: requests.Session | None = None) -> dict[str, FileSpec]:
    """Read a checksum manifest from a path, ``file://`` or ``http(s)://`` URL."""
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https"):
        resp = (session or requests).get(location, timeout=(10, 30))
        resp.raise_for_status()
        text = resp.text
    else:
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
        try:
            text = path.expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the checksum manifest {location} cannot be read: {exc}") from exc
    try:
        return parse_manifest(text)
    except ValueError as exc:
        raise ConfigError(f"the checksum manifest {location}: {exc}") from exc


def resolve_specs(checksums: str) -> dict[str, FileSpec]:
    """``published`` gives the checksums of the public SQD files; else a manifest location."""
    if not checksums or checksums == PUBLISHED:
        return dict(PUBLISHED_SPECS)
    return read_manifest(checksums)


def uses_published_files(checksums: str) -> bool:
    return not checksums or checksums == PUBLISHED


def download_sqd_file(
    name: str,
    *,
    source: str = "",
    checksums: str = "",
    force: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Download one SQD file into the data dir, verified; return its provenance (JSON-able)."""
    if name not in FILE_NAMES:
        raise ValueError(f"unknown SQD file {name!r}; expected one of {FILE_NAMES}")
    settings = settings or load_settings()
    source = source or settings.sqd_source
    checksums = checksums or settings.sqd_checksums
    spec = resolve_specs(checksums)[name]
    url = source_url(source, name)
    net = settings.http
    policy = RetryPolicy(
        max_attempts=net.max_attempts, backoff_base=net.backoff_base, backoff_max=net.backoff_max
    )
    with http.session(public_only=False) as session:
        session.headers["User-Agent"] = net.user_agent
        result = fetch_file(
            url,
            settings.download_dir / name,
            spec,
            session=session,
            policy=policy,
            timeout=net.timeout,
            force=force,
        )
    return {
        "name": name,
        "path": str(result.path),
        "url": url,
        "size": spec.size,
        "sha256": spec.sha256,
        "cached": result.cached,
        "bytes_fetched": result.bytes_fetched,
        "published": uses_published_files(checksums),
    }


def expect_published_counts(mode: str, downloads: list[dict[str, Any]]) -> bool:
    """Whether the published SQID counts apply: ``always``, ``never``, or ``auto``
    (only when every file was verified against the published SQD checksums)."""
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"check_published_counts must be auto, always or never, not {mode!r}")
    if mode == "auto":
        return bool(downloads) and all(d["published"] for d in downloads)
    return mode == "always"
