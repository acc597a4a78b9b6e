"""Lists of flow-run and task-run views, as queries return them.

A list holds views (`FlowRunView` / `TaskRunView`) without importing them: the views and the
queries that build these lists sit above this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from . import _ops
from .client import Client, get_client
from .errors import InvalidRequest
from .record_list import RecordList
from .records import flow_runs_frame, task_runs_frame
from .seam import provided

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["FlowRunList", "TaskRunList"]


class _RunList(RecordList[Any]):
    """Views, and `total`: how many runs the server counted for the query (None: not
    counted). A listing cut by `limit` has fewer views than `total`: `is_partial` says so."""

    def __init__(self, views: Iterable[Any], total: int | None = None) -> None:
        super().__init__(views)
        self.total = total

    @property
    def is_partial(self) -> bool:
        """Whether the server holds more matching runs than this list (`limit` cut it)."""
        return self.total is not None and self.total > len(self._items)

    def __repr__(self) -> str:
        head = "\n".join(f"  {v!r}," for v in self._items[:10])
        more = f"\n  ... {len(self) - 10} more" if len(self) > 10 else ""
        name = type(self).__name__
        shown = f"{name}([\n{head}{more}\n])" if self._items else f"{name}([])"
        if self.is_partial:
            shown += f"\n{len(self):,} of {self.total:,} — pass limit=None for all"
        return shown


class FlowRunList(_RunList):
    """A list of `FlowRunView`s returned by `FlowRunView.query(...)`."""

    _html: ClassVar[str] = "flow_run_list_html"

    def to_dataframe(self) -> pd.DataFrame:
        return flow_runs_frame([v.raw for v in self._items])

    def summary(self) -> pd.DataFrame:
        """Per-run duration, state and start, newest last (for trend plots)."""
        return provided("runs_summary")(self)

    def plot_durations(self) -> go.Figure:
        return provided("plot_run_durations")(self)

    def compare(self, a: Any, b: Any) -> pd.DataFrame:
        """Two runs' per-task statistics side by side (runs, or indexes into this list)."""
        pick = (lambda r: self[r] if isinstance(r, int) else r)
        return provided("compare_runs")(pick(a), pick(b))

    def task_run_counts(self, *, client: Client | None = None, max_workers: int = 4
                        ) -> dict[str, int]:
        """Each run's task-run count (one `POST /task_runs/count` per run, `max_workers`
        in flight), by flow run id."""
        def count(view: Any) -> int:
            return get_client(client or view.client).run(_ops.count(
                "/task_runs/count", {"flow_runs": {"id": {"any_": [view.flow_run_id]}}}))

        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise InvalidRequest(f"max_workers must be an int ≥ 1, not {max_workers!r:.40}.")
        if not self._items:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(self._items)))) as pool:
            return dict(zip((v.flow_run_id for v in self._items), pool.map(count, self._items)))


class TaskRunList(_RunList):
    """A list of `TaskRunView`s returned by `TaskRunView.query(...)`."""

    _html: ClassVar[str] = "task_run_list_html"

    def to_dataframe(self) -> pd.DataFrame:
        return task_runs_frame([v.raw for v in self._items])
