"""Run-level charts (presentation): concurrency over a run, durations across runs.

The numbers come from `analytics` (`concurrency`, `runs_summary`); this module only draws
them with plotly. Layering: plots import analytics and the model, never the reverse (the
old names `analytics.plot_concurrency` / `analytics.plot_run_durations` resolve here
through `seam.provided`). The task-run timeline is `prefect_widgets.gantt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from .analytics import FAILED_TYPES, concurrency, runs_summary
from .dtypes import TEXT
from .errors import InvalidRequest

if TYPE_CHECKING:
    from .run_lists import FlowRunList
    from .views import FlowRunView

__all__ = ["plot_concurrency", "plot_run_durations"]


def plot_concurrency(flow_run: FlowRunView | pd.DataFrame, *, series: pd.DataFrame | None = None
                     ) -> Any:
    """A plotly step chart of `concurrency()` (pass `series=` to reuse one)."""
    import plotly.graph_objects as go

    steps = concurrency(flow_run) if series is None else series
    title = "Running task runs"
    if not isinstance(flow_run, pd.DataFrame):
        title += f" — {escape(flow_run.name)}"
    fig = go.Figure(go.Scatter(x=steps["time"], y=steps["running"], mode="lines",
                               line_shape="hv", fill="tozeroy", name="running",
                               hovertemplate="%{x}<br>%{y} running<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (UTC)", yaxis_title="running task runs",
                      yaxis_rangemode="tozero", template="plotly_white")
    return fig


def plot_run_durations(flow_runs: FlowRunList | Sequence[FlowRunView], *, window: int = 20,
                       summary: pd.DataFrame | None = None) -> Any:
    """A plotly figure of run durations over time: a rolling p50–p90 band over the last
    `window` finished runs, and failed / crashed runs marked. No request beyond the list."""
    import plotly.graph_objects as go

    if window < 1:
        raise InvalidRequest("window must be at least 1.")
    data = runs_summary(flow_runs, task_counts=False) if summary is None else summary
    data = data[data["start_time"].notna() & data["duration"].notna()]
    seconds = data["duration"].dt.total_seconds()
    rolling = seconds.rolling(window, min_periods=1)
    p50, p90 = rolling.quantile(0.5), rolling.quantile(0.9)
    failed = data["state_type"].astype(TEXT).isin(FAILED_TYPES)
    text = [f"{escape(str(n))}<br>{escape(str(s))}"
            for n, s in zip(data["name"], data["state_name"], strict=True)]
    text = pd.Series(text, index=data.index, dtype="object")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=data["start_time"], y=p90, mode="lines", name="p90",
                             line={"width": 1, "color": "rgba(99,110,250,0.6)", "dash": "dot"}))
    fig.add_trace(go.Scatter(x=data["start_time"], y=p50, mode="lines", name="p50",
                             fill="tonexty", fillcolor="rgba(99,110,250,0.15)",
                             line={"width": 2, "color": "rgb(99,110,250)"}))
    for name, rows, marker in (
            ("runs", ~failed, {"color": "rgb(60,60,60)", "size": 7}),
            ("failed", failed, {"color": "rgb(214,39,40)", "size": 11, "symbol": "x"})):
        fig.add_trace(go.Scatter(x=data["start_time"][rows], y=seconds[rows], mode="markers",
                                 name=name, text=text[rows],
                                 hovertemplate="%{text}<br>%{y:.2f} s<extra></extra>",
                                 marker=marker))
    fig.update_layout(title=f"Flow run durations (band: rolling p50–p90 of {window})",
                      xaxis_title="start (UTC)", yaxis_title="duration (s)",
                      yaxis_rangemode="tozero", template="plotly_white")
    return fig
