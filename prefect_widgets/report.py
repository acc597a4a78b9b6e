"""Standalone HTML reports of flow runs: one file, no server, opens offline.

A run's section is the notebook repr's body (`html.flow_run_body`, the same renderer) with
longer tables and the slowest task runs, plus the Gantt figure (retry attempts, queued
lead-ins, the critical path outlined; transparent, so it follows a dark page), the critical
path's task runs with their waits, and the tail of the run's logs. With
`include_plotlyjs=True` plotly.js is inlined once per file; "cdn" and False pass through
to plotly (a smaller file that needs the network, or a page that already has plotly.js).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._version import __version__
from .formatting import fmt_duration, fmt_time
from .html.lists import log_lines_html
from .html.markup import (
    EMPTY,
    Markup,
    badge,
    cut,
    error_block,
    head_tail,
    muted,
    row,
    stylesheet,
    table,
    trunc,
    try_load,
)
from .html.runs import flow_run_body, load_task_runs
from .options import option_context
from .states import State

if TYPE_CHECKING:
    from .views import FlowRunView

__all__ = ["flow_run_report", "write_report", "critical_path_html", "LOG_TAIL"]

#: log lines shown per run (the newest ones)
LOG_TAIL = 150  # +1 probe row stays within the server's 200-row page cap
#: table bounds in reports (the notebook repr uses `prefect_widgets.options.display`)
REPORT_OPTIONS = ("display.max_rows", 60, "display.min_rows", 40, "display.max_failed", 200,
                  "display.max_colwidth", 120, "display.max_items", 50)


#: the report's figures follow the page's light or dark background
FIGURE_THEME = {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                "font": {"color": "#7b8494"}}
GRID = {"gridcolor": "rgba(128,128,128,0.22)", "linecolor": "rgba(128,128,128,0.4)"}


def _timeline_parts(view: FlowRunView) -> tuple[pd.DataFrame | None, pd.DataFrame | None,
                                                 Markup, Markup]:
    """The timeline frame (one graph-v2 request) and its critical path, with error blocks."""
    from .analytics import _run_until, critical_path_from_frame

    frame, frame_error = try_load("the timeline", view.data.timeline)
    if frame is None:
        return None, None, frame_error, frame_error
    path, path_error = try_load("the critical path", lambda: critical_path_from_frame(
        frame, until=_run_until(view), run_start=view.start_time))
    return frame, path, EMPTY, path_error


def _gantt_html(view: FlowRunView, include_plotlyjs: Any, frame: pd.DataFrame | None = None,
                path: pd.DataFrame | None = None) -> Markup:
    from .gantt import plot_gantt

    def figure() -> Any:
        fig = plot_gantt(view, frame=frame, attempts=True, critical_path=path is None,
                         **({"critical": path} if path is not None else {}))
        fig.update_layout(**FIGURE_THEME)
        fig.update_xaxes(**GRID)
        fig.update_yaxes(**GRID)
        return fig

    fig, error = try_load("the timeline", figure)
    if fig is None:
        return error
    # trusted: plotly writes the figure (its values JSON-encoded in a script) and its loader
    return Markup(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs,
                              config={"responsive": True, "displaylogo": False}))


def _span(value: Any) -> str:
    return fmt_duration(None if pd.isna(value) else value.to_pytimedelta())


CRITICAL_HEADER = ("step", "state", "task run", "start", "duration", "wait before")


def critical_path_html(path: pd.DataFrame) -> Markup:
    """The critical path's task runs in order: state, name, start, duration, wait before."""
    if path.empty:
        return muted("no finished task runs: no critical path")
    rows = []
    for step, run in enumerate(path.itertuples(index=False), start=1):
        state = str(run.state_type)
        start = None if pd.isna(run.start) else run.start.to_pydatetime()
        rows.append(row([str(step), badge(State(state, state.title())), trunc(run.name),
                         fmt_time(start), _span(run.duration), _span(run.wait_before)],
                        numeric=(0,)))
    waits = path["wait_before"].fillna(pd.Timedelta(0)).sum()
    running = path["duration"].sum()
    note = Markup('<div class="pw-muted">{:,} task runs; {} running and {} waiting '
                  "({} in all)</div>").format(len(path), _span(running), _span(waits),
                                              _span(running + waits))
    head, hidden, tail = head_tail(rows)
    return note + table(CRITICAL_HEADER, head, hidden, tail, "steps")


