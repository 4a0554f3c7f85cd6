"""Ingest benchmark: DuckDB-native load vs a pandas read-then-insert of the same files.

Generates an SQD-shaped sample at full scale (about 2.6M examples), then loads it into
fresh DuckDB files three ways, each in a fresh process (peak memory is the process's own
high-water mark, see ``fresh.py``): a plain unkeyed copy (the anchor), the project's
loader, and a pandas read-then-insert, in interleaved rounds. Prints the medians of
rows/s and peak memory, and the ratios.

    python bench/bench_ingest.py                 # full SQD scale
    python bench/bench_ingest.py --queries 20000 # quicker
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqid.ingest.sample import FULL_SCALE_QUERIES
from sqid.ingest.sqd import CHECKSUM_MANIFEST, EXAMPLES, FILE_NAMES, PRODUCTS, SOURCES


def load_native(sample_dir: Path, db_path: Path) -> int:
    from sqid.ingest.load import LoadedFile, load_sqd

    files = {n: LoadedFile.as_found(sample_dir / n, n) for n in FILE_NAMES}
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


def load_plain_copy(sample_dir: Path, db_path: Path) -> int:
    """The anchor: the same three files copied into unkeyed tables, no checks at all."""
    from sqid import db

    con = db.connect(db_path)
    for statement, name in (("bench/copy_examples", EXAMPLES), ("bench/copy_products", PRODUCTS),
                            ("bench/copy_sources", SOURCES)):  # fmt: skip
        db.run(con, statement, {"path": str(sample_dir / name)})
    [(rows,)] = db.run(con, "bench/count_copies").fetchall()
    con.close()
    return rows


METHODS = {
    "plain copy (anchor)": load_plain_copy,
    "duckdb-native": load_native,
    "pandas-then-insert": load_pandas,
}


def child(method: str, sample_dir: str, db_path: str) -> int:
    Path(db_path).unlink(missing_ok=True)
    return METHODS[method](Path(sample_dir), Path(db_path))


def measure(method: str, sample_dir: Path, workdir: Path) -> tuple[int, float, float]:
    """Run one method in a fresh process; return (rows, seconds, peak GiB)."""
    from fresh import run_fresh

    db_path = workdir / f"{method.split()[0]}.duckdb"
    rows, seconds, peak = run_fresh(Path(__file__).resolve(), "child", method, str(sample_dir),
                                    str(db_path))  # fmt: skip
    db_path.unlink(missing_ok=True)
    return int(rows), seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=FULL_SCALE_QUERIES)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="figures are medians of these")
    args = parser.parse_args()

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
    # Rounds interleave the methods, so a slow moment of the machine hits all of them;
    # each figure is the median of its rounds.
    rounds = [{m: measure(m, sample_dir, workdir) for m in METHODS} for _ in range(args.rounds)]
    results = {
        m: tuple(statistics.median(r[m][i] for r in rounds) for i in range(3)) for m in METHODS
    }
    print(f"medians of {args.rounds} rounds, each method in a fresh process")
    print(f"{'method':<20} {'rows':>11} {'seconds':>8} {'rows/s':>12} {'peak GiB':>9}")
    for method, (rows, seconds, peak) in results.items():
        print(f"{method:<20} {rows:>11,} {seconds:>8.1f} {rows / seconds:>12,.0f} {peak:>9.2f}")
    (_, plain_s, _), (_, native_s, native_mem), (_, pandas_s, pandas_mem) = results.values()
    print(f"duckdb-native takes {native_s / plain_s:.2f}x the time of a plain copy, is "
          f"{pandas_s / native_s:.2f}x faster than pandas-then-insert and peaks at "
          f"{native_mem / pandas_mem:.2f}x its memory (synthetic SQD-shaped files)")  # fmt: skip


if __name__ == "__main__":
    main()
