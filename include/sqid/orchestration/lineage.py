"""What each task reads and writes, for OpenLineage (``apache-airflow-providers-openlineage``,
the ``lineage`` extra): the DuckDB tables as the tasks' inlets and outlets, declared
where the DAG is, and the files added to them while a task runs, when it knows them (a
run's folder, a release's version).

Without the provider nothing is sent and this costs nothing: the declarations are plain
objects, which Airflow's own asset handling passes over.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from airflow.providers.common.compat.lineage.entities import File, Table

CLUSTER = "duckdb:sqid"
"""The DuckDB database's namespace: the same wherever the file lies, so lineage from a
laptop and from the cluster names the same tables."""
DATABASE = "main"

SQD = ("sqd_examples", "sqd_products", "sqd_sources", "sqd_files")
SETS = ("sqid_products", "sqid_queries", "sqid_set_rule")
SCRAPED = ("scrape_attempts", "product_images")
EMBEDDED = ("image_fetches", "image_embeddings", "text_embeddings")
TELEMETRY = ("run_stats", "run_counts", "run_latency")


def tables(*groups: Iterable[str], schema: str = DATABASE) -> list[Table]:
    """The DuckDB tables of ``groups`` (in ``schema``: ``staging`` before an ingest's
    gate swaps them in) as lineage entities, each once."""
    names = dict.fromkeys(name for group in groups for name in group)
    return [Table(cluster=CLUSTER, database=schema, name=name) for name in names]


def files(reads: Iterable[Path | str] = (), writes: Iterable[Path | str] = ()) -> None:
    """Add files (or folders) the running task read and wrote to its inlets and outlets,
    where the OpenLineage listener reads them when the task ends. Outside a task (a
    function called on its own) there is no task to report for, and nothing happens."""
    from airflow.sdk import get_current_context

    try:
        task = get_current_context()["task"]
    except Exception:  # no running task: Airflow raises its own error type here
        return
    for side, paths in ((task.inlets, reads), (task.outlets, writes)):
        known = {getattr(item, "url", None) for item in side}
        for path in paths:
            url = _uri(path)
            if url not in known:
                side.append(File(url=url))
                known.add(url)


def _uri(path: Path | str) -> str:
    text = str(path)
    return text if "://" in text else Path(os.path.abspath(text)).as_uri()
