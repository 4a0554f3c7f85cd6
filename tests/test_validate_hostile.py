"""The validator never crashes: every hostile release file is a problem line and exit 1,
never a traceback. Eight cases that once raised, then a fuzz over every release file."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqid.release.layout import write_checksums
from sqid.release.validate import check_release

from .test_release import first_release, pipeline  # noqa: F401  (fixtures)


@pytest.fixture
def copy(first_release, tmp_path):  # noqa: F811
    path, _ = first_release
    target = tmp_path / "copy"
    shutil.copytree(path, target, symlinks=True)
    return target


def _policy(first_release):  # noqa: F811
    return first_release[1].validation_policy()


def _truncate(name):
    def change(copy):
        data = (copy / name).read_bytes()
        (copy / name).write_bytes(data[: len(data) // 2])

    return change


def _corrupt_pages(name):
    """Keep the footer (so the file opens) and scribble over the data pages."""

    def change(copy):
        data = bytearray((copy / name).read_bytes())
        for i in range(8, len(data) // 2):
            data[i] = (data[i] * 31 + 7) & 0xFF
        (copy / name).write_bytes(bytes(data))

    return change


def _null_and_duplicate_ids(copy):
    table = pq.read_table(copy / "product_image_status.parquet")
    ids = table.column("product_id").to_pylist()
    ids[0], ids[1] = None, ids[2]
    index = table.schema.get_field_index("product_id")
    table = table.set_column(index, table.schema.field(index), pa.array(ids, pa.string()))
    pq.write_table(table, copy / "product_image_status.parquet")


def _bad_utf8_csv(copy):
    path = copy / "product_image_urls.csv"
    path.write_bytes(path.read_bytes() + b"B0BADBYTES,\xff\xfe\xfa\n")


def _latin1_sums(copy):
    path = copy / "SHA256SUMS"
    path.write_bytes(path.read_bytes() + b"0" * 64 + "  caf\xe9.txt\n".encode("latin-1"))


def _nested(name):
    def change(copy):
        (copy / name).write_text("[" * 200_000 + "]" * 200_000)

    return change


CASES = {
    "truncated_vectors": _truncate("product_features.parquet"),
    "corrupt_feature_pages": _corrupt_pages("product_features.parquet"),
    "corrupt_status_pages": _corrupt_pages("product_image_status.parquet"),
    "null_and_duplicate_status_ids": _null_and_duplicate_ids,
    "invalid_utf8_csv": _bad_utf8_csv,
    "non_utf8_sums": _latin1_sums,
    "nested_manifest": _nested("manifest.json"),
    "nested_croissant": _nested("croissant.json"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_file_is_a_problem_line_and_exit_1(first_release, copy, case):  # noqa: F811
    CASES[case](copy)
    if case not in ("non_utf8_sums",):
        write_checksums(copy)  # the lie is inside the file, not in its checksum
    problems = check_release(copy, _policy(first_release))
    assert problems, case
    cli = subprocess.run([sys.executable, "-m", "sqid.cli", "validate", str(copy)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    assert "Traceback" not in cli.stderr + cli.stdout
    if case == "null_and_duplicate_status_ids":
        text = "\n".join(str(p) for p in problems)
        assert "rows without a product_id" in text and "duplicate product_id" in text


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "truncate", "insert", "zero"])
    if not data:
        return bytes([rng.randrange(256)])
    at = rng.randrange(len(data))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return (
            data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))) + data[at:]
        )
    return data[:at] + b"\x00" * min(64, len(data) - at) + data[at + 64 :]


FUZZ_ROUNDS = 3


@pytest.mark.slow
def test_mutated_bytes_of_any_release_file_never_crash_the_validator(first_release, tmp_path):  # noqa: F811
    """Every file of the release, a few seeded mutations each (bit flips, cuts, inserted
    and zeroed bytes), with and without fixed checksums: always a list of problems."""
    path, config = first_release
    files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
    rng = random.Random(20261206)
    for n, name in enumerate(files * FUZZ_ROUNDS):
        target = tmp_path / f"fuzz-{n}"
        shutil.copytree(path, target, symlinks=True)
        (target / name).write_bytes(_mutate((path / name).read_bytes(), rng))
        if rng.random() < 0.5:
            write_checksums(target)
        problems = check_release(target, config.validation_policy(),
                                 croissant=name.name == "croissant.json")  # fmt: skip
        assert isinstance(problems, list), name
        shutil.rmtree(target)


def _messages(problems) -> str:
    return "\n".join(str(p) for p in problems)


def test_only_the_layouts_files_may_be_listed(first_release, copy):  # noqa: F811
    (copy / "notes.html").write_text("<p>read me</p>")
    write_checksums(copy)  # listed, with a right checksum
    problems = check_release(copy, _policy(first_release), croissant=False)
    assert "not part of the SQID release layout" in _messages(problems)
    assert "notes.html" in _messages(problems)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("report.html", "<!doctype html><script>fetch('/api/v2/connections')</script>"),
        ("report.html", None),  # the real report, one number changed
        ("README.md", "# SQID\n\nThe best dataset ever, CC0.\n"),
        ("CHANGELOG.md", "# SQID v0.1.0\n\nFirst release.\n\nNothing changed.\n"),
    ],
)
def test_the_documents_must_be_what_the_data_make(first_release, copy, name, content):  # noqa: F811
    if content is None:
        text = (copy / name).read_text()
        content = text.replace("<h1>", "<h1>1 ", 1)
    (copy / name).write_text(content)
    write_checksums(copy)
    problems = check_release(copy, _policy(first_release), croissant=False)
    assert f"{name} is not the" in _messages(problems)


def test_a_lone_release_still_refuses_an_active_report(first_release, tmp_path):  # noqa: F811
    """Downloaded without the release its changelog compares with, the report cannot
    be made again, but a report that scripts is still refused."""
    path, config = first_release
    lone = tmp_path / "downloads" / path.name
    shutil.copytree(path, lone)
    changelog = lone / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("First release.", "Compared with v0.0.9."))
    (lone / "report.html").write_text("<html><body onload=alert(1)>report</body></html>")
    write_checksums(lone)
    problems = check_release(lone, config.validation_policy(), croissant=False)
    assert "report.html holds active content" in _messages(problems)


def test_the_untouched_release_passes_every_check_including_documents(first_release):  # noqa: F811
    path, config = first_release
    assert check_release(path, config.validation_policy()) == []
