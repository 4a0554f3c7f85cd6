"""The rehearsal's tables: a line per measured stage, each day against day one, and the
cost curve between scales (how each stage's time grows with its work)."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

CHAIN = ("sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release")


@dataclass
class Stage:
    """One DAG run, measured."""

    day: str
    dag_id: str
    run_id: str
    state: str
    wall_seconds: float
    task_seconds: float
    """Sum of its tasks' durations (more than the wall time when tasks run in parallel)."""
    idle_seconds: float
    """Wall time during which none of its tasks ran: the scheduler's share."""
    tasks: int
    items: int
    peak_rss_mib: float
    duckdb_mib: float
    release_mib: float

    @property
    def per_second(self) -> float:
        return self.items / self.wall_seconds if self.wall_seconds else 0.0


HEADER = (f"{'day':<40} {'DAG':<13} {'state':<8} {'wall s':>8} {'items':>8} {'items/s':>8} "
          f"{'tasks':>5} {'task s':>8} {'idle s':>7} {'peak MiB':>8} {'DuckDB MiB':>10} "
          f"{'release MiB':>11}")  # fmt: skip


def report_line(s: Stage) -> str:
    return (f"{s.day:<40} {s.dag_id:<13} {s.state:<8} {s.wall_seconds:>8.1f} {s.items:>8,} "
            f"{s.per_second:>8.1f} {s.tasks:>5} {s.task_seconds:>8.1f} {s.idle_seconds:>7.1f} "
            f"{s.peak_rss_mib:>8.1f} {s.duckdb_mib:>10.1f} {s.release_mib:>11.1f}")  # fmt: skip


def day_totals(stages: list[Stage]) -> list[str]:
    """Each day's wall time summed over its stages, against day one's."""
    days: dict[str, float] = {}
    for s in stages:
        days[s.day] = days.get(s.day, 0.0) + s.wall_seconds
    first = days.get("day 1") or 1.0
    return [f"{day:<40} total {seconds:8.1f} s = {seconds / first:6.1%} of day 1"
            for day, seconds in days.items()]  # fmt: skip


def cost_curve(by_scale: dict[float, list[Stage]]) -> list[str]:
    """How each stage's day-one time grows with the work, scale to scale: the exponent of
    time in items (1: linear); a stage above 1.15 is named as worse than linear."""
    import math

    scales = sorted(by_scale)
    lines = [f"{'DAG':<13} " + " ".join(f"{f'{s:g}x s':>10}" for s in scales) + "  growth"]
    for dag_id in CHAIN:
        first = {s: next(st for st in by_scale[s] if st.day == "day 1" and st.dag_id == dag_id)
                 for s in scales}  # fmt: skip
        cells = " ".join(f"{first[s].wall_seconds:>10.1f}" for s in scales)
        notes = []
        for a, b in itertools.pairwise(scales):
            items = first[b].items / max(1, first[a].items)
            time_ratio = first[b].wall_seconds / max(0.1, first[a].wall_seconds)
            exponent = math.log(time_ratio) / math.log(items) if items > 1 else float("nan")
            worse = " WORSE THAN LINEAR" if exponent > 1.15 else ""
            notes.append(f"{a:g}->{b:g}: x{time_ratio:.1f} time for x{items:.1f} items "
                         f"(exponent {exponent:.2f}){worse}")  # fmt: skip
        lines.append(f"{dag_id:<13} {cells}  " + "; ".join(notes))
    return lines


def stages_json(stages: list[Stage]) -> list[dict[str, Any]]:
    return [{**asdict(s), "per_second": round(s.per_second, 2)} for s in stages]
