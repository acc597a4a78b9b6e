"""The data of one flow-run snapshot, read from the server at most once per resource.

Each `FlowRunView` owns a `RunData`. Everything that shows or analyses the run (reprs,
frames, analytics, figures, the widget, reports, the CLI) reads through it, so one
snapshot shown every way costs one paged export of its task runs, one read of its flow,
one state history per retried task run and one page of logs. `get_latest()` hands the
finished task runs' state histories on to the next snapshot (they never change again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd

from . import _ops
from .client import Client
from .logs import LogEntry, log_filter
from .records import states_from_json, task_runs_frame, timeline_from_tasks
from .states import FINISHED_TYPES, State

__all__ = ["RunData"]

T = TypeVar("T")
_MISSING = object()


class RunData:
    """What one snapshot of a flow run has read: task runs, flow, state histories, logs."""

    def __init__(self, flow_run_id: str, client: Client,
                 carried: RunData | None = None) -> None:
        self.flow_run_id = flow_run_id
        self.client = client
        self._lock = threading.RLock()
        self._values: dict[str, Any] = {}
        #: state histories of finished task runs, handed on along `get_latest()`
        self._histories: dict[str, list[State]] = dict(carried._final_histories()) \
            if carried is not None else {}

    # ---- generic

    def once(self, key: str, load: Callable[[], T]) -> T:
        """`load()` the first time `key` is asked for; the same value afterwards."""
        with self._lock:
            value = self._values.get(key, _MISSING)
            if value is _MISSING:
                value = self._values[key] = load()
            return value

    def holds(self, key: str) -> bool:
        """Whether `key` was already read (display code renders offline from what is held)."""
        return key in self._values

    def peek(self, key: str) -> Any:
        return self._values.get(key)

    # ---- task runs

    def task_rows(self, progress: bool | None = None) -> list[dict[str, Any]]:
        """Every task-run record of the run (paged, checked against the server's count)."""
        from .progress import PageProgress

        def load() -> list[dict[str, Any]]:
            body = {"flow_runs": {"id": {"any_": [self.flow_run_id]}}, "sort": "ID_DESC"}
            with PageProgress(enabled=progress, unit="task runs") as bar:
                return self.client.run(_ops.filter_all(
                    "/task_runs/filter", body, count_path="/task_runs/count",
                    on_page=bar.update))
        return self.once("task_rows", load)

    def tasks(self, progress: bool | None = None) -> pd.DataFrame:
        """The full task-run frame (`records.task_runs_frame`)."""
        return self.once("tasks", lambda: task_runs_frame(self.task_rows(progress)))

    def timeline(self, progress: bool | None = None) -> pd.DataFrame:
        """The timeline frame: the same task runs, timeline columns and downstream links."""
        return self.once("timeline", lambda: timeline_from_tasks(self.tasks(progress)))

    # ---- state histories

    def histories(self, task_run_ids: Iterable[str], max_workers: int = 4
                  ) -> dict[str, list[State]]:
        """State histories (oldest first) of these task runs: each read at most once."""
        wanted = list(dict.fromkeys(str(i) for i in task_run_ids))
        with self._lock:
            missing = [i for i in wanted if i not in self._histories]

        def read(task_run_id: str) -> list[State]:
            return states_from_json(self.client.run(_ops.get_list(
                "/task_run_states/", {"task_run_id": task_run_id})))

        if len(missing) > 1 and max_workers > 1:
            with ThreadPoolExecutor(max_workers=min(max_workers, len(missing))) as pool:
                found = dict(zip(missing, pool.map(read, missing)))
        else:
            found = {i: read(i) for i in missing}
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
        def load() -> tuple[list[LogEntry], bool]:
            body = {**log_filter(flow_run_id=self.flow_run_id), "sort": "TIMESTAMP_DESC",
                    "limit": limit + 1, "offset": 0}
            rows = self.client.run(_ops.filter_page("/logs/filter", body))
            return [LogEntry.from_json(r) for r in reversed(rows[:limit])], len(rows) > limit
        return self.once(f"log_tail:{limit}", load)
