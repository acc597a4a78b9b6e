"""A flow run as a Chrome Trace Event / Perfetto JSON file (`FlowRunView.to_trace`).

The file is the Trace Event Format's JSON Object Format, which Perfetto (ui.perfetto.dev)
and chrome://tracing open:

* one process per flow run, subflow runs as processes of their own after their parent;
* in it, track (tid) 0 holds the flow run itself, then one track per task name, ordered by
  first start; concurrent runs of a task (mapped runs) take lanes, further tracks named
  "task · lane 2", …, so slices never overlap on a track;
* one complete event (`ph: "X"`, µs) per attempt: retries are split at their Running states
  (`analytics.split_attempts`), state and ids go in `args`; an attempt still open ends at
  the flow run's end (or now) and says `"open": true`;
* flow events (`ph: "s"` / `"f"` with `bp: "e"`) from each upstream task run to the task
  run that used its result, and from a subflow's parent task run to the subflow run;
* metadata events (`ph: "M"`) name and order the processes and tracks.

Times are µs since the earliest event (`otherData.origin` gives it as ISO 8601).
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from prefect_widgets._version import __version__
from prefect_widgets.analytics import attempts_frame, split_attempts
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.views import FlowRunView

if TYPE_CHECKING:
    from prefect_widgets.states import State

__all__ = ["flow_run_trace", "write_trace"]

#: how the viewers show times (the events themselves are always in µs)
DISPLAY_TIME_UNIT = "ms"
_NAT = -(2**63)


@dataclass
class _Slice:
    """Where one attempt landed: its track and its µs span."""

    pid: int
    tid: int
    ts: int
    dur: int

    @property
    def middle(self) -> int:
        """A time strictly inside the slice (its start if it has no length): flow events
        bind to the slice that encloses their time."""
        return self.ts + self.dur // 2


@dataclass
class _Trace:
    events: list[dict[str, Any]] = field(default_factory=list)
    next_pid: int = 1
    next_flow_id: int = 1
    seen: set[str] = field(default_factory=set)
    not_started: int = 0

    def flow(self, name: str, source: _Slice, target: _Slice) -> None:
        """A flow arrow from `source` to `target` (ids unique in the file)."""
        common = {"name": name, "cat": name, "id": self.next_flow_id}
        self.next_flow_id += 1
        self.events.append({"ph": "s", **common, "pid": source.pid, "tid": source.tid,
                            "ts": source.middle})
        self.events.append({"ph": "f", "bp": "e", **common, "pid": target.pid,
                            "tid": target.tid, "ts": target.middle})

    def name(self, pid: int, tid: int | None, label: str) -> None:
        """`process_name`/`process_sort_index` (no tid) or `thread_name`/`thread_sort_index`."""
        kind, at = ("process", {}) if tid is None else ("thread", {"tid": tid})
        self.events.append({"ph": "M", "name": f"{kind}_name", "pid": pid, **at,
                            "args": {"name": label}})
        self.events.append({"ph": "M", "name": f"{kind}_sort_index", "pid": pid, **at,
                            "args": {"sort_index": pid if tid is None else tid}})


def _micros(stamp: Any) -> int:
    """µs since the epoch of a datetime or pandas timestamp; `_NAT` when missing."""
    if stamp is None or pd.isna(stamp):
        return _NAT
    return int(pd.Timestamp(stamp).as_unit("us").value)


def _until(flow_run: FlowRunView) -> int:
    """Where attempts still open end: the flow run's end, or now while it runs."""
    if flow_run.end_time is not None and flow_run.state.is_finished():
        return _micros(flow_run.end_time)
    return _micros(datetime.now(timezone.utc))


def _span(start: int, end: int, until: int) -> tuple[int, int, bool]:
    """(ts, dur, open): an attempt with no end runs to `until`, never before its start."""
    if end == _NAT:
        return start, max(0, until - start), True
    return start, max(0, end - start), False


