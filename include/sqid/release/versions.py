"""Release versions on disk: names, staging folders, publishing and ``latest``.

A release is assembled in a hidden staging folder next to the published ones, checked,
then renamed into place in one step: readers see a whole release or none, and an
existing version is never overwritten. ``latest`` is a symbolic link, switched last,
only to a published version newer than the one it names.

Releases share one folder, so the steps that change it hold :func:`release_lock` (an
advisory lock the kernel drops when its holder dies, so a killed run never blocks the
next). Each staging folder belongs to one run and is named in a sibling ``.owner`` file;
a run removes only its own, or one whose owner is gone (a dead process, or a pipeline
run that has not touched it for :data:`STALE_STAGING_SECONDS`). Only a folder the gate
passed (:func:`mark_validated`) and that has not changed since can be published.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
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
STALE_STAGING_SECONDS = 24 * 3600
"""A pipeline run's staging folder untouched this long is abandoned (its run failed or
was stopped); a process's folder is abandoned as soon as the process is gone."""
VALIDATED = ".validated"
OWNER = ".owner"
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


def new_staging(release_dir: Path, version: str, run_id: str | None = None) -> Path:
    """A fresh hidden staging folder owned by this process, or by pipeline run
    ``run_id`` (whose tasks run in other processes); abandoned ones are removed first."""
    release_dir = Path(release_dir)
    release_dir.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(release_dir)
    staging = release_dir / f".staging-{version}-{uuid.uuid4().hex[:8]}"
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id}
    _owner_file(staging).write_text(json.dumps(owner))
    staging.mkdir()
    return staging


def _owner_file(staging: Path) -> Path:
    return staging.with_name(staging.name + OWNER)


def _abandoned(staging: Path) -> bool:
    try:
        owner = json.loads(_owner_file(staging).read_text())
    except (OSError, ValueError):
        return True  # no owner: left by a crash before it was named, or by an old version
    if owner.get("run_id"):
        newest = max((p.stat().st_mtime for p in staging.rglob("*")), default=0.0)
        newest = max(newest, staging.stat().st_mtime)
        return time.time() - newest > STALE_STAGING_SECONDS
    if owner.get("host") != socket.gethostname():
        return False  # another machine's process: not ours to judge
    pid = int(owner.get("pid", 0))
    if pid == os.getpid():
        return True  # this process holds the lock now: an earlier attempt of its own
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep_abandoned(release_dir: Path) -> list[Path]:
    """Remove staging folders whose owner is gone; call with :func:`release_lock` held."""
    removed = []
    for staging in sorted(Path(release_dir).glob(".staging-*")):
        if staging.is_dir() and not staging.is_symlink() and _abandoned(staging):
            discard_staging(staging)
            removed.append(staging)
    return removed


def discard_staging(staging: Path) -> None:
    """Remove a staging folder and its marks."""
    shutil.rmtree(staging, ignore_errors=True)
    for mark in (_owner_file(staging), _validated_file(staging)):
        mark.unlink(missing_ok=True)


def _validated_file(staging: Path) -> Path:
    return staging.with_name(staging.name + VALIDATED)


def _sums_digest(staging: Path) -> str:
    try:
        return hashlib.sha256((staging / "SHA256SUMS").read_bytes()).hexdigest()
    except OSError:
        return ""


def mark_validated(staging: Path) -> None:
    """Record that the gate passed ``staging`` as it is now (its ``SHA256SUMS``)."""
    digest = _sums_digest(staging)
    if not digest:
        raise ReleaseError(f"{staging} has no SHA256SUMS: it cannot have been validated")
    _validated_file(staging).write_text(digest)


def require_validated(staging: Path) -> None:
    """:class:`ReleaseError` unless the gate passed ``staging`` and nothing it lists is
    missing or empty since (a folder emptied or swapped after the gate is refused)."""
    staging = Path(staging)
    if not staging.is_dir():
        raise ReleaseError(f"the staging folder {staging} is gone; nothing was published")
    try:
        passed = _validated_file(staging).read_text().strip()
    except OSError:
        passed = ""
    if not passed or passed != _sums_digest(staging):
        raise ReleaseError(f"{staging} was not validated as it is now; nothing was published")
    for line in (staging / "SHA256SUMS").read_text().splitlines():
        name = line.partition("  ")[2].strip()
        listed = staging / name
        if not name or not listed.is_file() or listed.stat().st_size == 0:
            raise ReleaseError(f"{staging}: {name or line!r} is missing or empty since the gate")


def require_new(release_dir: Path, version: str) -> Path:
    """The folder ``version`` will have; :class:`VersionTakenError` if it is published."""
    final = Path(release_dir) / version
    if final.exists():
        raise VersionTakenError(
            f"release {version} exists already at {final}; choose another version"
        )
    return final


def publish(staging: Path, release_dir: Path, version: str) -> Path:
    """Move a validated staging folder into place as ``version``; never overwrite.
    Call with :func:`release_lock` held."""
    require_validated(staging)
    final = require_new(release_dir, version)
    os.rename(staging, final)
    for mark in (_owner_file(staging), _validated_file(staging)):
        mark.unlink(missing_ok=True)
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


WRITE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EROFS: "the file system is read-only"}  # fmt: skip


def write_failure(exc: BaseException) -> str | None:
    """In words, why writing a release failed when the cause is the disk or its rights
    (an ``OSError``, or a library's error saying the same), else None."""
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRORS:
        return WRITE_ERRORS[exc.errno]
    text = str(exc)
    for code, words in WRITE_ERRORS.items():
        if os.strerror(code) in text:
            return words
    return None


@contextlib.contextmanager
def writing(staging: Path) -> Iterator[None]:
    """Write into ``staging``; when the disk is full or the rights are missing, remove the
    staging folder (it would only fill the disk further) and raise one clear line."""
    try:
        yield
    except Exception as exc:
        why = write_failure(exc)
        if why is None:
            raise
        discard_staging(staging)
        raise ReleaseError(
            f"cannot write the release in {staging.parent}: {why}; its staging folder was "
            "removed and nothing was published"
        ) from exc
