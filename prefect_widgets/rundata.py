"""The data of one flow-run snapshot, read from the server at most once per resource.

Each `FlowRunView` owns a `RunData`. Everything that shows or analyses the run (reprs,
frames, analytics, figures, the widget, reports, the CLI) reads through it, so one
snapshot shown every way costs one paged export of its task runs, one read of its flow,
one state history per retried task run and one page of logs. `get_latest()` hands the
finished task runs' state histories on to the next snapshot (they never change again).

A finished run's task runs, frames, state histories and log tails also go to the per-user
disk cache (`prefect_widgets.cache`) once the run has settled: every task run final and the
flow run ended more than the settle window ago. A later snapshot whose flow run still has
the same `updated` time and state id reads them from there instead of the server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pandas as pd

from . import _ops
from ._parse import parse_datetime
from .artifacts import ArtifactList, artifact_from_json, read_artifacts
from .cache import RunEntry, disk_cache, settle_seconds
from .client import Client, Operation, api_path, get_client
from .errors import InvalidRequest, NotFound
from .logs import LogEntry, log_filter
from .records import graph_nodes, states_from_json, task_runs_frame, timeline_from_tasks
from .states import FINISHED_TYPES, STATE_TYPES, State

__all__ = ["RunData", "task_rows_by_id", "subflow_task_rows", "graph_nodes_since",
           "task_rows_except_finished"]

T = TypeVar("T")
_MISSING = object()


class _Loading:
    """A load in progress: the thread running it, and an event set when it ends."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.done = threading.Event()


