"""Releases share one folder: one release at a time, no run touches another's staging,
only validated folders are published, ``latest`` moves forward only, and a full disk is
one clear line with nothing left behind."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from sqid.release.assemble import ReleaseConfig
from sqid.release.staging import new_staging, sweep_abandoned
from sqid.release.steps import gate, index, publish_release, run_release, stage
from sqid.release.versions import (
    LATEST,
    ReleaseBusyError,
    ReleaseError,
    list_versions,
    release_lock,
    update_latest,
)

from .pipeline_builders import build_sets, embed, scrape


@pytest.fixture(scope="module")
def state(tmp_path_factory, tiny_clip, encoder):
    from sqid.localserve.site import SiteConfig

    root = tmp_path_factory.mktemp("concurrency")
    db_path, ids = build_sets(root)
    scrape(root, db_path, ids, SiteConfig(), "r1")
    embed(root, db_path, tiny_clip, encoder, "r1")
    return root, db_path


def config_in(tmp_path) -> ReleaseConfig:
    return ReleaseConfig(release_dir=tmp_path / "releases", coverage_threshold=0.5)


def hold_lock(release_dir) -> subprocess.Popen:
    """Another process that holds the releases folder until it is killed."""
    code = (
        "import sys, time\n"
        "from sqid.release.versions import release_lock\n"
        f"with release_lock({str(release_dir)!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_one_release_at_a_time_and_a_killed_holder_blocks_nothing(state, tmp_path):
    _, db_path = state
    config = config_in(tmp_path)
    holder = hold_lock(config.release_dir)
    try:
        with pytest.raises(
            ReleaseBusyError, match=rf"another release is running .*pid {holder.pid}"
        ):
            run_release(db_path, config)
        assert list_versions(config.release_dir) == []
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released the lock with the killed holder: the next release runs.
    assert run_release(db_path, config).published.name == "v0.1.0"


def test_the_cli_says_busy_in_one_line(state, tmp_path):
    _, db_path = state
    config = config_in(tmp_path)
    holder = hold_lock(config.release_dir)
    try:
        cli = subprocess.run(
            [sys.executable, "-m", "sqid.cli", "release", "--db", str(db_path),
             "--release-dir", str(config.release_dir)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert cli.returncode == 1
    assert cli.stderr.strip().count("\n") == 0, cli.stderr
    assert "another release is running" in cli.stderr and "Traceback" not in cli.stderr


def test_a_run_never_removes_another_runs_staging(state, tmp_path):
    """Only abandoned staging goes: a pipeline run's that is in use stays, so a publish
    racing another run's clean-up can never publish an emptied folder."""
    _, db_path = state
    config = config_in(tmp_path)
    other_run = new_staging(config.release_dir, "v0.1.0", run_id="scheduled__other")
    (other_run / "product_image_urls.csv").write_text("product_id,image_url\n")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    crashed = new_staging(config.release_dir, "v0.1.0")
    owner = crashed.with_name(crashed.name + ".owner")
    owner.write_text(owner.read_text().replace(str(os.getpid()), dead.stdout.strip()))

    published = run_release(db_path, config).published
    assert published.name == "v0.1.0"
    assert (other_run / "product_image_urls.csv").exists()  # untouched
    assert not crashed.exists() and not owner.exists()  # its process is gone
    # A pipeline run's staging is abandoned once nobody has touched it for a day.
    old = time.time() - 2 * 24 * 3600
    for path in [other_run, *other_run.rglob("*")]:
        os.utime(path, (old, old))
    with release_lock(config.release_dir):
        assert sweep_abandoned(config.release_dir) == [other_run]


def test_only_a_validated_unchanged_staging_folder_is_published(state, tmp_path):
    _, db_path = state
    config = config_in(tmp_path)
    staging = _staged(db_path, config, "v0.1.0")
    with pytest.raises(ReleaseError, match="not validated"):
        publish_release(staging, "v0.1.0")
    gate(staging, config)
    (staging / "product_image_urls.csv").write_bytes(b"")  # emptied after the gate
    with pytest.raises(ReleaseError, match="missing or empty since the gate"):
        publish_release(staging, "v0.1.0")
    assert list_versions(config.release_dir) == []
    assert not (config.release_dir / LATEST).exists()


def _staged(db_path, config, version):
    from pathlib import Path

    from sqid.release.steps import document

    staging = Path(stage(db_path, config, version)["staging"])
    index(staging, db_path)
    document(staging, version, None)
    return staging


def test_latest_never_moves_back(state, tmp_path):
    _, db_path = state
    config = config_in(tmp_path)
    run_release(db_path, config, version="v0.2.0")
    run_release(db_path, config, version="v0.1.0", publish_unchanged=True)
    assert os.readlink(config.release_dir / LATEST) == "v0.2.0"
    with pytest.raises(ReleaseError, match="not a published release"):
        update_latest(config.release_dir, "v9.0.0")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_full_disk_is_one_line_and_leaves_no_staging(state, tmp_path, monkeypatch, code):
    _, db_path = state
    config = config_in(tmp_path)
    real = __import__("sqid.release.documents", fromlist=["document_release"]).document_release

    def full(staging, *args, **kwargs):
        real(staging, *args, **kwargs)
        raise OSError(code, os.strerror(code), str(staging / "report.html"))

    monkeypatch.setattr("sqid.release.documents.document_release", full)
    with pytest.raises(ReleaseError) as failed:
        run_release(db_path, config)
    message = str(failed.value)
    assert "\n" not in message and "nothing was published" in message
    assert ("disk is full" if code == errno.ENOSPC else "permission denied") in message
    assert not list(config.release_dir.glob(".staging-*"))
    assert list_versions(config.release_dir) == []
