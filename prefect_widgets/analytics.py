"""Run analytics: attempts, critical path, per-task statistics, concurrency and run trends.

Everything reads the view's run data (`FlowRunView.data`: one paged export per snapshot,
no request per task run), and each function has a `*_from_frame` twin that takes a
task-run frame directly (the full or the timeline frame). Extra requests:

* `attempts_frame`: one `GET /task_run_states/` per task run that was retried
  (`run_count > 1` or a Retrying / AwaitingRetry state), a few in flight at a time, read
  once per snapshot;
* `runs_summary`: one `POST /task_runs/count` per flow run (`task_counts=False`: none);
* `compare_runs`: two exports, one per run.

Times are `datetime64[ns, UTC]`, spans `timedelta64[ns]`. A task run still running counts
until `until` (default: the flow run's end, or now while it runs).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _ops
from .client import Client, get_client
from .errors import BadResponse, DependencyCycle, InvalidRequest
from .records import SPAN, STATE_DTYPE, TIME, states_from_json
from .rundata import RunData
from .states import STATE_TYPES, State

if TYPE_CHECKING:
    from .queries import FlowRunList
    from .views import FlowRunView

__all__ = [
    "DependencyCycle", "attempts_frame", "attempts_from_frame", "split_attempts",
    "critical_path", "critical_path_from_frame", "task_stats", "task_stats_from_frame",
    "concurrency", "concurrency_from_frame", "plot_concurrency", "runs_summary",
    "plot_run_durations", "compare_runs", "compare_stats",
]

_NAT = np.iinfo(np.int64).min
RETRY_STATE_NAMES = frozenset({"Retrying", "AwaitingRetry"})
FAILED_TYPES = frozenset({"FAILED", "CRASHED"})


# --------------------------------------------------------------------------- helpers


def _frame_of(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(getattr(source, "data", None), RunData):
        return source.data.tasks()
    raise InvalidRequest(f"Expected a FlowRunView or a task-run DataFrame, got "
                         f"{type(source).__name__}.")


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidRequest(f"{what} needs the task-run frame columns {', '.join(missing)} "
                             "(from FlowRunView.to_dataframe()).")


def _ns(values: Any) -> np.ndarray:
    """Epoch nanoseconds (int64, NaT as int64 min) of datetimes, tz-aware or UTC-naive."""
    series = pd.Series(pd.to_datetime(pd.Series(values), utc=True)).dt.as_unit("ns")
    return np.asarray(series.array.asi8, dtype="int64")


def _ns_scalar(value: Any) -> int:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


def _times(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(ns, dtype="int64"), utc=True)).astype(TIME)


def _spans(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_timedelta(np.asarray(ns, dtype="int64"), unit="ns")).astype(SPAN)


def _now_ns() -> int:
    return _ns_scalar(datetime.now(timezone.utc))


def _run_until(flow_run: FlowRunView) -> int:
    """Where open task runs stop counting: the run's end, or now while it runs."""
    if flow_run.end_time is not None and flow_run.state.is_finished():
        return _ns_scalar(flow_run.end_time)
    return _now_ns()


def _open_ended(start: np.ndarray, end: np.ndarray, until: int) -> np.ndarray:
    """End times with running task runs (started, no end) closed at `until` (never before start)."""
    open_ = (start != _NAT) & (end == _NAT)
    return np.where(open_, np.maximum(start, until), end)


# --------------------------------------------------------------------------- attempts

ATTEMPT_COLUMNS = {
    "task_run_id": "str", "name": "str", "task_name": "str", "attempt": "Int64",
    "start": TIME, "end": TIME, "duration": SPAN, "state_type": STATE_DTYPE,
    "state_name": "category", "message": "str", "queued": SPAN, "retry_wait": SPAN,
}