class RunData:
    """What one snapshot of a flow run has read: task runs, flow, state histories, logs."""

    def __init__(self, flow_run_id: str, client: Client | None,
                 carried: RunData | None = None, *, flow_run: dict[str, Any] | None = None,
                 disk: bool | None = None) -> None:
        """`flow_run` is the snapshot's flow-run record: with it, a finished run's data goes
        through the disk cache (`disk=False` bypasses it; None follows the environment)."""
        self.flow_run_id = flow_run_id
        self._flow_run = flow_run
        self._disk_wanted = disk
        self._disk_entry: RunEntry | None | object = _MISSING
        self._client = client
        self._lock = threading.RLock()
        self._values: dict[str, Any] = {}
        #: loads in progress, by key (their values are not held yet)
        self._loading: dict[str, _Loading] = {}
        #: state histories of finished task runs, handed on along `get_latest()`
        self._histories: dict[str, list[State]] = dict(carried._final_histories()) \
            if carried is not None else {}

    @property
    def client(self) -> Client:
        """The snapshot's client (the default one, resolved when first needed)."""
        return get_client(self._client)

    # ---- generic

    def once(self, key: str, load: Callable[[], T]) -> T:
        """`load()` the first time `key` is asked for; the same value afterwards.

        The load runs outside the lock: other keys stay readable meanwhile, and a caller
        asking for a key being loaded waits for that load (at most once per value: a load
        that fails leaves the key unread, and the next caller tries again). Displays wait
        with a bound instead, through `wait()`.
        """
        while True:
            with self._lock:
                value = self._values.get(key, _MISSING)
                if value is not _MISSING:
                    return value
                pending = self._loading.get(key)
                if pending is None:
                    pending = self._loading[key] = _Loading()
                    mine = True
                else:
                    mine = False
            if mine:
                return self._load(key, load, pending)
            if pending.owner == threading.get_ident():
                raise RuntimeError(f"Loading {key!r} asked for {key!r} again.")
            pending.done.wait()  # then the value is held, or the load failed: try again

    def _load(self, key: str, load: Callable[[], T], pending: _Loading) -> T:
        try:
            value = load()
        except BaseException:
            with self._lock:
                del self._loading[key]
            pending.done.set()
            raise
        with self._lock:
            self._values[key] = value
            del self._loading[key]
        pending.done.set()
        return value

    def holds(self, key: str) -> bool:
        """Whether `key` was already read (display code renders offline from what is held)."""
        return key in self._values

    def peek(self, key: str) -> Any:
        return self._values.get(key)

    def loading(self, key: str) -> bool:
        """Whether a load of `key` is in progress (in some thread)."""
        return key in self._loading

    def wait(self, key: str, timeout: float) -> bool:
        """Wait at most `timeout` s for a load of `key` in progress; whether `key` is held."""
        pending = self._loading.get(key)
        if pending is not None:
            pending.done.wait(max(0.0, timeout))
        return key in self._values

    # ---- task runs

    def task_rows(self, progress: bool | None = None) -> list[dict[str, Any]]:
        """Every task-run record of the run (paged, checked against the server's count)."""
        from .progress import PageProgress

        def load() -> list[dict[str, Any]]:
            body = {"flow_runs": {"id": {"any_": [self.flow_run_id]}}, "sort": "ID_DESC"}
            with PageProgress(enabled=progress, unit="task runs") as bar:
                return self.client.run(_ops.export(
                    "/task_runs/filter", body, count_path="/task_runs/count",
                    on_page=bar.update, read_ahead=True)).rows
        return self.once("task_rows", lambda: self._json_on_disk(
            "task_rows", load, lambda rows: all(_row_final(r) for r in rows)))

    def tasks(self, progress: bool | None = None) -> pd.DataFrame:
        """The full task-run frame (`records.task_runs_frame`)."""
        return self.once("tasks", lambda: self._frame_on_disk(
            "tasks", lambda: task_runs_frame(self.task_rows(progress))))

    def timeline(self, progress: bool | None = None) -> pd.DataFrame:
        """The timeline frame: the same task runs, timeline columns and downstream links."""
        return self.once("timeline", lambda: self._frame_on_disk(
            "timeline", lambda: timeline_from_tasks(self.tasks(progress))))

    # ---- state histories

    def flow_run_states(self) -> list[State]:
        """The flow run's state history, oldest first (a new state changes the run's state
        id, so a settled finished run's history comes from the disk cache)."""
        def load() -> list[dict[str, Any]]:
            return self.client.run(_ops.get_list("/flow_run_states/",
                                                 {"flow_run_id": self.flow_run_id}))
        return self.once("states", lambda: states_from_json(
            self._json_on_disk("flow_run_states", load)))

    def histories(self, task_run_ids: Iterable[str], max_workers: int = 4
                  ) -> dict[str, list[State]]:
        """State histories (oldest first) of these task runs: each read at most once."""
        wanted = list(dict.fromkeys(str(i) for i in task_run_ids))
        with self._lock:
            missing = [i for i in wanted if i not in self._histories]
        entry = self._entry() if missing else None
        stored: dict[str, list[dict[str, Any]]] = {}
        if entry is not None:
            stored = self.once("disk_histories", lambda: entry.read_json("histories") or {})
        found = {i: states_from_json(stored[i]) for i in missing if i in stored}
        to_read = [i for i in missing if i not in found]

        def read(task_run_id: str) -> list[dict[str, Any]]:
            return self.client.run(_ops.get_list(
                "/task_run_states/", {"task_run_id": task_run_id}))

        if len(to_read) > 1 and max_workers > 1:
            with ThreadPoolExecutor(max_workers=min(max_workers, len(to_read))) as pool:
                read_now = dict(zip(to_read, pool.map(read, to_read)))
        else:
            read_now = {i: read(i) for i in to_read}
        found.update((i, states_from_json(rows)) for i, rows in read_now.items())
        final = {i: rows for i, rows in read_now.items()
                 if found[i] and found[i][-1].type in FINISHED_TYPES}
        if entry is not None and final and self._settled():
            with self._lock:
                stored.update(final)
                entry.write_json("histories", stored)
        with self._lock:
            self._histories.update(found)
            return {i: self._histories[i] for i in wanted}

    def _final_histories(self) -> dict[str, list[State]]:
        with self._lock:
            return {i: h for i, h in self._histories.items()
                    if h and h[-1].type in FINISHED_TYPES}

    # ---- logs

    def log_tail(self, limit: int) -> tuple[list[LogEntry], bool]:
        """The newest `limit` log lines (oldest first), and whether older ones exist."""
        def load() -> list[dict[str, Any]]:
            body = {**log_filter(flow_run_id=self.flow_run_id), "sort": "TIMESTAMP_DESC",
                    "limit": limit + 1, "offset": 0}
            return self.client.run(_ops.filter_page("/logs/filter", body))
        return self.once(f"log_tail:{limit}", lambda: _tail(
            self._json_on_disk(f"log_tail:{limit}", load), limit))

    def task_logs(self, task_run_id: str, limit: int) -> tuple[list[LogEntry], bool]:
        """A task run's newest `limit` (≤ 200) log lines, every level, oldest first, and
        whether older ones exist: one request, read once per snapshot."""
        def load() -> list[dict[str, Any]]:
            body = {**log_filter(task_run_id=task_run_id), "sort": "TIMESTAMP_DESC",
                    "limit": limit + 1, "offset": 0}
            return self.client.run(_ops.filter_page("/logs/filter", body))
        key = f"task_logs:{task_run_id}:{limit}"
        return self.once(key, lambda: _tail(self._json_on_disk(key, load), limit))

    # ---- the disk cache

    def _entry(self) -> RunEntry | None:
        """The disk-cache entry of this snapshot's run, or None: cache off, no flow-run
        record, or a run not finished in this snapshot (its data may still change)."""
        with self._lock:
            if self._disk_entry is _MISSING:
                self._disk_entry = None
                run = self._flow_run or {}
                state = run.get("state") or {}
                cache = disk_cache(self._disk_wanted) \
                    if state.get("type") in FINISHED_TYPES else None
                if cache is not None and run.get("updated") and run.get("state_id"):
                    self._disk_entry = cache.entry(self.client.settings.api_url,
                                                   self.flow_run_id, str(run["updated"]),
                                                   str(run["state_id"]))
            return self._disk_entry if isinstance(self._disk_entry, RunEntry) else None

    def _settled(self) -> bool:
        """Whether the flow run ended more than the settle window ago (its last task-run
        rows, states and logs are recorded by then)."""
        ended = parse_datetime((self._flow_run or {}).get("end_time"))
        return ended is not None and datetime.now(timezone.utc) - ended \
            >= timedelta(seconds=settle_seconds())

    def _json_on_disk(self, name: str, load: Callable[[], Any],
                      final: Callable[[Any], bool] = lambda _: True) -> Any:
        """`load()`, or what the disk cache holds as `name`; what is loaded is stored there
        once the run has settled and `final(value)` says the value can no longer change."""
        entry = self._entry()
        if entry is not None:
            found = entry.read_json(name)
            if found is not None:
                return found
        value = load()
        if entry is not None and self._settled() and final(value):
            entry.write_json(name, value)
        return value

    def _frame_on_disk(self, name: str, load: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """`_json_on_disk` for task-run frames (stored when every task run is final)."""
        entry = self._entry()
        if entry is not None:
            found = entry.read_frame(name)
            if found is not None:
                return found
        frame = load()
        if entry is not None and self._settled() \
                and frame["state_type"].isin(FINISHED_TYPES).all():
            entry.write_frame(name, frame)
        return frame

    # ---- artifacts

    def artifacts(self) -> ArtifactList:
        """The artifacts of the flow run (its tasks' included), oldest first."""
        return self.once("artifacts", lambda: read_artifacts(
            self.client, flow_run_id=self.flow_run_id))

    def task_artifacts(self, task_run_id: str) -> ArtifactList:
        """A task run's artifacts: taken from the flow run's when those were read, else
        read for this task run alone, once: one page (a full one reads them all, counted)."""
        if self.holds("artifacts"):
            return ArtifactList([a for a in self.artifacts() if a.task_run_id == task_run_id])

        def load() -> ArtifactList:
            body = {"artifacts": {"task_run_id": {"any_": [task_run_id]}}, "sort": "ID_DESC"}
            rows = self.client.run(_ops.filter_page("/artifacts/filter", {
                **body, "limit": _ops.PAGE_SIZE, "offset": 0}))
            if len(rows) >= _ops.PAGE_SIZE:
                return read_artifacts(self.client, task_run_id=task_run_id)
            return ArtifactList(sorted((artifact_from_json(r) for r in rows), key=lambda a: (
                a.created is None, a.created, a.artifact_id)))
        return self.once(f"artifacts:{task_run_id}", load)


def _row_final(row: Any) -> bool:
    return isinstance(row, dict) and row.get("state_type") in FINISHED_TYPES


def _tail(rows: list[dict[str, Any]], limit: int) -> tuple[list[LogEntry], bool]:
    """The newest `limit` of log rows read newest first (one extra), oldest first, and
    whether older ones exist."""
    return [LogEntry.from_json(r) for r in reversed(rows[:limit])], len(rows) > limit


# ---- targeted reads (the live widget's polling)


def task_rows_by_id(client: Client, task_run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The task-run records with these ids (`POST /task_runs/filter`, ≤ 200 ids a page);
    ids the server does not know are left out."""
    ids = list(dict.fromkeys(str(i) for i in task_run_ids))
    rows: list[dict[str, Any]] = []
    for at in range(0, len(ids), _ops.PAGE_SIZE):
        chunk = ids[at:at + _ops.PAGE_SIZE]
        body = {"task_runs": {"id": {"any_": chunk}}, "limit": len(chunk), "offset": 0}
        rows += client.run(_ops.filter_page("/task_runs/filter", body))
    return rows


def graph_nodes_since(client: Client, flow_run_id: str, since: datetime | None = None
                      ) -> pd.DataFrame:
    """The run's graph nodes (`records.graph_nodes`) still open or ended since `since`.

    A server without `graph-v2` (404, 405), or refusing this run's graph (400: over 10,000
    nodes), is answered from the task-run records instead; a flow run that does not exist
    is `NotFound` naming it.
    """
    params = {"since": since.isoformat()} if since else None
    try:
        return graph_nodes(client.run(_ops.get(
            api_path("flow_runs", flow_run_id, "graph-v2"),
            f"The server has no flow run graph for {flow_run_id}.", params)))
    except (NotFound, InvalidRequest):
        client.run(_ops.get(api_path("flow_runs", flow_run_id),
                            f"No flow run with id {flow_run_id} on this server."))
    if since is not None:  # a live poll past graph-v2's limit reads only what changed
        return _nodes_from_records(client.run(_ops.changed_task_rows(flow_run_id, since)), since)
    return _nodes_from_records(client.run(_ops.export(
        "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC"},
        count_path="/task_runs/count", read_ahead=True)).rows, since)


def _nodes_from_records(rows: list[dict[str, Any]], since: datetime | None) -> pd.DataFrame:
    """Graph nodes (all "task-run") from task-run records: open or ended since `since`."""
    frame = task_runs_frame(rows)
    nodes = pd.DataFrame({"kind": "task-run", "state_type": frame["state_type"],
                          "start_time": frame["start_time"], "end_time": frame["end_time"]},
                         index=frame.index.rename("id"))
    if since is None:
        return nodes
    return nodes[nodes["end_time"].isna() | (nodes["end_time"] >= pd.Timestamp(since))]


def subflow_task_rows(client: Client, flow_run_id: str) -> list[dict[str, Any]]:
    """The records of a flow run's task runs that stand for subflow runs (paged)."""
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}},
            "task_runs": {"subflow_runs": {"exists_": True}}}
    return client.run(_ops.export("/task_runs/filter", body)).rows


