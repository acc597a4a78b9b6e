"""Run records: the one place where the Prefect REST API's JSON becomes Python.

Views, frames, figures, the widget, reports and the CLI all read these fields; each
derived field has exactly one definition here:

* ``task_name``: the task's name. Prefect names a run ``<task name>-<dynamic key[:3]>``
  (Prefect 2: ``-<dynamic key>``); a run named that way gives its task name exactly. A run
  with a custom ``task_run_name`` gives the task key without its hash (the function name).
* ``map_index``: the position of a run among the runs of the same task (same flow run,
  task key and task name). Where the server stores it (Prefect 2 and subflow parent task
  runs keep a counter in ``dynamic_key``: ``"0"``, ``"1"``, ...) it is that. Prefect 3
  stores none; its task-run ids are UUIDv7, created in call order, so runs are numbered by
  the id's millisecond timestamp. Runs created in the same millisecond have no knowable
  order: they are ordered by expected start time, then id, and ``map_index_uncertain`` is
  True for them (ids that are not UUIDv7: the whole group, by expected start).
* ``mapped``: the task ran more than once in the flow run (mapped, or called repeatedly):
  labels then show ``task_name[map_index]``.
* ``retries``: retries that happened, ``max(run_count - 1, 0)``; ``max_retries`` is the
  configured limit.
* ``kind``: ``"subflow-run"`` for a task run that stands for a subflow run (its state
  names a ``child_flow_run_id``), else ``"task-run"``.
* ``upstream_task_run_ids``: task runs whose results or ``wait_for`` feed this one.
* ``duration``: end - start; a run still running counts until now.
* order: by actual start, then expected start, then id (never started: last).
* unfinished (``unfinished_mask``): a task run not in a final state once its flow run has
  finished and the settle window (``display.settle_seconds``) has passed since the flow
  run's end. The server records task runs from events and drops some under load, so such a
  run never reached a final state and has no end; within the window it may still get one.

Long module: on purpose. Every JSON-to-Python reading and every derived field is here, so
that no second definition can grow elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ._parse import parse_datetime, parse_seconds
from .dtypes import TEXT
from .errors import BadResponse
from .options import display
from .states import FINISHED_TYPES, STATE_TYPES, State

__all__ = [
    "TASK_RUN_COLUMNS", "TIMELINE_COLUMNS", "FLOW_RUN_COLUMNS", "LOG_COLUMNS",
    "STATE_DTYPE", "state_dtype", "TIME", "SPAN", "task_name_of", "uuid7_ms", "map_indices",
    "retries_of", "max_retries_of",
    "upstream_ids", "kind_of", "duration_of", "task_run_fields", "flow_run_fields",
    "flow_fields", "ordered_task_runs", "task_runs_frame", "timeline_from_tasks",
    "flow_runs_frame", "logs_frame",
    "states_from_json", "empty_frame", "graph_nodes", "LogEntry", "LEVELS", "level_name",
    "TaskInput", "task_inputs_of", "run_settled", "unfinished_mask", "unfinished_text",
]

STATE_DTYPE = pd.CategoricalDtype(list(STATE_TYPES), ordered=True)
#: what a record's parsing may raise on a malformed value (turned into `BadResponse`)
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
F = TypeVar("F", bound=Callable[..., Any])


def _parser(what: str) -> Callable[[F], F]:
    """Turn a malformed value's error inside a records parser into `BadResponse`."""
    def decorate(parse: F) -> F:
        @functools.wraps(parse)
        def parsed(*args: Any, **kwargs: Any) -> Any:
            try:
                return parse(*args, **kwargs)
            except _MALFORMED as exc:
                raise BadResponse(f"{what} from the server is malformed "
                                  f"({type(exc).__name__}: {str(exc)[:120]}).") from None
        return parsed  # type: ignore[return-value]
    return decorate


