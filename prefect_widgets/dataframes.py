"""Typed pandas frames of task runs, flow runs and logs, built column-wise from the JSON.

Task-run frame (index `task_run_id`): name, task_name, task_key, dynamic_key, map_index,
flow_run_id, child_flow_run_id, state_type / state_name (Categorical), state_message,
expected_start_time, start_time, end_time, created, updated (datetime64[ns, UTC]),
duration, total_run_time, estimated_run_time (timedelta64[ns]), run_count, retries
(Int64), retry_delay (float seconds), tags (lists), cache_key, upstream_task_run_ids
(lists). Rows are ordered by expected start time.

Consistency: a frame holds every task run that existed when the export began, exactly
once; runs created while it pages may also appear. If the server ends up with fewer rows
than it counted, `IncompleteData` is raised instead of returning a short frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _ops
from .client import get_client
from .errors import InvalidRequest
from .states import STATE_TYPES

if TYPE_CHECKING:
    from .logs import LogEntry
    from .views import FlowRunView

__all__ = ["task_runs_frame", "flow_runs_frame", "logs_frame", "timeline_frame",
           "TASK_RUN_COLUMNS", "TIMELINE_COLUMNS", "flow_run_task_frame"]

STATE_DTYPE = pd.CategoricalDtype(list(STATE_TYPES), ordered=True)
TIME = "datetime64[ns, UTC]"
SPAN = "timedelta64[ns]"

TASK_RUN_COLUMNS = {
    "name": "str", "task_name": "str", "task_key": "str", "dynamic_key": "str",
    "map_index": "Int64", "flow_run_id": "str", "child_flow_run_id": "str",
    "state_type": STATE_DTYPE, "state_name": "category", "state_message": "str",
    "expected_start_time": TIME, "start_time": TIME, "end_time": TIME, "created": TIME,
    "updated": TIME, "duration": SPAN, "total_run_time": SPAN, "estimated_run_time": SPAN,
    "run_count": "int64", "retries": "Int64", "retry_delay": "float64", "tags": "object",
    "cache_key": "str", "upstream_task_run_ids": "object",
}
TIMELINE_COLUMNS = {
    "name": "str", "task_name": "str", "kind": "category", "map_index": "Int64",
    "state_type": STATE_DTYPE, "start_time": TIME, "end_time": TIME, "duration": SPAN,
    "upstream_task_run_ids": "object", "downstream_task_run_ids": "object",
}
GRAPH_NODE_LIMIT = 10_000


def _times(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True, format="ISO8601")).astype(TIME)


def _seconds(values: list[Any]) -> pd.Series:
    return pd.to_timedelta(pd.Series(values, dtype="float64"), unit="s").astype(SPAN)


def _task_name(label: str) -> str:
    return label.rsplit("-", 1)[0] if "-" in label else label


def _map_index(keys: Sequence[str]) -> list[int]:
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        index = seen.get(key, 0)
        seen[key] = index + 1
        out.append(index)
    return out


def _first_delay(policy: dict[str, Any]) -> float:
    delay = policy.get("retry_delay")
    if isinstance(delay, list):
        delay = delay[0] if delay else None
    return float(delay) if isinstance(delay, (int, float)) else np.nan


def _upstream(inputs: dict[str, Any]) -> list[str]:
    found: dict[str, None] = {}
    for items in (inputs or {}).values():
        for item in items or ():
            if isinstance(item, dict) and item.get("input_type") == "task_run":
                found[item["id"]] = None
    return list(found)


def _empty(columns: dict[str, Any], index_name: str) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    frame.index = pd.Index([], dtype="str", name=index_name)
    return frame


def _select(frame: pd.DataFrame, columns: Iterable[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    wanted = list(columns)
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:
        raise InvalidRequest(f"Unknown column {unknown[0]!r}; available: "
                             f"{', '.join(frame.columns)}.")
    return frame[wanted]


def task_runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A typed frame from task-run JSON records (any order; sorted by expected start)."""
    if not rows:
        return _empty(TASK_RUN_COLUMNS, "task_run_id")
    rows = sorted(rows, key=lambda r: (r.get("expected_start_time") or "", r["id"]))
    col = {name: [r.get(name) for r in rows] for name in (
        "id", "name", "task_key", "dynamic_key", "flow_run_id", "state_type", "state_name",
        "expected_start_time", "start_time", "end_time", "created", "updated",
        "total_run_time", "estimated_run_time", "run_count", "tags", "cache_key")}
    states = [r.get("state") or {} for r in rows]
    policies = [r.get("empirical_policy") or {} for r in rows]
    start, end = _times(col["start_time"]), _times(col["end_time"])
    frame = pd.DataFrame({
        "name": col["name"],
        "task_name": [_task_name(k or "") for k in col["task_key"]],
        "task_key": col["task_key"],
        "dynamic_key": col["dynamic_key"],
        "map_index": pd.array(_map_index(col["task_key"]), dtype="Int64"),
        "flow_run_id": col["flow_run_id"],
        "child_flow_run_id": [(s.get("state_details") or {}).get("child_flow_run_id")
                              for s in states],
        "state_type": pd.Categorical([t or "PENDING" for t in col["state_type"]],
                                     dtype=STATE_DTYPE),
        "state_name": pd.Categorical([n or "Pending" for n in col["state_name"]]),
        "state_message": [s.get("message") or None for s in states],
        "expected_start_time": _times(col["expected_start_time"]),
        "start_time": start,
        "end_time": end,
        "created": _times(col["created"]),
        "updated": _times(col["updated"]),
        "duration": (end - start).astype(SPAN),
        "total_run_time": _seconds(col["total_run_time"]),
        "estimated_run_time": _seconds(col["estimated_run_time"]),
        "run_count": np.array([c or 0 for c in col["run_count"]], dtype="int64"),
        "retries": pd.array([p.get("retries") for p in policies], dtype="Int64"),
        "retry_delay": np.array([_first_delay(p) for p in policies], dtype="float64"),
        "tags": [list(t or ()) for t in col["tags"]],
        "cache_key": col["cache_key"],
        "upstream_task_run_ids": [_upstream(r.get("task_inputs")) for r in rows],
    })
    frame.index = pd.Index(col["id"], dtype="str", name="task_run_id")
    return frame.astype(TASK_RUN_COLUMNS)


