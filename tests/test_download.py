"""Downloads through a loopback server that drops, corrupts and refuses."""

from pathlib import Path

import pytest
from sqid.config import ConfigError
from sqid.ingest.download import (
    ChecksumError,
    DownloadError,
    MissingSourceError,
    fetch_file,
    is_verified,
)
from sqid.ingest.sample import spec_of
from sqid.ingest.sqd import PRODUCTS
from sqid.localserve.files import FileServer
from sqid.retry import RetryPolicy

FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, jitter=0.0)


@pytest.fixture
def server(sample_sqd):
    with FileServer(sample_sqd.out_dir) as srv:
        yield srv


@pytest.fixture
def spec(sample_sqd):
    return sample_sqd.specs[PRODUCTS]


def test_interrupted_download_resumes_with_range(server, spec, tmp_path):
    server.fault(PRODUCTS).drop_after.extend([200_000, 300_000])
    result = fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    assert result.attempts == 3
    assert spec_of(result.path) == spec
    ranges = [r for name, r in server.requests if name == PRODUCTS]
    assert ranges[0] is None
    assert ranges[1].startswith("bytes=") and ranges[2].startswith("bytes=")
    # Resumed, not restarted: total fetched is the file plus at most one read chunk per drop.
    assert result.bytes_fetched == spec.size


def test_server_ignoring_range_restarts_cleanly(server, spec, tmp_path):
    server.fault(PRODUCTS).drop_after.append(100_000)
    server.fault(PRODUCTS).ignore_range = True
    result = fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    assert spec_of(result.path) == spec


def test_verified_file_is_not_downloaded_again(server, spec, tmp_path):
    fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    before = len(server.requests)
    again = fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    assert again.cached and len(server.requests) == before
    forced = fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST, force=True)
    assert not forced.cached and len(server.requests) == before + 1


def test_changed_file_on_disk_is_not_trusted(server, spec, tmp_path):
    dest = tmp_path / PRODUCTS
    fetch_file(server.url(PRODUCTS), dest, spec, policy=FAST)
    with dest.open("r+b") as fh:
        fh.seek(10)
        fh.write(b"\x00")
    assert not is_verified(dest, spec)
    result = fetch_file(server.url(PRODUCTS), dest, spec, policy=FAST)
    assert not result.cached and spec_of(dest) == spec


def test_wrong_byte_raises_checksum_error_and_installs_nothing(server, spec, tmp_path):
    server.fault(PRODUCTS).flip_byte_at = 1234
    dest = tmp_path / PRODUCTS
    with pytest.raises(ChecksumError) as err:
        fetch_file(server.url(PRODUCTS), dest, spec, policy=FAST)
    message = str(err.value)
    assert PRODUCTS in message and spec.sha256 in message and "got" in message
    assert not dest.exists()
    assert not dest.with_name(dest.name + ".part").exists()


def test_wrong_size_names_expected_and_actual(sample_sqd, tmp_path):
    wrong = type(sample_sqd.specs[PRODUCTS])(PRODUCTS, 10, "0" * 64)
    with FileServer(sample_sqd.out_dir) as srv, pytest.raises(ChecksumError, match="expected 10"):
        fetch_file(srv.url(PRODUCTS), tmp_path / PRODUCTS, wrong, policy=FAST)


def test_server_errors_are_retried_then_reported(server, spec, tmp_path):
    server.fault(PRODUCTS).statuses.extend([500, 503, 500, 500, 500])
    server.fault(PRODUCTS).retry_after = "0"
    with pytest.raises(DownloadError, match=r"after 4 attempt\(s\): HTTP 500"):
        fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    assert len(server.requests) == 4


def test_transient_errors_then_success(server, spec, tmp_path):
    server.fault(PRODUCTS).statuses.extend([503, 429])
    result = fetch_file(server.url(PRODUCTS), tmp_path / PRODUCTS, spec, policy=FAST)
    assert result.attempts == 3


def test_not_found_fails_at_once(server, spec, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch_file(server.url("nope.parquet"), tmp_path / PRODUCTS, spec, policy=FAST)
    assert len(server.requests) == 1


def test_file_url_and_missing_file(sample_sqd, spec, tmp_path):
    source = sample_sqd.out_dir / PRODUCTS
    result = fetch_file(source.as_uri(), tmp_path / PRODUCTS, spec)
    assert spec_of(result.path) == spec
    with pytest.raises(MissingSourceError, match="absent does not exist"):
        fetch_file((tmp_path / "absent").as_uri(), tmp_path / "x", spec)


def test_a_source_that_is_gone_fails_even_with_a_verified_copy(sample_sqd, spec, tmp_path):
    """The cached copy came from there, but the run names a source that does not exist:
    that is a mistake in the run, not a reason to load the old bytes in its name."""
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    (source_dir / PRODUCTS).write_bytes((sample_sqd.out_dir / PRODUCTS).read_bytes())
    dest = tmp_path / "cache" / PRODUCTS
    assert not fetch_file((source_dir / PRODUCTS).as_uri(), dest, spec).cached
    assert fetch_file((source_dir / PRODUCTS).as_uri(), dest, spec).cached
    (source_dir / PRODUCTS).unlink()
    with pytest.raises(MissingSourceError) as failed:
        fetch_file((source_dir / PRODUCTS).as_uri(), dest, spec)
    assert isinstance(failed.value, ConfigError)  # the task fails at once, no retries


def test_a_verified_copy_from_another_source_is_not_reused(sample_sqd, spec, tmp_path):
    """Provenance names where the loaded bytes came from: a copy fetched from one source
    is not passed off as fetched from another."""
    dest = tmp_path / PRODUCTS
    fetch_file((sample_sqd.out_dir / PRODUCTS).as_uri(), dest, spec)
    other = tmp_path / "other"
    other.mkdir()
    (other / PRODUCTS).write_bytes((sample_sqd.out_dir / PRODUCTS).read_bytes())
    result = fetch_file((other / PRODUCTS).as_uri(), dest, spec)
    assert not result.cached
    assert is_verified(dest, spec, origin=(other / PRODUCTS).as_uri())
    assert not is_verified(dest, spec, origin=(sample_sqd.out_dir / PRODUCTS).as_uri())


def test_unsupported_scheme(spec, tmp_path):
    with pytest.raises(DownloadError, match="unsupported"):
        fetch_file("ftp://example.invalid/x", tmp_path / "x", spec)


def test_stale_oversized_part_file_is_discarded(server, spec, tmp_path):
    dest = tmp_path / PRODUCTS
    Path(str(dest) + ".part").write_bytes(b"x" * (spec.size + 5))
    result = fetch_file(server.url(PRODUCTS), dest, spec, policy=FAST)
    assert spec_of(result.path) == spec