def _flow_run_attempts(flow_run: FlowRunView) -> list[dict[str, Any]]:
    """The flow run's own attempts (its history cut at Running states), or its start and
    end when the history has no Running state."""
    states: list[State] = flow_run.states
    attempts = split_attempts(states)
    if attempts or flow_run.start_time is None:
        return attempts
    state = flow_run.state
    return [{"start": flow_run.start_time, "end": flow_run.end_time, "state_type": state.type,
             "state_name": state.name, "message": state.message}]


def _lanes(spans: Iterable[tuple[int, int]]) -> list[int]:
    """First-fit lanes for spans sorted by start: a span takes the lowest lane free at its
    start (a lane frees when its last span ends, touching is not overlapping)."""
    busy: list[tuple[int, int]] = []
    free: list[int] = []
    lanes: list[int] = []
    count = 0
    for start, end in spans:
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        heapq.heappush(busy, (end, lane))
        lanes.append(lane)
    return lanes


def _args(**values: Any) -> dict[str, Any]:
    """Slice args without the empty ones (None, NaN, NA, "")."""
    return {k: v for k, v in values.items() if not pd.isna(v) and v != ""}


def _add_run(trace: _Trace, flow_run: FlowRunView, parent: _Slice | None,
             subflows: bool) -> None:
    """One flow run as a process: its own track, its task tracks, its dependency arrows;
    then its subflow runs, each as the next process."""
    trace.seen.add(flow_run.flow_run_id)
    pid = trace.next_pid
    trace.next_pid += 1
    flow_name = flow_run.flow.name
    title = f"{flow_name} / {flow_run.name}"
    trace.name(pid, None, title if parent is None else f"subflow {title}")
    trace.name(pid, 0, "flow run")
    until = _until(flow_run)
    own: _Slice | None = None
    runs = _flow_run_attempts(flow_run)
    for number, attempt in enumerate(runs, start=1):
        ts, dur, open_ = _span(_micros(attempt["start"]), _micros(attempt["end"]), until)
        own = own or _Slice(pid, 0, ts, dur)
        trace.events.append({
            "ph": "X", "name": flow_run.name + (f" (attempt {number})" if len(runs) > 1 else ""),
            "cat": "flow_run", "pid": pid, "tid": 0, "ts": ts, "dur": dur,
            "args": _args(flow_run_id=flow_run.flow_run_id, flow_name=flow_name,
                          state_type=attempt["state_type"], state_name=attempt["state_name"],
                          message=attempt["message"], attempt=number, attempts=len(runs),
                          open=open_ or None)})
    if parent is not None and own is not None:
        trace.flow("subflow", parent, own)
    frame = flow_run.data.tasks()
    first, children = _add_tasks(trace, pid, flow_run, frame, until)
    for task_id, upstreams in frame["upstream_task_run_ids"].items():
        target = first.get(str(task_id))
        if target is None or not isinstance(upstreams, (list, tuple)):
            continue
        for upstream in upstreams:
            source = first.get(str(upstream))
            if source is not None:
                trace.flow("dependency", source, target)
    for task_id, child_id in children:
        if subflows and child_id not in trace.seen:
            child = FlowRunView.from_flow_run_id(child_id, client=flow_run.client)
            _add_run(trace, child, first.get(task_id), subflows)


