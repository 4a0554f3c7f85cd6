"""Run progress from shard files: rows of finished part files against the work list."""

from __future__ import annotations

import io
import time

import pyarrow as pa
import pyarrow.parquet as pq
from sqid.progress import ProgressBar, newest_run, run_progress


def _parquet(path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"product_id": [f"B{i:09d}" for i in range(rows)]}), path)


def test_scrape_progress_counts_checkpointed_outcomes(tmp_path):
    run = tmp_path / "scrape" / "manual__1"
    run.mkdir(parents=True)
    assert run_progress(run, "scrape") is None  # not planned yet
    _parquet(run / "worklist.parquet", 10)
    _parquet(run / "shard-00000" / "outcomes-00000.parquet", 3)
    _parquet(run / "shard-00001" / "outcomes-00000.parquet", 4)
    _parquet(run / "shard-00001" / "attempts-00000.parquet", 9)  # attempts are not products
    (run / "shard-00001" / ".outcomes-00001.parquet.tmp").write_bytes(b"half written")
    progress = run_progress(run, "scrape")
    assert (progress.done, progress.total) == (7, 10)


def test_embed_progress_counts_images_fetched_and_texts_embedded(tmp_path):
    run = tmp_path / "run"
    _parquet(run / "image_work.parquet", 5)
    _parquet(run / "text_work.parquet", 7)
    _parquet(run / "image-00000" / "fetches-00000.parquet", 5)
    _parquet(run / "image-00000" / "vectors-00000.parquet", 4)  # not counted twice
    _parquet(run / "text-00000" / "vectors-00000.parquet", 2)
    progress = run_progress(run, "embed")
    assert (progress.done, progress.total) == (7, 12)


def test_only_a_run_started_after_the_bar_is_followed(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    since = time.time() + 5
    assert newest_run(tmp_path, since) is None
    assert newest_run(tmp_path, 0) == old
    assert newest_run(tmp_path / "missing", 0) is None


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_on_a_terminal_and_not_elsewhere(tmp_path):
    kind_dir = tmp_path / "scrape"
    terminal = _Terminal()
    with ProgressBar(kind_dir, "scrape", terminal, interval=0.05):
        run = kind_dir / "manual__2"
        _parquet(run / "worklist.parquet", 4)
        _parquet(run / "shard-00000" / "outcomes-00000.parquet", 2)
        time.sleep(0.3)
    assert "2/4" in terminal.getvalue() and "scrape" in terminal.getvalue()

    piped = io.StringIO()
    with ProgressBar(kind_dir, "scrape", piped, interval=0.05):
        time.sleep(0.1)
    assert piped.getvalue() == ""
