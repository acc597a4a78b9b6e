"""Immutable views of flows, flow runs and task runs: Prefect 1's `prefect.backend` API.

A view is a snapshot taken when it is created; `get_latest()` returns a new one.
Finished task runs are cached in the `FlowRunView` and survive `get_latest()`.

Long module: `FlowRunView` and `TaskRunView` refer to each other (a task run's flow run and
child flow run, a flow run's task runs and parent), so they share one module rather than
import each other; every derived field comes from `records`, every display through `seam`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from . import _ops
from ._parse import check_uuid
from .client import AsyncClient, Client, Operation, get_client
from .errors import AmbiguousTaskRun, InvalidRequest, NotFound
from .logs import LogList, read_logs
from .records import (
    TASK_RUN_COLUMNS,
    duration_of,
    flow_fields,
    flow_run_fields,
    kind_of,
    max_retries_of,
    ordered_task_runs,
    retries_of,
    states_from_json,
    task_name_of,
    task_run_fields,
    upstream_ids,
)
from .results import load_result
from .run_lists import FlowRunList, TaskRunList
from .rundata import RunData
from .seam import Displayed, provided
from .states import State

if TYPE_CHECKING:
    import anywidget
    import pandas as pd
    import plotly.graph_objects as go


__all__ = ["FlowView", "FlowRunView", "TaskRunView"]

def _async_client(client: Client) -> AsyncClient:
    settings = client.settings
    return AsyncClient(settings.api_url, settings.api_key, settings.auth_string,
                       timeout=client.timeout, retry=client.retry)


async def _arun(client: Client | None, operation: Operation[Any]) -> Any:
    async with _async_client(get_client(client)) as aclient:
        return await aclient.run(operation)


class _Cache:
    """Mutable side-store of a view: lazily fetched parts, shared by `get_latest()`."""

    def __init__(self, shared_with: _Cache | None = None) -> None:
        self.lock = threading.RLock()
        #: finished task runs by id, and slug lookups; shared along `get_latest()`
        self.task_runs: dict[str, TaskRunView] = shared_with.task_runs if shared_with else {}
        self.slugs: dict[tuple[str, int | None], str] = shared_with.slugs if shared_with else {}
        self.values: dict[str, Any] = {}
        #: the previous snapshot's run data, whose finished parts the next one keeps
        self.previous: RunData | None = shared_with.data if shared_with else None
        self.data: RunData | None = None


L = TypeVar("L", FlowRunList, TaskRunList)


class _Queries(Displayed, Generic[L]):
    """`query()`, `count()` and `count_by_state()` over runs of one kind (`queries`)."""

    #: "flow" or "task"
    _runs: ClassVar[str]

    @classmethod
    def query(cls, *, client: Client | None = None, **filters: Any) -> L:
        """Runs matching keyword filters (see `prefect_widgets.queries`)."""
        return provided(f"query_{cls._runs}_runs")(client, **filters)

    @classmethod
    def count(cls, *, client: Client | None = None, **filters: Any) -> int:
        return provided(f"count_{cls._runs}_runs")(client, **filters)

    @classmethod
    def count_by_state(cls, *, client: Client | None = None, **filters: Any) -> dict[str, int]:
        return provided(f"count_{cls._runs}_runs_by_state")(client, **filters)


# --------------------------------------------------------------------------- flows


@dataclass(frozen=True, repr=False)
class FlowView(Displayed):
    """A flow's metadata: `flow_id`, `name`, `tags`, `labels`, `created`, `updated`."""

    _html: ClassVar[str] = "flow_html"

    flow_id: str
    name: str
    tags: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None
    updated: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    client: Client | None = field(default=None, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any], client: Client | None = None) -> FlowView:
        return cls(**flow_fields(body), raw=body, client=client)

    @staticmethod
    def _read(flow_id: str) -> Operation[dict]:
        flow_id = check_uuid(flow_id, "flow_id")
        return _ops.get(f"/flows/{flow_id}", f"No flow with id {flow_id} on this server.")

    @staticmethod
    def _read_name(name: str) -> Operation[dict]:
        if not isinstance(name, str) or not name:
            raise InvalidRequest("flow name must be a non-empty string.")
        return _ops.get(f"/flows/name/{name}", f"No flow named {name!r} on this server.")

    @classmethod
    def from_flow_id(cls, flow_id: str, *, client: Client | None = None) -> FlowView:
        client = get_client(client)
        return cls.from_json(client.run(cls._read(flow_id)), client)

    @classmethod
    def from_flow_name(cls, name: str, *, client: Client | None = None) -> FlowView:
        client = get_client(client)
        return cls.from_json(client.run(cls._read_name(name)), client)

    @classmethod
    async def afrom_flow_id(cls, flow_id: str, *, client: Client | None = None) -> FlowView:
        return cls.from_json(await _arun(client, cls._read(flow_id)), get_client(client))

    @classmethod
    async def afrom_flow_name(cls, name: str, *, client: Client | None = None) -> FlowView:
        return cls.from_json(await _arun(client, cls._read_name(name)), get_client(client))

    def runs(self, limit: int | None = 20, **filters: Any) -> FlowRunList:
        """This flow's runs, newest first."""
        return FlowRunView.query(flow_id=self.flow_id, limit=limit, sort="START_TIME_DESC",
                                 client=self.client, **filters)

    def __repr__(self) -> str:
        return f"FlowView(flow_id={self.flow_id!r}, name={self.name!r}, tags={list(self.tags)!r})"


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True, repr=False, kw_only=True)
class _Run:
    """What flow-run and task-run snapshots share (read by `records`)."""

    name: str
    state: State
    tags: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_start_time: datetime | None = None
    total_run_time: timedelta = timedelta(0)
    estimated_run_time: timedelta | None = None
    run_count: int = 0
    created: datetime | None = None
    updated: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    client: Client | None = field(default=None, compare=False)
    _cache: _Cache = field(default_factory=_Cache, compare=False)

    @property
    def duration(self) -> timedelta | None:
        """Wall time from start to end (to now while running)."""
        return duration_of(self.start_time, self.end_time, self.state.is_finished())


