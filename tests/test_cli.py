"""The command line: one-line errors with exit codes for user mistakes, help, version."""

import subprocess
import sys

import pytest
from sqid.cli import main


def test_version_and_help_of_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("sqid ")
    for command in ("sample", "parse-page", "audit-urls", "validate", "evaluate", "release"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        usage = capsys.readouterr().out
        assert usage.startswith(f"usage: sqid {command}") and len(usage.splitlines()) > 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "/nonexistent"], "is not a release directory"),
        (["audit-urls", "/nonexistent.csv"], "cannot read"),
        (["evaluate", "/nonexistent", "--examples", "/nonexistent.parquet"], "no such release"),
        (["parse-page", "/nonexistent.html"], "cannot read"),
    ],
)
def test_user_mistakes_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_audit_urls_names_missing_columns(tmp_path, capsys):
    path = tmp_path / "urls.csv"
    path.write_text("id,url\nB000000001,https://m.media-amazon.com/images/I/71abcdefgh.jpg\n")
    assert main(["audit-urls", str(path)]) == 2
    assert "needs the columns product_id and image_url" in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error(tmp_path):
    """`sqid audit-urls big.csv | head`: 2 MB of report into a reader that stops at once."""
    path = tmp_path / "urls.csv"
    rows = [
        f"B{i:09d},https://m.media-amazon.com/images/I/{i // 5:010d}.jpg" for i in range(50_000)
    ]
    path.write_text("product_id,image_url\n" + "\n".join(rows) + "\n")
    pipeline = subprocess.run(
        f"{sys.executable} -m sqid.cli audit-urls {path} | head -c 1",
        shell=True, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "BrokenPipeError" not in pipeline.stderr and "Traceback" not in pipeline.stderr


def test_a_malformed_release_version_is_a_usage_error(tmp_path, capsys):
    db = tmp_path / "sqid.duckdb"
    db.write_bytes(b"")
    argv = ["release", "--db", str(db), "--release-dir", str(tmp_path / "r"), "--version", "1.2"]
    with pytest.raises(SystemExit) as exit_:  # refused by the flag's declaration
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "v1.2.3" in err.splitlines()[-1] and "Traceback" not in err


def test_searching_a_release_that_does_not_exist_says_so(tmp_path, capsys):
    assert main(["search", str(tmp_path / "v9.9.9"), "--text", "shoes"]) == 2
    err = capsys.readouterr().err
    assert "no such release" in err and "search index" not in err
    assert len(err.strip().splitlines()) == 1