def _add_tasks(trace: _Trace, pid: int, flow_run: FlowRunView, frame: pd.DataFrame,
               until: int) -> tuple[dict[str, _Slice], list[tuple[str, str]]]:
    """The task tracks of one process. Returns each task run's first slice (by task run
    id) and the (task run id, subflow run id) of its subflow runs in run order."""
    attempts = attempts_frame(flow_run)
    start = attempts["start"].dt.as_unit("us").array.asi8
    end = attempts["end"].dt.as_unit("us").array.asi8
    ids = attempts["task_run_id"].astype(str).tolist()
    spans: dict[str, tuple[int, int]] = {}
    for task_id, a, b in zip(ids, start, end):
        ts, dur, _ = _span(int(a), int(b), until)
        low, high = spans.get(task_id, (ts, ts + dur))
        spans[task_id] = (min(low, ts), max(high, ts + dur))
    trace.not_started += len(frame) - len(spans)
    index = frame.index.astype(str)
    names = dict(zip(index, frame["task_name"].astype(str)))
    subflow = {i for i, kind in zip(index, frame["kind"]) if kind == "subflow-run"}
    children = dict(zip(index, frame["child_flow_run_id"]))
    map_index = {i: int(m) for i, m, mapped in zip(index, frame["map_index"], frame["mapped"])
                 if mapped and not pd.isna(m)}
    order = sorted(spans, key=lambda i: (spans[i][0], names[i]))
    groups: dict[str, list[str]] = {}
    for task_id in order:  # groups in order of first start
        groups.setdefault(names[task_id], []).append(task_id)
    track: dict[str, int] = {}
    tid = 0
    for task_name, members in groups.items():
        lanes = _lanes(spans[i] for i in members)
        for lane in range(max(lanes) + 1):
            trace.name(pid, tid + 1 + lane, task_name if lane == 0 else
                       f"{task_name} · lane {lane + 1}")
        track.update((i, tid + 1 + lane) for i, lane in zip(members, lanes))
        tid += max(lanes) + 1
    first: dict[str, _Slice] = {}
    counts = Counter(ids)
    for row, task_id, a, b in zip(attempts.itertuples(index=False), ids, start, end):
        ts, dur, open_ = _span(int(a), int(b), until)
        first.setdefault(task_id, _Slice(pid, track[task_id], ts, dur))
        is_subflow = task_id in subflow
        trace.events.append({
            "ph": "X",
            "name": row.name + (f" (attempt {row.attempt})" if counts[task_id] > 1 else ""),
            "cat": "subflow_run" if is_subflow else "task_run", "pid": pid,
            "tid": track[task_id], "ts": ts, "dur": dur,
            "args": _args(task_run_id=task_id, task_name=row.task_name,
                          flow_run_id=flow_run.flow_run_id, map_index=map_index.get(task_id),
                          child_flow_run_id=children[task_id] if is_subflow else None,
                          state_type=str(row.state_type), state_name=str(row.state_name),
                          message=row.message, attempt=int(row.attempt),
                          attempts=counts[task_id], open=open_ or None)})
    return first, [(i, str(children[i])) for i in order if i in subflow]


def flow_run_trace(flow_run: FlowRunView, *, subflows: bool = True) -> dict[str, Any]:
    """The run as a Trace Event Format JSON object (`traceEvents`, `displayTimeUnit`,
    `otherData`); `subflows=False` leaves subflow runs' own task runs out (their parent
    task runs stay)."""
    if not isinstance(flow_run, FlowRunView):
        raise InvalidRequest(f"Expected a FlowRunView, got {type(flow_run).__name__}.")
    trace = _Trace()
    _add_run(trace, flow_run, None, subflows)
    timed = [e for e in trace.events if "ts" in e]
    origin = min((e["ts"] for e in timed), default=0)
    for event in timed:
        event["ts"] -= origin
    return {
        "traceEvents": trace.events,
        "displayTimeUnit": DISPLAY_TIME_UNIT,
        "otherData": {
            "generator": f"prefect-widgets {__version__}",
            "flow_run_id": flow_run.flow_run_id,
            "origin": datetime.fromtimestamp(origin / 1e6, timezone.utc).isoformat()
            if timed else "",
            "task_runs_not_started": str(trace.not_started),
        },
    }


def write_trace(flow_run: FlowRunView, path: str | os.PathLike[str], *,
                subflows: bool = True) -> Path:
    """Write `flow_run_trace(flow_run)` to `path` as JSON (UTF-8); returns the path."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidRequest(f"to_trace() takes a file path, not {type(path).__name__}.")
    text = json.dumps(flow_run_trace(flow_run, subflows=subflows), ensure_ascii=False,
                      allow_nan=False, separators=(",", ":"))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
