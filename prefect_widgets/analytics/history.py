"""Across a flow's history: per-task trends, and what changed in one run against its past.

`task_trends_from_frames`: per task name and flow run, the task's runs, failures and
duration (median and total), oldest run first. `compare_with_history_from_frames`: per
task name, the run's duration against the baseline runs' median and spread (the scaled
median absolute deviation), with regressions, new failures and "since which run" flagged.
Their view twins (`task_trends`, `compare_with_history`) read each run's task runs
through its `RunData` (one export per run, or none when the run cache holds it).

A task's duration in one flow run is the median of its task runs' durations there (so a
mapped task compares per task run, whatever its width). A change is beyond the threshold
when it exceeds the largest of `k` spreads, `rel` of the median and `min_delta`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefect_widgets.dtypes import TEXT
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.history import history_frame
from prefect_widgets.queries import query_flow_runs
from prefect_widgets.records import SPAN, TIME
from prefect_widgets.seam import provided
from prefect_widgets.states import FINISHED_TYPES

from ._time import _require
from .runs import FAILED_TYPES

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

__all__ = ["TREND_COLUMNS", "CHANGE_COLUMNS", "STATUS_DTYPE", "HistoryChanges",
           "task_trends", "task_trends_from_frames", "compare_with_history",
           "compare_with_history_from_frames", "previous_runs"]

TREND_COLUMNS: dict[str, Any] = {
    "task_name": TEXT, "flow_run_id": TEXT, "flow_run_name": TEXT, "start_time": TIME,
    "task_runs": "int64", "failures": "int64", "duration": SPAN, "total": SPAN,
}
#: a task's verdict, most urgent first
STATUS_DTYPE = pd.CategoricalDtype(["new failure", "failing", "regression", "new task",
                                    "faster", "not run", "unchanged"], ordered=True)
CHANGE_COLUMNS: dict[str, Any] = {
    "status": STATUS_DTYPE, "duration": SPAN, "baseline_median": SPAN,
    "baseline_spread": SPAN, "delta": SPAN, "ratio": "float64", "threshold": SPAN,
    "regression": "bool", "failed": "bool", "baseline_failure_rate": "float64",
    "new_failure": "bool", "baseline_runs": "int64", "since_flow_run_id": TEXT,
    "since_flow_run_name": TEXT, "since_start_time": TIME,
}
#: the task-run columns the comparison reads
_TASK_COLUMNS = ("flow_run_id", "task_name", "state_type", "duration")
#: the median absolute deviation times this estimates a normal spread's sigma
_MAD_SIGMA = 1.4826


class HistoryChanges(pd.DataFrame):
    """The frame `compare_with_history` returns, with a rich HTML repr; any operation on it
    gives a plain DataFrame. `attrs` names the run and its baseline."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def _repr_html_(self) -> str:  # type: ignore[override]
        return str(provided("changes_html")(self))


def _run_order(runs: pd.DataFrame) -> pd.DataFrame:
    _require(runs, ("name", "start_time"), "the runs frame")
    return runs.sort_values("start_time", kind="stable", na_position="first")


