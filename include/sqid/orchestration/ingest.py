"""The tasks of ``sqid_ingest``: one function per task."""

from __future__ import annotations

from sqid.orchestration import fail_fast


@fail_fast
def download(name: str, params: dict) -> dict:
    """One SQD file, verified by size and sha256 (cached once verified)."""
    from sqid.ingest.sources import download_sqd_file
    from sqid.orchestration.params import ingest_params, require_declared

    require_declared(params, ingest_params)

    from sqid.orchestration.lineage import files

    result = download_sqd_file(
        name, source=params["source"], checksums=params["checksums"], force=params["force_download"]
    )
    files(reads=[result["url"]], writes=[result["path"]])
    return result


def load(downloads: list[dict]) -> dict:
    """Stage the downloaded files; the live tables do not change here."""
    from sqid.ingest.load import load_downloads
    from sqid.orchestration.lineage import files

    files(reads=[d["path"] for d in downloads])
    return load_downloads(downloads)


@fail_fast
def derive(params: dict) -> dict:
    """Derive the sets from the staged tables, gate them, and swap them in."""
    from sqid.ingest.load import IngestFloors, derive_sets

    floors = IngestFloors(params["min_rows"], params["max_row_loss"], params["min_title_share"])
    return derive_sets(min_supp_judgements=params["min_supp_judgements"], floors=floors)


def published_counts_expected(downloads: list[dict], params: dict) -> bool:
    """Whether this run must match the published SQID counts."""
    from sqid.ingest.sources import expect_published_counts

    return expect_published_counts(params["check_published_counts"], downloads)
