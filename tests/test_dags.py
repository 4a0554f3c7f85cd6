"""DAG integrity: every DAG imports, is documented, owned, tagged and retried, and parses
without heavy imports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqid.orchestration import DUCKDB_POOL, POOLS

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
HEAVY = ("torch", "transformers", "pandas", "PIL", "bs4", "lxml", "mlcroissant", "numpy")
# Retrying these cannot help: a failed release check or an existing version is final.
NO_RETRIES = {("sqid_release", "validate"), ("sqid_release", "publish")}
VERDICT = "run_verdict"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release"}


def test_every_dag_is_documented_tagged_owned_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert "sqid" in dag.tags, dag_id
        # One run at a time: runs share the DuckDB file and a stage's shard folders.
        assert dag.max_active_runs == 1, dag_id
        for task in dag.tasks:
            assert task.owner == "sqid", (dag_id, task.task_id)
            assert task.execution_timeout is not None, (dag_id, task.task_id)
            if (dag_id, task.task_id) in NO_RETRIES or task.task_id == VERDICT:
                assert task.retries == 0
                continue
            assert task.retries >= 1, (dag_id, task.task_id)
            assert task.retry_exponential_backoff, (dag_id, task.task_id)


def test_tasks_touching_duckdb_share_the_single_writer_pool(dagbag):
    dag = dagbag.dags["sqid_ingest"]
    duckdb_tasks = [t for t in dag.tasks if t.task_id.startswith(("load", "derive", "check_"))]
    assert duckdb_tasks
    assert all(t.pool == DUCKDB_POOL for t in duckdb_tasks)
    assert POOLS[DUCKDB_POOL][0] == 1


def test_ingest_params_and_assets(dagbag):
    dag = dagbag.dags["sqid_ingest"]
    assert set(dag.params) == {
        "source",
        "checksums",
        "force_download",
        "min_supp_judgements",
        "check_published_counts",
        "min_rows",
        "max_row_loss",
        "min_title_share",
    }
    from airflow.sdk import Asset

    outlets = {t.task_id: {a.name for a in t.outlets if isinstance(a, Asset)} for t in dag.tasks
               if any(isinstance(a, Asset) for a in t.outlets)}  # fmt: skip
    # The raw tables change when the gate swaps them in (derive), not when they are staged.
    assert outlets == {"derive": {"sqid.sqd_tables"}, "announce": {"sqid.sqid_sets"}}


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_DIR.glob("*.py")))
def test_parsing_does_not_import_heavy_modules(dag_file):
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(DAGS_DIR / dag_file)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _asset_names(condition) -> set[str]:
    if condition is None or (not hasattr(condition, "objects") and not hasattr(condition, "name")):
        return set()  # None, or a time-only timetable's empty condition
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(o) for o in condition.objects))
    return {condition.name}


def test_stages_are_chained_by_assets(dagbag):
    """Each stage is scheduled by the Assets the stage before it emits."""
    emitted = {
        dag_id: {a.name for t in dag.tasks for a in t.outlets}
        for dag_id, dag in dagbag.dags.items()
    }
    consumed = {
        dag_id: _asset_names(getattr(dag.timetable, "asset_condition", None))
        for dag_id, dag in dagbag.dags.items()
    }
    assert consumed["sqid_scrape"] == {"sqid.sqid_sets"} <= emitted["sqid_ingest"]
    assert consumed["sqid_embed"] == {"sqid.product_images"} <= emitted["sqid_scrape"]
    assert "sqid.product_images" in emitted["sqid_scrape"]
    assert consumed["sqid_release"] == {"sqid.embeddings"} <= emitted["sqid_embed"]
    assert emitted["sqid_release"] == {"sqid.release"}


def test_every_param_is_described_and_its_default_passes_airflow_validation(dagbag):
    """What the Trigger form and the REST API check: with the defaults, every DAG can be
    triggered (an empty string would be a missing required value in the form)."""
    for dag_id, dag in dagbag.dags.items():
        assert dag.description, dag_id
        dag.params.validate()  # raises ParamValidationError on a rejected default
        for name, value in dag.params.items():
            param = dag.params.get_param(name)
            assert param.schema.get("title") and param.description, (dag_id, name)
            assert value != "", (dag_id, name)  # empty-means-default is null


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("sqid_scrape", {"statuses": ["bogus_status"]}),
        ("sqid_release", {"bump": "huge"}),
        ("sqid_release", {"version": "v01.2.3"}),
        ("sqid_embed", {"rendition": "tiny"}),
        ("sqid_embed", {"device": "tpu"}),
    ],
)
def test_a_mistyped_param_is_refused_before_a_run_starts(dagbag, dag_id, conf):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = ParamsDict(dagbag.dags[dag_id].params)
    with pytest.raises(ParamValidationError):
        params.update(conf)
        params.validate()


def _first_tasks():
    from sqid.orchestration import embed, ingest, release, scrape

    return {
        "sqid_ingest": lambda p: ingest.download("shopping_queries_dataset_sources.csv", p),
        "sqid_scrape": lambda p: scrape.plan_scrape(p, "manual__typo"),
        "sqid_embed": lambda p: embed.plan_embed(p, "manual__typo"),
        "sqid_release": release.inputs_changed,
    }


@pytest.mark.parametrize("dag_id", ["sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release"])
def test_an_unknown_conf_key_fails_the_run_at_its_first_task(dagbag, dag_id):
    """Airflow merges any conf key into params; the first task refuses one no Param declares,
    before it reads or writes anything."""
    from airflow.sdk.exceptions import AirflowFailException
    from sqid.orchestration.params import UnknownParamsError, require_declared

    dag = dagbag.dags[dag_id]
    defaults = dict(dag.params.items())
    params_of = {"sqid_ingest": "ingest_params", "sqid_scrape": "scrape_params",
                 "sqid_embed": "embed_params", "sqid_release": "release_params"}  # fmt: skip
    import sqid.orchestration.params as declared

    require_declared(defaults, getattr(declared, params_of[dag_id]))  # the defaults pass
    # AirflowFailException: the task fails at once, its retries are not spent on a typo.
    with pytest.raises(AirflowFailException, match=r"unknown Params \['limitt'\]") as failed:
        _first_tasks()[dag_id]({**defaults, "limitt": 5})
    assert isinstance(failed.value.__cause__, UnknownParamsError)


def test_every_task_is_upstream_of_the_run_verdict(dagbag):
    """The verdict task is the only leaf, so Airflow judges the run by it alone."""
    for dag_id, dag in dagbag.dags.items():
        leaves = [t.task_id for t in dag.tasks if not t.downstream_task_ids]
        assert leaves == [VERDICT], dag_id
        verdict = dag.get_task(VERDICT)
        assert verdict.trigger_rule == "one_failed"
        assert verdict.upstream_task_ids == {t.task_id for t in dag.tasks} - {VERDICT}


@pytest.mark.parametrize("minutes_after", [1, 20, 600])
def test_unpausing_starts_no_run_for_a_time_just_past(dagbag, monkeypatch, minutes_after):
    """A scheduled DAG made active (first start, or unpaused) waits for its next time,
    however soon after its last one; it never starts a run for the time just past."""
    import datetime as dt

    import airflow.timetables.trigger as trigger
    from airflow.timetables.base import TimeRestriction

    for dag_id, cron_time in (("sqid_scrape", (6, 3)), ("sqid_ingest", (1, 0))):
        day, hour = cron_time
        past = dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC)
        monkeypatch.setattr(
            trigger, "utcnow", lambda p=past: p + dt.timedelta(minutes=minutes_after)
        )
        timetable = dagbag.dags[dag_id].timetable
        timetable = getattr(timetable, "timetable", timetable)  # inside AssetOrTimeSchedule
        from airflow.serialization.decoders import decode_timetable
        from airflow.serialization.encoders import encode_timetable

        core = decode_timetable(encode_timetable(timetable))
        info = core.next_dagrun_info(
            last_automated_data_interval=None,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=False),
        )
        assert info.run_after > past + dt.timedelta(minutes=minutes_after), (dag_id, info)
