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

from .records import (
    FLOW_RUN_COLUMNS,
    LOG_COLUMNS,
    SPAN,
    STATE_DTYPE,
    TASK_RUN_COLUMNS,
    TIME,
    TIMELINE_COLUMNS,
    flow_runs_frame,
    logs_frame,
    task_runs_frame,
    timeline_from_tasks,
)

__all__ = ["task_runs_frame", "flow_runs_frame", "logs_frame", "timeline_from_tasks",
           "TASK_RUN_COLUMNS", "TIMELINE_COLUMNS", "FLOW_RUN_COLUMNS", "LOG_COLUMNS",
           "STATE_DTYPE", "TIME", "SPAN"]
