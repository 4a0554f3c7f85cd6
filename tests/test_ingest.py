"""Loading SQD files into DuckDB: idempotence, atomicity, clear schema errors, the gate."""

import shutil

import duckdb
import pyarrow.parquet as pq
import pytest
from sqid.config import load_settings
from sqid.ingest.download import ChecksumError
from sqid.ingest.load import (
    IngestCheckError,
    IngestFloors,
    LoadedFile,
    SchemaError,
    derive_sets,
    load_downloads,
    load_sqd,
)
from sqid.ingest.sources import download_sqd_file, expect_published_counts
from sqid.ingest.sqd import CHECKSUM_MANIFEST, EXAMPLES, FILE_NAMES, PRODUCTS, SOURCES
from sqid.localserve.files import FileServer

from .conftest import shared_file


def files_in(directory, specs=None):
    return {n: LoadedFile.as_found(directory / n) for n in FILE_NAMES}


def ingest(db_path, files, floors=None):
    """Stage, gate and publish, as the DAG's load and derive tasks do."""
    staged = load_sqd(db_path, files)
    derive_sets(db_path, floors=floors)
    return staged


def first_row(db_path, sql):
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def counts(db_path):
    """Rows of the live raw tables."""
    return first_row(
        db_path,
        "SELECT (SELECT count(*) FROM sqd_examples), (SELECT count(*) FROM sqd_products),"
        " (SELECT count(*) FROM sqd_sources)",
    )


def copy_sample(sample_sqd, tmp_path):
    target = tmp_path / "sqd"
    shutil.copytree(sample_sqd.out_dir, target)
    return target


def test_load_matches_the_files_and_rerun_replaces(sample_sqd, tmp_path):
    db_path = tmp_path / "sqid.duckdb"
    first = ingest(db_path, files_in(sample_sqd.out_dir))
    second = ingest(db_path, files_in(sample_sqd.out_dir))
    assert (
        first
        == second
        == {
            "examples": sample_sqd.examples,
            "products": sample_sqd.products,
            "sources": sample_sqd.queries,
        }
    )
    assert counts(db_path) == (sample_sqd.examples, sample_sqd.products, sample_sqd.queries)
    con = duckdb.connect(str(db_path), read_only=True)
    recorded = con.execute("SELECT count(*) FROM sqd_files").fetchone()[0]
    con.close()
    assert recorded == 3


def test_declared_types_and_keys(sample_sqd, tmp_path):
    db_path = tmp_path / "sqid.duckdb"
    ingest(db_path, files_in(sample_sqd.out_dir))
    con = duckdb.connect(str(db_path), read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'sqd_examples'"
        ).fetchall()
    )
    not_null = con.execute(
        "SELECT table_name, constraint_text FROM duckdb_constraints()"
        " WHERE constraint_type = 'NOT NULL' ORDER BY 1"
    ).fetchall()
    con.close()
    assert types["example_id"] == "BIGINT" and types["small_version"] == "TINYINT"
    assert ("sqd_products", "NOT NULL") in not_null and ("sqd_examples", "NOT NULL") in not_null


def test_duplicate_keys_fail_the_load_naming_one(sample_sqd, tmp_path):
    """The raw tables carry no index: the load's key check is what keeps keys unique."""
    target = copy_sample(sample_sqd, tmp_path)
    products = pq.read_table(target / PRODUCTS)
    pq.write_table(pa_concat(products, products.slice(3, 2)), target / PRODUCTS)
    first = products.slice(3, 2).to_pylist()
    key = min(f"{r['product_locale']}/{r['product_id']}" for r in first)
    with pytest.raises(
        ValueError, match=rf"products\.parquet: violates a key .*2 duplicated keys, e\.g\. {key}"
    ):
        load_sqd(tmp_path / "db.duckdb", files_in(target))


def test_missing_column_is_named(sample_sqd, tmp_path):
    target = copy_sample(sample_sqd, tmp_path)
    table = pq.read_table(target / EXAMPLES).drop_columns(["esci_label"])
    pq.write_table(table, target / EXAMPLES)
    with pytest.raises(SchemaError, match=r"examples.parquet: missing column 'esci_label'"):
        load_sqd(tmp_path / "db.duckdb", files_in(target))


