"""Which flow runs a `%%prefect_watch` cell started, and how they nest.

Prefect's engine logs each flow run it starts in this process ("Beginning flow run …",
"Beginning subflow run …", at INFO) on the stdlib logger "prefect.flow_runs", through an
adapter whose `extra` carries the run's `flow_run_id`. `HeardFlowRuns` collects those ids
while a cell runs, without importing Prefect. It is a `logging.Filter` on that logger, not a
handler: Prefect's first import configures logging with `dictConfig`, which removes the
handlers already on the loggers it names but keeps their filters.

`RunFamilies` tells subflow runs from the runs to show: a run whose parent task run belongs
to another run of the cell is drawn inside that run, not on its own.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["FLOW_RUN_LOGGER", "HeardFlowRuns", "RunFamilies", "hears_run_starts"]

FLOW_RUN_LOGGER = "prefect.flow_runs"


def hears_run_starts() -> bool | None:
    """Whether run starts reach "prefect.flow_runs" (True), are dropped as below its level
    (False: PREFECT_LOGGING_LEVEL is WARNING or higher), or Prefect's logging is not set up
    in this process yet (None: no flow has run here)."""
    if logging.getLogger("prefect").level == logging.NOTSET:
        return None
    return logging.getLogger(FLOW_RUN_LOGGER).isEnabledFor(logging.INFO)


class HeardFlowRuns(logging.Filter):
    """The ids of the flow runs logged on "prefect.flow_runs" while attached, first heard
    first. Thread-safe; never raises; lets every record through; changes no level."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._ids: dict[str, None] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            run_id = str(uuid.UUID(str(getattr(record, "flow_run_id", ""))))
        except Exception:  # "<unknown>", absent, or anything odd: not a run of ours
            return True
        with self._lock:
            self._ids.setdefault(run_id)
        return True

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    @contextmanager
    def attached(self) -> Iterator[HeardFlowRuns]:
        """Listen on "prefect.flow_runs" for the duration of the block."""
        logger = logging.getLogger(FLOW_RUN_LOGGER)
        logger.addFilter(self)
        try:
            yield self
        finally:
            logger.removeFilter(self)


class RunFamilies:
    """Each flow run's parent flow run (None for a top-level run), read once per run."""

    def __init__(self) -> None:
        self._parent: dict[str, str | None] = {}

    def learn(self, views: Iterable[Any], client: Any) -> None:
        """Read the parents of the subflow runs among `views` not seen before."""
        from prefect_widgets.views import TaskRunView

        views = [v for v in views if v.flow_run_id not in self._parent]
        parent_tasks = sorted({v.parent_task_run_id for v in views if v.parent_task_run_id})
        flow_run_of: dict[str, str | None] = {}
        if parent_tasks:
            found = TaskRunView.query(filter={"task_runs": {"id": {"any_": parent_tasks}}},
                                      limit=None, client=client)
            flow_run_of = {t.task_run_id: t.flow_run_id for t in found}
        for view in views:
            task_id = view.parent_task_run_id
            self._parent[view.flow_run_id] = flow_run_of.get(task_id) if task_id else None

    def ancestors(self, run_id: str, ours: Iterable[str]) -> list[str]:
        """The runs among `ours` that `run_id` is nested in, innermost first."""
        ours, found = set(ours), []
        parent = self._parent.get(run_id)
        while parent is not None and parent in ours and parent != run_id and parent not in found:
            found.append(parent)
            parent = self._parent.get(parent)
        return found

    def top(self, run_id: str, ours: Iterable[str]) -> str:
        """The outermost run among `ours` that `run_id` is nested in (itself if none)."""
        return ([run_id, *self.ancestors(run_id, ours)])[-1]
