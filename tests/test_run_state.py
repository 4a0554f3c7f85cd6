"""A run's state is the truth: failed when any task failed, in every DAG.

Each DAG is run through Airflow's own scheduling loop (``dag.test()``) with every task's
work replaced by a stand-in that succeeds, except the one task being failed; the wiring,
the trigger rules and the verdict task are the real ones. One run per task, so every
place a failure can happen is covered, mapped tasks and short circuits included.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

DAG_IDS = ["sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release"]
VERDICT = "run_verdict"


@pytest.fixture(scope="module")
def dags():
    from sqid.airflow_local import load_dag, prepare

    prepare()
    return {dag_id: load_dag(dag_id) for dag_id in DAG_IDS}


def _cases():
    from sqid.airflow_local import load_dag

    return [
        (dag_id, task_id)
        for dag_id in DAG_IDS
        for task_id in [*sorted(load_dag(dag_id).task_ids), None]
        if task_id != VERDICT
    ]


def _run_with_failure(dag, failing: str | None, monkeypatch) -> tuple[str, dict[str, str]]:
    """Run ``dag`` with stand-in work; ``failing`` raises. The run's state and its tasks'."""
    import airflow.sdk.execution_time.task_runner as runner
    from airflow.sdk.exceptions import AirflowFailException
    from sqid.airflow_local import task_states

    real = runner._execute_task
    mapped_from = {
        upstream
        for task in dag.tasks
        if getattr(task, "is_mapped", False)
        for upstream in task.upstream_task_ids
    }

    def stand_in(context, ti, log):
        if ti.task_id == VERDICT:
            return real(context=context, ti=ti, log=log)
        if ti.task_id == failing:
            raise AirflowFailException(f"injected failure in {failing}")
        # A task that feeds a mapped one hands it two items; the rest return a dict.
        return [{"shard": 0}, {"shard": 1}] if ti.task_id in mapped_from else {"ok": True}

    monkeypatch.setattr(runner, "_execute_task", stand_in)
    run = dag.test(run_conf={})
    states = task_states(run)
    return str(run.state), states


@pytest.mark.parametrize(("dag_id", "failing"), _cases())
def test_a_failed_task_fails_the_run(dags, dag_id, failing, monkeypatch):
    dag = dags[dag_id]
    state, tasks = _run_with_failure(dag, failing, monkeypatch)
    if failing is None:
        assert state == "success", tasks
        assert tasks[VERDICT] == "skipped"
        assert all(s in ("success", "skipped") for s in tasks.values()), tasks
        return
    failed = {t: s for t, s in tasks.items() if t.split("[")[0] == failing}
    assert failed and set(failed.values()) == {"failed"}, tasks
    assert tasks[VERDICT] == "failed", tasks
    assert state == "failed", tasks


@pytest.mark.parametrize(
    ("dag_id", "conf", "first"),
    [
        ("sqid_scrape", {"limitt": 5}, "plan"),
        ("sqid_embed", {"modle_id": "x"}, "plan"),
    ],
)
def test_a_mistyped_conf_fails_the_run_at_once_without_retries(dags, dag_id, conf, first):
    """The real tasks this time: the first task fails on its first try (a retry could
    never help), nothing after it runs, and the run is failed, not green."""
    from airflow.utils.session import create_session

    run = dags[dag_id].test(run_conf=conf)
    assert str(run.state) == "failed"
    with create_session() as session:
        tis = {ti.task_id: ti for ti in run.get_task_instances(session=session)}
        assert str(tis[first].state) == "failed" and tis[first].try_number == 1
        assert str(tis[VERDICT].state) == "failed"
        ran = [t for t, ti in tis.items() if str(ti.state) == "success"]
    assert ran == [], ran
