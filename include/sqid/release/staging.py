"""Staging folders: where a release is written before it is published.

Each staging folder belongs to one run and is named in a sibling ``.owner`` file; a run
removes only its own, or one whose owner is gone (a dead process, or a pipeline run that
has not touched it for :data:`STALE_STAGING_SECONDS`). Only a folder the gate passed
(:func:`mark_validated`) and that has not changed since can be published, by one rename
into its version's name. A full disk or missing rights while writing removes the folder
and says so in one line (:func:`writing`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqid.release.versions import ReleaseError, require_new

STALE_STAGING_SECONDS = 24 * 3600
"""A pipeline run's staging folder untouched this long is abandoned (its run failed or
was stopped); a process's folder is abandoned as soon as the process is gone."""
VALIDATED = ".validated"
OWNER = ".owner"


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


def run_of(staging: Path) -> str | None:
    """The pipeline run that owns ``staging`` (None: a process, or unknown)."""
    try:
        return json.loads(_owner_file(staging).read_text()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


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


def publish(staging: Path, release_dir: Path, version: str) -> Path:
    """Move a validated staging folder into place as ``version``; never overwrite.
    Call with :func:`release_lock` held."""
    require_validated(staging)
    final = require_new(release_dir, version)
    os.rename(staging, final)
    for mark in (_owner_file(staging), _validated_file(staging)):
        mark.unlink(missing_ok=True)
    return final


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