# --------------------------------------------------------------------------- task runs


@dataclass(frozen=True, repr=False, kw_only=True)
class TaskRunView(_Run, _Queries[TaskRunList]):
    """A snapshot of one task run."""

    _runs: ClassVar[str] = "task"
    _html: ClassVar[str] = "task_run_html"

    task_run_id: str
    task_key: str
    dynamic_key: str
    flow_run_id: str | None
    task_inputs: dict[str, Any] = field(default_factory=dict)
    cache_key: str | None = None
    empirical_policy: dict[str, Any] = field(default_factory=dict)
    #: position among the runs of its task in the flow run (see `prefect_widgets.records`);
    #: None when the view was fetched by id outside its flow run's listing
    map_index: int | None = field(default=None, compare=False)
    #: True when runs of the task were created in the same millisecond: the order is a guess
    map_index_uncertain: bool = field(default=False, compare=False)
    #: True when the task ran more than once in the flow run (mapped or called repeatedly)
    mapped: bool = field(default=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any], client: Client | None = None,
                  map_index: int | None = None, map_index_uncertain: bool = False,
                  mapped: bool = False) -> TaskRunView:
        return cls(**task_run_fields(body), map_index=map_index,
                   map_index_uncertain=map_index_uncertain, mapped=mapped, raw=body,
                   client=client)

    @staticmethod
    def _read(task_run_id: str) -> Operation[dict]:
        task_run_id = check_uuid(task_run_id, "task_run_id")
        return _ops.get(f"/task_runs/{task_run_id}",
                        f"No task run with id {task_run_id} on this server.")

    @classmethod
    def from_task_run_id(cls, task_run_id: str, *, client: Client | None = None) -> TaskRunView:
        client = get_client(client)
        return cls.from_json(client.run(cls._read(task_run_id)), client)

    @classmethod
    async def afrom_task_run_id(cls, task_run_id: str, *,
                                client: Client | None = None) -> TaskRunView:
        return cls.from_json(await _arun(client, cls._read(task_run_id)), get_client(client))

    def get_latest(self) -> TaskRunView:
        """A new view with the server's current data."""
        latest = TaskRunView.from_task_run_id(self.task_run_id, client=self.client)
        return _with_map_index(latest, self)

    async def aget_latest(self) -> TaskRunView:
        latest = await TaskRunView.afrom_task_run_id(self.task_run_id, client=self.client)
        return _with_map_index(latest, self)

    @property
    def task_name(self) -> str:
        """The task's name (see `prefect_widgets.records.task_name_of`)."""
        return task_name_of(self.name, self.dynamic_key, self.task_key)

    @property
    def retries(self) -> int:
        """Retries that happened: `run_count - 1`, never below zero."""
        return retries_of(self.run_count)

    @property
    def max_retries(self) -> int | None:
        """The configured retry limit (the task's `retries=`), if recorded."""
        return max_retries_of(self.empirical_policy)

    @property
    def kind(self) -> str:
        """"subflow-run" if this task run stands for a subflow run, else "task-run"."""
        return kind_of(self.state.state_details)

    @property
    def child_flow_run_id(self) -> str | None:
        """The subflow run this task run stands for, if any."""
        return self.state.state_details.get("child_flow_run_id")

    @property
    def ui_url(self) -> str | None:
        """This task run's page in the Prefect UI, if the UI's address is known."""
        base = get_client(self.client).ui_url
        return f"{base}/runs/task-run/{self.task_run_id}" if base else None

    @property
    def child_flow_run_ui_url(self) -> str | None:
        """The Prefect UI page of the subflow run this task run stands for, if any."""
        base, child = get_client(self.client).ui_url, self.child_flow_run_id
        return f"{base}/runs/flow-run/{child}" if base and child else None

    @property
    def upstream_task_run_ids(self) -> list[str]:
        """Task runs whose results or wait_for feed this one (from `task_inputs`)."""
        return upstream_ids(self.task_inputs)

    @property
    def states(self) -> list[State]:
        """The state history, oldest first (one request, then cached)."""
        return self._cached("states", lambda: states_from_json(get_client(self.client).run(
            _ops.get_list("/task_run_states/", {"task_run_id": self.task_run_id}))))

    @property
    def child_flow_run(self) -> FlowRunView | None:
        """The subflow run this task run stands for, if it is a subflow's parent task run."""
        def load() -> FlowRunView | None:
            found = FlowRunView.query(parent_task_run_id=self.task_run_id, limit=1,
                                      client=self.client)
            return found[0] if len(found) else None
        return self._cached("child_flow_run", load)

    @property
    def flow_run(self) -> FlowRunView | None:
        if self.flow_run_id is None:
            return None
        return self._cached("flow_run", lambda: FlowRunView.from_flow_run_id(
            self.flow_run_id, client=self.client))

    def get_logs(self, **kwargs: Any) -> LogList:
        """This task run's logs, oldest first (see `FlowRunView.get_logs`)."""
        return read_logs(get_client(self.client), task_run_id=self.task_run_id, **kwargs)

    def get_result(self, *, storage_path: str | None = None, allow_pickle: bool = False) -> Any:
        """Load the task run's persisted result (JSON; pickle only with `allow_pickle=True`)."""
        value = load_result(self.state, f"task run {self.name!r}", storage_path=storage_path,
                            allow_pickle=allow_pickle)
        self._cache.values["result"] = True
        return value

    def _cached(self, key: str, load: Any) -> Any:
        with self._cache.lock:
            if key not in self._cache.values:
                self._cache.values[key] = load()
            return self._cache.values[key]

    def __repr__(self) -> str:
        result = "<loaded>" if self._cache.values.get("result") else "<not loaded>"
        return (f"TaskRunView(task_run_id={self.task_run_id!r}, task_key={self.task_key!r}, "
                f"name={self.name!r}, state={self.state!r}, result={result})")