def test_retyped_column_is_named(sample_sqd, tmp_path):
    target = copy_sample(sample_sqd, tmp_path)
    table = pq.read_table(target / EXAMPLES)
    index = table.schema.get_field_index("query_id")
    table = table.set_column(index, "query_id", table["query_id"].cast("string"))
    pq.write_table(table, target / EXAMPLES)
    with pytest.raises(SchemaError, match=r"column 'query_id' should be integer, found VARCHAR"):
        load_sqd(tmp_path / "db.duckdb", files_in(target))


def test_not_a_parquet_file(sample_sqd, tmp_path):
    target = copy_sample(sample_sqd, tmp_path)
    (target / PRODUCTS).write_text("<html>this is an LFS pointer or an error page</html>")
    with pytest.raises(SchemaError, match=r"products\.parquet: cannot read"):
        load_sqd(tmp_path / "db.duckdb", files_in(target))


def test_failed_load_keeps_previous_tables(sample_sqd, tmp_path):
    db_path = tmp_path / "sqid.duckdb"
    ingest(db_path, files_in(sample_sqd.out_dir))
    before = counts(db_path)

    target = copy_sample(sample_sqd, tmp_path)
    (target / SOURCES).write_text("query_id,source\n1,other\nnot-a-number,other\n")
    with pytest.raises(SchemaError, match=r"sources\.csv: cannot load"):
        load_sqd(db_path, files_in(target))
    assert counts(db_path) == before

    shutil.copy(sample_sqd.out_dir / SOURCES, target / SOURCES)
    table = pq.read_table(target / EXAMPLES)
    pq.write_table(pa_concat(table, table.slice(0, 1)), target / EXAMPLES)
    with pytest.raises(ValueError, match=r"examples\.parquet: violates a key"):
        load_sqd(db_path, files_in(target))
    assert counts(db_path) == before


def set_counts(db_path):
    """Rows of the live SQID sets, and how many products have a title."""
    return first_row(
        db_path,
        "SELECT (SELECT count(*) FROM sqid_products), (SELECT count(*) FROM sqid_queries),"
        " (SELECT count(*) FROM sqid_products WHERE title IS NOT NULL)",
    )


def emptied(target, name):
    """Keep a file's schema and drop its rows (its checksum manifest would still match)."""
    path = target / name
    if name.endswith(".csv"):
        path.write_text(path.read_text().splitlines()[0] + "\n")
    else:
        pq.write_table(pq.read_table(path).slice(0, 0), path)


@pytest.mark.parametrize("name", [EXAMPLES, PRODUCTS, SOURCES])
def test_an_empty_file_fails_the_gate_and_changes_nothing(sample_sqd, tmp_path, name):
    db_path = tmp_path / "sqid.duckdb"
    ingest(db_path, files_in(sample_sqd.out_dir))
    before = (counts(db_path), set_counts(db_path))
    target = copy_sample(sample_sqd, tmp_path)
    emptied(target, name)
    load_sqd(db_path, files_in(target))  # staged: the live tables are untouched
    assert (counts(db_path), set_counts(db_path)) == before
    with pytest.raises(IngestCheckError, match="live tables were not changed"):
        derive_sets(db_path)
    assert (counts(db_path), set_counts(db_path)) == before