def _empty(columns: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def split_attempts(states: Sequence[State | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Split one task run's state history (`State`s or JSON rows, any order) into attempts.

    Each Running state opens an attempt; the next non-Running state (Completed, Failed,
    AwaitingRetry, ...) closes it and is its outcome. A Running right after another Running
    (a lost event) closes the previous attempt with that state. An attempt still open has
    no end and the Running state as its outcome. Returns dicts with `start`, `end` (aware
    datetimes or None), `state_type`, `state_name`, `message`.
    """
    history = [s if isinstance(s, State) else states_from_json([s])[0] for s in states]
    attempts: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for state in sorted((s for s in history if s.timestamp is not None),
                        key=lambda s: s.timestamp):
        stamp, type_ = state.timestamp, state.type
        outcome = {"end": stamp, "state_type": type_, "state_name": state.name,
                   "message": state.message}
        if current is not None:
            current.update(outcome)
            current = None
        if type_ == "RUNNING":
            current = {"start": stamp, **outcome, "end": None}
            attempts.append(current)
    return attempts


def _needs_history(frame: pd.DataFrame) -> pd.Series:
    names = frame["state_name"].astype("object")
    return (frame["run_count"] > 1) | names.isin(RETRY_STATE_NAMES)


def attempts_from_frame(frame: pd.DataFrame,
                        histories: Mapping[str, Sequence[State | Mapping[str, Any]]] | None
                        = None) -> pd.DataFrame:
    """One row per attempt: task runs in `histories` (id → state JSON rows) are split with
    `split_attempts`; every other started task run is one attempt taken from its frame row.

    `queued` is the lead-in of the first attempt (expected start → first Running);
    `retry_wait` is the gap before each later attempt (previous end → this start).
    """
    _require(frame, ("name", "task_name", "expected_start_time", "start_time", "end_time",
                     "state_type", "state_name", "state_message"), "attempts_frame()")
    histories = histories or {}
    index = frame.index.astype(str)
    ids = np.asarray(index.tolist(), dtype=object)
    start = _ns(frame["start_time"])
    end = _ns(frame["end_time"])
    expected = _ns(frame["expected_start_time"])
    in_history = np.asarray(index.isin(list(histories)), dtype=bool)
    single = (~in_history) & (start != _NAT)
    pos = np.flatnonzero(single)

    def lead(first_start: np.ndarray, exp: np.ndarray) -> np.ndarray:
        ok = (first_start != _NAT) & (exp != _NAT)
        return np.where(ok, first_start - exp, _NAT)

    parts = {
        "_pos": pos, "task_run_id": ids[pos].tolist(),
        "name": frame["name"].to_numpy(dtype=object)[pos],
        "task_name": frame["task_name"].to_numpy(dtype=object)[pos],
        "attempt": np.ones(len(pos), dtype="int64"),
        "start": start[pos], "end": end[pos],
        "state_type": frame["state_type"].astype("object").to_numpy()[pos],
        "state_name": frame["state_name"].astype("object").to_numpy()[pos],
        "message": frame["state_message"].to_numpy(dtype=object)[pos],
        "queued": lead(start[pos], expected[pos]),
        "retry_wait": np.full(len(pos), _NAT, dtype="int64"),
    }
    rows: dict[str, list[Any]] = {key: list(value) for key, value in parts.items()}
    for index in np.flatnonzero(in_history):
        task_id = ids[index]
        attempts = split_attempts(histories[task_id])
        if not attempts and start[index] == _NAT:
            continue
        if not attempts:  # history lost (dropped events): fall back to the frame row
            attempts = [{"start": frame["start_time"].iloc[index],
                         "end": frame["end_time"].iloc[index],
                         "state_type": str(frame["state_type"].iloc[index]),
                         "state_name": str(frame["state_name"].iloc[index]),
                         "message": frame["state_message"].iloc[index]}]
        previous_end = _NAT
        for number, attempt in enumerate(attempts, start=1):
            a_start = _ns_scalar(attempt["start"])
            a_end = _NAT if attempt["end"] is None or pd.isna(attempt["end"]) else \
                _ns_scalar(attempt["end"])
            rows["_pos"].append(index)
            rows["task_run_id"].append(task_id)
            rows["name"].append(frame["name"].iloc[index])
            rows["task_name"].append(frame["task_name"].iloc[index])
            rows["attempt"].append(number)
            rows["start"].append(a_start)
            rows["end"].append(a_end)
            rows["state_type"].append(attempt["state_type"])
            rows["state_name"].append(attempt["state_name"])
            rows["message"].append(attempt["message"])
            exp = expected[index]
            rows["queued"].append(a_start - exp if number == 1 and exp != _NAT else _NAT)
            rows["retry_wait"].append(a_start - previous_end if number > 1 and
                                      previous_end != _NAT else _NAT)
            previous_end = a_end
    if not rows["_pos"]:
        return _empty(ATTEMPT_COLUMNS)
    start_ns = np.asarray(rows["start"], dtype="int64")
    end_ns = np.asarray(rows["end"], dtype="int64")
    duration = np.where((start_ns != _NAT) & (end_ns != _NAT), end_ns - start_ns, _NAT)
    unknown = [t for t in rows["state_type"] if t not in STATE_TYPES]
    if unknown:
        raise BadResponse(f"A task run state has an unknown type {unknown[0]!r}.")
    out = pd.DataFrame({
        "task_run_id": rows["task_run_id"], "name": rows["name"],
        "task_name": rows["task_name"], "attempt": pd.array(rows["attempt"], dtype="Int64"),
        "start": _times(start_ns), "end": _times(end_ns), "duration": _spans(duration),
        "state_type": pd.Categorical(rows["state_type"], dtype=STATE_DTYPE),
        "state_name": pd.Categorical(rows["state_name"]), "message": rows["message"],
        "queued": _spans(np.asarray(rows["queued"], dtype="int64")),
        "retry_wait": _spans(np.asarray(rows["retry_wait"], dtype="int64")),
    })
    order = np.lexsort((np.asarray(rows["attempt"]), np.asarray(rows["_pos"])))
    return out.iloc[order].reset_index(drop=True).astype(ATTEMPT_COLUMNS)


def attempts_frame(flow_run: FlowRunView | pd.DataFrame, *, client: Client | None = None,
                   max_workers: int = 4) -> pd.DataFrame:
    """One row per task-run attempt of a run (`FlowRunView.attempts_dataframe()`).

    Retried task runs get their state history read (one request each, `max_workers` in
    flight, once per snapshot); all others come from the task-run frame with no request.
    A frame needs `client=` (or the default client) for the histories.
    """
    frame = _frame_of(flow_run)
    ids = frame.index[_needs_history(frame).to_numpy()].astype(str).tolist()
    data = getattr(flow_run, "data", None)
    if not isinstance(data, RunData):
        data = RunData("", client)
    return attempts_from_frame(frame, data.histories(ids, max_workers))


# --------------------------------------------------------------------------- critical path

CRITICAL_PATH_COLUMNS = {
    "task_run_id": "str", "name": "str", "task_name": "str", "state_type": STATE_DTYPE,
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
                             run_start: Any = None) -> pd.DataFrame:
    """The longest time-weighted dependency chain ending at the task run that ends last.

    Nodes are the frame's rows, edges its `upstream_task_run_ids` (ids outside the frame are
    ignored; a subflow's parent task run is one node spanning its child run). A node weighs
    its duration; a running task run counts until `until` (default now) and keeps `end`
    NaT. `wait_before` is the gap since the previous step ended (for the first step, since
    `run_start` if given). When the frame has no dependency edges at all (e.g. a mapped
    run), the path is the single longest task run. Linear time (Kahn's algorithm over
    V + E); a cycle raises `DependencyCycle` naming its task runs.
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
    where = {task_id: i for i, task_id in enumerate(ids)}
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for i, ups in enumerate(frame["upstream_task_run_ids"].tolist()):
        if ups is None or (not isinstance(ups, (list, tuple, np.ndarray))):
            continue
        for up in ups:  # a repeated edge is harmless: counted in and out alike
            j = where.get(up if isinstance(up, str) else str(up))
            if j is None:
                continue
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
    out.index.name = "step"
    return out.astype(CRITICAL_PATH_COLUMNS)


def critical_path(flow_run: FlowRunView | pd.DataFrame) -> pd.DataFrame:
    """`FlowRunView.critical_path()`: see `critical_path_from_frame` (one export, no more)."""
    if isinstance(flow_run, pd.DataFrame):
        return critical_path_from_frame(flow_run)
    return critical_path_from_frame(flow_run.data.tasks(), until=_run_until(flow_run),
                                    run_start=flow_run.start_time)


# --------------------------------------------------------------------------- task stats

STAT_COLUMNS = {"count": "int64", "retries": "int64", "min": SPAN, "p50": SPAN, "p90": SPAN,
                "p99": SPAN, "max": SPAN, "total": SPAN, "share": "float64"}


def task_stats_from_frame(frame: pd.DataFrame, *, wall_time: Any = None) -> pd.DataFrame:
    """Per `task_name`: `count`, one count column per state type present (lower case),
    `retries` (sum of run_count - 1), duration `min`/`p50`/`p90`/`p99`/`max`, `total` time
    and `share` (total / the run's wall time: `wall_time`, else first start → last end;
    above 1 when task runs overlap).
    Durations of unfinished task runs are left out of the duration columns. Sorted by total.
    """
    _require(frame, ("task_name", "state_type", "duration", "run_count"), "task_stats()")
    if frame.empty:
        out = _empty(STAT_COLUMNS)
        out.index = pd.Index([], dtype="str", name="task_name")
        return out
    keys = frame["task_name"].astype("str")
    durations = frame["duration"].astype(SPAN)
    by = durations.groupby(keys, sort=True)
    stats = pd.DataFrame({"count": keys.groupby(keys, sort=True).size().astype("int64")})
    counts = frame.groupby([keys, frame["state_type"].astype("str")], sort=True).size().unstack(
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
    stats.index = pd.Index(stats.index, dtype="str", name="task_name")
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
    _require(frame, ("start_time", "end_time"), "concurrency()")
    start = _ns(frame["start_time"])
    end = _open_ended(start, _ns(frame["end_time"]),
                      _now_ns() if until is None else _ns_scalar(until))
    keep = (start != _NAT) & (end != _NAT)
    times = np.concatenate([start[keep], end[keep]])
    deltas = np.concatenate([np.ones(keep.sum(), "int64"), -np.ones(keep.sum(), "int64")])
    moments, inverse = np.unique(times, return_inverse=True)
    running = np.cumsum(np.bincount(inverse, weights=deltas, minlength=len(moments))
                        .astype("int64")) if len(moments) else np.array([], "int64")
    return pd.DataFrame({"time": _times(moments), "running": running.astype("int64")})


def concurrency(flow_run: FlowRunView | pd.DataFrame) -> pd.DataFrame:
    """`FlowRunView.concurrency()`; running task runs count until the run's end or now."""
    if isinstance(flow_run, pd.DataFrame):
        return concurrency_from_frame(flow_run)
    return concurrency_from_frame(flow_run.data.tasks(), until=_run_until(flow_run))


def plot_concurrency(flow_run: FlowRunView | pd.DataFrame, *, series: pd.DataFrame | None = None
                     ) -> Any:
    """A plotly step chart of `concurrency()` (pass `series=` to reuse one)."""
    import plotly.graph_objects as go

    steps = concurrency(flow_run) if series is None else series
    title = "Running task runs"
    if not isinstance(flow_run, pd.DataFrame):
        title += f" — {html.escape(flow_run.name)}"
    fig = go.Figure(go.Scatter(x=steps["time"], y=steps["running"], mode="lines",
                               line_shape="hv", fill="tozeroy", name="running",
                               hovertemplate="%{x}<br>%{y} running<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (UTC)", yaxis_title="running task runs",
                      yaxis_rangemode="tozero", template="plotly_white")
    return fig


# --------------------------------------------------------------------------- across runs

SUMMARY_COLUMNS = {"name": "str", "flow_id": "str", "state_type": STATE_DTYPE,
                   "state_name": "category", "start_time": TIME, "end_time": TIME,
                   "duration": SPAN, "task_runs": "Int64"}


def _as_run_list(flow_runs: Any) -> FlowRunList:
    from .queries import FlowRunList

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
    counts: list[int | None] = [None] * len(out)
    if task_counts and len(runs):
        client = get_client(client or runs[0].client)

        def count(flow_run_id: str) -> int:
            return client.run(_ops.count("/task_runs/count",
                                         {"flow_runs": {"id": {"any_": [flow_run_id]}}}))

        ids = out.index.astype(str).tolist()
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ids)))) as pool:
            counts = list(pool.map(count, ids))
    out["task_runs"] = pd.array(counts, dtype="Int64")
    out = out.sort_values("start_time", kind="stable", na_position="last")
    return out.astype(SUMMARY_COLUMNS)


def plot_run_durations(flow_runs: FlowRunList | Sequence[FlowRunView], *, window: int = 20,
                       summary: pd.DataFrame | None = None) -> Any:
    """A plotly figure of run durations over time: a rolling p50–p90 band over the last
    `window` finished runs, and failed / crashed runs marked. No request beyond the list."""
    import plotly.graph_objects as go

    if window < 1:
        raise InvalidRequest("window must be at least 1.")
    data = runs_summary(flow_runs, task_counts=False) if summary is None else summary
    data = data[data["start_time"].notna() & data["duration"].notna()]
    seconds = data["duration"].dt.total_seconds()
    rolling = seconds.rolling(window, min_periods=1)
    p50, p90 = rolling.quantile(0.5), rolling.quantile(0.9)
    failed = data["state_type"].astype("str").isin(FAILED_TYPES)
    text = [f"{html.escape(str(n))}<br>{html.escape(str(s))}"
            for n, s in zip(data["name"], data["state_name"])]
    text = pd.Series(text, index=data.index, dtype="object")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=data["start_time"], y=p90, mode="lines", name="p90",
                             line={"width": 1, "color": "rgba(99,110,250,0.6)", "dash": "dot"}))
    fig.add_trace(go.Scatter(x=data["start_time"], y=p50, mode="lines", name="p50",
                             fill="tonexty", fillcolor="rgba(99,110,250,0.15)",
                             line={"width": 2, "color": "rgb(99,110,250)"}))
    fig.add_trace(go.Scatter(x=data["start_time"][~failed], y=seconds[~failed], mode="markers",
                             name="runs", text=text[~failed], hovertemplate=(
                                 "%{text}<br>%{y:.2f} s<extra></extra>"),
                             marker={"color": "rgb(60,60,60)", "size": 7}))
    fig.add_trace(go.Scatter(x=data["start_time"][failed], y=seconds[failed], mode="markers",
                             name="failed", text=text[failed], hovertemplate=(
                                 "%{text}<br>%{y:.2f} s<extra></extra>"),
                             marker={"color": "rgb(214,39,40)", "size": 11, "symbol": "x"}))
    fig.update_layout(title=f"Flow run durations (band: rolling p50–p90 of {window})",
                      xaxis_title="start (UTC)", yaxis_title="duration (s)",
                      yaxis_rangemode="tozero", template="plotly_white")
    return fig


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
