"""Release versions on disk: their names, the releases folder's lock, and ``latest``.

A release is assembled in a hidden staging folder next to the published ones
(:mod:`sqid.release.staging`), checked, then renamed into place in one step: readers see
a whole release or none, and an existing version is never overwritten. ``latest`` is a
symbolic link, switched last, only to a published version newer than the one it names.

Releases share one folder, so the steps that change it hold :func:`release_lock` (an
advisory lock the kernel drops when its holder dies, so a killed run never blocks the
next).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqid.config import ConfigError

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


class VersionTakenError(ReleaseError, ConfigError):
    """The version asked for is published already: choose another (no retry helps)."""


class ReleaseBusyError(ReleaseError):
    """Another release holds the releases folder."""


LOCK_FILE = ".release.lock"
_HELD: set[str] = set()
"""Releases folders this process holds the lock of."""


@contextlib.contextmanager
def release_lock(release_dir: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the releases folder; :class:`ReleaseBusyError` naming the holder when another
    process holds it for longer than ``wait`` seconds. The lock is the kernel's
    (``flock``): a holder that is killed releases it with its last breath."""
    release_dir = Path(release_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    key = str(release_dir.resolve())
    if key in _HELD:  # this process holds it already (run_release's steps take it too)
        yield
        return
    fd = os.open(release_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= give_up:
                    holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "?"
                    raise ReleaseBusyError(
                        f"another release is running in {release_dir} ({holder}); "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _whoami().encode(), 0)
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _whoami() -> str:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return f"pid {os.getpid()} on {socket.gethostname()} since {started}"


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


def require_new(release_dir: Path, version: str) -> Path:
    """The folder ``version`` will have; :class:`VersionTakenError` if it is published."""
    final = Path(release_dir) / version
    if final.exists():
        raise VersionTakenError(
            f"release {version} exists already at {final}; choose another version"
        )
    return final


def update_latest(release_dir: Path, version: str) -> Path:
    """Point ``latest`` at ``version`` atomically (a symlink replaced in one rename), if
    ``version`` is published and not older than what ``latest`` names now (a run that
    finishes late never moves it back). Call with :func:`release_lock` held."""
    link = Path(release_dir) / LATEST
    target = Path(release_dir) / version
    if not parse_version(version) or not (target / "SHA256SUMS").is_file():
        raise ReleaseError(f"{version} is not a published release; latest was not moved")
    current = parse_version(os.readlink(link)) if link.is_symlink() else None
    if current and current > parse_version(version):
        return link
    tmp = Path(release_dir) / f".{LATEST}.{uuid.uuid4().hex[:8]}"
    os.symlink(version, tmp)
    os.replace(tmp, link)
    return link