def test_floors_catch_a_truncated_file_and_lost_titles(sample_sqd, tmp_path):
    db_path = tmp_path / "sqid.duckdb"
    ingest(db_path, files_in(sample_sqd.out_dir))
    before = (counts(db_path), set_counts(db_path))
    target = copy_sample(sample_sqd, tmp_path)
    examples = pq.read_table(target / EXAMPLES)
    pq.write_table(examples.slice(0, examples.num_rows // 4), target / EXAMPLES)
    load_sqd(db_path, files_in(target))
    with pytest.raises(IngestCheckError, match=r"examples: \d+ rows would replace \d+"):
        derive_sets(db_path)
    assert (counts(db_path), set_counts(db_path)) == before
    derive_sets(db_path, floors=IngestFloors(max_row_loss=1.0))  # a deliberate shrink
    assert counts(db_path)[0] == examples.num_rows // 4

    target = copy_sample(sample_sqd, tmp_path / "titles")
    products = pq.read_table(target / PRODUCTS)
    index = products.schema.get_field_index("product_title")
    products = products.set_column(
        index, "product_title", pa_concat_nulls(products.num_rows, products.schema.field(index))
    )
    pq.write_table(products, target / PRODUCTS)
    load_sqd(db_path, files_in(target))
    with pytest.raises(IngestCheckError, match="have a title, fewer than min_title_share"):
        derive_sets(db_path, floors=IngestFloors(max_row_loss=1.0))


def pa_concat_nulls(n, field):
    import pyarrow as pa

    return pa.nulls(n, type=field.type)


def pa_concat(*tables):
    import pyarrow as pa

    return pa.concat_tables(tables)


def test_checksum_failure_loads_nothing(sample_sqd, tmp_path, monkeypatch):
    """Through the real download path: a wrong byte is refused before the loader runs."""
    monkeypatch.setenv("SQID_HOME", str(tmp_path / "home"))
    settings = load_settings()
    with FileServer(sample_sqd.out_dir) as srv:
        kwargs = {"source": srv.base_url, "checksums": srv.url(CHECKSUM_MANIFEST)}
        good = [download_sqd_file(n, settings=settings, **kwargs) for n in FILE_NAMES]
        load_downloads(good, settings.duckdb_path)
        derive_sets(settings.duckdb_path)
        before = counts(settings.duckdb_path)

        srv.fault(EXAMPLES).flip_byte_at = 99
        with pytest.raises(ChecksumError, match=r"examples\.parquet: sha256 mismatch"):
            download_sqd_file(EXAMPLES, settings=settings, force=True, **kwargs)
    assert not (settings.download_dir / EXAMPLES).exists()
    assert counts(settings.duckdb_path) == before


def test_download_provenance_and_published_flag(sample_sqd, tmp_path, monkeypatch):
    monkeypatch.setenv("SQID_HOME", str(tmp_path / "home"))
    result = download_sqd_file(
        SOURCES,
        source=str(sample_sqd.out_dir),
        checksums=str(sample_sqd.out_dir / CHECKSUM_MANIFEST),
    )
    assert result["sha256"] == sample_sqd.specs[SOURCES].sha256
    assert result["published"] is False and result["cached"] is False
    assert expect_published_counts("auto", [result]) is False
    assert expect_published_counts("always", [result]) is True
    assert expect_published_counts("auto", [{**result, "published": True}]) is True
    with pytest.raises(ValueError):
        expect_published_counts("sometimes", [result])


def test_real_sources_csv(sample_sqd, tmp_path):
    """The real ESCI sources file goes through the CSV path with its exact row count."""
    real = shared_file("esci", SOURCES)
    files = files_in(sample_sqd.out_dir)
    files[SOURCES] = LoadedFile.as_found(real)
    loaded = ingest(tmp_path / "db.duckdb", files)
    assert loaded["sources"] == 130_652
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    sources = dict(con.execute("SELECT source, count(*) FROM sqd_sources GROUP BY 1").fetchall())
    con.close()
    assert sources["other"] == 113_656 and sources["nlqec"] == 169


@pytest.mark.parametrize("how", ["swapped", "edited_in_place"])
def test_a_file_changed_after_verification_is_not_loaded(sample_sqd, tmp_path, how):
    """The load hashes what it reads: a file swapped for another, or edited in place with
    its size and modification time kept, fails the load and the live tables stay."""
    import os

    from sqid.files import ChangedFileError

    directory = copy_sample(sample_sqd, tmp_path)
    db_path = tmp_path / "sqid.duckdb"
    ingest(db_path, files_in(directory))
    before = counts(db_path)
    files = files_in(directory)  # verified now
    target = directory / SOURCES
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")  # same size, other bytes
    if how == "swapped":
        fresh = target.with_name("swap.tmp")
        fresh.write_bytes(bytes(data))
        os.replace(fresh, target)
    else:
        with target.open("r+b") as fh:
            fh.write(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size
    with pytest.raises(ChangedFileError, match="changed since it was verified: sha256"):
        load_sqd(db_path, files)
    assert counts(db_path) == before
