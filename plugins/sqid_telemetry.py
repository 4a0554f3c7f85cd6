"""Each task's own cost, kept beside the run statistics: a listener that records, when a
SQID task ends, its duration and the peak resident memory of the process that ran it
(``sqid.telemetry.record_task``). The rehearsal benchmark reads them; so can anyone
asking which task needs the memory."""

from __future__ import annotations

import sys
from typing import ClassVar

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin


class _TaskCost:
    """Listener: runs in the task's own process, after the task body."""

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance, *args, **kwargs) -> None:
        _record(task_instance, "success")

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, *args, **kwargs) -> None:
        _record(task_instance, "failed")


def _record(task_instance, state: str) -> None:
    if not str(getattr(task_instance, "dag_id", "")).startswith("sqid_"):
        return
    try:
        from sqid.telemetry import record_task

        record_task(task_instance, state)
    except Exception as exc:  # telemetry must never fail a task
        print(f"sqid telemetry: task cost not recorded: {exc}", file=sys.stderr)


class SqidTelemetryPlugin(AirflowPlugin):
    name = "sqid_telemetry"
    listeners: ClassVar[list] = [_TaskCost()]
