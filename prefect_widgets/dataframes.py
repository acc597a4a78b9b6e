"""Typed pandas frames of task runs, flow runs and logs (built in `prefect_widgets.records`).

Task-run frame (index `task_run_id`): name, task_name, task_key, dynamic_key, map_index,
flow_run_id, child_flow_run_id, state_type / state_name (Categorical), state_message,
expected_start_time, start_time, end_time, created, updated (datetime64[ns, UTC]),
duration, total_run_time, estimated_run_time (timedelta64[ns]), run_count, retries
(retries that happened), retry_delay (float seconds), tags (lists), cache_key,
upstream_task_run_ids (lists), kind ("task-run" / "subflow-run"), map_index_uncertain,
max_retries (the configured limit). Rows are in run order: by actual start, then expected
start. `prefect_widgets.records` defines every derived column once.

The timeline frame (`columns="timeline"`) is the same task runs with the columns a
timeline needs and downstream links. Both come from one paged export per view snapshot.

Consistency: a frame holds every task run that existed when the export began, exactly
once; runs created while it pages may also appear. If the server ends up with fewer rows
than it counted, `IncompleteData` is raised instead of returning a short frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InvalidRequest
from .records import (
    FLOW_RUN_COLUMNS,
    LOG_COLUMNS,
    SPAN,
    STATE_DTYPE,
    TASK_RUN_COLUMNS,
    TIME,
    TIMELINE_COLUMNS,
    empty_frame,
    flow_runs_frame,
    logs_frame,
    task_runs_frame,
)

if TYPE_CHECKING:
    from .views import FlowRunView

__all__ = ["task_runs_frame", "flow_runs_frame", "logs_frame", "timeline_frame",
           "TASK_RUN_COLUMNS", "TIMELINE_COLUMNS", "FLOW_RUN_COLUMNS", "LOG_COLUMNS",
           "flow_run_task_frame", "STATE_DTYPE", "TIME", "SPAN"]


def _select(frame: pd.DataFrame, columns: Iterable[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    wanted = list(columns)
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:
        raise InvalidRequest(f"Unknown column {unknown[0]!r}; available: "
                             f"{', '.join(frame.columns)}.")
    return frame[wanted]


def timeline_frame(flow_run: FlowRunView, progress: bool | None = None) -> pd.DataFrame:
    """The timeline frame of a view's snapshot (a copy: callers may change it)."""
    return flow_run.data.timeline(progress).copy()


def flow_run_task_frame(flow_run: FlowRunView, columns: Any = None,
                        progress: bool | None = None) -> pd.DataFrame:
    """`FlowRunView.to_dataframe()`: every task run, or `columns="timeline"`."""
    if isinstance(columns, str):
        if columns != "timeline":
            raise InvalidRequest("columns= takes 'timeline' or a list of column names.")
        return timeline_frame(flow_run, progress)
    if columns is not None:
        _select(empty_frame(TASK_RUN_COLUMNS, "task_run_id"), columns)  # validate first
    return _select(flow_run.data.tasks(progress), columns).copy()