def _with_map_index(view: TaskRunView, known: TaskRunView) -> TaskRunView:
    if known.map_index is None or view.map_index is not None:
        return view
    return TaskRunView.from_json(view.raw, view.client, known.map_index,
                                 known.map_index_uncertain, known.mapped)


def task_runs_in_order(rows: list[dict], client: Client | None) -> list[TaskRunView]:
    """Views in run order, numbered as `prefect_widgets.records` defines `map_index`."""
    rows, _, index, uncertain, mapped = ordered_task_runs(rows)
    return [TaskRunView.from_json(row, client, int(i), bool(u), bool(m))
            for row, i, u, m in zip(rows, index, uncertain, mapped)]


# --------------------------------------------------------------------------- flow runs


@dataclass(frozen=True, repr=False, kw_only=True)
class FlowRunView(_Run, _Queries[FlowRunList]):
    """A snapshot of one flow run, with lazy access to its flow, task runs and logs."""

    _runs: ClassVar[str] = "flow"
    _html: ClassVar[str] = "flow_run_html"

    flow_run_id: str
    flow_id: str
    deployment_id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    parent_task_run_id: str | None = None
    work_pool_name: str | None = None
    work_queue_name: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any], client: Client | None = None,
                  cache: _Cache | None = None) -> FlowRunView:
        return cls(**flow_run_fields(body), raw=body, client=client, _cache=_Cache(cache))

    @staticmethod
    def _read(flow_run_id: str) -> Operation[dict]:
        flow_run_id = check_uuid(flow_run_id, "flow_run_id")
        return _ops.get(
            f"/flow_runs/{flow_run_id}",
            f"No flow run with id {flow_run_id} on this server. Check the id, and that "
            "PREFECT_API_URL points at the server (or Cloud workspace) that ran it.",
        )

    @classmethod
    def from_flow_run_id(cls, flow_run_id: str, *, client: Client | None = None) -> FlowRunView:
        """Fetch a flow run by id."""
        client = get_client(client)
        return cls.from_json(client.run(cls._read(flow_run_id)), client)

    @classmethod
    async def afrom_flow_run_id(cls, flow_run_id: str, *,
                                client: Client | None = None) -> FlowRunView:
        return cls.from_json(await _arun(client, cls._read(flow_run_id)), get_client(client))

    @classmethod
    def from_flow_run_name(cls, name: str, *, client: Client | None = None) -> FlowRunView:
        """Fetch the newest flow run with this exact name."""
        found = cls.query(name=name, limit=1, sort="START_TIME_DESC", client=client)
        if not len(found):
            raise NotFound(f"No flow run named {name!r} on this server.")
        return found[0]

    def get_latest(self) -> FlowRunView:
        """A new view with the server's current data; cached finished task runs are kept."""
        client = get_client(self.client)
        return FlowRunView.from_json(client.run(self._read(self.flow_run_id)), client, self._cache)

    async def aget_latest(self) -> FlowRunView:
        body = await _arun(self.client, self._read(self.flow_run_id))
        return FlowRunView.from_json(body, get_client(self.client), self._cache)

    # ---- the snapshot's data, and related objects (lazy, read once per snapshot)

    @property
    def data(self) -> RunData:
        """Everything this snapshot has read from the server (see `prefect_widgets.rundata`)."""
        with self._cache.lock:
            if self._cache.data is None:
                self._cache.data = RunData(self.flow_run_id, self.client, self._cache.previous)
            return self._cache.data

    def _cached(self, key: str, load: Any) -> Any:
        return self.data.once(key, load)

    def task_runs(self, progress: bool | None = None) -> list[TaskRunView]:
        """This snapshot's task runs in run order (read once; `get_all_task_runs()` asks the
        server again)."""
        def load() -> list[TaskRunView]:
            views = task_runs_in_order(self.data.task_rows(progress), get_client(self.client))
            self._remember(views)
            return views
        return self.data.once("task_views", load)

    @property
    def flow(self) -> FlowView:
        """The flow of this run, fetched on first access and then cached."""
        return self._cached("flow", lambda: FlowView.from_flow_id(self.flow_id, client=self.client))

    @property
    def states(self) -> list[State]:
        """The state history, oldest first."""
        return self._cached("states", lambda: states_from_json(get_client(self.client).run(
            _ops.get_list("/flow_run_states/", {"flow_run_id": self.flow_run_id}))))

    @property
    def ui_url(self) -> str | None:
        base = get_client(self.client).ui_url
        return f"{base}/runs/flow-run/{self.flow_run_id}" if base else None

    @property
    def parent_flow_run(self) -> FlowRunView | None:
        """The flow run this one is a subflow of, if any."""
        parent_id = self.parent_task_run_id
        if not parent_id:
            return None

        def load() -> FlowRunView | None:
            parent_task = TaskRunView.from_task_run_id(parent_id, client=self.client)
            if parent_task.flow_run_id is None:
                return None
            return FlowRunView.from_flow_run_id(parent_task.flow_run_id, client=self.client)
        return self._cached("parent_flow_run", load)

    @property
    def subflow_runs(self) -> FlowRunList:
        """Child flow runs started from this run's tasks."""
        def load() -> FlowRunList:
            parents = TaskRunView.query(flow_run_id=self.flow_run_id, subflow_runs=True,
                                        limit=None, client=self.client)
            if not len(parents):
                return FlowRunList([])
            return FlowRunView.query(parent_task_run_id=[t.task_run_id for t in parents],
                                     limit=None, sort="EXPECTED_START_TIME_ASC", client=self.client)
        return self._cached("subflow_runs", load)

    @property
    def deployment(self) -> dict[str, Any] | None:
        """The deployment record (read-only dict) this run came from, if any."""
        if not self.deployment_id:
            return None
        return self._cached("deployment", lambda: get_client(self.client).run(_ops.get(
            f"/deployments/{self.deployment_id}", f"Deployment {self.deployment_id} not found.")))

    # ---- task runs

    def _task_run_filter(self) -> dict[str, Any]:
        return {"flow_runs": {"id": {"any_": [self.flow_run_id]}}}

    def _fetch_task_runs(self, extra: dict[str, Any] | None = None,
                         on_page: Any = None) -> Operation[list[dict]]:
        body = {**self._task_run_filter(), **(extra or {}), "sort": "ID_DESC"}
        return _ops.filter_all("/task_runs/filter", body, count_path="/task_runs/count",
                               on_page=on_page)

    def _remember(self, views: list[TaskRunView]) -> None:
        with self._cache.lock:
            for view in views:
                if view.state.is_finished():
                    self._cache.task_runs[view.task_run_id] = view

    def get_all_task_runs(self) -> list[TaskRunView]:
        """Every task run of this flow run in run order (auto-paged; asks the server)."""
        rows = get_client(self.client).run(self._fetch_task_runs())
        views = task_runs_in_order(rows, get_client(self.client))
        self._remember(views)
        return views

    async def aget_all_task_runs(self) -> list[TaskRunView]:
        rows = await _arun(self.client, self._fetch_task_runs())
        views = task_runs_in_order(rows, get_client(self.client))
        self._remember(views)
        return views

    @property
    def task_run_ids(self) -> list[str]:
        """The ids of every task run of this flow run (queries the server each time)."""
        return [view.task_run_id for view in self.get_all_task_runs()]

    @property
    def cached_task_runs(self) -> int:
        return len(self._cache.task_runs)

    def get_task_run(self, task_slug: str | None = None, task_run_id: str | None = None,
                     map_index: int | None = None) -> TaskRunView:
        """One task run, by id or by slug (a task run name, or a task key / task name).

        A slug that matches several runs (a mapped task) needs `map_index=`; otherwise
        `AmbiguousTaskRun` lists the candidates. Finished task runs are cached.
        """
        if (task_slug is None) == (task_run_id is None):
            raise InvalidRequest("Pass exactly one of task_slug= or task_run_id=.")
        client = get_client(self.client)
        if task_run_id is not None:
            task_run_id = check_uuid(task_run_id, "task_run_id")
            cached = self._cache.task_runs.get(task_run_id)
            if cached is not None:
                return cached
            view = TaskRunView.from_task_run_id(task_run_id, client=client)
            if view.flow_run_id != self.flow_run_id:
                raise NotFound(f"Task run {task_run_id} belongs to flow run {view.flow_run_id}, "
                               f"not to {self.flow_run_id}.")
            self._remember([view])
            return view
        if not isinstance(task_slug, str) or not task_slug:
            raise InvalidRequest("task_slug must be a non-empty string.")
        slug_key = (task_slug, map_index)
        cached_id = self._cache.slugs.get(slug_key)
        if cached_id in self._cache.task_runs:
            return self._cache.task_runs[cached_id]
        match = _match_slug(self.task_runs(), task_slug, map_index)
        self._remember([match])
        self._cache.slugs[slug_key] = match.task_run_id
        return match

    def get_logs(self, **kwargs: Any) -> LogList:
        """This run's logs, oldest first: `level=`, `since=`, `task_run_id=`, `limit=`."""
        return read_logs(get_client(self.client), flow_run_id=self.flow_run_id, **kwargs)

    def get_result(self, *, storage_path: str | None = None, allow_pickle: bool = False) -> Any:
        """Load the flow run's persisted return value (see `TaskRunView.get_result`)."""
        return load_result(self.state, f"flow run {self.name!r}", storage_path=storage_path,
                           allow_pickle=allow_pickle)

    def to_dataframe(self, columns: Any = None, *, progress: bool | None = None) -> pd.DataFrame:
        """This run's task runs as a typed DataFrame (see `prefect_widgets.dataframes`)."""
        if isinstance(columns, str):
            if columns != "timeline":
                raise InvalidRequest("columns= takes 'timeline' or a list of column names.")
            return self.data.timeline(progress).copy()
        if columns is not None:
            unknown = [c for c in columns if c not in TASK_RUN_COLUMNS]
            if unknown:
                raise InvalidRequest(f"Unknown column {unknown[0]!r}; available: "
                                     f"{', '.join(TASK_RUN_COLUMNS)}.")
            return self.data.tasks(progress)[list(columns)].copy()
        return self.data.tasks(progress).copy()

    # ---- display, reports, widgets, analytics (each in its own module)

    def plot_gantt(self, color_by: str = "state", group_by: str | None = None,
                   **kwargs: Any) -> go.Figure:
        """A plotly Gantt figure of this run's task runs (see `prefect_widgets.gantt`)."""
        return provided("plot_gantt")(self, color_by=color_by, group_by=group_by, **kwargs)

    def to_html(self, path: Any = None, *, include_plotlyjs: Any = True) -> str:
        """A self-contained HTML report, also written to `path` if given
        (see `prefect_widgets.report`)."""
        return provided("flow_run_report")(self, path, include_plotlyjs=include_plotlyjs)

    def widget(self, live: bool = True, **kwargs: Any) -> anywidget.AnyWidget:
        """A live anywidget timeline of this run (see `prefect_widgets.widget`)."""
        return provided("FlowRunWidget")(self, live=live, **kwargs)

    def attempts_dataframe(self) -> pd.DataFrame:
        """One row per task-run attempt, retries included (see `prefect_widgets.analytics`)."""
        return provided("attempts_frame")(self)

    def critical_path(self) -> pd.DataFrame:
        """The longest time-weighted dependency chain ending at the last finishing task."""
        return provided("critical_path")(self)

    def task_stats(self) -> pd.DataFrame:
        """Per-task-key counts, states, retries and duration percentiles."""
        return provided("task_stats")(self)

    def concurrency(self) -> pd.DataFrame:
        """How many task runs were running at each moment of the run."""
        return provided("concurrency")(self)

    def __repr__(self) -> str:
        return (f"FlowRunView(flow_run_id={self.flow_run_id!r}, name={self.name!r}, "
                f"state={self.state!r}, cached_task_runs={self.cached_task_runs})")


