"""The validator trusts nothing in the release: one tampered copy per way of lying."""

import json
import os
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sqid.imageurl import published_url
from sqid.ingest.sqd import EXAMPLES
from sqid.release.layout import write_checksums
from sqid.release.scores import ScoresError, read_scores
from sqid.release.validate import ValidationPolicy, validate_release
from sqid.release.versions import list_versions, next_version, parse_version

from .test_release import evaluate_cli, first_release, pipeline  # noqa: F401  (fixtures)


def tamper(first_release, tmp_path, change, fix_checksums=True):  # noqa: F811
    path, config = first_release
    copy = tmp_path / "copy"
    shutil.copytree(path, copy, symlinks=True)
    change(copy)
    if fix_checksums:
        write_checksums(copy)
    return validate_release(copy, config.validation_policy()), copy


def messages(problems):
    return "\n".join(str(p) for p in problems)


def edit_manifest(copy, fn):
    manifest = json.loads((copy / "manifest.json").read_text())
    fn(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))


def test_the_untouched_release_is_valid(first_release):  # noqa: F811
    path, config = first_release
    assert validate_release(path, config.validation_policy()) == []


def test_thresholds_come_from_the_policy_not_the_manifest(first_release, tmp_path):  # noqa: F811
    def lower_the_bar(copy):
        edit_manifest(
            copy, lambda m: m["config"].update(coverage_threshold=0.0, norm_band=[0, 1e30])
        )

    problems, copy = tamper(first_release, tmp_path, lower_the_bar)
    assert problems == []  # the manifest's config is not a setting: nothing changed
    strict = validate_release(copy, ValidationPolicy(coverage_threshold=0.99))
    assert any(p.check == "coverage" for p in strict)


def test_every_image_vector_null(first_release, tmp_path):  # noqa: F811
    def null_images(copy):
        def change(t):
            index = t.schema.get_field_index("clip_image_features")
            return t.set_column(
                index, t.schema.field(index), pa.nulls(t.num_rows, t.schema.field(index).type)
            )

        pq.write_table(
            change(pq.read_table(copy / "product_features.parquet")),
            copy / "product_features.parquet",
        )

    problems, _ = tamper(first_release, tmp_path, null_images)
    assert "clip_image_features present for 0 of" in messages(problems)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["counts"].update(test_products=999), "counts['test_products']"),
        (lambda m: m["counts"]["statuses"]["test"].update(ok=999), "counts['statuses']"),
        (lambda m: m["coverage"].update(test=1.0), "coverage['test']"),
        (lambda m: m["model"].update(dimension=768), "model['dimension']"),
        (
            lambda m: m["rows"].update({"query_features.parquet": 1}),
            "rows['query_features.parquet']",
        ),
    ],
)
def test_every_manifest_claim_is_checked(first_release, tmp_path, change, expected):  # noqa: F811
    problems, _ = tamper(first_release, tmp_path, lambda copy: edit_manifest(copy, change))
    assert expected in messages(problems)


def test_the_status_file_is_checked(first_release, tmp_path):  # noqa: F811
    def flip_status(copy):
        table = pq.read_table(copy / "product_image_status.parquet")
        index = table.schema.get_field_index("status")
        ok = pc.equal(table.column("status"), "ok")
        flipped = pc.if_else(ok, "not_found", table.column("status"))
        pq.write_table(
            table.set_column(index, "status", flipped), copy / "product_image_status.parquet"
        )

    problems, _ = tamper(first_release, tmp_path, flip_status)
    assert "product_image_status.parquet: set, status or image_url disagree" in messages(problems)


def test_a_data_file_replaced_by_a_symlink(first_release, tmp_path):  # noqa: F811
    outside = tmp_path / "outside.csv"

    def link(copy):
        shutil.copy(copy / "supp_product_image_urls.csv", outside)
        (copy / "supp_product_image_urls.csv").unlink()
        os.symlink(outside, copy / "supp_product_image_urls.csv")

    problems, _ = tamper(first_release, tmp_path, link)
    (problem,) = [p for p in problems if "symbolic links" in p.message]  # reported once
    assert problem.rows == ["supp_product_image_urls.csv"]