def state_dtype(types: Iterable[str]) -> pd.CategoricalDtype:
    """`STATE_DTYPE`, plus each state type in `types` that Prefect 3.8 does not define, as a
    category of its own after the known ones (never NaN)."""
    extra = sorted(set(types) - set(STATE_TYPES))
    return pd.CategoricalDtype([*STATE_TYPES, *extra], ordered=True) if extra else STATE_DTYPE


def _state_types(values: Iterable[Any]) -> pd.Categorical:
    """State types of records: upper case, missing ones Pending, unknown ones kept."""
    types = []
    for value in values:
        if value is not None and not isinstance(value, str):
            raise BadResponse(f"A state type from the server is not a string: {value!r:.60}.")
        types.append((value or "PENDING").upper())
    return pd.Categorical(types, dtype=state_dtype(types))
KIND_DTYPE = pd.CategoricalDtype(["task-run", "subflow-run"])
TIME = "datetime64[ns, UTC]"
SPAN = "timedelta64[ns]"

#: the frames lead with name, state, start and duration (then the rest)
TASK_RUN_COLUMNS: dict[str, Any] = {
    "name": TEXT, "state_type": STATE_DTYPE, "start_time": TIME, "duration": SPAN,
    "task_name": TEXT, "task_key": TEXT, "dynamic_key": TEXT,
    "map_index": "Int64", "flow_run_id": TEXT, "child_flow_run_id": TEXT,
    "state_name": "category", "state_message": TEXT,
    "expected_start_time": TIME, "end_time": TIME, "created": TIME,
    "updated": TIME, "total_run_time": SPAN, "estimated_run_time": SPAN,
    "run_count": "int64", "retries": "int64", "retry_delay": "float64", "tags": "object",
    "cache_key": TEXT, "upstream_task_run_ids": "object", "kind": KIND_DTYPE,
    "map_index_uncertain": "bool", "max_retries": "Int64", "mapped": "bool",
}
TIMELINE_COLUMNS: dict[str, Any] = {
    "name": TEXT, "task_name": TEXT, "kind": KIND_DTYPE, "map_index": "Int64",
    "state_type": STATE_DTYPE, "start_time": TIME, "end_time": TIME, "duration": SPAN,
    "upstream_task_run_ids": "object", "downstream_task_run_ids": "object",
    "map_index_uncertain": "bool", "run_count": "int64", "retries": "int64",
    "state_name": "category", "state_message": TEXT, "expected_start_time": TIME,
    "child_flow_run_id": TEXT, "mapped": "bool",
}
FLOW_RUN_COLUMNS: dict[str, Any] = {
    "name": TEXT, "state_type": STATE_DTYPE, "start_time": TIME, "duration": SPAN,
    "flow_id": TEXT, "deployment_id": TEXT, "state_name": "category", "state_message": TEXT,
    "expected_start_time": TIME, "end_time": TIME, "created": TIME,
    "updated": TIME, "total_run_time": SPAN, "run_count": "int64",
    "tags": "object", "parameters": "object", "parent_task_run_id": TEXT,
    "work_pool_name": TEXT, "work_queue_name": TEXT,
}
LOG_COLUMNS: dict[str, Any] = {
    "timestamp": TIME, "level": "int64", "level_name": "category", "message": TEXT,
    "logger": TEXT, "flow_run_id": TEXT, "task_run_id": TEXT, "task_run_name": TEXT,
    "task_name": TEXT,
}


# --------------------------------------------------------------------------- derived fields


def task_name_of(name: str | None, dynamic_key: str | None, task_key: str | None) -> str:
    """The task's name (see the module docstring)."""
    name, key = name or "", str(dynamic_key or "")
    for suffix in (key[:3], key):
        if suffix and name.endswith("-" + suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix) - 1]
    stem = task_key or name
    return stem.rsplit("-", 1)[0] if "-" in stem else stem


def uuid7_ms(value: str) -> int | None:
    """The creation time (epoch ms) of a UUIDv7 string, or None for other ids."""
    if len(value) != 36 or value[14] != "7":
        return None
    try:
        return int(value[:8] + value[9:13], 16)
    except ValueError:
        return None


