"""Release versions on disk: names, staging folders, publishing and ``latest``.

A release is assembled in a hidden staging folder next to the published ones, checked,
then renamed into place in one step: readers see a whole release or none, a crash
leaves only a hidden staging folder (cleaned up on the next run), and an existing
version is never overwritten. ``latest`` is a symbolic link, switched last.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

LATEST = "latest"
_NUMBER = r"(0|[1-9][0-9]{0,5})"
_VERSION = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}")
"""ASCII digits without leading zeros, matched whole (``fullmatch``): ``\\d`` would accept
Arabic-Indic digits, ``$`` a trailing newline and ``01`` a leading zero, each a second
name for the same version."""


def parse_version(name: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of a version name like ``v1.2.3``, else None."""
    match = _VERSION.fullmatch(name) if isinstance(name, str) else None
    return tuple(int(x) for x in match.groups()) if match else None  # type: ignore[return-value]


class ReleaseError(RuntimeError):
    """A release cannot be published (it exists already, or it failed validation)."""


def list_versions(release_dir: Path) -> list[str]:
    if not Path(release_dir).is_dir():
        return []
    versions = [
        p.name
        for p in Path(release_dir).iterdir()
        if p.is_dir() and not p.is_symlink() and parse_version(p.name)
    ]
    return sorted(versions, key=parse_version)


def latest_version(release_dir: Path) -> str | None:
    """The newest published version, or None before the first release."""
    versions = list_versions(release_dir)
    return versions[-1] if versions else None


def next_version(release_dir: Path, bump: str = "minor", explicit: str | None = None) -> str:
    if explicit:
        if not parse_version(explicit):
            raise ValueError(f"version must look like v1.2.3 (ASCII digits), not {explicit!r}")
        return explicit
    latest = latest_version(release_dir)
    major, minor, patch = parse_version(latest) if latest else (0, 0, 0)
    if bump == "major":
        return f"v{major + 1}.0.0"
    if bump == "minor":
        return f"v{major}.{minor + 1}.0"
    if bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    raise ValueError(f"bump must be major, minor or patch, not {bump!r}")


def new_staging(release_dir: Path, version: str) -> Path:
    """A fresh hidden staging folder; stale ones of the same version are removed."""
    release_dir = Path(release_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    for stale in release_dir.glob(f".staging-{version}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = release_dir / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def require_new(release_dir: Path, version: str) -> Path:
    """The folder ``version`` will have; :class:`ReleaseError` if it is published already."""
    final = Path(release_dir) / version
    if final.exists():
        raise ReleaseError(f"release {version} exists already at {final}; choose another version")
    return final


def publish(staging: Path, release_dir: Path, version: str) -> Path:
    """Move a checked staging folder into place as ``version``; never overwrite."""
    final = require_new(release_dir, version)
    os.rename(staging, final)
    return final


def update_latest(release_dir: Path, version: str) -> Path:
    """Point ``latest`` at ``version`` atomically (a symlink replaced in one rename)."""
    link = Path(release_dir) / LATEST
    tmp = Path(release_dir) / f".{LATEST}.{uuid.uuid4().hex[:8]}"
    os.symlink(version, tmp)
    os.replace(tmp, link)
    return link
