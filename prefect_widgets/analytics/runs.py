"""Across runs: a summary of many flow runs and the comparison of two runs' task statistics.

`runs_summary` tabulates a run list (one count request per run unless
`task_counts=False`); `compare_stats` / `compare_runs` put two `task_stats` frames side by
side with the slowdown per task name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from prefect_widgets.dtypes import TEXT
from prefect_widgets.records import SPAN, STATE_DTYPE, TIME, state_dtype
from prefect_widgets.run_lists import FlowRunList

from .stats import task_stats

if TYPE_CHECKING:
    from prefect_widgets.client import Client
    from prefect_widgets.views import FlowRunView

#: the state types counted as a failed run (e.g. by the run-duration chart)
FAILED_TYPES = frozenset({"FAILED", "CRASHED"})

SUMMARY_COLUMNS = {"name": TEXT, "flow_id": TEXT, "state_type": STATE_DTYPE,
                   "state_name": "category", "start_time": TIME, "end_time": TIME,
                   "duration": SPAN, "task_runs": "Int64"}


def _as_run_list(flow_runs: Any) -> FlowRunList:
    return flow_runs if isinstance(flow_runs, FlowRunList) else FlowRunList(flow_runs)


def runs_summary(flow_runs: FlowRunList | Sequence[FlowRunView], *, task_counts: bool = True,
                 client: Client | None = None, max_workers: int = 4) -> pd.DataFrame:
    """Per flow run: name, state, start, end, duration and `task_runs`, oldest first.

    Built from the list's own records; `task_counts` costs one `POST /task_runs/count`
    per run (`max_workers` in flight). `task_counts=False` sends no request at all.
    """
    runs = _as_run_list(flow_runs)
    frame = runs.to_dataframe()
    out = frame[["name", "flow_id", "state_type", "state_name", "start_time", "end_time",
                 "duration"]].copy()
    counts: dict[str, int] = {}
    if task_counts and len(runs):
        counts = runs.task_run_counts(client=client, max_workers=max_workers)
    out["task_runs"] = pd.array([counts.get(str(i)) for i in out.index], dtype="Int64")
    out = out.sort_values("start_time", kind="stable", na_position="last")
    return out.astype({**SUMMARY_COLUMNS, "state_type": state_dtype(out["state_type"].astype(str))})


COMPARED = ("count", "retries", "p50", "p90", "max", "total")


def compare_stats(stats_a: pd.DataFrame, stats_b: pd.DataFrame) -> pd.DataFrame:
    """Two `task_stats` frames side by side (`<stat>_a`, `<stat>_b`) with `delta`
    (total_b − total_a) and `ratio` (total_b / total_a), biggest slowdown first.
    A task name missing from one side has NA there."""
    left = stats_a[list(COMPARED)].add_suffix("_a")
    right = stats_b[list(COMPARED)].add_suffix("_b")
    out = left.join(right, how="outer")
    for side in ("a", "b"):
        for column in ("count", "retries"):
            out[f"{column}_{side}"] = out[f"{column}_{side}"].astype("Int64")
    out["delta"] = (out["total_b"] - out["total_a"]).astype(SPAN)
    a_seconds = out["total_a"].dt.total_seconds()
    b_seconds = out["total_b"].dt.total_seconds()
    out["ratio"] = (b_seconds / a_seconds.where(a_seconds > 0)).astype("float64")
    out.index.name = "task_name"
    return out.sort_values(["delta", "ratio"], ascending=False, na_position="last",
                           kind="stable")


def compare_runs(run_a: FlowRunView | pd.DataFrame,
                 run_b: FlowRunView | pd.DataFrame) -> pd.DataFrame:
    """Per task name, run A's and run B's statistics with the slowdown (see `compare_stats`)."""
    return compare_stats(task_stats(run_a), task_stats(run_b))
