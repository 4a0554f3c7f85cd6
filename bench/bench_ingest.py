"""Ingest benchmark: DuckDB-native load vs a pandas read-then-insert of the same files.

Generates an SQD-shaped sample at full scale (about 2.6M examples), then loads it twice
into fresh DuckDB files, each method in its own process so that peak memory (max RSS)
is measured per method. Prints rows/s, peak memory and the ratio, measured in one run.

    python bench/bench_ingest.py                 # full SQD scale
    python bench/bench_ingest.py --queries 20000 # quicker
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqid.ingest.sample import FULL_SCALE_QUERIES
from sqid.ingest.sqd import CHECKSUM_MANIFEST, EXAMPLES, FILE_NAMES, PRODUCTS, SOURCES


def load_native(sample_dir: Path, db_path: Path) -> int:
    from sqid.ingest.load import LoadedFile, load_sqd

    files = {n: LoadedFile(sample_dir / n, n, 0, "") for n in FILE_NAMES}
    return sum(load_sqd(db_path, files).values())


def load_pandas(sample_dir: Path, db_path: Path) -> int:
    import pandas as pd
    from sqid import db

    frames = {
        EXAMPLES: pd.read_parquet(sample_dir / EXAMPLES),
        PRODUCTS: pd.read_parquet(sample_dir / PRODUCTS),
        SOURCES: pd.read_csv(sample_dir / SOURCES),
    }
    con = db.connect(db_path)
    with db.transaction(con):
        db.run_script(con, "ingest/create_sqd_tables")
        for name, statement in (
            (EXAMPLES, "bench/insert_examples_from_frame"),
            (PRODUCTS, "bench/insert_products_from_frame"),
            (SOURCES, "bench/insert_sources_from_frame"),
        ):
            con.register("frame", frames[name])
            db.run(con, statement)
            con.unregister("frame")
    rows = sum(db.fetch_dict(con, "ingest/count_sqd_tables").values())
    con.close()
    return rows


METHODS = {"duckdb-native": load_native, "pandas-then-insert": load_pandas}


def measure(method: str, sample_dir: Path, workdir: Path) -> tuple[int, float, float]:
    """Run one method in a child process; return (rows, seconds, peak RSS MiB)."""
    db_path = workdir / f"{method}.duckdb"
    db_path.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", method, str(sample_dir), str(db_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{method} failed with status {status}")
    rows = int(proc.stdout.read().strip())
    return rows, seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=FULL_SCALE_QUERIES)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SAMPLE", "DB"))
    args = parser.parse_args()

    if args.child:
        method, sample, db_path = args.child
        print(METHODS[method](Path(sample), Path(db_path)))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sqid-bench-"))
    sample_dir = workdir / f"sqd-{args.queries}"
    if not (sample_dir / CHECKSUM_MANIFEST).exists():
        from sqid.ingest.sample import generate

        t = time.perf_counter()
        summary = generate(sample_dir, n_queries=args.queries, seed=0)
        print(
            f"generated {summary.examples:,} examples, {summary.products:,} products, "
            f"{summary.queries:,} queries in {time.perf_counter() - t:.0f}s"
        )
    results = {m: measure(m, sample_dir, workdir) for m in METHODS}
    print(f"{'method':<20} {'rows':>11} {'seconds':>8} {'rows/s':>12} {'peak MiB':>9}")
    for method, (rows, seconds, peak) in results.items():
        print(f"{method:<20} {rows:>11,} {seconds:>8.1f} {rows / seconds:>12,.0f} {peak:>9,.0f}")
    (_, native_s, native_mem), (_, pandas_s, pandas_mem) = results.values()
    print(
        f"duckdb-native is {pandas_s / native_s:.2f}x faster than pandas-then-insert "
        f"and peaks at {native_mem / pandas_mem:.2f}x its memory"
    )


if __name__ == "__main__":
    main()