def _per_run(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per (task_name, flow_run_id): task runs, failures, median and total duration (s)."""
    _require(tasks, ("flow_run_id", "task_name", "state_type", "duration"), "the task-run frame")
    seconds = tasks["duration"].astype(SPAN).dt.total_seconds()
    flat = pd.DataFrame({"task_name": tasks["task_name"].astype(TEXT),
                         "flow_run_id": tasks["flow_run_id"].astype(TEXT),
                         "seconds": seconds.to_numpy(),
                         "failed": tasks["state_type"].astype(TEXT).isin(FAILED_TYPES)
                         .to_numpy()})
    grouped = flat.groupby(["task_name", "flow_run_id"], sort=False)
    return grouped.agg(task_runs=("failed", "size"), failures=("failed", "sum"),
                       median=("seconds", "median"), total=("seconds", "sum"))


def _spans(seconds: Any) -> pd.Series:
    return pd.to_timedelta(pd.Series(seconds, dtype="float64").mul(1e6).round(),
                           unit="us").astype(SPAN)


def task_trends_from_frames(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Per task name and flow run (`runs`: a history frame, index flow_run_id; `tasks`: their
    task-run frames concatenated): `task_runs`, `failures`, `duration` (median) and `total`,
    ordered by task name, then the run's start."""
    order = _run_order(runs)
    per = _per_run(tasks[tasks["flow_run_id"].isin(order.index)]).reset_index()
    position = pd.Series(np.arange(len(order)), index=order.index.astype(TEXT))
    per = per.assign(position=per["flow_run_id"].map(position)).sort_values(
        ["task_name", "position"], kind="stable")
    out = pd.DataFrame({
        "task_name": per["task_name"].to_numpy(), "flow_run_id": per["flow_run_id"].to_numpy(),
        "flow_run_name": order["name"].reindex(per["flow_run_id"]).to_numpy(),
        "start_time": order["start_time"].reindex(per["flow_run_id"]).array,
        "task_runs": per["task_runs"].to_numpy(), "failures": per["failures"].to_numpy(),
        "duration": _spans(per["median"].to_numpy()).to_numpy(),
        "total": _spans(per["total"].to_numpy()).to_numpy(),
    })
    return out.astype(TREND_COLUMNS)


def _streak(flags: np.ndarray) -> np.ndarray:
    """Per row, how many leading columns are True (columns newest run first)."""
    if flags.shape[1] == 0:
        return np.zeros(flags.shape[0], dtype="int64")
    return np.cumprod(flags, axis=1).sum(axis=1)


def compare_with_history_from_frames(runs: pd.DataFrame, tasks: pd.DataFrame,
                                     flow_run_id: str, *, k: float = 3.0, rel: float = 0.25,
                                     min_delta: timedelta = timedelta(seconds=0.5)
                                     ) -> HistoryChanges:
    """Per task name: the run's `duration` against the other runs' (the baseline) `median`
    and `spread`, `delta`, `ratio`, `threshold`, `regression` (slower beyond it),
    `failed`, `baseline_failure_rate`, `new_failure` (failed now, never in the baseline) and
    `since_*`: the oldest run of the unbroken streak, ending at this run, in which the task
    was as slow (or failed); `status` sums it up. Most urgent first, then by `delta`."""
    if flow_run_id not in runs.index:
        raise InvalidRequest(f"Flow run {flow_run_id} is not in the runs frame.")
    order = _run_order(runs)
    baseline_ids = [i for i in order.index[::-1] if i != flow_run_id]  # newest first
    per = _per_run(tasks[tasks["flow_run_id"].isin(order.index)])
    median = per["median"].unstack("flow_run_id")
    failures = per["failures"].unstack("flow_run_id")
    names = median.index.astype(TEXT)
    now = median.reindex(columns=[flow_run_id]).iloc[:, 0].to_numpy(dtype="float64")
    past = median.reindex(columns=baseline_ids).to_numpy(dtype="float64")
    failed_past = failures.reindex(columns=baseline_ids).to_numpy(dtype="float64")
    failed_now = failures.reindex(columns=[flow_run_id]).iloc[:, 0].fillna(0).to_numpy() > 0
    present = ~np.isnan(past)
    counts = present.sum(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():  # tasks absent from the past
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nanmedian(np.where(present, past, np.nan), axis=1) if past.size else \
            np.full(len(names), np.nan)
        spread = _MAD_SIGMA * (np.nanmedian(np.abs(past - center[:, None]), axis=1)
                               if past.size else np.full(len(names), np.nan))
    threshold = np.fmax(np.fmax(k * np.nan_to_num(spread), rel * np.nan_to_num(center)),
                        min_delta.total_seconds())
    delta = now - center
    regression = delta > threshold
    ran_failed = np.nan_to_num(failed_past) > 0
    failure_rate = np.where(counts > 0, (ran_failed & present).sum(axis=1) / np.maximum(
        counts, 1), np.nan)
    new_failure = failed_now & ~(ran_failed & present).any(axis=1)
    slow_streak = _streak((past - center[:, None]) > threshold[:, None])
    fail_streak = _streak(ran_failed & present)
    streak = np.where(failed_now, fail_streak, np.where(regression, slow_streak, -1))
    status = np.select(
        [new_failure, failed_now, regression, counts == 0, delta < -threshold, np.isnan(now)],
        ["new failure", "failing", "regression", "new task", "faster", "not run"], "unchanged")
    since = [flow_run_id if s == 0 else baseline_ids[s - 1] if s > 0 else None
             for s in streak]
    out = HistoryChanges({
        "status": pd.Categorical(status, dtype=STATUS_DTYPE),
        "duration": _spans(now).to_numpy(), "baseline_median": _spans(center).to_numpy(),
        "baseline_spread": _spans(spread).to_numpy(), "delta": _spans(delta).to_numpy(),
        "ratio": np.where(center > 0, now / np.where(center > 0, center, 1), np.nan),
        "threshold": _spans(threshold).to_numpy(), "regression": regression,
        "failed": failed_now, "baseline_failure_rate": failure_rate,
        "new_failure": new_failure, "baseline_runs": counts.astype("int64"),
        "since_flow_run_id": since,
        "since_flow_run_name": order["name"].reindex(since).to_numpy(),
        "since_start_time": order["start_time"].reindex(since).array,
    }, index=pd.Index(names, dtype=TEXT, name="task_name"))
    out = out.astype(CHANGE_COLUMNS)
    ranked = out.assign(_order=out["status"].cat.codes, _delta=out["delta"]).sort_values(
        ["_order", "_delta"], ascending=[True, False], na_position="last", kind="stable")
    result = HistoryChanges(out.loc[ranked.index])
    result.attrs.update({"flow_run_id": flow_run_id,
                         "flow_run_name": str(order.at[flow_run_id, "name"]),
                         "baseline_runs": len(baseline_ids)})
    return result


def _task_frames(views: Sequence[FlowRunView], max_workers: int) -> pd.DataFrame:
    """The views' task-run frames, concatenated (each read once through its `RunData`)."""
    def read(view: FlowRunView) -> pd.DataFrame:
        tasks = view.data.tasks(progress=False)
        return tasks[list(_TASK_COLUMNS)].astype({"state_type": TEXT})

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        frames = list(pool.map(read, views))
    return pd.concat(frames)


def previous_runs(run: FlowRunView, n: int) -> list[FlowRunView]:
    """Up to `n` finished runs of the run's flow that started before it, newest first."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidRequest(f"The baseline needs a positive number of runs, got {n!r}.")
    if run.start_time is None:
        raise InvalidRequest(f"Flow run {run.name!r} has not started: it has no past to "
                             "compare with.")
    before = query_flow_runs(run.client, flow_id=run.flow_id, start_time_before=run.start_time,
                             state_type=sorted(FINISHED_TYPES), sort="START_TIME_DESC",
                             limit=n + 1)
    return [view for view in before if view.flow_run_id != run.flow_run_id][:n]


def task_trends(flow_runs: Sequence[FlowRunView], *, max_workers: int = 4) -> pd.DataFrame:
    """`task_trends_from_frames` of these flow runs (one task-run export each)."""
    views = list(flow_runs)
    if not views:
        raise InvalidRequest("task_trends() needs at least one flow run.")
    return task_trends_from_frames(history_frame([v.raw for v in views]),
                                   _task_frames(views, max_workers))


def compare_with_history(run: FlowRunView, n: int = 50, *, max_workers: int = 4,
                         **thresholds: Any) -> HistoryChanges:
    """`FlowRunView.changes(baseline=n)`: what changed in `run` against the last `n`
    finished runs of its flow that started before it (`compare_with_history_from_frames`;
    `thresholds`: `k`, `rel`, `min_delta`). One query for the baseline, then one task-run
    export per run not already read."""
    views = [run, *previous_runs(run, n)]
    runs = history_frame([v.raw for v in views])
    return compare_with_history_from_frames(runs, _task_frames(views, max_workers),
                                            run.flow_run_id, **thresholds)
