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
from sqid.release.assemble import write_checksums
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