def _slug_matches(view: TaskRunView, slug: str) -> bool:
    return slug in (view.name, view.task_key, view.task_name) or \
        view.task_key.rsplit("-", 1)[0] == slug


def _match_slug(views: list[TaskRunView], slug: str, map_index: int | None) -> TaskRunView:
    named = [v for v in views if v.name == slug]
    if len(named) == 1 and map_index is None:
        return named[0]
    keyed = [v for v in views if _slug_matches(v, slug)]
    if map_index is not None:
        for view in keyed:
            if view.map_index == map_index:
                return view
        raise NotFound(f"No task run matches slug {slug!r} with map_index={map_index} "
                       f"({len(keyed)} runs match the slug).")
    if len(keyed) == 1:
        return keyed[0]
    if not keyed:
        raise NotFound(f"No task run matches slug {slug!r} in this flow run (a slug is a task "
                       "run name like 'say_hello-4a1', a task key, or a task name).")
    names = [f"{v.name} (map_index={v.map_index}, id={v.task_run_id})" for v in keyed]
    shown = ", ".join(names[:10]) + (f", … {len(names) - 10} more" if len(names) > 10 else "")
    raise AmbiguousTaskRun(
        f"Slug {slug!r} matches {len(keyed)} task runs; pass map_index= or a task run name/id: "
        f"{shown}", [v.task_run_id for v in keyed])
