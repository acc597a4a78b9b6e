"""Dependency edges between a run's task runs: the recorded ones, and the call order inferred.

Recorded edges come from each task run's `upstream_task_run_ids` (the task runs whose
results or `wait_for` feed it). Tasks called one after another without passing data record
none, so a sequential pipeline reads as unrelated task runs. `inferred_upstreams_from_frame`
offers the call order instead; every edge built from it is marked `inferred`.

The inference rule, inside one flow run (the frame's `flow_run_id` groups, else the whole
frame). A task run T gets one inferred upstream U when:

1. T has a start time and records no upstream that is in the frame;
2. nothing of the flow run was running when T started: no other task run started before
   T's start without having ended by it (so T was called after the previous call
   returned; runs queued behind a busy pool, or submitted side by side, get none);
3. U is, of the flow run's task runs that ended by T's start and come before T (earlier
   start, or the same start and an earlier row), the one that ended last (ties: the later
   start, then the later row).

Every inferred edge goes from an earlier (start, row) to a later one, so inferred edges
alone never form a cycle. O(n log n) per flow run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from prefect_widgets.dtypes import TEXT

from ._time import _NAT, _frame_of, _ns, _require

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

__all__ = ["EDGE_COLUMNS", "inferred_upstreams_from_frame", "edge_rows",
           "dependency_edges_from_frame", "dependency_edges"]

#: columns of `dependency_edges_from_frame`: one row per edge, upstream first
EDGE_COLUMNS = {"upstream_task_run_id": TEXT, "task_run_id": TEXT, "inferred": "bool"}


def _recorded(frame: pd.DataFrame) -> list[list[int]]:
    """Each row's recorded upstreams as row positions (ids outside the frame dropped)."""
    where = {str(task_id): i for i, task_id in enumerate(frame.index)}
    out: list[list[int]] = []
    for ups in frame["upstream_task_run_ids"].tolist():
        if not isinstance(ups, (list, tuple, np.ndarray)):
            out.append([])
            continue
        found = (where.get(str(u)) for u in ups)
        out.append(list(dict.fromkeys(j for j in found if j is not None)))
    return out


def _infer_group(rows: np.ndarray, start: np.ndarray, end: np.ndarray,
                 has_upstream: np.ndarray) -> dict[int, int]:
    """The rule of the module docstring over one flow run's rows: {row: inferred upstream}."""
    s, e = start[rows], end[rows]
    started = s != _NAT
    ended = started & (e != _NAT)
    starts_sorted = np.sort(s[started])
    done = np.flatnonzero(ended)  # positions in `rows` of ended task runs
    order = done[np.lexsort((rows[done], s[done], e[done]))]  # by end, start, row
    ends_sorted = e[order]
    zero = np.sort(s[ended & (s == e)])  # instants of zero-length runs
    out: dict[int, int] = {}
    for k in np.flatnonzero(started & ~has_upstream[rows]):
        t = s[k]
        before = int(np.searchsorted(starts_sorted, t, "left"))  # started before t
        finished = int(np.searchsorted(ends_sorted, t, "right")) - (
            int(np.searchsorted(zero, t, "right")) - int(np.searchsorted(zero, t, "left")))
        if before != finished:  # something was still running when T started
            continue
        pick = int(np.searchsorted(ends_sorted, t, "right")) - 1
        while pick >= 0:
            u = order[pick]
            if s[u] < t or (s[u] == t and rows[u] < rows[k]):
                out[int(rows[k])] = int(rows[u])
                break
            pick -= 1  # T itself, or a zero-length run at T's start after it
    return out


def _inferred_rows(frame: pd.DataFrame, recorded: list[list[int]]) -> dict[int, int]:
    """{row: inferred upstream row} over the whole frame (grouped by flow run)."""
    start = _ns(frame["start_time"])
    end = _ns(frame["end_time"])
    has_upstream = np.fromiter((bool(r) for r in recorded), dtype=bool, count=len(recorded))
    if "flow_run_id" in frame.columns:
        codes = pd.factorize(frame["flow_run_id"].astype(object).fillna(""))[0]
        groups = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)] \
            if len(codes) else []
    else:
        groups = [np.arange(len(frame))]
    out: dict[int, int] = {}
    for rows in groups:
        out.update(_infer_group(rows, start, end, has_upstream))
    return out


def inferred_upstreams_from_frame(frame: pd.DataFrame) -> pd.Series:
    """Each task run's inferred upstream (a task run id, or None): the call-order rule of
    the module docstring. Index: the frame's task run ids."""
    _require(frame, ("start_time", "end_time", "upstream_task_run_ids"),
             "inferred_upstreams_from_frame()")
    ids = frame.index.astype(str).tolist()
    inferred = _inferred_rows(frame, _recorded(frame))
    values = [ids[inferred[i]] if i in inferred else None for i in range(len(ids))]
    return pd.Series(values, index=pd.Index(ids, name="task_run_id"), dtype=object,
                     name="inferred_upstream_task_run_id")


def edge_rows(frame: pd.DataFrame, *, inferred: bool = False
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges as row positions: (upstream rows, downstream rows, inferred flags), the
    recorded edges in row order, then the inferred ones (with `inferred=True`)."""
    recorded = _recorded(frame)
    up = [j for ups in recorded for j in ups]
    down = [i for i, ups in enumerate(recorded) for _ in ups]
    flags = [False] * len(up)
    if inferred:
        for i, j in sorted(_inferred_rows(frame, recorded).items()):
            up.append(j)
            down.append(i)
            flags.append(True)
    return (np.asarray(up, dtype=np.int64), np.asarray(down, dtype=np.int64),
            np.asarray(flags, dtype=bool))


def dependency_edges_from_frame(frame: pd.DataFrame, *, inferred: bool = False
                                ) -> pd.DataFrame:
    """One row per dependency edge: `upstream_task_run_id` → `task_run_id`, and `inferred`
    (False: recorded by Prefect; True: the call order, only with `inferred=True`)."""
    _require(frame, ("start_time", "end_time", "upstream_task_run_ids"),
             "dependency_edges_from_frame()")
    ids = np.asarray(frame.index.astype(str), dtype=object)
    up, down, flags = edge_rows(frame, inferred=inferred)
    return pd.DataFrame({"upstream_task_run_id": ids[up], "task_run_id": ids[down],
                         "inferred": flags}).astype(EDGE_COLUMNS)


def dependency_edges(flow_run: FlowRunView | pd.DataFrame, *, inferred: bool = False
                     ) -> pd.DataFrame:
    """`dependency_edges_from_frame` of a view's task runs (its one export) or a frame."""
    return dependency_edges_from_frame(_frame_of(flow_run), inferred=inferred)
