"""The Gantt figure: `gantt_figure` composes segments, lanes and traces into a layout;
`plot_gantt` feeds it a flow run's run data (retries, attempts, critical path)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from prefect_widgets.errors import InvalidRequest, PrefectWidgetsError

from .lanes import GROUP_BY, Lanes, assign_lanes
from .segments import frame_rows, frame_segments
from .traces import COLOR_BY, NOT_STARTED, WEBGL_THRESHOLD, palette, timeline_traces

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from prefect_widgets.views import FlowRunView

__all__ = ["gantt_figure", "plot_gantt"]

ATTEMPT_SOURCE = ("expected_start_time", "state_name", "state_message", "run_count")


def _yaxis(lanes: Lanes, waiting: int) -> dict[str, Any]:
    """Row ticks: the group labels, and the "not started" row when there is one."""
    if lanes.labels is None and not waiting:
        return {"showticklabels": False, "showgrid": False}
    tickvals = list(range(lanes.count)) if lanes.labels is not None else []
    ticktext = list(lanes.labels or [])
    if waiting:
        tickvals.append(lanes.count)
        ticktext.append(NOT_STARTED)
    yaxis = {"tickvals": tickvals, "ticktext": ticktext, "showticklabels": True}
    if lanes.labels is None:
        yaxis["showgrid"] = False
    return yaxis


def gantt_figure(frame: pd.DataFrame, *, color_by: str = "state", group_by: str | None = None,
                 run_counts: dict[str, int] | None = None, now: pd.Timestamp | None = None,
                 title: str | None = None, webgl: bool | None = None,
                 height: int | None = None, attempts: pd.DataFrame | None = None,
                 critical: Any = None) -> go.Figure:
    """The Gantt figure of a timeline frame (index task_run_id; name, task_name, kind,
    state_type, start_time, end_time). `run_counts` maps ids to run counts (for retries).

    `attempts` (an `analytics.attempts_frame`): task runs with several attempts are drawn
    as one segment per attempt, coloured by its outcome (attempts that failed and were
    retried: "Failed attempt (retried)"), with nothing in the gaps; the first attempts'
    `queued` lead-ins (expected → actual start) are a thin light segment before the bar.
    `critical` (an `analytics.critical_path` frame, or task run ids): those bars get an
    outline and full colour, every other bar is dimmed.
    Trace `meta`: `pw` is "bars" (`bars` = segments), "hover", "queued", "critical" or
    "not-started". Bars shorter than 0.4% of the time axis are drawn at that width.
    """
    import plotly.graph_objects as go

    if color_by not in COLOR_BY:
        raise InvalidRequest(f"color_by must be one of {COLOR_BY}, got {color_by!r}.")
    if group_by not in GROUP_BY:
        raise InvalidRequest(f"group_by must be one of {GROUP_BY}, got {group_by!r}.")
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    now_ms = now.value / 1e6 if now.tzinfo else pd.Timestamp(now, tz="UTC").value / 1e6
    rows = frame_rows(frame, now_ms, run_counts)
    by_state = color_by == "state"
    segments = frame_segments(rows, rows.states if by_state else rows.task_names, attempts,
                              by_state)
    lanes = assign_lanes(rows, segments, group_by)
    waiting = int((~rows.started).sum())
    use_gl = webgl if webgl is not None else int(rows.started.sum()) > WEBGL_THRESHOLD
    rows_shown = lanes.count + (1 if waiting else 0)
    height = height or int(min(900, max(260, 120 + 18 * rows_shown)))
    width_px = float(max(1.0, min(14.0, 0.75 * (height - 110) / max(1, rows_shown))))
    fig = go.Figure(timeline_traces(rows, segments, lanes, palette(rows, segments, color_by),
                                    webgl=use_gl, width_px=width_px, critical=critical,
                                    now_ms=now_ms))
    fig.update_layout(
        title={"text": escape(title)} if title else None, height=height,
        margin={"l": 10, "r": 10, "t": 80 if title else 40, "b": 40},
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={**_yaxis(lanes, waiting), "autorange": "reversed", "zeroline": False,
               "title": {"text": "task" if group_by == "task_name" else (
                   "state" if group_by == "state" else "")}},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        template="plotly_white",
    )
    if not len(rows):
        fig.add_annotation(text="No task runs", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5)
    return fig


def plot_gantt(flow_run: FlowRunView | pd.DataFrame, color_by: str = "state",
               group_by: str | None = None, *, frame: pd.DataFrame | None = None,
               fetch_retries: bool = True, attempts: bool = False,
               critical_path: bool = False, **kwargs: Any) -> go.Figure:
    """One bar per task run (and subflow run) of `flow_run`, coloured by state.

    `group_by=None` packs bars into rows so concurrent runs never overlap;
    `group_by="task_name"` gives one row per task. Bars, retries and the critical path all
    come from the view's run data (one export per snapshot, shared with its other
    displays). A timeline or task-run DataFrame may be passed instead of a view.
    `fetch_retries` is ignored (kept for compatibility): retries come with the run data.

    `attempts=True` draws each attempt of a retried task run as its own segment and the
    queued lead-in before each bar; only task runs that ran more than once cost a request
    (their state history, once per snapshot). `critical_path=True` outlines the critical
    path and dims the rest. Other keywords go to `gantt_figure` (`now=`, `title=`,
    `webgl=`, `height=`).
    """
    from prefect_widgets.analytics import (
        _run_until,
        attempts_frame,
        critical_path_from_frame,
    )

    notes: list[str] = []
    view: FlowRunView | None = None
    if isinstance(flow_run, pd.DataFrame):
        frame = flow_run
    else:
        view = flow_run
        if frame is None:
            frame = view.data.timeline()
        kwargs.setdefault("title", f"{view.name} — {view.state.name}")
    counts = ({str(i): int(c) for i, c in zip(frame.index, frame["run_count"],
                                                  strict=True)}
              if "run_count" in frame.columns else None)
    if attempts and "attempts" not in kwargs and all(c in frame.columns for c in ATTEMPT_SOURCE):
        try:
            kwargs["attempts"] = attempts_frame(view if view is not None else frame)
        except PrefectWidgetsError as exc:
            notes.append(f"retry attempts unavailable: {exc}")
    if critical_path and "critical" not in kwargs:
        try:
            kwargs["critical"] = (critical_path_from_frame(frame) if view is None else
                                  critical_path_from_frame(frame, until=_run_until(view),
                                                           run_start=view.start_time))
        except (PrefectWidgetsError, InvalidRequest) as exc:
            notes.append(f"no critical path: {exc}")
    fig = gantt_figure(frame, color_by=color_by, group_by=group_by, run_counts=counts, **kwargs)
    for i, note in enumerate(notes):
        fig.add_annotation(text=escape(_cut(note)), showarrow=False, xref="paper",
                           yref="paper", x=0, y=1, yshift=-4 - 16 * i, xanchor="left",
                           yanchor="top", font={"size": 11, "color": "#b91c1c"})
    return fig


def _cut(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