def task_rows_except_finished(flow_run_id: str, known: dict[str, dict[str, Any]]
                              ) -> Operation[list[dict[str, Any]]]:
    """Every task-run record of the run, downloading only what is not in `known`.

    `known` holds records of finished task runs (they never change). The 3.8 server's
    `TaskRunFilterId` has no `not_any_`, so: count the run's task runs, read the unfinished
    ones (state type filter), and, if some finished runs are missing from `known`, read the
    finished ones newest end first until they are found. Then count again: the runs held
    are all runs of the flow run (no run is ever deleted) only if they are as many as the
    server counts now; any mismatch (a run finishing or created meanwhile, a run without a
    state) falls back to reading every record.
    """
    runs = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    everything = _ops.export("/task_runs/filter", {**runs, "sort": "ID_DESC"},
                             count_path="/task_runs/count")
    if not known:
        return (yield from everything).rows
    total = yield from _ops.count("/task_runs/count", runs)
    unfinished = sorted(set(STATE_TYPES) - FINISHED_TYPES)
    unfinished_runs = yield from _ops.export("/task_runs/filter", {
        **runs, "task_runs": {"state": {"type": {"any_": unfinished}}}, "sort": "ID_DESC"})
    fresh = {r["id"]: r for r in unfinished_runs.rows}  # a known run read as unfinished again wins
    missing = total - len(known.keys() | fresh.keys())
    body = {**runs, "task_runs": {"state": {"type": {"any_": sorted(FINISHED_TYPES)}}},
            "sort": "END_TIME_DESC"}
    position = 0
    while missing > 0:
        page = yield from _ops.filter_page("/task_runs/filter", {
            **body, "limit": _ops.PAGE_SIZE, "offset": position})
        position += len(page)
        for row in page:
            if row.get("id") and row["id"] not in known and row["id"] not in fresh:
                fresh[row["id"]] = row
                missing -= 1
        if len(page) < _ops.PAGE_SIZE:
            break
    held = {**known, **fresh}
    if missing != 0 or len(held) != (yield from _ops.count("/task_runs/count", runs)):
        return (yield from everything).rows
    return list(held.values())
