"""Immutable views of flows, flow runs and task runs: Prefect 1's `prefect.backend` API.

A view is a snapshot taken when it is created; `get_latest()` returns a new one.
Finished task runs are cached in the `FlowRunView` and survive `get_latest()`.

Long module: `FlowRunView` and `TaskRunView` refer to each other (a task run's flow run and
child flow run, a flow run's task runs and parent), so they share one module rather than
import each other; every derived field comes from `records`, every display through `seam`.
They also carry Prefect 1's names (`updated_at`, `get_flow_metadata`, `from_task_slug`, …)
next to ours, so code written for `prefect.backend` runs unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from . import _ops
from ._parse import check_uuid
from .artifacts import ArtifactList, read_artifacts
from .client import AsyncClient, Client, Operation, api_path, get_client
from .errors import InvalidRequest, NotFound
from .logs import LogList, read_logs, with_task_names
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
    task_inputs_of,
    task_name_of,
    task_run_fields,
    unfinished_mask,
    upstream_ids,
)
from .results import load_result
from .run_lists import FlowRunList, TaskRunList
from .rundata import RunData, task_rows_except_finished
from .seam import Displayed, provided
from .slugs import NOT_MAPPED, check_map_index, match_slug, slug_matches
from .state_history import StateHistory, state_history
from .states import State
from .tracebacks import Failure, failure_of

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import anywidget
    import pandas as pd
    import plotly.graph_objects as go

    from .history import FlowHistory
    from .records import TaskInput


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

    def __init__(self, shared_with: _Cache | None = None, disk: bool | None = None) -> None:
        self.lock = threading.RLock()
        #: whether finished runs' data goes through the disk cache (None: the environment's)
        self.disk: bool | None = shared_with.disk if shared_with else disk
        #: finished task runs by id, and slug lookups; shared along `get_latest()`
        self.task_runs: dict[str, TaskRunView] = shared_with.task_runs if shared_with else {}
        self.slugs: dict[tuple[str, int | None], str] = shared_with.slugs if shared_with else {}
        self.values: dict[str, Any] = {}
        #: the previous snapshot's run data, whose finished parts the next one keeps
        self.previous: RunData | None = shared_with.data if shared_with else None
        self.data: RunData | None = None


L = TypeVar("L", FlowRunList, TaskRunList)

#: `get_logs(end_time=...)` left out: the snapshot's `updated` time while the run is unfinished
_SNAPSHOT: Any = object()


def _snapshot_end(run: _Run, end_time: Any) -> datetime | None:
    """Prefect 1 read a view's logs up to its `updated_at`. A finished run's last log lines
    are written after its final state, so a finished snapshot reads them all."""
    if end_time is not _SNAPSHOT:
        return end_time
    return None if run.state.is_finished() else run.updated


def _load_result_once(run: _Run, what: str, storage_path: str | None,
                      allow_pickle: bool) -> Any:
    with run._cache.lock:
        if "result" not in run._cache.values:
            run._cache.values["result"] = load_result(
                run.state, what, storage_path=storage_path, allow_pickle=allow_pickle)
        return run._cache.values["result"]


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
        """Any name Prefect accepts, sent as one percent-encoded path segment."""
        if not isinstance(name, str) or not name:
            raise InvalidRequest("flow name must be a non-empty string.")
        return _ops.get(api_path("flows", "name", name), f"No flow named {name!r} on this "
                        "server.")

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

    @property
    def updated_at(self) -> datetime | None:
        """Prefect 1's name for `updated`."""
        return self.updated

    def runs(self, limit: int | None = 20, **filters: Any) -> FlowRunList:
        """This flow's runs, newest first."""
        return FlowRunView.query(flow_id=self.flow_id, limit=limit, sort="START_TIME_DESC",
                                 client=self.client, **filters)

    def history(self, **window: Any) -> FlowHistory:
        """This flow's runs over a window as a typed frame (`.frame`), kept current by
        `.refresh()`: `since`, `until`, `deployment`, `tags`, `states` (see
        `prefect_widgets.history.FlowHistory`)."""
        return provided("flow_history")(self.flow_id, client=self.client, **window)

    def __repr__(self) -> str:
        from .formatting import shorten, visible
        from .options import display

        name, tags = (visible(shorten(repr(v), display.max_text))
                      for v in (self.name, list(self.tags)))
        return f"FlowView(flow_id={self.flow_id!r}, name={name}, tags={tags})"


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

    @property
    def updated_at(self) -> datetime | None:
        """Prefect 1's name for `updated`: when the server last changed the run before this
        snapshot was read."""
        return self.updated


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

    @classmethod
    def from_task_slug(cls, task_slug: str, flow_run_id: str, map_index: int = NOT_MAPPED, *,
                       client: Client | None = None) -> TaskRunView:
        """Prefect 1's constructor: the run of `task_slug` in a flow run (`map_index=-1`:
        the task's single run; see `FlowRunView.get_task_run`)."""
        run = FlowRunView.from_flow_run_id(flow_run_id, client=client)
        return run.get_task_run(task_slug, map_index=map_index)

    def get_latest(self) -> TaskRunView:
        """A new view with the server's current data (a loaded result is kept while the
        state is the same)."""
        latest = TaskRunView.from_task_run_id(self.task_run_id, client=self.client)
        return _carried(_with_map_index(latest, self), self)

    async def aget_latest(self) -> TaskRunView:
        latest = await TaskRunView.afrom_task_run_id(self.task_run_id, client=self.client)
        return _carried(_with_map_index(latest, self), self)

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

    def get_logs(self, *, end_time: datetime | None = _SNAPSHOT, **kwargs: Any) -> LogList:
        """This task run's logs, oldest first (see `FlowRunView.get_logs`)."""
        logs = read_logs(get_client(self.client), task_run_id=self.task_run_id,
                         end_time=_snapshot_end(self, end_time), **kwargs)
        return LogList(with_task_names(logs, {self.task_run_id: (self.name, self.task_name)},
                                       get_client(self.client)))

    def get_result(self, *, storage_path: str | None = None, allow_pickle: bool = False) -> Any:
        """Load the task run's persisted result (JSON; pickle only with `allow_pickle=True`).

        Loaded once per view, then cached (as in Prefect 1); `get_latest()` keeps it while
        the state is the same. A load that fails is tried again on the next call.
        """
        return _load_result_once(self, f"task run {self.name!r}", storage_path, allow_pickle)

    def _cached(self, key: str, load: Any) -> Any:
        with self._cache.lock:
            if key not in self._cache.values:
                self._cache.values[key] = load()
            return self._cache.values[key]

    def __repr__(self) -> str:
        from .formatting import shorten, visible
        from .options import display

        result = "<loaded>" if "result" in self._cache.values else "<not loaded>"
        key, name, state = (visible(shorten(repr(v), display.max_text))
                            for v in (self.task_key, self.name, self.state))
        return (f"TaskRunView(task_run_id={self.task_run_id!r}, task_key={key}, "
                f"name={name}, state={state}, result={result})")

    # ---- debugging (issue 18)

    @property
    def state_history(self) -> StateHistory:
        """The state history with the time spent in each state (`states`, timed)."""
        return state_history(self.states)

    @property
    def inputs(self) -> dict[str, tuple[TaskInput, ...]]:
        """Each argument (and ``wait_for``) with where its value came from: upstream task
        runs, flow parameters or constants (`records.TaskInput`)."""
        return task_inputs_of(self.task_inputs)

    @property
    def error(self) -> Failure | None:
        """Why this task run failed or crashed (None if it did not): the state's message and
        the traceback from its logs (one read of its log, then cached)."""
        if self.state.type not in ("FAILED", "CRASHED"):
            return None
        return self._cached("error", lambda: failure_of(
            self.state, self.get_logs(end_time=None), flow_run_id=self.flow_run_id,
            task_run_id=self.task_run_id, run_name=self.name, task_name=self.task_name))

    @property
    def artifacts(self) -> ArtifactList:
        """The artifacts this task run created, oldest first (read once)."""
        return self._cached("artifacts", lambda: read_artifacts(
            get_client(self.client), task_run_id=self.task_run_id))


