"""``make demo``: the whole pipeline, end to end, on generated sample data.

Everything runs on the embedded default: the DAGs run in-process through Airflow
(``dag.test()``) against SQLite metadata under ``$SQID_HOME/airflow``, data lands in
the DuckDB file ``$SQID_HOME/sqid.duckdb``, and the SQD files are served from a
loopback HTTP server, so the real download path is exercised without the internet.
"""

from __future__ import annotations

import logging
import sys

from sqid import db
from sqid.airflow_local import prepare, test_dag
from sqid.localserve.files import FileServer
from sqid.sample import generate
from sqid.sqd import CHECKSUM_MANIFEST

DEMO_QUERIES = 3_000
DEMO_SEED = 7

log = logging.getLogger("sqid.demo")


def main() -> int:
    settings = prepare()
    sample_dir = settings.data_dir / "demo_sqd"
    if not (sample_dir / CHECKSUM_MANIFEST).exists():
        summary = generate(sample_dir, n_queries=DEMO_QUERIES, seed=DEMO_SEED)
        print(f"generated sample SQD: {summary.examples} examples, {summary.products} products")

    with FileServer(sample_dir) as server:
        state = str(
            test_dag(
                "sqid_ingest",
                {"source": server.base_url, "checksums": server.url(CHECKSUM_MANIFEST)},
            ).state
        )
    print(f"sqid_ingest: {state}")
    if state != "success":
        return 1

    con = db.connect(settings.duckdb_path, read_only=True)
    try:
        tables = db.fetch_dict(con, "ingest/count_sqd_tables")
        sets = db.fetch_dict(con, "derive/count_sqid_sets")
    finally:
        con.close()
    print()
    print("SQID demo finished")
    print(f"  DuckDB file     {settings.duckdb_path}")
    print(f"  SQD tables      {tables}")
    print(f"  SQID sets       {sets}")
    print(f"  Airflow home    {settings.home / 'airflow'} (make airflow to browse the runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
