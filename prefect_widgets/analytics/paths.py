"""The critical path: the longest time-weighted dependency chain of a run's task runs.

`critical_path_from_frame` orders the task-run graph (`upstream_task_run_ids`) with Kahn's
algorithm in linear time and walks back from the task run that ends last; a dependency
cycle raises `DependencyCycle` naming its task runs. `critical_path` is the view's twin.
With `inferred=True` the call order (`dependencies.inferred_upstreams_from_frame`) counts
as edges too, and the result's `inferred` column marks the steps reached through one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefect_widgets.dtypes import TEXT
from prefect_widgets.errors import DependencyCycle
from prefect_widgets.records import SPAN, STATE_DTYPE, TIME, state_dtype

from ._time import (
    _NAT,
    _empty,
    _now_ns,
    _ns,
    _ns_scalar,
    _open_ended,
    _require,
    _run_until,
    _spans,
    _times,
)
from .dependencies import edge_rows

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

CRITICAL_PATH_COLUMNS = {
    "task_run_id": TEXT, "name": TEXT, "task_name": TEXT, "state_type": STATE_DTYPE,
    "start": TIME, "end": TIME, "duration": SPAN, "wait_before": SPAN,
}


def _find_cycle(preds: list[list[int]], left: np.ndarray) -> list[int]:
    """One cycle among the nodes Kahn's algorithm could not order (each has such a pred)."""
    on_path: dict[int, int] = {}
    path: list[int] = []
    node = int(np.flatnonzero(left)[0])
    while node not in on_path:
        on_path[node] = len(path)
        path.append(node)
        node = next(p for p in preds[node] if left[p])
    cycle = path[on_path[node]:]
    cycle.reverse()  # walked downstream → upstream; report upstream first
    return cycle


def critical_path_from_frame(frame: pd.DataFrame, *, until: Any = None,
                             run_start: Any = None, inferred: bool = False) -> pd.DataFrame:
    """The longest time-weighted dependency chain ending at the task run that ends last.

    Nodes are the frame's rows, edges its `upstream_task_run_ids` (ids outside the frame are
    ignored; a subflow's parent task run is one node spanning its child run). A node weighs
    its duration; a running task run counts until `until` (default now) and keeps `end`
    NaT. `wait_before` is the gap since the previous step ended (for the first step, since
    `run_start` if given). When the frame has no dependency edges at all (e.g. a mapped
    run), the path is the single longest task run. Linear time (Kahn's algorithm over
    V + E); a cycle raises `DependencyCycle` naming its task runs. `inferred=True` adds the
    inferred call-order edges and an `inferred` column: True where the step was reached
    from the previous one through an inferred edge (never recorded by Prefect).
    """
    _require(frame, ("name", "task_name", "start_time", "end_time", "upstream_task_run_ids"),
             "critical_path()")
    ids = frame.index.astype(str).tolist()
    n = len(ids)
    start = _ns(frame["start_time"])
    real_end = _ns(frame["end_time"])
    end = _open_ended(start, real_end, _now_ns() if until is None else _ns_scalar(until))
    started = start != _NAT
    weight = np.where(started & (end != _NAT), end - start, 0)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    ups_rows, downs_rows, flags = edge_rows(frame, inferred=inferred)
    inferred_edges = {(int(j), int(i)) for j, i, f in zip(ups_rows, downs_rows, flags) if f}
    for j, i in zip(ups_rows.tolist(), downs_rows.tolist()):
        preds[i].append(j)
        succs[j].append(i)
        indegree[i] += 1
    # Kahn's algorithm: longest path by weight in topological order
    ready = [i for i in range(n) if indegree[i] == 0]
    weights = weight.astype("int64").tolist()
    best = list(weights)
    via = [-1] * n
    end_list = end.tolist()
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        here = best[node]
        for nxt in succs[node]:
            candidate = here + weights[nxt]
            current = via[nxt]
            if current == -1 or candidate > best[nxt] or (
                    candidate == best[nxt] and end_list[node] > end_list[current]):
                best[nxt] = candidate
                via[nxt] = node
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if done < n:
        left = np.asarray(indegree) > 0
        cycle = _find_cycle(preds, left)
        names = frame["name"].to_numpy(dtype=object)
        shown = " → ".join(str(names[i]) for i in cycle[:12]) + (" → …" if len(cycle) > 12
                                                                 else "")
        raise DependencyCycle(
            f"The task runs' dependencies form a cycle ({shown} → {names[cycle[0]]}); "
            f"{int(left.sum())} of {n} task runs are on or behind a cycle. The server's "
            "task_inputs are inconsistent: no critical path exists.",
            [ids[i] for i in cycle])
    if not started.any() or not (end[started] != _NAT).any():
        return _empty(CRITICAL_PATH_COLUMNS)
    candidates = np.flatnonzero(started & (end != _NAT))
    if any(preds):
        last_end = end[candidates].max()
        sinks = candidates[end[candidates] == last_end]
        sink = int(max(sinks, key=lambda i: best[i]))
    else:  # no dependencies at all: the single longest task run bounds the run
        sink = int(candidates[np.argmax(weight[candidates])])
    path = [sink]
    while via[path[-1]] != -1:
        path.append(via[path[-1]])
    path.reverse()
    p = np.asarray(path)
    p_start, p_end = start[p], end[p]
    previous = np.concatenate([[_NAT if run_start is None else _ns_scalar(run_start)],
                               p_end[:-1]])
    wait = np.where((previous != _NAT) & (p_start != _NAT), p_start - previous, _NAT)
    out = pd.DataFrame({
        "task_run_id": [ids[i] for i in path],
        "name": frame["name"].to_numpy(dtype=object)[p],
        "task_name": frame["task_name"].to_numpy(dtype=object)[p],
        "state_type": (frame["state_type"].to_numpy(dtype=object)[p]
                       if "state_type" in frame.columns else "PENDING"),
        "start": _times(p_start), "end": _times(real_end[p]),
        "duration": _spans(np.where(p_start != _NAT, p_end - p_start, _NAT)),
        "wait_before": _spans(wait),
    })
    if inferred:
        out["inferred"] = [False] + [(a, b) in inferred_edges for a, b in zip(path, path[1:])]
    out.index.name = "step"
    return out.astype({**CRITICAL_PATH_COLUMNS, "state_type": state_dtype(out["state_type"])})


def critical_path(flow_run: FlowRunView | pd.DataFrame, *, inferred: bool = False
                  ) -> pd.DataFrame:
    """`FlowRunView.critical_path()`: see `critical_path_from_frame` (one export, no more)."""
    if isinstance(flow_run, pd.DataFrame):
        return critical_path_from_frame(flow_run, inferred=inferred)
    return critical_path_from_frame(flow_run.data.tasks(), until=_run_until(flow_run),
                                    run_start=flow_run.start_time, inferred=inferred)

