"""The one seam between the run model and the modules that show and analyse runs.

Model objects offer displays, figures and analyses (`_repr_html_`, `plot_gantt()`,
`to_html()`, `widget()`, `critical_path()`, ...) and queries (`FlowRunView.query()`) as
users expect, yet the model must not depend on them: they live above it (presentation,
analytics, and `queries`, the model's top, which builds views) and import it. So the model
names what it needs here and the providing module is imported on first use. `PROVIDERS`
is the whole list: every call from a module up to a higher one passes through it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any, ClassVar

__all__ = ["PROVIDERS", "provided", "Displayed"]

#: name -> "module:attribute" of the function that provides it
PROVIDERS: dict[str, str] = {
    # reprs (presentation)
    "mimebundle": "prefect_widgets.html:mimebundle",
    "state_badge_html": "prefect_widgets.html:state_badge_html",
    "flow_html": "prefect_widgets.html:flow_html",
    "flow_run_html": "prefect_widgets.html:flow_run_html",
    "task_run_html": "prefect_widgets.html:task_run_html",
    "flow_run_list_html": "prefect_widgets.html:flow_run_list_html",
    "task_run_list_html": "prefect_widgets.html:task_run_list_html",
    "log_list_html": "prefect_widgets.html:log_list_html",
    # debugging displays (issue 18): failures, artifacts, state histories
    "failure_html": "prefect_widgets.html:failure_html",
    "artifact_html": "prefect_widgets.html:artifact_html",
    "artifact_list_html": "prefect_widgets.html:artifact_list_html",
    "state_history_html": "prefect_widgets.html:state_history_html",
    # figures, reports, widgets (presentation)
    "plot_gantt": "prefect_widgets.gantt:plot_gantt",
    "plot_concurrency": "prefect_widgets.plots:plot_concurrency",
    "plot_run_durations": "prefect_widgets.plots:plot_run_durations",
    "flow_run_report": "prefect_widgets.report:flow_run_report",
    "FlowRunWidget": "prefect_widgets.widget:FlowRunWidget",
    "write_trace": "prefect_widgets.trace:write_trace",
    # analyses (analytics)
    "attempts_frame": "prefect_widgets.analytics:attempts_frame",
    "critical_path": "prefect_widgets.analytics:critical_path",
    "task_stats": "prefect_widgets.analytics:task_stats",
    "concurrency": "prefect_widgets.analytics:concurrency",
    "runs_summary": "prefect_widgets.analytics:runs_summary",
    "compare_runs": "prefect_widgets.analytics:compare_runs",
    # a flow's history (issue 21): the frame, what changed against it, its chart and table
    "flow_history": "prefect_widgets.history:flow_history",
    "compare_with_history": "prefect_widgets.analytics.history:compare_with_history",
    "HistoryChart": "prefect_widgets.history_chart:HistoryChart",
    "changes_html": "prefect_widgets.history_chart:changes_html",
    # queries, which build views (the model's top)
    "query_flow_runs": "prefect_widgets.queries:query_flow_runs",
    "query_task_runs": "prefect_widgets.queries:query_task_runs",
    "count_flow_runs": "prefect_widgets.queries:count_flow_runs",
    "count_task_runs": "prefect_widgets.queries:count_task_runs",
    "count_flow_runs_by_state": "prefect_widgets.queries:count_flow_runs_by_state",
    "count_task_runs_by_state": "prefect_widgets.queries:count_task_runs_by_state",
}


def provided(name: str) -> Callable[..., Any]:
    """The function (or class) registered as `name`, imported on first use."""
    module, _, attribute = PROVIDERS[name].partition(":")
    return getattr(import_module(module), attribute)


class Displayed:
    """Rich display through the seam: `_html` names the object's HTML renderer."""

    _html: ClassVar[str]

    def _repr_html_(self) -> str:
        return provided(self._html)(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return provided("mimebundle")(self)
