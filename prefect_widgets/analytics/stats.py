"""Per-task statistics and concurrency of one run.

`task_stats_from_frame`: per task name, counts by state, retries, duration percentiles,
total time and share of the run's wall time. `concurrency_from_frame`: the step series of
task runs running at each moment (a sweep over start/end events). Each has a view twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import prefect_widgets.analytics._time as time_
from prefect_widgets.dtypes import TEXT
from prefect_widgets.records import SPAN
from prefect_widgets.states import STATE_TYPES

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

STAT_COLUMNS = {"count": "int64", "retries": "int64", "min": SPAN, "p50": SPAN, "p90": SPAN,
                "p99": SPAN, "max": SPAN, "total": SPAN, "share": "float64"}


def task_stats_from_frame(frame: pd.DataFrame, *, wall_time: Any = None) -> pd.DataFrame:
    """Per `task_name`: `count`, one count column per state type present (lower case),
    `retries` (sum of run_count - 1), duration `min`/`p50`/`p90`/`p99`/`max`, `total` time
    and `share` (total / the run's wall time: `wall_time`, else first start → last end;
    above 1 when task runs overlap).
    Durations of unfinished task runs are left out of the duration columns. Sorted by total.
    """
    time_._require(frame, ("task_name", "state_type", "duration", "run_count"), "task_stats()")
    if frame.empty:
        out = time_._empty(STAT_COLUMNS)
        out.index = pd.Index([], dtype=TEXT, name="task_name")
        return out
    keys = frame["task_name"].astype(TEXT)
    durations = frame["duration"].astype(SPAN)
    by = durations.groupby(keys, sort=True)
    stats = pd.DataFrame({"count": keys.groupby(keys, sort=True).size().astype("int64")})
    counts = frame.groupby([keys, frame["state_type"].astype(TEXT)], sort=True).size().unstack(
        fill_value=0)
    for state in STATE_TYPES:
        if state in counts.columns:
            stats[state.lower()] = counts[state].astype("int64")
    retries = (frame["run_count"].astype("int64") - 1).clip(lower=0)
    stats["retries"] = retries.groupby(keys, sort=True).sum().astype("int64")
    stats["min"] = by.min()
    stats["p50"] = by.quantile(0.5)
    stats["p90"] = by.quantile(0.9)
    stats["p99"] = by.quantile(0.99)
    stats["max"] = by.max()
    stats["total"] = by.sum()
    if wall_time is None:
        start, end = frame["start_time"], frame["end_time"]
        wall_time = end.max() - start.min() if start.notna().any() else pd.NaT
    wall = pd.Timedelta(wall_time) if wall_time is not None else pd.NaT
    if pd.isna(wall) or wall <= pd.Timedelta(0):
        stats["share"] = np.nan
    else:
        stats["share"] = stats["total"] / wall
    stats = stats.astype({c: t for c, t in STAT_COLUMNS.items() if c in stats.columns})
    stats.index = pd.Index(stats.index, dtype=TEXT, name="task_name")
    return stats.sort_values(["total", "count"], ascending=False, kind="stable")


def task_stats(flow_run: FlowRunView | pd.DataFrame) -> pd.DataFrame:
    """`FlowRunView.task_stats()`; `share` is relative to the flow run's wall time."""
    if isinstance(flow_run, pd.DataFrame):
        return task_stats_from_frame(flow_run)
    return task_stats_from_frame(flow_run.data.tasks(), wall_time=flow_run.duration)


# --------------------------------------------------------------------------- concurrency


def concurrency_from_frame(frame: pd.DataFrame, *, until: Any = None) -> pd.DataFrame:
    """A step series: `time` and `running` (task runs running from that moment on).

    A sweep over start (+1) and end (−1) events; simultaneous events are netted, so a task
    starting as another ends shows no spike. Running task runs end at `until` (default now).
    """
    time_._require(frame, ("start_time", "end_time"), "concurrency()")
    start = time_._ns(frame["start_time"])
    end = time_._open_ended(start, time_._ns(frame["end_time"]),
                      time_._now_ns() if until is None else time_._ns_scalar(until))
    keep = (start != time_._NAT) & (end != time_._NAT)
    times = np.concatenate([start[keep], end[keep]])
    deltas = np.concatenate([np.ones(keep.sum(), "int64"), -np.ones(keep.sum(), "int64")])
    moments, inverse = np.unique(times, return_inverse=True)
    running = np.cumsum(np.bincount(inverse, weights=deltas, minlength=len(moments))
                        .astype("int64")) if len(moments) else np.array([], "int64")
    return pd.DataFrame({"time": time_._times(moments), "running": running.astype("int64")})


def concurrency(flow_run: FlowRunView | pd.DataFrame) -> pd.DataFrame:
    """`FlowRunView.concurrency()`; running task runs count until the run's end or now."""
    if isinstance(flow_run, pd.DataFrame):
        return concurrency_from_frame(flow_run)
    return concurrency_from_frame(flow_run.data.tasks(), until=time_._run_until(flow_run))

