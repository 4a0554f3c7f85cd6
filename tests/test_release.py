"""Releases: layout, immutability, changelog, the validation gate and tampering."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqid.ingest.sqd import EXAMPLES
from sqid.localserve.site import SiteConfig
from sqid.release.assemble import ReleaseConfig, same_data
from sqid.release.layout import MANIFEST, PRODUCT_FEATURES_SCHEMA, write_checksums
from sqid.release.steps import run_release
from sqid.release.validate import validate_release
from sqid.release.versions import LOCK_FILE, ReleaseError, list_versions

from .pipeline_builders import build_sets, embed, scrape


def build_release(db_path, config, **options):
    """Run the release pipeline; the folder it made (published, or staged on a dry run)."""
    outcome = run_release(db_path, config, **options)
    assert outcome.published or outcome.staged, outcome.reason
    return outcome.published or outcome.staged


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_clip, encoder):
    root = tmp_path_factory.mktemp("pipeline")
    db_path, ids = build_sets(root)
    site = SiteConfig(layouts={ids[1]: "placeholder", ids[2]: "not_found"})
    scrape(root, db_path, ids, site, "r1")
    embed(root, db_path, tiny_clip, encoder, "r1")
    return root, db_path, ids


@pytest.fixture(scope="module")
def first_release(pipeline):
    root, db_path, _ = pipeline
    config = ReleaseConfig(release_dir=root / "releases", coverage_threshold=0.5)
    return build_release(db_path, config, examples=root / "sqd" / EXAMPLES), config


def test_first_release_layout(first_release, pipeline):
    path, config = first_release
    _, _, ids = pipeline
    assert path.name == "v0.1.0" and (config.release_dir / "latest").resolve() == path
    names = {p.name for p in path.iterdir()}
    assert names >= {
        "product_image_urls.csv", "supp_product_image_urls.csv", "product_features.parquet",
        "query_features.parquet", "product_image_status.parquet", "manifest.json", "SHA256SUMS",
        "croissant.json", "README.md", "CHANGELOG.md", "report.html", "evaluation.json",
    }  # fmt: skip
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=path, check=True)
    with (path / "product_image_urls.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["product_id", "image_url"] and len(rows) == 13
    urls = dict(rows[1:])
    assert urls[ids[1]] == "" and urls[ids[2]] == ""  # placeholder and gone: no URL
    assert urls[ids[0]].startswith("https://m.media-amazon.com/images/I/")
    assert (
        pq.read_schema(path / "product_features.parquet")
        .remove_metadata()
        .equals(PRODUCT_FEATURES_SCHEMA)
    )
    assert pq.read_schema(path / "query_features.parquet").field("query_id").type == pa.string()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["counts"]["test_products"] == 12 and manifest["counts"]["supp_products"] == 3
    assert manifest["model"]["dimension"] == 16 and manifest["previous_release"] is None
    assert {f["file_name"] for f in manifest["sqd_files"]} == {
        "shopping_queries_dataset_examples.parquet", "shopping_queries_dataset_products.parquet",
        "shopping_queries_dataset_sources.csv",
    }  # fmt: skip
    evaluation = json.loads((path / "evaluation.json").read_text())
    assert evaluation["queries"] == 3 and len(evaluation["sweep"]) == 11
    card = (path / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "config_name: product_features" in card
    assert "<svg" in (path / "report.html").read_text()


def test_same_version_twice_fails_and_keeps_the_first(first_release, pipeline):
    path, config = first_release
    _, db_path, _ = pipeline
    before = (path / "SHA256SUMS").read_text()
    with pytest.raises(ReleaseError, match="exists already"):
        build_release(db_path, config, version="v0.1.0")
    assert (path / "SHA256SUMS").read_text() == before
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=path, check=True)


def test_crash_before_rename_leaves_no_release(pipeline, monkeypatch, tmp_path):
    _, db_path, _ = pipeline
    config = ReleaseConfig(release_dir=tmp_path / "releases", coverage_threshold=0.5)

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr("sqid.release.staging.os.rename", crash)
    with pytest.raises(OSError, match="power cut"):
        build_release(db_path, config)
    assert list_versions(config.release_dir) == []
    assert not (config.release_dir / "latest").exists()
    left = {p.name for p in config.release_dir.iterdir()} - {LOCK_FILE}
    assert left and all(name.startswith(".staging-") for name in left)
    monkeypatch.undo()
    assert build_release(db_path, config).name == "v0.1.0"
    assert not list(config.release_dir.glob(".staging-*"))  # the next run cleaned up


def test_second_release_changelog(first_release, pipeline, tiny_clip, encoder):
    path, config = first_release
    root, db_path, ids = pipeline
    # ids[0] disappears from the site; ids[1] gets a real image instead of the placeholder.
    scrape(root, db_path, ids[:2], SiteConfig(layouts={ids[0]: "not_found"}), "r2")
    embed(root, db_path, tiny_clip, encoder, "r2")
    second = build_release(db_path, config, examples=root / "sqd" / EXAMPLES)
    assert second.name == "v0.2.0" and (config.release_dir / "latest").resolve() == second
    changelog = (second / "CHANGELOG.md").read_text()
    assert "Compared with v0.1.0" in changelog
    assert "`ok -> not_found`: 1" in changelog and "`no_image -> ok`: 1" in changelog
    assert "products added: 0" in changelog and "products removed: 0" in changelog
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["previous_release"] == "v0.1.0"
    policy = config.validation_policy()
    assert path.exists() and validate_release(path, policy) == []  # the first one is untouched


def test_unchanged_inputs_stop_before_anything_is_written(first_release, pipeline, monkeypatch):
    _, config = first_release
    _, db_path, _ = pipeline
    before = sorted(p.name for p in config.release_dir.iterdir())

    def no_assembling(*args):
        raise AssertionError("an unchanged release must not be assembled")

    monkeypatch.setattr("sqid.release.steps.assemble", no_assembling)
    outcome = run_release(db_path, config)
    assert outcome.published is None and outcome.staged is None
    assert (
        outcome.reason
        == f"no new version: the data equal {(config.release_dir / 'latest').resolve().name}"
    )
    assert sorted(p.name for p in config.release_dir.iterdir()) == before


def test_equal_files_from_other_inputs_publish_nothing_and_leave_no_staging(
    first_release, pipeline, tmp_path
):
    """The backstop after the gate: a newest release without a recorded fingerprint (an
    older writer) is compared by its files, and an equal staging folder is removed."""
    _, config = first_release
    _, db_path, _ = pipeline
    path = (config.release_dir / "latest").resolve()  # the release the database equals
    releases = tmp_path / "releases"
    old = releases / path.name
    shutil.copytree(path, old)
    manifest = json.loads((old / MANIFEST).read_text())
    del manifest["pipeline"]["inputs_fingerprint"]
    (old / MANIFEST).write_text(json.dumps(manifest))
    (releases / "latest").symlink_to(path.name)
    other = ReleaseConfig(release_dir=releases, coverage_threshold=0.5)
    outcome = run_release(db_path, other)
    assert outcome.published is None and outcome.reason.startswith("no new version")
    assert sorted(p.name for p in releases.iterdir()) == [LOCK_FILE, "latest", path.name]


def tampered(first_release, tmp_path, change, fix_checksums=True):
    path, config = first_release
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    change(copy)
    if fix_checksums:
        write_checksums(copy)
    return validate_release(copy, config.validation_policy()), copy


def rewrite_parquet(path, fn):
    pq.write_table(fn(pq.read_table(path)), path)


def test_same_data_ignores_documents_but_not_one_changed_row(first_release, tmp_path):
    path, _ = first_release
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    (copy / "CHANGELOG.md").write_text("written on another day\n")
    write_checksums(copy)
    assert same_data(copy, path)
    with (copy / "supp_product_image_urls.csv").open("a") as fh:
        fh.write("B0EXTRA0001,https://m.media-amazon.com/images/I/71abcdefgh.jpg\n")
    write_checksums(copy)
    assert not same_data(copy, path)


def test_flipped_byte_fails_checksums(first_release, tmp_path):
    def flip(copy):
        data = bytearray((copy / "product_image_urls.csv").read_bytes())
        data[30] ^= 0x01
        (copy / "product_image_urls.csv").write_bytes(bytes(data))

    problems, _ = tampered(first_release, tmp_path, flip, fix_checksums=False)
    assert any(p.check == "checksums" and "product_image_urls.csv" in p.rows for p in problems)


def test_dropped_row(first_release, tmp_path):
    def drop(copy):
        lines = (copy / "supp_product_image_urls.csv").read_text().splitlines(keepends=True)
        (copy / "supp_product_image_urls.csv").write_text("".join(lines[:-1]))

    problems, _ = tampered(first_release, tmp_path, drop)
    assert any(
        p.check == "row_count" and "supp_product_image_urls.csv" in p.message for p in problems
    )


def test_nan_in_a_vector(first_release, tmp_path):
    def poison(copy):
        def fn(table):
            rows = table.to_pylist()
            rows[0]["clip_text_features"][3] = float("nan")
            return pa.Table.from_pylist(rows, schema=table.schema)

        rewrite_parquet(copy / "product_features.parquet", fn)

    problems, _ = tampered(first_release, tmp_path, poison)
    assert any("NaN" in p.message for p in problems)


def test_two_images_with_one_vector(first_release, tmp_path):
    """A copied vector is named; products sharing one image (one image_sha256) are not."""
    shared = {}

    def copy_vector(copy):
        def fn(table):
            rows = table.to_pylist()
            with_image = [r for r in rows if r["clip_image_features"] is not None]
            first, second = with_image[0], with_image[1]
            second["clip_image_features"] = list(first["clip_image_features"])
            shared.update(ids={first["product_id"], second["product_id"]})
            return pa.Table.from_pylist(rows, schema=table.schema)

        rewrite_parquet(copy / "product_features.parquet", fn)

    problems, copy = tampered(first_release, tmp_path, copy_vector)
    [problem] = [p for p in problems if "share an identical image vector" in p.message]
    assert set(problem.rows) == shared["ids"]

    def same_image(status_copy):
        def fn(table):
            rows = table.to_pylist()
            by_id = {r["product_id"]: r for r in rows}
            first, second = sorted(shared["ids"])
            by_id[second]["image_sha256"] = by_id[first]["image_sha256"]
            return pa.Table.from_pylist(rows, schema=table.schema)

        rewrite_parquet(status_copy / "product_image_status.parquet", fn)

    same_image(copy)
    write_checksums(copy)
    _, config = first_release
    assert not any("identical image vector" in p.message
                   for p in validate_release(copy, config.validation_policy()))  # fmt: skip


def test_missing_file(first_release, tmp_path):
    problems, _ = tampered(
        first_release, tmp_path, lambda c: (c / "query_features.parquet").unlink()
    )
    assert any(p.check == "files" and "query_features.parquet" in p.rows for p in problems)


def test_wrong_column_type(first_release, tmp_path):
    def retype(copy):
        def fn(table):
            return table.set_column(0, "query_id", pa.array(range(table.num_rows), pa.int64()))

        rewrite_parquet(copy / "query_features.parquet", fn)

    problems, copy = tampered(first_release, tmp_path, retype)
    assert any(p.check == "schema" and "query_id" in " ".join(p.rows) for p in problems)
    out = subprocess.run(
        [sys.executable, "-m", "sqid.cli", "validate", "--skip-croissant", str(copy)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1 and "query_id: expected string, found int64" in out.stdout


def test_corrupt_parquet_is_a_problem_not_a_crash(first_release, tmp_path):
    def corrupt(copy):
        path = copy / "product_features.parquet"
        path.write_bytes(path.read_bytes()[:200])

    problems, _ = tampered(first_release, tmp_path, corrupt)
    assert any(p.check == "files" and "product_features.parquet" in p.message for p in problems)


def evaluate_cli(release, examples, scores=None, check=False, json_output=True):
    """``sqid evaluate RELEASE --examples EXAMPLES [--scores SCORES] --json``, fresh process."""
    command = [sys.executable, "-m", "sqid.cli", "evaluate", str(release), "--examples",
               str(examples), *(["--scores", str(scores)] if scores else []),
               *(["--json"] if json_output else [])]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=check)


def test_user_scores_evaluation(first_release, pipeline, tmp_path):
    path, _ = first_release
    root, _, _ = pipeline
    scores = tmp_path / "scores.csv"
    scores.write_text("query_id,product_id,score\n1,B000000000,0.9\n")
    result = json.loads(evaluate_cli(path, root / "sqd" / EXAMPLES, scores, check=True).stdout)
    assert result["queries"] == 3 and result["unscored_judgements"] == 35
    assert os.path.exists(path / "SHA256SUMS")
    table = evaluate_cli(path, root / "sqd" / EXAMPLES, check=True, json_output=False).stdout
    assert table.startswith("3 queries") and "CLIP text (title)" in table and "{" not in table


def test_cli_release_publishes_then_says_nothing_changed(pipeline, tmp_path, capsys):
    from sqid.cli import main

    _, db_path, _ = pipeline
    argv = ["release", "--db", str(db_path), "--release-dir", str(tmp_path / "r"),
            "--coverage-threshold", "0.5", "--examples", str(tmp_path / "absent.parquet")]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(f"published v0.1.0 at {tmp_path / 'r' / 'v0.1.0'}")
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == "no new version: the data equal v0.1.0"
    assert main([*argv, "--version", "v0.1.0"]) == 2  # a taken version: a usage mistake
    assert "exists already" in capsys.readouterr().err