def _anchor(view: FlowRunView) -> str:
    return f"run-{view.flow_run_id}"


SECTION = Markup('<section class="pw-report-section" id="{}">{}</section>')


def _logs_html(view: FlowRunView) -> Markup:
    logs, logs_error = try_load("the logs", lambda: view.data.log_tail(LOG_TAIL))
    if logs is None:
        return logs_error
    entries, more = logs
    note = Markup('<div class="pw-muted">the newest {:,} lines; earlier lines are left out'
                  "</div>").format(len(entries)) if more else EMPTY
    return note + (log_lines_html(entries, limit=LOG_TAIL) if entries
                   else muted("no log lines"))


def flow_run_section(view: FlowRunView, *, include_plotlyjs: Any = True) -> Markup:
    """One run's report section: summary and task tables, Gantt, log tail."""
    with option_context(*REPORT_OPTIONS):
        task_runs, errors = load_task_runs(view)
        flow_name, flow_error = try_load("the flow", lambda: view.flow.name)
        body = flow_run_body(view, task_runs, flow_name=flow_name, errors=errors + flow_error)
        frame, path, frame_error, path_error = _timeline_parts(view)
        gantt = frame_error or _gantt_html(view, include_plotlyjs, frame, path)
        critical = path_error if path is None else critical_path_html(path)
        logs = _logs_html(view)
    parts = Markup('{}<h3>Timeline</h3><div class="pw-gantt">{}</div><h3>Critical path</h3>'
                   '<div class="pw-critical-path">{}</div><h3>Logs</h3>{}')
    return SECTION.format(_anchor(view), parts.format(body, gantt, critical, logs))


DOCUMENT = Markup(
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="generator" content="prefect-widgets {version}">'
    "<title>{title}</title><style>{css}</style>{head}</head>"
    '<body style="margin:0"><div class="pw-root pw-report"><div class="pw-wrap">{body}'
    '<p class="pw-muted">Generated by prefect-widgets {version} at {generated}.</p>'
    "</div></div></body></html>\n")


def _document(title: str, body: Markup, head: Markup = EMPTY) -> Markup:
    generated = fmt_time(datetime.now(timezone.utc))
    return DOCUMENT.format(version=__version__, title=cut(title, 200), css=stylesheet(),
                           head=head, body=body, generated=generated)


def _write(text: str, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def flow_run_report(flow_run: FlowRunView, path: str | Path | None = None, *,
                    include_plotlyjs: Any = True) -> str:
    """A self-contained HTML report of one flow run; also written to `path` if given."""
    section = flow_run_section(flow_run, include_plotlyjs=include_plotlyjs)
    text = _document(f"Flow run {flow_run.name} — {flow_run.state.name}", section)
    if path is not None:
        _write(text, path)
    return text


INDEX_HEADER = ("state", "flow run", "start", "duration", "message")


def _index(views: Sequence[FlowRunView]) -> Markup:
    rows = [row([badge(view.state),
                 Markup('<a href="#{}">{}</a>').format(_anchor(view), trunc(view.name)),
                 fmt_time(view.start_time), fmt_duration(view.duration),
                 trunc(view.state.message or "")]) for view in views]
    return table(INDEX_HEADER, rows, 0, [], "flow runs")


def write_report(flow_runs: Sequence[FlowRunView], output_path: str | Path, *,
                 include_plotlyjs: Any = True, title: str = "Prefect flow runs") -> Path:
    """One HTML file covering several runs: an index, then a section per run.

    plotly.js is inlined once (first section) when `include_plotlyjs=True`.
    """
    views = list(flow_runs)
    head = EMPTY
    if include_plotlyjs is True:  # once for the whole file, whatever the sections do
        from plotly.offline import get_plotlyjs

        # trusted: the plotly.js library itself
        head = Markup('<script type="text/javascript">{}</script>').format(
            Markup(get_plotlyjs()))
        include_plotlyjs = False
    sections = []
    for view in views:
        try:
            sections.append(flow_run_section(view, include_plotlyjs=include_plotlyjs))
        except Exception as exc:  # one broken run must not lose the others' report
            sections.append(SECTION.format(_anchor(view),
                                           error_block(f"flow run {view.name}", exc)))
    body = Markup('<h1>{}</h1><p class="pw-muted">{:,} flow runs</p>{}{}').format(
        title, len(views), _index(views), EMPTY.join(sections))
    return _write(_document(title, body, head), output_path)
