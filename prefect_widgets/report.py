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
from .html import (
    _cut,
    _error,
    _load_task_runs,
    _state_class,
    _table,
    _try,
    escape,
    flow_run_body,
    fmt_duration,
    fmt_time,
    head_tail,
    log_lines_html,
    state_badge_html,
    stylesheet,
    trunc,
)
from .options import option_context

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
                                                 str, str]:
    """The timeline frame (one graph-v2 request) and its critical path, with error blocks."""
    from .analytics import _run_until, critical_path_from_frame

    frame, frame_error = _try("the timeline", view.data.timeline)
    if frame is None:
        return None, None, frame_error, frame_error
    path, path_error = _try("the critical path", lambda: critical_path_from_frame(
        frame, until=_run_until(view), run_start=view.start_time))
    return frame, path, "", path_error


def _gantt_html(view: FlowRunView, include_plotlyjs: Any, frame: pd.DataFrame | None = None,
                path: pd.DataFrame | None = None) -> str:
    from .gantt import plot_gantt

    def figure() -> Any:
        fig = plot_gantt(view, frame=frame, attempts=True, critical_path=path is None,
                         **({"critical": path} if path is not None else {}))
        fig.update_layout(**FIGURE_THEME)
        fig.update_xaxes(**GRID)
        fig.update_yaxes(**GRID)
        return fig

    fig, error = _try("the timeline", figure)
    if fig is None:
        return error
    return fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs,
                       config={"responsive": True, "displaylogo": False})


def _span(value: Any) -> str:
    return escape(fmt_duration(None if pd.isna(value) else value.to_pytimedelta()))


def critical_path_html(path: pd.DataFrame) -> str:
    """The critical path's task runs in order: state, name, start, duration, wait before."""
    if path.empty:
        return '<span class="pw-muted">no finished task runs: no critical path</span>'
    rows = []
    for step, row in enumerate(path.itertuples(index=False), start=1):
        state = str(row.state_type)
        badge = (f'<span class="pw-badge {_state_class(state)}">{escape(state.title())}</span>')
        start = None if pd.isna(row.start) else row.start.to_pydatetime()
        rows.append(f'<tr><td class="pw-num">{step}</td><td>{badge}</td><td>{trunc(row.name)}</td>'
                    f"<td>{escape(fmt_time(start))}</td><td>{_span(row.duration)}</td>"
                    f"<td>{_span(row.wait_before)}</td></tr>")
    total = path["duration"].sum() + path["wait_before"].fillna(pd.Timedelta(0)).sum()
    note = (f'<div class="pw-muted">{len(path):,} task runs; {_span(path["duration"].sum())} '
            f"running and {_span(path['wait_before'].fillna(pd.Timedelta(0)).sum())} waiting "
            f"({_span(total)} in all)</div>")
    head, hidden, tail = head_tail(rows)
    return note + _table(("step", "state", "task run", "start", "duration", "wait before"),
                         head, hidden, tail, "steps")


def _anchor(view: FlowRunView) -> str:
    return f"run-{escape(view.flow_run_id)}"


def flow_run_section(view: FlowRunView, *, include_plotlyjs: Any = True) -> str:
    """One run's report section: summary and task tables, Gantt, log tail."""
    with option_context(*REPORT_OPTIONS):
        task_runs, errors = _load_task_runs(view)
        flow_name, flow_error = _try("the flow", lambda: view.flow.name)
        body = flow_run_body(view, task_runs, flow_name=flow_name, errors=errors + flow_error)
        frame, path, frame_error, path_error = _timeline_parts(view)
        gantt = frame_error or _gantt_html(view, include_plotlyjs, frame, path)
        critical = path_error if path is None else critical_path_html(path)
        logs, logs_error = _try("the logs", lambda: view.data.log_tail(LOG_TAIL))
        if logs is None:
            log_html = logs_error
        else:
            entries, more = logs
            note = (f'<div class="pw-muted">the newest {len(entries):,} lines; earlier lines '
                    "are left out</div>" if more else "")
            log_html = note + (log_lines_html(entries, limit=LOG_TAIL) if entries
                               else '<span class="pw-muted">no log lines</span>')
    return (f'<section class="pw-report-section" id="{_anchor(view)}">{body}'
            f'<h3>Timeline</h3><div class="pw-gantt">{gantt}</div>'
            f'<h3>Critical path</h3><div class="pw-critical-path">{critical}</div>'
            f"<h3>Logs</h3>{log_html}</section>")


def _document(title: str, body: str, head: str = "") -> str:
    generated = datetime.now(timezone.utc)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="prefect-widgets {escape(__version__)}">'
        f"<title>{escape(_cut(title, 200))}</title><style>{stylesheet()}</style>{head}</head>"
        f'<body class="pw-report"><div class="pw-root"><div class="pw-wrap">{body}'
        f'<p class="pw-muted">Generated by prefect-widgets {escape(__version__)} at '
        f"{escape(fmt_time(generated))}.</p></div></div></body></html>\n")


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


def _index(views: Sequence[FlowRunView]) -> str:
    rows = []
    for view in views:
        rows.append(
            f"<tr><td>{state_badge_html(view.state, standalone=False)}</td>"
            f'<td><a href="#{_anchor(view)}">{trunc(view.name)}</a></td>'
            f"<td>{escape(fmt_time(view.start_time))}</td>"
            f"<td>{escape(fmt_duration(view.duration))}</td>"
            f"<td>{trunc(view.state.message or '')}</td></tr>")
    return ('<table class="pw-table"><thead><tr><th>state</th><th>flow run</th><th>start</th>'
            f'<th>duration</th><th>message</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def write_report(flow_runs: Sequence[FlowRunView], output_path: str | Path, *,
                 include_plotlyjs: Any = True, title: str = "Prefect flow runs") -> Path:
    """One HTML file covering several runs: an index, then a section per run.

    plotly.js is inlined once (first section) when `include_plotlyjs=True`.
    """
    views = list(flow_runs)
    head = ""
    if include_plotlyjs is True:  # once for the whole file, whatever the sections do
        from plotly.offline import get_plotlyjs

        head = f'<script type="text/javascript">{get_plotlyjs()}</script>'
        include_plotlyjs = False
    sections = []
    for view in views:
        plotlyjs = include_plotlyjs
        try:
            sections.append(flow_run_section(view, include_plotlyjs=plotlyjs))
        except Exception as exc:  # one broken run must not lose the others' report
            sections.append(f'<section class="pw-report-section" id="{_anchor(view)}">'
                            f"{_error(f'flow run {view.name}', exc)}</section>")
    body = (f"<h1>{escape(title)}</h1><p class=\"pw-muted\">{len(views):,} flow runs</p>"
            + _index(views) + "".join(sections))
    return _write(_document(title, body, head), output_path)