FLOW_RUN_COLUMNS = {
    "name": "str", "flow_id": "str", "deployment_id": "str",
    "state_type": STATE_DTYPE, "state_name": "category", "state_message": "str",
    "expected_start_time": TIME, "start_time": TIME, "end_time": TIME, "created": TIME,
    "updated": TIME, "duration": SPAN, "total_run_time": SPAN, "run_count": "int64",
    "tags": "object", "parameters": "object", "parent_task_run_id": "str",
    "work_pool_name": "str", "work_queue_name": "str",
}


def flow_runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A typed frame of flow-run JSON records, in the order given."""
    if not rows:
        return _empty(FLOW_RUN_COLUMNS, "flow_run_id")
    get = lambda name: [r.get(name) for r in rows]  # noqa: E731
    start, end = _times(get("start_time")), _times(get("end_time"))
    frame = pd.DataFrame({
        "name": get("name"), "flow_id": get("flow_id"), "deployment_id": get("deployment_id"),
        "state_type": pd.Categorical([t or "PENDING" for t in get("state_type")],
                                     dtype=STATE_DTYPE),
        "state_name": pd.Categorical([n or "Pending" for n in get("state_name")]),
        "state_message": [(r.get("state") or {}).get("message") or None for r in rows],
        "expected_start_time": _times(get("expected_start_time")), "start_time": start,
        "end_time": end, "created": _times(get("created")), "updated": _times(get("updated")),
        "duration": (end - start).astype(SPAN), "total_run_time": _seconds(get("total_run_time")),
        "run_count": np.array([c or 0 for c in get("run_count")], dtype="int64"),
        "tags": [list(t or ()) for t in get("tags")], "parameters": get("parameters"),
        "parent_task_run_id": get("parent_task_run_id"), "work_pool_name": get("work_pool_name"),
        "work_queue_name": get("work_queue_name"),
    })
    frame.index = pd.Index(get("id"), dtype="str", name="flow_run_id")
    return frame.astype(FLOW_RUN_COLUMNS)


LOG_COLUMNS = {"timestamp": TIME, "level": "int64", "level_name": "category",
               "message": "str", "logger": "str", "flow_run_id": "str",
               "task_run_id": "str"}


def logs_frame(entries: Sequence[LogEntry]) -> pd.DataFrame:
    if not entries:
        return _empty(LOG_COLUMNS, "log_id")
    frame = pd.DataFrame({
        "timestamp": pd.Series([e.timestamp for e in entries]).astype(TIME),
        "level": np.array([e.level for e in entries], dtype="int64"),
        "level_name": pd.Categorical([e.level_name for e in entries]),
        "message": [e.message for e in entries], "logger": [e.logger for e in entries],
        "flow_run_id": [e.flow_run_id for e in entries],
        "task_run_id": [e.task_run_id for e in entries],
    })
    frame.index = pd.Index([e.id for e in entries], dtype="str", name="log_id")
    return frame.astype(LOG_COLUMNS)


def graph_frame(graph: dict[str, Any]) -> pd.DataFrame:
    """The timeline frame from one `GET /flow_runs/{id}/graph-v2` answer."""
    nodes = [node for _, node in graph.get("nodes") or ()]
    if not nodes:
        return _empty(TIMELINE_COLUMNS, "task_run_id")
    nodes.sort(key=lambda n: (n.get("start_time") or "~", n["id"]))
    labels = [n.get("label") or "" for n in nodes]
    names = [label.split(" / ")[0] if n.get("kind") == "flow-run" else _task_name(label)
             for label, n in zip(labels, nodes)]
    start, end = _times([n.get("start_time") for n in nodes]), _times([n.get("end_time") for n in nodes])
    frame = pd.DataFrame({
        "name": labels, "task_name": names,
        "kind": pd.Categorical([n.get("kind") or "task-run" for n in nodes]),
        "map_index": pd.array(_map_index(names), dtype="Int64"),
        "state_type": pd.Categorical([n.get("state_type") or "PENDING" for n in nodes],
                                     dtype=STATE_DTYPE),
        "start_time": start, "end_time": end, "duration": (end - start).astype(SPAN),
        "upstream_task_run_ids": [[p["id"] for p in n.get("parents") or ()] for n in nodes],
        "downstream_task_run_ids": [[c["id"] for c in n.get("children") or ()] for n in nodes],
    })
    frame.index = pd.Index([n["id"] for n in nodes], dtype="str", name="task_run_id")
    return frame.astype(TIMELINE_COLUMNS)


def _timeline_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    full = task_runs_frame(rows)
    downstream: dict[str, list[str]] = {i: [] for i in full.index}
    for task_id, ups in zip(full.index, full["upstream_task_run_ids"]):
        for up in ups:
            downstream.setdefault(up, []).append(task_id)
    frame = pd.DataFrame({
        "name": full["name"], "task_name": full["task_name"],
        "kind": pd.Categorical(["task-run"] * len(full)), "map_index": full["map_index"],
        "state_type": full["state_type"], "start_time": full["start_time"],
        "end_time": full["end_time"], "duration": full["duration"],
        "upstream_task_run_ids": full["upstream_task_run_ids"],
        "downstream_task_run_ids": [downstream.get(i, []) for i in full.index],
    }, index=full.index)
    return frame.sort_values(["start_time"], kind="stable", na_position="last")


def timeline_frame(flow_run: FlowRunView, progress: bool | None = None) -> pd.DataFrame:
    """Timeline columns from one graph-v2 request, or paged task runs above 10,000 nodes."""
    client = get_client(flow_run.client)
    try:
        graph = client.run(_ops.get(f"/flow_runs/{flow_run.flow_run_id}/graph-v2",
                                    f"No flow run with id {flow_run.flow_run_id}."))
    except InvalidRequest:  # the server refuses graphs over 10,000 nodes
        return _timeline_from_rows(_fetch_rows(flow_run, progress))
    return graph_frame(graph)


def _fetch_rows(flow_run: FlowRunView, progress: bool | None) -> list[dict[str, Any]]:
    from .progress import PageProgress

    client = get_client(flow_run.client)
    with PageProgress(enabled=progress, unit="task runs") as bar:
        return client.run(flow_run._fetch_task_runs(on_page=bar.update))


def flow_run_task_frame(flow_run: FlowRunView, columns: Any = None,
                        progress: bool | None = None) -> pd.DataFrame:
    """`FlowRunView.to_dataframe()`: every task run, or `columns="timeline"` for the fast frame."""
    if isinstance(columns, str):
        if columns != "timeline":
            raise InvalidRequest("columns= takes 'timeline' or a list of column names.")
        return timeline_frame(flow_run, progress)
    if columns is not None:
        _select(_empty(TASK_RUN_COLUMNS, "task_run_id"), columns)  # validate before fetching
    return _select(task_runs_frame(_fetch_rows(flow_run, progress)), columns)
