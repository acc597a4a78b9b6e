"""Run analytics: attempts, critical path, per-task statistics, concurrency and run trends.

Everything reads the view's run data (`FlowRunView.data`: one paged export per snapshot,
no request per task run), and each function has a `*_from_frame` twin that takes a
task-run frame directly (the full or the timeline frame). Extra requests:

* `attempts_frame`: one `GET /task_run_states/` per task run that was retried
  (`run_count > 1` or a Retrying / AwaitingRetry state), a few in flight at a time, read
  once per snapshot;
* `runs_summary`: one `POST /task_runs/count` per flow run (`task_counts=False`: none);
* `compare_runs`: two exports, one per run.

Times are `datetime64[ns, UTC]`, spans `timedelta64[ns]`. A task run still running counts
until `until` (default: the flow run's end, or now while it runs).

One concern per module: `_time` (shared epoch-nanosecond and frame helpers), `attempts`,
`paths` (the critical path), `dependencies` (recorded and inferred edges), `stats`
(per-task statistics, concurrency) and `runs` (summaries and comparisons across runs).
This package re-exports their names.
"""

from __future__ import annotations

from typing import Any

from prefect_widgets.errors import DependencyCycle

from ._time import _run_until as _run_until
from .attempts import ATTEMPT_COLUMNS as ATTEMPT_COLUMNS
from .attempts import RETRY_STATE_NAMES as RETRY_STATE_NAMES
from .attempts import attempts_frame, attempts_from_frame, split_attempts
from .dependencies import EDGE_COLUMNS as EDGE_COLUMNS
from .dependencies import dependency_edges, dependency_edges_from_frame
from .paths import CRITICAL_PATH_COLUMNS as CRITICAL_PATH_COLUMNS
from .paths import critical_path, critical_path_from_frame
from .runs import COMPARED as COMPARED
from .runs import FAILED_TYPES as FAILED_TYPES
from .runs import SUMMARY_COLUMNS as SUMMARY_COLUMNS
from .runs import compare_runs, compare_stats, runs_summary
from .stats import STAT_COLUMNS as STAT_COLUMNS
from .stats import concurrency, concurrency_from_frame, task_stats, task_stats_from_frame

__all__ = [
    "DependencyCycle", "attempts_frame", "attempts_from_frame", "split_attempts",
    "critical_path", "critical_path_from_frame", "dependency_edges",
    "dependency_edges_from_frame", "task_stats", "task_stats_from_frame",
    "concurrency", "concurrency_from_frame", "runs_summary", "compare_runs", "compare_stats",
]

#: the run-level charts live in `plots` (presentation); the old names still resolve here
_MOVED_TO_PLOTS = ("plot_concurrency", "plot_run_durations")


def __getattr__(name: str) -> Any:
    """`analytics.plot_concurrency` / `plot_run_durations`: through the seam, since the
    charts are a layer above analytics and analytics never imports them."""
    if name in _MOVED_TO_PLOTS:
        from prefect_widgets.seam import provided

        return provided(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
