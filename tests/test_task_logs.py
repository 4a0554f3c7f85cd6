"""Task logs a person can read: progress while a shard runs, no ERROR lines from a task
that succeeds, the gate's checks as a table, and other libraries' chatter kept out."""

from __future__ import annotations

import inspect
import logging

from sqid.progress import LOG_EVERY, Ticker


def test_shards_report_progress_at_least_every_ten_seconds():
    from sqid.scrape.shard import run_shard

    assert LOG_EVERY <= 10
    assert inspect.signature(run_shard).parameters["progress_every"].default == LOG_EVERY
    ticker = Ticker(every=0.05)
    assert not ticker.due()
    import time

    time.sleep(0.06)
    assert ticker.due() and not ticker.due()


def test_scrape_shard_logs_progress_while_it_runs(tmp_path, caplog):
    from sqid.localserve.site import ProductSite, SiteConfig
    from sqid.scrape.config import ScrapeConfig
    from sqid.scrape.shard import run_shard

    ids = [f"B0{i:08d}" for i in range(12)]
    with ProductSite(SiteConfig()) as site, caplog.at_level(logging.INFO, "sqid.scrape.shard"):
        config = ScrapeConfig(base_url=site.base_url, requests_per_second=8, concurrency=1)
        run_shard(ids, tmp_path, 0, config, "r1", progress_every=0.3)
    progress = [r.getMessage() for r in caplog.records if "products," in r.getMessage()]
    assert len(progress) >= 3, progress  # about 1.5 s of work, a line every 0.3 s
    assert progress[-1].startswith("shard 0: ") and "/12 products" in progress[-1]


def test_loading_clip_writes_nothing_to_stderr(tiny_clip, capfd):
    """Airflow shows a task's stderr as ERROR lines: the weight-loading bar must not go
    there, so a successful embed task has none."""
    from sqid.embed.clip import ClipEncoder

    capfd.readouterr()
    ClipEncoder(str(tiny_clip), device="cpu")
    assert capfd.readouterr().err == ""


def test_the_gate_ends_with_a_table_of_its_checks():
    from sqid.release.validate import CHECKS, Problem, summary

    passed = summary([]).splitlines()
    assert len(passed) == len(CHECKS) + 1
    assert all(line.split()[1] == "pass" for line in passed[1:])
    failed = summary([Problem("coverage", "too low"), Problem("coverage", "also"),
                      Problem("manifest", "unreadable")]).splitlines()  # fmt: skip
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in failed[1:]}
    assert rows["coverage"].startswith("FAIL (2)") and rows["manifest"].startswith("FAIL (1)")
    assert rows["files"].startswith("pass")


def test_library_chatter_stays_below_the_log_inside_quiet_libraries():
    from sqid.orchestration import quiet_libraries

    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}:{record.levelname}")

    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with quiet_libraries():
            logging.getLogger("mlcroissant._src.core").info("start-up noise")
            logging.getLogger("absl").debug("more noise")
            logging.getLogger("rdflib").warning("a real warning")
            logging.getLogger("sqid.release").info("checks of v0.1.0")
        logging.getLogger("mlcroissant").info("outside the block")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert seen == ["rdflib:WARNING", "sqid.release:INFO", "mlcroissant:INFO"]