def map_indices(ids: Sequence[str], groups: Sequence[Any], dynamic_keys: Sequence[Any],
                expected: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(map_index, map_index_uncertain, mapped)` of each run among the runs of its group."""
    n = len(ids)
    if not n:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    keys = [str(k or "") for k in dynamic_keys]
    counter = np.array([float(k) if k.isascii() and k.isdigit() else np.nan for k in keys])
    created = np.array([float(ms) if (ms := uuid7_ms(str(i))) is not None else np.nan
                        for i in ids])
    group_codes = pd.factorize(pd.Series(list(groups), dtype="object"))[0]
    frame = pd.DataFrame({"g": group_codes, "counter": counter, "created": created})
    by_group = frame.groupby("g")
    size = by_group["g"].transform("size").to_numpy()
    # "count" counts the values present: a group has all of them when it equals the size
    all_counter = by_group["counter"].transform("count").to_numpy() == size
    all_created = by_group["created"].transform("count").to_numpy() == size
    primary = np.where(all_counter, counter, np.where(all_created, created, 0.0))
    exp = pd.to_datetime(pd.Series(list(expected), dtype="object"), utc=True, format="ISO8601")
    exp_ns = exp.astype("datetime64[ns, UTC]").array.asi8.astype("float64")
    exp_ns[exp.isna().to_numpy()] = np.inf
    order = np.lexsort((np.asarray(ids, dtype=object).astype(str), exp_ns, primary, group_codes))
    index = np.empty(n, dtype="int64")
    sorted_groups = group_codes[order]
    starts = np.r_[True, sorted_groups[1:] != sorted_groups[:-1]]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    index[order] = np.arange(n) - run_start
    tied = frame.assign(created=created).duplicated(["g", "created"], keep=False).to_numpy()
    uncertain = np.where(all_counter, False, np.where(all_created, tied, size > 1))
    return index, uncertain.astype(bool), size > 1


def retries_of(run_count: Any) -> int:
    """Retries that happened: one fewer than the runs, never below zero."""
    return max(0, int(run_count or 0) - 1)


def max_retries_of(policy: Mapping[str, Any] | None) -> int | None:
    """The configured retry limit (the task's `retries=`), if the server recorded one."""
    value = (policy or {}).get("retries")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def upstream_ids(task_inputs: Mapping[str, Any] | None) -> list[str]:
    """Task runs feeding this one (inputs and wait_for), in first-seen order."""
    found: dict[str, None] = {}
    for items in (task_inputs or {}).values():
        for item in items or ():
            if isinstance(item, dict) and item.get("input_type") == "task_run" and item.get("id"):
                found[str(item["id"])] = None
    return list(found)


def kind_of(state_details: Mapping[str, Any] | None) -> str:
    """"subflow-run" for a task run standing for a subflow run, else "task-run"."""
    return "subflow-run" if (state_details or {}).get("child_flow_run_id") else "task-run"


def duration_of(start: datetime | None, end: datetime | None, finished: bool
                ) -> timedelta | None:
    """Wall time from start to end; to now while running; None if never started."""
    if start is None:
        return None
    if end is None:
        return None if finished else datetime.now(timezone.utc) - start
    return end - start


def states_from_json(rows: Iterable[Any]) -> list[State]:
    """A state history, oldest first."""
    states = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise BadResponse("A run state from the server is not a JSON object.")
        states.append(State.from_json(dict(row)))
    return sorted(states, key=lambda s: (s.timestamp is None, s.timestamp))


# --------------------------------------------------------------------------- unfinished


def run_settled(state: State, end_time: datetime | None, *, now: datetime | None = None,
                settle: float | None = None) -> bool:
    """Whether a flow run finished at least `settle` seconds (`display.settle_seconds`)
    before `now` (default: the clock): its end, else its final state's time."""
    ended = end_time or state.timestamp
    if not state.is_finished() or ended is None:
        return False
    settle = display.settle_seconds if settle is None else settle
    return (now or datetime.now(timezone.utc)) - ended >= timedelta(seconds=settle)


def unfinished_mask(state_types: Iterable[Any], flow_run_state: State,
                    flow_run_end: datetime | None, *, now: datetime | None = None,
                    settle: float | None = None) -> np.ndarray:
    """Which task runs (by their state types, e.g. a frame's `state_type` column) never
    reached a final state: none until the flow run has settled (`run_settled`), then
    every one not Completed, Failed, Cancelled or Crashed."""
    types = np.asarray([str(t) for t in state_types], dtype=object)
    if not run_settled(flow_run_state, flow_run_end, now=now, settle=settle):
        return np.zeros(len(types), dtype=bool)
    return ~np.isin(types, list(FINISHED_TYPES))


def unfinished_text(count: int) -> str:
    """The note shown wherever a finished run's task runs are: "N task runs never reached
    a final state (...)"."""
    runs, them = ("task run", "it") if count == 1 else ("task runs", "them")
    return (f"{count:,} {runs} never reached a final state (the server has no end for "
            f"{them}; events may have been dropped)")


# --------------------------------------------------------------------------- single records

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def level_name(number: int) -> str:
    for name, value in sorted(LEVELS.items(), key=lambda kv: -kv[1]):
        if number >= value:
            return name
    return "NOTSET"


@dataclass(frozen=True)
class LogEntry:
    """One log line (or, from `watch_flow_run`, one state change)."""

    timestamp: datetime
    level: int
    message: str
    logger: str = ""
    flow_run_id: str | None = None
    task_run_id: str | None = None
    id: str | None = None
    #: the task run's name ("parse_rows-a1b") and its task's name, when the line has a task run
    task_run_name: str | None = None
    task_name: str | None = None

    @property
    def level_name(self) -> str:
        return level_name(self.level)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> LogEntry:
        return cls(timestamp=parse_datetime(row.get("timestamp")) or datetime.now(timezone.utc),
                   level=int(row.get("level") or 0), message=str(row.get("message") or ""),
                   logger=str(row.get("name") or ""), flow_run_id=row.get("flow_run_id"),
                   task_run_id=row.get("task_run_id"), id=row.get("id"))

    def __str__(self) -> str:
        return f"{self.timestamp:%H:%M:%S} | {self.level_name:<8} | {self.message}"



def _when(value: Any) -> datetime | None:
    """A record's timestamp; one without a zone is UTC (as the server means it)."""
    when = parse_datetime(value)
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None \
        else when


def _common(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": body.get("name") or "", "state": State.from_json(body.get("state")),
        "tags": tuple(body.get("tags") or ()), "labels": dict(body.get("labels") or {}),
        "start_time": _when(body.get("start_time")),
        "end_time": _when(body.get("end_time")),
        "expected_start_time": _when(body.get("expected_start_time")),
        "total_run_time": parse_seconds(body.get("total_run_time")) or timedelta(0),
        "estimated_run_time": parse_seconds(body.get("estimated_run_time")),
        "run_count": int(body.get("run_count") or 0),
        "created": _when(body.get("created")),
        "updated": _when(body.get("updated")),
    }


def _ids(body: Any, *keys: str) -> None:
    """`BadResponse` unless `body` is a JSON object whose `keys` are non-empty strings."""
    if not isinstance(body, Mapping):
        raise BadResponse(f"A record from the server is not a JSON object: {body!r:.60}.")
    for key in keys:
        if not isinstance(body.get(key), str) or not body[key]:
            raise BadResponse(f"A record from the server has no {key!r} string "
                              f"({body.get(key)!r:.60}).")


def task_run_fields(body: dict[str, Any]) -> dict[str, Any]:
    """`TaskRunView`'s fields from one task-run record."""
    _ids(body, "id", "task_key")
    try:
        return {
            "task_run_id": body["id"], "task_key": body["task_key"],
            "dynamic_key": str(body.get("dynamic_key") or ""),
            "flow_run_id": body.get("flow_run_id"), **_common(body),
            "task_inputs": dict(body.get("task_inputs") or {}),
            "cache_key": body.get("cache_key"),
            "empirical_policy": dict(body.get("empirical_policy") or {}),
        }
    except _MALFORMED as exc:
        raise BadResponse(f"A task run record from the server is malformed ({exc}).") from None


def flow_run_fields(body: dict[str, Any]) -> dict[str, Any]:
    """`FlowRunView`'s fields from one flow-run record."""
    _ids(body, "id", "flow_id")
    try:
        return {
            "flow_run_id": body["id"], "flow_id": body["flow_id"], **_common(body),
            "deployment_id": body.get("deployment_id"),
            "parameters": dict(body.get("parameters") or {}),
            "parent_task_run_id": body.get("parent_task_run_id"),
            "work_pool_name": body.get("work_pool_name"),
            "work_queue_name": body.get("work_queue_name"),
        }
    except _MALFORMED as exc:
        raise BadResponse(f"A flow run record from the server is malformed ({exc}).") from None


def flow_fields(body: dict[str, Any]) -> dict[str, Any]:
    _ids(body, "id", "name")
    try:
        return {
            "flow_id": body["id"], "name": body["name"], "tags": tuple(body.get("tags") or ()),
            "labels": dict(body.get("labels") or {}),
            "created": _when(body.get("created")),
            "updated": _when(body.get("updated")),
        }
    except _MALFORMED as exc:
        raise BadResponse(f"A flow record from the server lacks {exc}.") from None


# --------------------------------------------------------------------------- frames


def _times(values: list[Any]) -> pd.Series:
    """ISO 8601 timestamps as UTC times (one without a zone is UTC); None is NaT."""
    bad = next((v for v in values if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        raise BadResponse(f"The server sent a timestamp that is not a string: {bad!r:.60}.")
    return pd.Series(pd.to_datetime(values, utc=True, format="ISO8601")).astype(TIME)


def _seconds(values: list[Any]) -> pd.Series:
    """Float seconds as spans, rounded to the microsecond the server measures (a plain
    float-to-nanosecond cast floors 0.002054 s to 2,053,999 ns)."""
    micros = pd.Series(values, dtype="float64").mul(1e6).round()
    return pd.to_timedelta(micros, unit="us").astype(SPAN)


def _first_delay(policy: dict[str, Any]) -> float:
    delay = policy.get("retry_delay")
    if isinstance(delay, list):
        delay = delay[0] if delay else None
    return float(delay) if isinstance(delay, (int, float)) else np.nan


def empty_frame(columns: Mapping[str, Any], index_name: str) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    frame.index = pd.Index([], dtype=TEXT, name=index_name)
    return frame


def _durations(start: pd.Series, end: pd.Series, states: pd.Categorical) -> pd.Series:
    """end - start; started runs without an end that are not finished count until now."""
    now = pd.Timestamp.now(tz="UTC")
    running = start.notna() & end.isna() & pd.Series(states).isin(
        ["RUNNING", "CANCELLING", "PAUSED"]).to_numpy()
    return (end.where(~running, now) - start).astype(SPAN)


def _order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r.get("start_time") is None, r.get("start_time") or "",
                                       r.get("expected_start_time") or "", r["id"]))


def ordered_task_runs(rows: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[str], np.ndarray, np.ndarray,
                                 np.ndarray]:
    """Task-run records in run order, with their task names, map indices, whether each
    index is uncertain, and whether the task ran more than once (see the module docstring)."""
    try:
        rows = _order(rows)
    except (KeyError, TypeError):
        raise BadResponse("A task run record from the server has no id.") from None
    keys = [r.get("dynamic_key") for r in rows]
    names = [task_name_of(r.get("name"), k, r.get("task_key")) for r, k in zip(rows, keys)]
    groups = [(r.get("flow_run_id"), r.get("task_key"), n) for r, n in zip(rows, names)]
    index, uncertain, mapped = map_indices([r["id"] for r in rows], groups, keys,
                                           [r.get("expected_start_time") for r in rows])
    return rows, names, index, uncertain, mapped


@_parser("A task run record")
def task_runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The full task-run frame (index `task_run_id`) from task-run records, in run order."""
    if not rows:
        return empty_frame(TASK_RUN_COLUMNS, "task_run_id")
    rows, names, index, uncertain, mapped = ordered_task_runs(rows)
    col = {name: [r.get(name) for r in rows] for name in (
        "id", "name", "task_key", "dynamic_key", "flow_run_id", "state_type", "state_name",
        "expected_start_time", "start_time", "end_time", "created", "updated",
        "total_run_time", "estimated_run_time", "run_count", "tags", "cache_key")}
    states = [r.get("state") or {} for r in rows]
    policies = [r.get("empirical_policy") or {} for r in rows]
    state_type = _state_types(col["state_type"])
    start, end = _times(col["start_time"]), _times(col["end_time"])
    run_count = np.array([c or 0 for c in col["run_count"]], dtype="int64")
    frame = pd.DataFrame({
        "name": col["name"], "task_name": names, "task_key": col["task_key"],
        "dynamic_key": col["dynamic_key"], "map_index": pd.array(index, dtype="Int64"),
        "flow_run_id": col["flow_run_id"],
        "child_flow_run_id": [(s.get("state_details") or {}).get("child_flow_run_id")
                              for s in states],
        "state_type": state_type,
        "state_name": pd.Categorical([n or "Pending" for n in col["state_name"]]),
        "state_message": [s.get("message") or None for s in states],
        "expected_start_time": _times(col["expected_start_time"]),
        "start_time": start, "end_time": end,
        "created": _times(col["created"]), "updated": _times(col["updated"]),
        "duration": _durations(start, end, state_type),
        "total_run_time": _seconds(col["total_run_time"]),
        "estimated_run_time": _seconds(col["estimated_run_time"]),
        "run_count": run_count, "retries": np.maximum(run_count - 1, 0),
        "retry_delay": np.array([_first_delay(p) for p in policies], dtype="float64"),
        "tags": [list(t or ()) for t in col["tags"]], "cache_key": col["cache_key"],
        "upstream_task_run_ids": [upstream_ids(r.get("task_inputs")) for r in rows],
        "kind": pd.Categorical([kind_of(s.get("state_details")) for s in states],
                               dtype=KIND_DTYPE),
        "map_index_uncertain": uncertain,
        "max_retries": pd.array([max_retries_of(p) for p in policies], dtype="Int64"),
        "mapped": mapped,
    })
    frame.index = pd.Index(col["id"], dtype=TEXT, name="task_run_id")
    return frame[list(TASK_RUN_COLUMNS)].astype(
        {**TASK_RUN_COLUMNS, "state_type": state_type.dtype})


def timeline_from_tasks(full: pd.DataFrame) -> pd.DataFrame:
    """The timeline frame: the full frame's timeline columns plus downstream links."""
    downstream: dict[str, list[str]] = {i: [] for i in full.index}
    for task_id, ups in zip(full.index, full["upstream_task_run_ids"]):
        for up in ups:
            if up in downstream:
                downstream[up].append(task_id)
    frame = full.reindex(columns=[c for c in TIMELINE_COLUMNS if c in full.columns])
    frame["downstream_task_run_ids"] = [downstream[i] for i in full.index]
    return frame[list(TIMELINE_COLUMNS)].astype(
        {**TIMELINE_COLUMNS, "state_type": full["state_type"].dtype})


@_parser("A flow run record")
def flow_runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A typed frame of flow-run records (index `flow_run_id`), in the order given."""
    if not rows:
        return empty_frame(FLOW_RUN_COLUMNS, "flow_run_id")
    get = lambda name: [r.get(name) for r in rows]  # noqa: E731
    state_type = _state_types(get("state_type"))
    start, end = _times(get("start_time")), _times(get("end_time"))
    frame = pd.DataFrame({
        "name": get("name"), "flow_id": get("flow_id"), "deployment_id": get("deployment_id"),
        "state_type": state_type,
        "state_name": pd.Categorical([n or "Pending" for n in get("state_name")]),
        "state_message": [(r.get("state") or {}).get("message") or None for r in rows],
        "expected_start_time": _times(get("expected_start_time")), "start_time": start,
        "end_time": end, "created": _times(get("created")), "updated": _times(get("updated")),
        "duration": _durations(start, end, state_type),
        "total_run_time": _seconds(get("total_run_time")),
        "run_count": np.array([c or 0 for c in get("run_count")], dtype="int64"),
        "tags": [list(t or ()) for t in get("tags")], "parameters": get("parameters"),
        "parent_task_run_id": get("parent_task_run_id"), "work_pool_name": get("work_pool_name"),
        "work_queue_name": get("work_queue_name"),
    })
    frame.index = pd.Index(get("id"), dtype=TEXT, name="flow_run_id")
    return frame[list(FLOW_RUN_COLUMNS)].astype(
        {**FLOW_RUN_COLUMNS, "state_type": state_type.dtype})


def logs_frame(entries: Sequence[LogEntry]) -> pd.DataFrame:
    """A typed frame of log entries (index `log_id`)."""
    if not entries:
        return empty_frame(LOG_COLUMNS, "log_id")
    frame = pd.DataFrame({
        "timestamp": pd.Series([e.timestamp for e in entries]).astype(TIME),
        "level": np.array([e.level for e in entries], dtype="int64"),
        "level_name": pd.Categorical([e.level_name for e in entries]),
        "message": [e.message for e in entries], "logger": [e.logger for e in entries],
        "flow_run_id": [e.flow_run_id for e in entries],
        "task_run_id": [e.task_run_id for e in entries],
        "task_run_name": [e.task_run_name for e in entries],
        "task_name": [e.task_name for e in entries],
    })
    frame.index = pd.Index([e.id for e in entries], dtype=TEXT, name="log_id")
    return frame.astype(LOG_COLUMNS)


@_parser("The flow run graph")
def graph_nodes(graph: Mapping[str, Any]) -> pd.DataFrame:
    """The nodes of a `GET /flow_runs/{id}/graph-v2` answer (index: node id): `kind`
    ("task-run" or "flow-run", the server's words), state_type, start_time, end_time."""
    try:
        nodes = [node for _, node in graph.get("nodes") or ()]
        ids = [str(n["id"]) for n in nodes]
    except (TypeError, ValueError, KeyError):
        raise BadResponse("The flow run graph from the server is malformed.") from None
    frame = pd.DataFrame({
        "kind": [n.get("kind") or "task-run" for n in nodes],
        "state_type": _state_types(n.get("state_type") for n in nodes),
        "start_time": _times([n.get("start_time") for n in nodes]),
        "end_time": _times([n.get("end_time") for n in nodes]),
    })
    frame.index = pd.Index(ids, dtype=TEXT, name="id")
    return frame


# --------------------------------------------------------------------------- task inputs


@dataclass(frozen=True)
class TaskInput:
    """Where one value fed into a task run came from: `kind` is "task_run" (then
    `task_run_id` names the upstream run), "parameter" (then `name` names the flow
    parameter), "constant" (then `name` is its type, if recorded) or the server's word."""

    kind: str
    task_run_id: str | None = None
    name: str | None = None


def task_inputs_of(task_inputs: Mapping[str, Any] | None) -> dict[str, tuple[TaskInput, ...]]:
    """A task run's `task_inputs`: each argument (and ``wait_for``) with its sources."""
    found: dict[str, tuple[TaskInput, ...]] = {}
    for argument, items in (task_inputs or {}).items():
        sources = []
        for item in items or ():
            if not isinstance(item, Mapping):
                raise BadResponse(f"A task input of {str(argument)[:60]!r} from the server is "
                                  "not a JSON object.")
            kind = str(item.get("input_type") or "unknown")
            sources.append(TaskInput(
                kind=kind, task_run_id=str(item["id"]) if item.get("id") else None,
                name=item.get("name") if kind == "parameter" else item.get("type")))
        found[str(argument)] = tuple(sources)
    return found
