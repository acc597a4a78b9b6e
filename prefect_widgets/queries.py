"""Keyword queries and counts over flow runs and task runs (the seeds' GraphQL `where`).

Keywords become a `POST /api/{flow_runs,task_runs}/filter` body (seed 002); `filter=`
takes such a body as-is for anything the keywords do not cover. Values are checked before
any request is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import _ops
from ._parse import check_uuid
from .client import Client, get_client
from .errors import InvalidRequest
from .run_lists import FlowRunList, TaskRunList
from .server_info import require
from .states import STATE_TYPES
from .views import FlowRunView, TaskRunView, task_runs_in_order

__all__ = [
    "FlowRunList", "TaskRunList", "FLOW_RUN_SORTS", "TASK_RUN_SORTS",
    "query_flow_runs", "query_task_runs", "count_flow_runs", "count_task_runs",
    "count_flow_runs_by_state", "count_task_runs_by_state",
]

FLOW_RUN_SORTS = ("ID_DESC", "START_TIME_ASC", "START_TIME_DESC", "EXPECTED_START_TIME_ASC",
                  "EXPECTED_START_TIME_DESC", "NAME_ASC", "NAME_DESC",
                  "NEXT_SCHEDULED_START_TIME_ASC", "END_TIME_DESC")
TASK_RUN_SORTS = ("ID_DESC", "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC", "NAME_ASC",
                  "NAME_DESC", "NEXT_SCHEDULED_START_TIME_ASC", "END_TIME_DESC")

_COMMON = ("state_type", "state_name", "tags", "start_time_after", "start_time_before",
           "deployment_id", "flow_name", "filter", "sort", "limit", "offset")
FLOW_RUN_FILTERS = ("name", "flow_id", "work_queue_name", "parent_task_run_id", *_COMMON)
TASK_RUN_FILTERS = ("flow_run_id", "name", "task_key", "expected_start_time_after",
                    "expected_start_time_before", "subflow_runs", *_COMMON)


# --------------------------------------------------------------------------- filter bodies


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    values = list(value)
    if not values:
        raise InvalidRequest(f"{what} needs at least one value.")
    return values


def _uuids(value: Any, what: str) -> list[str]:
    return [check_uuid(v, what) for v in _as_list(value, what)]


def _state_types(value: Any) -> list[str]:
    types = [str(v).upper() for v in _as_list(value, "state_type")]
    bad = [t for t in types if t not in STATE_TYPES]
    if bad:
        raise InvalidRequest(f"Unknown state_type {bad[0]!r}; valid: {', '.join(STATE_TYPES)}.")
    return types


def _time(value: Any, what: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidRequest(
                f"{what} must be timezone-aware (e.g. datetime.now(timezone.utc)).")
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"{what} must be an ISO 8601 time, got {value!r}.") from None
        return value
    raise InvalidRequest(f"{what} must be a datetime or ISO 8601 string.")


def _strings(value: Any, what: str) -> list[str]:
    values = _as_list(value, what)
    if not all(isinstance(v, str) for v in values):
        raise InvalidRequest(f"{what} must be a string or a list of strings.")
    return values


def _check_keywords(filters: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise TypeError(f"{what} got unknown filter {unknown[0]!r}; valid filters: "
                        f"{', '.join(sorted(allowed))}.")


def _state_filter(filters: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if filters.get("state_type") is not None:
        state["type"] = {"any_": _state_types(filters["state_type"])}
    if filters.get("state_name") is not None:
        state["name"] = {"any_": _strings(filters["state_name"], "state_name")}
    return state


def _run_filter(filters: dict[str, Any], *, task: bool) -> dict[str, Any]:
    run: dict[str, Any] = {}
    if filters.get("name") is not None:
        run["name"] = {"any_": _strings(filters["name"], "name")}
    if filters.get("tags") is not None:
        run["tags"] = {"all_": _strings(filters["tags"], "tags")}
    state = _state_filter(filters)
    if state:
        run["state"] = state
    start = {}
    if filters.get("start_time_after") is not None:
        start["after_"] = _time(filters["start_time_after"], "start_time_after")
    if filters.get("start_time_before") is not None:
        start["before_"] = _time(filters["start_time_before"], "start_time_before")
    if start:
        run["start_time"] = start
    if task:
        expected = {}
        if filters.get("expected_start_time_after") is not None:
            expected["after_"] = _time(filters["expected_start_time_after"],
                                       "expected_start_time_after")
        if filters.get("expected_start_time_before") is not None:
            expected["before_"] = _time(filters["expected_start_time_before"],
                                        "expected_start_time_before")
        if expected:
            run["expected_start_time"] = expected
        if filters.get("subflow_runs") is not None:
            if not isinstance(filters["subflow_runs"], bool):
                raise InvalidRequest("subflow_runs must be True or False.")
            run["subflow_runs"] = {"exists_": filters["subflow_runs"]}
    else:
        if filters.get("work_queue_name") is not None:
            run["work_queue_name"] = {"any_": _strings(filters["work_queue_name"],
                                                        "work_queue_name")}
        if filters.get("parent_task_run_id") is not None:
            run["parent_task_run_id"] = {"any_": _uuids(filters["parent_task_run_id"],
                                                         "parent_task_run_id")}
    if filters.get("deployment_id") is not None and not task:
        run["deployment_id"] = {"any_": _uuids(filters["deployment_id"], "deployment_id")}
    return run


def _body(filters: dict[str, Any], *, task: bool) -> dict[str, Any]:
    raw = filters.get("filter")
    if raw is not None and not isinstance(raw, dict):
        raise InvalidRequest("filter= takes a dict shaped like the /filter request body.")
    body: dict[str, Any] = {k: v for k, v in (raw or {}).items()
                            if k not in ("limit", "offset", "sort")}
    run = _run_filter(filters, task=task)
    run_key = "task_runs" if task else "flow_runs"
    if run:
        body[run_key] = {**body.get(run_key, {}), **run}
    flows: dict[str, Any] = {}
    if filters.get("flow_name") is not None:
        flows["name"] = {"any_": _strings(filters["flow_name"], "flow_name")}
    if not task and filters.get("flow_id") is not None:
        flows["id"] = {"any_": _uuids(filters["flow_id"], "flow_id")}
    if flows:
        body["flows"] = {**body.get("flows", {}), **flows}
    if task:
        if filters.get("flow_run_id") is not None:
            body["flow_runs"] = {**body.get("flow_runs", {}),
                                 "id": {"any_": _uuids(filters["flow_run_id"], "flow_run_id")}}
        if filters.get("deployment_id") is not None:
            body["deployments"] = {**body.get("deployments", {}), "id": {
                "any_": _uuids(filters["deployment_id"], "deployment_id")}}
    return body


def _check_server(client: Client, body: dict[str, Any]) -> None:
    """`UnsupportedByServer` for what an older server would refuse with a bare 422."""
    if "expected_start_time" in (body.get("task_runs") or {}):
        require(client, "task-run expected_start_time filter")


def _paging(filters: dict[str, Any], sorts: tuple[str, ...], default_sort: str,
            default_limit: int | None) -> tuple[str, int | None, int]:
    sort = str(filters.get("sort") or (filters.get("filter") or {}).get("sort") or default_sort)
    if sort.upper() not in sorts:
        raise InvalidRequest(f"Unknown sort {sort!r}; valid: {', '.join(sorts)}.")
    limit = filters.get("limit", default_limit)
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidRequest(f"limit must be a non-negative int or None (all), got {limit!r}.")
    offset = filters.get("offset", 0)
    offset = 0 if offset is None else offset
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidRequest(f"offset must be a non-negative int, got {offset!r}.")
    return sort.upper(), limit, offset


# --------------------------------------------------------------------------- queries


def query_flow_runs(client: Client | None, **filters: Any) -> FlowRunList:
    """`FlowRunView.query(...)`: flow runs matching the keyword filters (default limit 200).

    The list's `total` is the server's count of every matching run (`is_partial`: `limit`
    cut it); a page cut below what that count promises raises `IncompleteData`.
    """
    _check_keywords(filters, FLOW_RUN_FILTERS, "FlowRunView.query()")
    body = _body(filters, task=False)
    sort, limit, offset = _paging(filters, FLOW_RUN_SORTS, "START_TIME_DESC", 200)
    client = get_client(client)
    listing = client.run(_ops.export("/flow_runs/filter", {**body, "sort": sort}, limit=limit,
                                     offset=offset, count_path="/flow_runs/count"))
    return FlowRunList((FlowRunView.from_json(row, client) for row in listing.rows),
                       listing.total)


def query_task_runs(client: Client | None, **filters: Any) -> TaskRunList:
    """`TaskRunView.query(...)`: task runs matching the keyword filters (default limit 200;
    `total` and `IncompleteData` as for `query_flow_runs`)."""
    _check_keywords(filters, TASK_RUN_FILTERS, "TaskRunView.query()")
    body = _body(filters, task=True)
    sort, limit, offset = _paging(filters, TASK_RUN_SORTS, "EXPECTED_START_TIME_ASC", 200)
    client = get_client(client)
    _check_server(client, body)
    keys = filters.get("task_key")
    if keys is None:
        listing = client.run(_ops.export("/task_runs/filter", {**body, "sort": sort},
                                         limit=limit, offset=offset,
                                         count_path="/task_runs/count"))
        return TaskRunList((TaskRunView.from_json(row, client) for row in listing.rows),
                           listing.total)
    wanted = set(_strings(keys, "task_key"))
    everything = client.run(_ops.export("/task_runs/filter", {**body, "sort": sort},
                                        count_path="/task_runs/count"))
    rows = [r for r in everything.rows if r.get("task_key") in wanted]
    total = len(rows)
    rows = rows[offset:] if limit is None else rows[offset:offset + limit]
    by_id = {v.task_run_id: v for v in task_runs_in_order(rows, client)}
    return TaskRunList((by_id[r["id"]] for r in rows), total)


def count_flow_runs(client: Client | None, **filters: Any) -> int:
    _check_keywords(filters, tuple(k for k in FLOW_RUN_FILTERS if k not in
                                   ("sort", "limit", "offset")), "FlowRunView.count()")
    body = _body(filters, task=False)
    return get_client(client).run(_ops.count("/flow_runs/count", body))


def count_task_runs(client: Client | None, **filters: Any) -> int:
    allowed = tuple(k for k in TASK_RUN_FILTERS if k not in ("sort", "limit", "offset", "task_key"))
    _check_keywords(filters, allowed, "TaskRunView.count()")
    body = _body(filters, task=True)
    client = get_client(client)
    _check_server(client, body)
    return client.run(_ops.count("/task_runs/count", body))


def _by_state(counter: Any, client: Client | None, filters: dict[str, Any]) -> dict[str, int]:
    if "state_type" in filters or "state_name" in filters:
        raise TypeError("count_by_state() counts every state type; drop state_type/state_name.")
    counts = {t: counter(client, state_type=t, **filters) for t in STATE_TYPES}
    return {t: n for t, n in counts.items() if n}


def count_flow_runs_by_state(client: Client | None, **filters: Any) -> dict[str, int]:
    """Flow run counts per state type, e.g. ``{"COMPLETED": 258, "FAILED": 14}``."""
    return _by_state(count_flow_runs, client, filters)


def count_task_runs_by_state(client: Client | None, **filters: Any) -> dict[str, int]:
    """Task run counts per state type (zero counts omitted)."""
    return _by_state(count_task_runs, client, filters)