def test_checksum_names_may_not_leave_the_release(first_release, tmp_path):  # noqa: F811
    def point_outside(copy):
        with (copy / "SHA256SUMS").open("a") as fh:
            fh.write(f"{'0' * 64}  ../../etc/hostname\n{'0' * 64}  /etc/hostname\n")

    problems, _ = tamper(first_release, tmp_path, point_outside, fix_checksums=False)
    assert "lines that are not '<sha256>  <file name in the release>'" in messages(problems)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("manifest.json", "{not json", "manifest.json is not valid JSON"),
        ("manifest.json", "[1, 2]", "must hold a JSON object"),
        (
            "product_image_urls.csv",
            'product_id,image_url\n"B000000000,x\n',
            "not a readable UTF-8 CSV",
        ),
        (
            "supp_product_image_urls.csv",
            b"product_id,image_url\n\xff\xfe,x\n",
            "not a readable UTF-8 CSV",
        ),
        ("SHA256SUMS", b"\xff\xfe", "SHA256SUMS is not UTF-8 text"),
    ],
)
def test_malformed_files_give_a_reason(first_release, tmp_path, name, content, expected):  # noqa: F811
    def write(copy):
        target = copy / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)

    problems, _ = tamper(first_release, tmp_path, write, fix_checksums=name != "SHA256SUMS")
    assert expected in messages(problems)


def test_urls_must_be_canonical(first_release, tmp_path):  # noqa: F811
    def smuggle(copy):
        path = copy / "product_image_urls.csv"
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines[1:], 1):
            pid, url = line.split(",", 1)
            if url:
                lines[i] = f"{pid},http://127.0.0.1:1\\@m.media-amazon.com/images/I/71abcdefghL.jpg"
                break
        path.write_text("\n".join(lines) + "\n")

    problems, _ = tamper(first_release, tmp_path, smuggle)
    assert "not a canonical Amazon product image URL" in messages(problems)


def test_the_dimension_comes_from_the_model_id(first_release, tmp_path):  # noqa: F811
    def claim_clip_large(copy):
        edit_manifest(copy, lambda m: m["model"].update(model_id="openai/clip-vit-large-patch14"))

    problems, _ = tamper(first_release, tmp_path, claim_clip_large)
    assert "expected 768 for 'openai/clip-vit-large-patch14'" in messages(problems)


@pytest.mark.parametrize(
    "name",
    # A trailing newline, Arabic-Indic digits, a leading zero, and other near-misses.
    ["v0.2.0\n", "v\u0660.\u0662.\u0660", "v01.2.0", "v1.2", "v1.2.3.4", "1.2.3", " v1.2.3"],
)
def test_versions_have_one_spelling(name, tmp_path):
    assert parse_version(name) is None
    with pytest.raises(ValueError, match=r"v1\.2\.3"):
        next_version(tmp_path, explicit=name)
    if "\n" not in name and "/" not in name:
        (tmp_path / name).mkdir()
        assert list_versions(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("query_id,product_id,score\n1,B000000000,nan\n", "NaN or infinite"),
        (
            "query_id,product_id,score\n1,B000000000,0.5\n1,B000000000,0.7\n",
            "scored more than once",
        ),
        ("query_id,product_id,score\n1,B000000000,high\n", "not numbers"),
        ("query,product,score\n1,B000000000,0.5\n", "missing query_id, product_id"),
    ],
)
def test_score_files_are_refused_with_a_reason(tmp_path, content, expected):
    path = tmp_path / "scores.csv"
    path.write_text(content)
    with pytest.raises(ScoresError, match=expected):
        read_scores(path)


def test_evaluate_cli_gives_one_line_errors(first_release, pipeline, tmp_path):  # noqa: F811
    path, _ = first_release
    examples = pipeline[0] / "sqd" / EXAMPLES
    scores = tmp_path / "scores.csv"
    scores.write_text("query_id,product_id,score\n1,B000000000,nan\n")
    out = evaluate_cli(path, examples, scores)
    assert out.returncode == 2 and "NaN or infinite" in out.stderr
    assert "Traceback" not in out.stderr
    scores.write_text("query_id,product_id,score\n1,B000000000,0.5\n999,B999999999,0.1\n")
    assert json.loads(evaluate_cli(path, examples, scores, check=True).stdout)["unknown_pairs"] == 1


def test_stored_urls_are_published_in_canonical_form():
    # Rows scraped by earlier versions may hold http:// or protocol-relative URLs.
    canonical = "https://m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg"
    assert (
        published_url("http://M.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg") == canonical
    )
    assert published_url("//m.media-amazon.com/images/I/71abcdefghL._AC_SX425_.jpg") == canonical
    # One that fails the gate stays as stored, for the validation gate to refuse and name.
    smuggled = "https://u@m.media-amazon.com/images/I/71abcdefghL.jpg"
    assert published_url(smuggled) == smuggled and published_url("") == ""