def _with_map_index(view: TaskRunView, known: TaskRunView) -> TaskRunView:
    if known.map_index is None or view.map_index is not None:
        return view
    return TaskRunView.from_json(view.raw, view.client, known.map_index,
                                 known.map_index_uncertain, known.mapped)


def _carried(view: TaskRunView, known: TaskRunView) -> TaskRunView:
    """`view`, holding `known`'s loaded result if its state is still the same one."""
    with known._cache.lock:
        if "result" in known._cache.values and view.state.id is not None \
                and view.state.id == known.state.id:
            view._cache.values.setdefault("result", known._cache.values["result"])
    return view


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
                  cache: _Cache | None = None, *, disk_cache: bool | None = None
                  ) -> FlowRunView:
        return cls(**flow_run_fields(body), raw=body, client=client,
                   _cache=_Cache(cache, disk_cache))

    @staticmethod
    def _read(flow_run_id: str) -> Operation[dict]:
        flow_run_id = check_uuid(flow_run_id, "flow_run_id")
        return _ops.get(
            f"/flow_runs/{flow_run_id}",
            f"No flow run with id {flow_run_id} on this server. Check the id, and that "
            "PREFECT_API_URL points at the server (or Cloud workspace) that ran it.",
        )

    @classmethod
    def from_flow_run_id(cls, flow_run_id: str, load_static_tasks: bool = False, *,
                         client: Client | None = None, cache: bool | None = None
                         ) -> FlowRunView:
        """Fetch a flow run by id.

        Prefect 3 has no static tasks: `load_static_tasks=True` (Prefect 1's flag) reads the
        run's task runs now, caching the finished ones for `get_task_run()`. `cache=False`
        bypasses the disk cache of finished runs (`prefect_widgets.cache`; None: on unless
        `PREFECT_WIDGETS_CACHE=0`).
        """
        client = get_client(client)
        view = cls.from_json(client.run(cls._read(flow_run_id)), client, disk_cache=cache)
        if load_static_tasks:
            view.task_runs()
        return view

    @classmethod
    async def afrom_flow_run_id(cls, flow_run_id: str, load_static_tasks: bool = False, *,
                                client: Client | None = None, cache: bool | None = None
                                ) -> FlowRunView:
        view = cls.from_json(await _arun(client, cls._read(flow_run_id)), get_client(client),
                             disk_cache=cache)
        if load_static_tasks:
            await view.aget_all_task_runs()
        return view

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
                self._cache.data = RunData(self.flow_run_id, self.client, self._cache.previous,
                                           flow_run=self.raw, disk=self._cache.disk)
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

    def unfinished_task_runs(self, *, now: datetime | None = None,
                             settle: float | None = None) -> list[TaskRunView]:
        """This snapshot's task runs that never reached a final state, in run order: empty
        until the flow run has finished and `settle` seconds (`display.settle_seconds`)
        have passed since its end (`records.unfinished_mask`). The server has no end for
        them; events may have been dropped."""
        views = self.task_runs()
        mask = unfinished_mask([v.state.type for v in views], self.state, self.end_time,
                               now=now, settle=settle)
        return [view for view, flagged in zip(views, mask) if flagged]

    @property
    def flow(self) -> FlowView:
        """The flow of this run, fetched on first access and then cached."""
        return self._cached("flow", lambda: FlowView.from_flow_id(self.flow_id, client=self.client))

    def get_flow_metadata(self) -> FlowView:
        """Prefect 1's name for `flow`."""
        return self.flow

    @property
    def states(self) -> list[State]:
        """The state history, oldest first."""
        return self.data.flow_run_states()

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

    def _fetch_task_runs(self) -> Operation[list[dict]]:
        """Every task-run record; finished runs already cached are not downloaded again."""
        with self._cache.lock:
            known = {i: v.raw for i, v in self._cache.task_runs.items()
                     if v.flow_run_id == self.flow_run_id and v.raw.get("id") == i}
        return task_rows_except_finished(self.flow_run_id, known)

    def _views_of(self, rows: list[dict]) -> list[TaskRunView]:
        """Views in run order; a cached view numbered the same is handed back as is."""
        views = task_runs_in_order(rows, get_client(self.client))
        with self._cache.lock:
            views = [cached if (cached := self._cache.task_runs.get(v.task_run_id)) is not None
                     and cached.map_index == v.map_index and cached.state == v.state else v
                     for v in views]
        self._remember(views)
        return views

    def _remember(self, views: list[TaskRunView]) -> None:
        with self._cache.lock:
            for view in views:
                if view.state.is_finished():
                    self._cache.task_runs[view.task_run_id] = view

    def get_all_task_runs(self) -> list[TaskRunView]:
        """Every task run of this flow run in run order (auto-paged; asks the server, which
        sends only the task runs not already cached as finished)."""
        return self._views_of(get_client(self.client).run(self._fetch_task_runs()))

    async def aget_all_task_runs(self) -> list[TaskRunView]:
        return self._views_of(await _arun(self.client, self._fetch_task_runs()))

    @property
    def task_run_ids(self) -> list[str]:
        """The ids of every task run of this flow run (asks the server each time)."""
        return [view.task_run_id for view in self.get_all_task_runs()]

    def get_task_run_ids(self) -> list[str]:
        """Prefect 1's name for `task_run_ids`."""
        return self.task_run_ids

    @property
    def cached_task_runs(self) -> int:
        return len(self._cache.task_runs)

    def get_task_run(self, task_slug: str | None = None, task_run_id: str | None = None,
                     map_index: int | None = None) -> TaskRunView:
        """One task run, by id or by slug (a task run name, or a task key / task name).

        A slug that matches several runs (a mapped task) needs `map_index=`; otherwise
        `AmbiguousTaskRun` lists the candidates. `map_index=-1` (Prefect 1's "not mapped")
        asks for the task's single run. Given with an id, `task_slug=` and `map_index=` must
        agree with that run (`InvalidRequest` if not). Finished task runs are cached.
        """
        if task_slug is None and task_run_id is None:
            raise InvalidRequest("Pass exactly one of task_slug= or task_run_id=.")
        map_index = check_map_index(map_index)
        if task_slug is not None and (not isinstance(task_slug, str) or not task_slug):
            raise InvalidRequest("task_slug must be a non-empty string.")
        if task_run_id is not None:
            view = self._task_run_by_id(task_run_id)
            if task_slug is not None and not slug_matches(view, task_slug):
                raise InvalidRequest(f"task_slug={task_slug!r} does not name task run "
                                     f"{view.task_run_id} ({view.name!r}, task key "
                                     f"{view.task_key!r}).")
            if map_index is not None:
                self._check_index(view, map_index)
            return view
        assert task_slug is not None
        slug_key = (task_slug, map_index)
        cached_id = self._cache.slugs.get(slug_key)
        if cached_id in self._cache.task_runs:
            return self._cache.task_runs[cached_id]
        try:
            match = match_slug(self.task_runs(), task_slug, map_index)
        except NotFound as missing:
            match = self._subflow_parent_named(task_slug, map_index, missing)
        assert isinstance(match, TaskRunView)
        self._remember([match])
        self._cache.slugs[slug_key] = match.task_run_id
        return match

    def _subflow_parent_named(self, slug: str, map_index: int | None,
                              missing: NotFound) -> TaskRunView:
        """The subflow parent task run whose child flow is named `slug`, else `missing`.

        Prefect 2 names a subflow's parent task run after the child flow *run*
        ("raspberry-sheep"), so the child flow's name is read from the server."""
        parents = {v.task_run_id: v for v in self.task_runs() if v.kind == "subflow-run"}
        if not parents:
            raise missing
        client = get_client(self.client)
        children = FlowRunView.query(parent_task_run_id=list(parents), limit=None,
                                     client=client)
        flows = {c.flow_id: FlowView.from_flow_id(c.flow_id, client=client).name
                 for c in children}
        renamed = [replace(parents[c.parent_task_run_id], name=flows[c.flow_id])
                   for c in children if c.parent_task_run_id in parents]
        try:
            return parents[match_slug(renamed, slug, map_index).task_run_id]
        except NotFound:
            raise missing from None

    def _task_run_by_id(self, task_run_id: str) -> TaskRunView:
        task_run_id = check_uuid(task_run_id, "task_run_id")
        cached = self._cache.task_runs.get(task_run_id)
        if cached is not None:
            return cached
        view = TaskRunView.from_task_run_id(task_run_id, client=get_client(self.client))
        if view.flow_run_id != self.flow_run_id:
            raise NotFound(f"Task run {task_run_id} belongs to flow run {view.flow_run_id}, "
                           f"not to {self.flow_run_id}.")
        self._remember([view])
        return view

    def _check_index(self, view: TaskRunView, map_index: int) -> None:
        """`InvalidRequest` unless `view` is run `map_index` of its task in this flow run
        (-1: the task's only run)."""
        def listed(views: list[TaskRunView]) -> TaskRunView | None:
            return next((v for v in views if v.task_run_id == view.task_run_id), None)
        found = listed(self.task_runs()) or listed(self.get_all_task_runs()) or view
        if map_index == NOT_MAPPED and not found.mapped or found.map_index == map_index:
            return
        several = " (its task ran several times)" if found.mapped else ""
        raise InvalidRequest(f"Task run {view.task_run_id} ({view.name!r}) has map_index="
                             f"{found.map_index}{several}, not map_index={map_index}.")

    def get_logs(self, *, end_time: datetime | None = _SNAPSHOT, **kwargs: Any) -> LogList:
        """This run's logs, oldest first: `level=`, `start_time=` (or `since=`),
        `end_time=`, `task_run_id=`, `limit=`.

        As in Prefect 1, an unfinished snapshot reads logs up to its `updated_at` (call
        `get_latest()` for newer ones, or pass `end_time=None`); a finished one reads all.
        """
        logs = read_logs(get_client(self.client), flow_run_id=self.flow_run_id,
                         end_time=_snapshot_end(self, end_time), **kwargs)
        return LogList(with_task_names(logs, self._task_names(), get_client(self.client)))

    def get_result(self, *, storage_path: str | None = None, allow_pickle: bool = False) -> Any:
        """Load the flow run's persisted return value, once per view
        (see `TaskRunView.get_result`)."""
        return _load_result_once(self, f"flow run {self.name!r}", storage_path, allow_pickle)

    def to_dataframe(self, columns: Any = None, *, progress: bool | None = None) -> pd.DataFrame:
        """This run's task runs as a typed DataFrame (see `prefect_widgets.dataframes`)."""
        if isinstance(columns, str):
            if columns != "timeline":
                raise InvalidRequest("columns= takes 'timeline' or a list of column names.")
            return self.data.timeline(progress).copy()
        if columns is not None:
            if not isinstance(columns, (list, tuple)) or \
                    not all(isinstance(c, str) for c in columns):
                raise InvalidRequest("columns= takes 'timeline' or a list of column names, "
                                     f"not {type(columns).__name__}.")
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

    def to_html(self, path: Any = None) -> str:
        """A self-contained HTML report (no network, no plotly.js), also written to `path`
        if given (see `prefect_widgets.report`)."""
        return provided("flow_run_report")(self, path)

    def widget(self, live: bool = True, **kwargs: Any) -> anywidget.AnyWidget:
        """A live anywidget timeline of this run (see `prefect_widgets.widget`)."""
        return provided("FlowRunWidget")(self, live=live, **kwargs)

    def to_trace(self, path: str | os.PathLike[str], *, subflows: bool = True) -> Path:
        """Write this run as a Chrome Trace Event / Perfetto JSON file that ui.perfetto.dev
        and chrome://tracing open (see `prefect_widgets.trace`); returns the path."""
        return provided("write_trace")(self, path, subflows=subflows)

    def attempts_dataframe(self) -> pd.DataFrame:
        """One row per task-run attempt, retries included (see `prefect_widgets.analytics`)."""
        return provided("attempts_frame")(self)

    def changes(self, baseline: int = 50, **thresholds: Any) -> pd.DataFrame:
        """What changed in this run against the last `baseline` finished runs of its flow:
        per task, duration against the baseline's median and spread, regressions, new
        failures and since which run (`analytics.history.compare_with_history`)."""
        return provided("compare_with_history")(self, baseline, **thresholds)

    def critical_path(self, *, inferred: bool = False) -> pd.DataFrame:
        """The longest time-weighted dependency chain ending at the last finishing task;
        `inferred=True` also follows the call order of tasks that passed no data (marked in
        its `inferred` column, `analytics.dependencies`)."""
        return provided("critical_path")(self, inferred=inferred)

    def task_stats(self) -> pd.DataFrame:
        """Per-task-key counts, states, retries and duration percentiles."""
        return provided("task_stats")(self)

    def concurrency(self) -> pd.DataFrame:
        """How many task runs were running at each moment of the run."""
        return provided("concurrency")(self)

    def __repr__(self) -> str:
        from .formatting import shorten, visible
        from .options import display

        name, state = (visible(shorten(repr(v), display.max_text))
                       for v in (self.name, self.state))
        return (f"FlowRunView(flow_run_id={self.flow_run_id!r}, name={name}, "
                f"state={state}, cached_task_runs={self.cached_task_runs})")

    # ---- debugging (issue 18)

    def _task_names(self) -> dict[str, tuple[str, str]]:
        """task run id → (run name, task name): from the snapshot's task runs when read,
        else filled by `with_task_names` as log lines need them."""
        names: dict[str, tuple[str, str]] = self.data.once("task_run_names", dict)
        if self.data.holds("task_views"):
            names.update((v.task_run_id, (v.name, v.task_name)) for v in self.task_runs())
        return names

    @property
    def state_history(self) -> StateHistory:
        """The state history with the time spent in each state (`states`, timed)."""
        return state_history(self.states)

    @property
    def artifacts(self) -> ArtifactList:
        """The artifacts of this flow run (its tasks' included), oldest first (read once)."""
        return self.data.artifacts()

    def _error_logs(self) -> LogList:
        """This run's ERROR and CRITICAL lines (where Prefect logs tracebacks), read once."""
        return self._cached("error_logs", lambda: self.get_logs(level="ERROR", end_time=None))

    @property
    def error(self) -> Failure | None:
        """Why this flow run failed or crashed (None if it did not): its state message and
        the traceback its own log lines hold (a crash's is at DEBUG level)."""
        if self.state.type not in ("FAILED", "CRASHED"):
            return None

        def load() -> Failure | None:
            own = [e for e in self._error_logs() if e.task_run_id is None]
            found = failure_of(self.state, own, flow_run_id=self.flow_run_id,
                               run_name=self.name)
            if found is not None and found.traceback is None:
                own = [e for e in self.get_logs(end_time=None) if e.task_run_id is None]
                found = failure_of(self.state, own, flow_run_id=self.flow_run_id,
                                   run_name=self.name)
            return found
        return self._cached("error", load)

    def failures(self) -> list[Failure]:
        """The errors of this run's failed and crashed task runs in run order, those of
        subflow runs in their place; the flow run's own error if no task run failed."""
        def load() -> list[Failure]:
            failed = [t for t in self.task_runs() if t.state.type in ("FAILED", "CRASHED")]
            lines: dict[str | None, list[Any]] = {}
            for entry in self._error_logs() if failed else ():
                lines.setdefault(entry.task_run_id, []).append(entry)
            found: list[Failure] = []
            for task in failed:
                if task.child_flow_run_id:
                    found += FlowRunView.from_flow_run_id(
                        task.child_flow_run_id, client=self.client).failures()
                    continue
                failure = failure_of(task.state, lines.get(task.task_run_id, []),
                                     flow_run_id=self.flow_run_id,
                                     task_run_id=task.task_run_id, run_name=task.name,
                                     task_name=task.task_name)
                if failure is not None and failure.traceback is None:
                    failure = task.error  # a crash's traceback is in a DEBUG line
                if failure is not None:
                    found.append(failure)
            own = self.error
            return found or ([own] if own else [])
        return self._cached("failures", load)
