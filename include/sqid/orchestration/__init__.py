"""Airflow glue shared by the DAG files: Assets, pools, default arguments, connections.

The only part of the package that imports Airflow. What a DAG file needs when it is
parsed lives here and is light; what a task does lives in one module per stage
(``orchestration.ingest``, ``.scrape``, ``.embed``, ``.release``), one function per
task, imported inside the task so that parsing stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from airflow.sdk import Asset

from sqid.config import DUCKDB_CONN_ID as DUCKDB_CONN_ID
from sqid.config import SQL_DIR, ConfigError

if TYPE_CHECKING:
    from airflow.sdk import DAG

P = ParamSpec("P")
R = TypeVar("R")

OWNER = "sqid"
DUCKDB_POOL = "sqid_duckdb"
"""One slot: every task that opens the DuckDB file takes it, since DuckDB has one writer."""

POOLS: dict[str, tuple[int, str]] = {
    DUCKDB_POOL: (1, "Serialises tasks that open the SQID DuckDB file (single writer)"),
}

SQD_TABLES = Asset(name="sqid.sqd_tables", uri="sqid://duckdb/sqd_tables", group="sqid")
"""The raw SQD tables (sqd_examples, sqd_products, sqd_sources) in DuckDB."""
SQID_SETS = Asset(name="sqid.sqid_sets", uri="sqid://duckdb/sqid_sets", group="sqid")
"""The derived SQID sets (sqid_products, sqid_queries) in DuckDB."""


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


TIMEOUT_QUICK = minutes(10)
"""Bookkeeping that reads or writes a few rows: announcing, planning, flags."""
TIMEOUT_TABLES = minutes(45)
"""A pass over the SQD-sized tables or a whole release in DuckDB (about 30 s to 1 min at
SQID's full scale here; the margin is for slow disks and a busy machine)."""
TIMEOUT_DOWNLOAD = minutes(90)
"""One SQD file (the examples parquet is about 1 GB) at 0.25 MB/s or better, retries
and their backoff included."""
TIMEOUT_SCRAPE_SHARD = minutes(180)
"""A shard of 500 pages at the default 1 request/s is about 9 minutes; captcha pauses,
throttling and slow pages can stretch it many times over, and a retried shard resumes
from its checkpoint, so a lost try costs little."""
TIMEOUT_EMBED_SHARD = minutes(240)
"""A shard of 2,000 images: seconds on a GPU, about 2.2 hours with ViT-L/14 on a CPU
(0.25 images/s), plus the downloads."""


DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    # Every task has a deadline; the tasks whose work is larger or smaller set their own.
    "execution_timeout": TIMEOUT_TABLES,
}

TEMPLATE_SEARCHPATH = [str(SQL_DIR)]


def cron(expression: str):
    """A UTC cron timetable whose first run is the next time, never one just past.

    With no ``start_date``, Airflow starts a run for the latest past time when a DAG is
    unpaused within 10% of an interval after it; ``run_immediately=False`` is read like
    None (that 10% rule), so the buffer is given as zero instead.
    """
    from airflow.timetables.trigger import CronTriggerTimetable

    return CronTriggerTimetable(expression, timezone="UTC", run_immediately=timedelta(0))


SCRAPE_POOL = "sqid_scrape"
POOLS[SCRAPE_POOL] = (4, "Scrape shards running at once across the cluster (politeness)")
SCRAPE_RETRY_DELAY = timedelta(seconds=float(os.environ.get("SQID_SCRAPE_RETRY_DELAY", "300")))
"""Wait before a failed or lost scrape shard runs again (doubling on each retry); a
retried shard resumes from its checkpoint. Long by default: a shard stopped by captchas
needs the site to cool down."""
AMAZON_CONN_ID = "sqid_amazon"
"""Connection (type ``generic``) to the product site: schema, host, port; extra:
requests_per_second, concurrency and other ScrapeConfig fields."""
PROXY_CONN_ID = "sqid_proxy"
"""Optional HTTP proxy for the scraper (host, port, login, password)."""
PRODUCT_IMAGES = Asset(name="sqid.product_images", uri="sqid://duckdb/product_images", group="sqid")
"""Scraped main-image outcomes (product_images, scrape_attempts) in DuckDB."""
EMBED_POOL = "sqid_embed"
POOLS[EMBED_POOL] = (1, "Embedding shards at once (one per GPU in the production stack)")
EMBED_QUEUE = os.environ.get("SQID_EMBED_QUEUE", "default")
"""Celery queue of the embedding tasks: ``gpu`` in the production stack."""
EMBEDDINGS = Asset(name="sqid.embeddings", uri="sqid://duckdb/embeddings", group="sqid")
"""CLIP vectors (image_embeddings, text_embeddings, image_fetches) in DuckDB."""
RELEASE = Asset(name="sqid.release", uri="sqid://releases/latest", group="sqid")
"""The newest published SQID release (row counts as Asset metadata)."""


def optional_connection(conn_id: str):
    """The Airflow connection ``conn_id``, or None where it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def run_is_active(dag_id: str) -> Callable[[str], bool]:
    """Whether a run of ``dag_id`` is still queued or running, asked of Airflow from inside
    a task. A claim of a run that failed or was deleted before it merged holds nothing."""

    def active(run_id: str) -> bool:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        try:
            state = RuntimeTaskInstance.get_dagrun_state(dag_id, run_id)
        except Exception as exc:  # no such run any more (deleted), or the API cannot say
            logging.getLogger(__name__).warning(
                "cannot read the state of run %s of %s (%s): its claim is not honoured",
                run_id, dag_id, exc,
            )  # fmt: skip
            return False
        return state in ("queued", "running")  # a str enum: compare by value

    return active


def run_dir_for(kind: str, run_id: str) -> str:
    """A filesystem-safe folder for one DAG run's shard files."""
    from sqid.config import load_settings

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return str(load_settings().data_dir / kind / safe)


def fail_fast(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a task body; a :class:`~sqid.config.ConfigError` (an unknown Param, a source
    that does not exist) fails the task at once, without the retries and backoff meant
    for the network, with the mistake as the task's error."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return run


RUN_VERDICT = "run_verdict"


def fail_run_when_a_task_fails(dag: DAG) -> DAG:
    """Give ``dag`` a last task that fails whenever any other task of the run failed.

    Airflow sets a run's state from its leaf tasks alone, so a failure followed by an
    ``all_done`` merge and skipped announcements would end the run green. This task is
    downstream of every other one: it fails as soon as one of them fails (the run still
    ends only when no task is left running) and is skipped when none did, so a run is
    failed exactly when a task failed, scheduled, manual and backfill runs alike.
    """
    from airflow.sdk import task

    others = list(dag.tasks)

    def verdict() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed: its log says why")

    with dag:
        last = task(
            task_id=RUN_VERDICT,
            trigger_rule="one_failed",
            retries=0,
            execution_timeout=TIMEOUT_QUICK,
            doc_md="Fails the run when any other task failed (Airflow reads only leaves).",
        )(verdict)()
    for other in others:
        other >> last
    return dag


OWN_LOGGERS = ("sqid", "airflow", "task")
"""Loggers whose INFO lines a task log keeps inside :func:`quiet_libraries`."""


class _OwnRecordsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith(OWN_LOGGERS)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Below WARNING, only the project's and Airflow's own records reach the task log
    in this block: libraries loaded on the way (Croissant's, its RDF and JSON-LD
    stack) otherwise bury the lines a person opened the log for."""
    only_own = _OwnRecordsOnly()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(only_own)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(only_own)
