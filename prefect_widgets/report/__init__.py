"""Standalone HTML reports of flow runs: one light file, no server, no network.

A run's section holds the notebook repr's header (`html.flow_run_body`: state, message,
times, parameters), the errors of a failed run (each failure's whole traceback and its
task run's state history, `.debugging`), the task runs' counts and failures, a timeline
drawn on a canvas by a few lines of our own JavaScript (`resources/report.js`; the data is
one JSON blob per section, see `.timeline`), the critical path, the slowest task runs, the
subflow runs, every task run in one filterable table, the artifacts of the run and its
task runs, the run's state history, and the logs tagged with their task runs
(`.sections`). Task runs that never reached a final state (`records.unfinished_mask`) are
noted under the counts, marked in the table and drawn hatched up to the run's end. Every
value from the server is escaped (`html.markup`) and cut to a fixed width with a visible
marker, so a report stays small: a 12-task run is under 100 KB, a 3,000-task run ~1.05 MB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from prefect_widgets._version import __version__
from prefect_widgets.formatting import fmt_duration, fmt_time, run_counts_text
from prefect_widgets.html.markup import (
    EMPTY,
    Markup,
    badge,
    counts_html,
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
from prefect_widgets.html.runs import failed_table_html, flow_run_body, slowest_table_html
from prefect_widgets.html.unfinished import unfinished_ids, unfinished_note
from prefect_widgets.options import option_context
from prefect_widgets.states import State

from .debugging import artifacts_html, errors_html, run_history_html
from .sections import logs_html, subflows_html, task_table_html
from .timeline import json_script, timeline_data

if TYPE_CHECKING:
    from prefect_widgets.logs import LogEntry
    from prefect_widgets.views import FlowRunView, TaskRunView

__all__ = ["flow_run_report", "write_report", "flow_run_section", "critical_path_html",
           "LOG_LIMIT", "LOG_TAIL"]

#: log lines read per run, oldest first; past it the newest `LOG_TAIL` lines end the logs
LOG_LIMIT = 2_000
LOG_TAIL = 150  # +1 probe row stays within the server's 200-row page cap
#: table bounds of the notebook parts reused here (`prefect_widgets.options.display`)
REPORT_OPTIONS = ("display.max_rows", 60, "display.min_rows", 40, "display.max_failed", 200,
                  "display.max_colwidth", 120, "display.max_items", 50)


def _asset(name: str) -> Markup:
    text = (resources.files("prefect_widgets") / "resources" / name).read_text("utf-8")
    return Markup(text)  # trusted: a file of this package, never a value


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


def _read_logs(view: FlowRunView) -> tuple[list[LogEntry], list[LogEntry], int]:
    """The first lines (up to `LOG_LIMIT`, all of them for most runs); past that the first
    `LOG_LIMIT - LOG_TAIL`, the newest `LOG_TAIL`, and how many read lines fell between."""
    head = list(view.get_logs(limit=LOG_LIMIT + 1))
    if len(head) <= LOG_LIMIT:
        return head, [], 0
    newest, _ = view.data.log_tail(LOG_TAIL)
    first = head[:LOG_LIMIT - LOG_TAIL]
    shown = {e.id for e in first}
    tail = [e for e in newest if e.id not in shown]
    tail_ids = {e.id for e in tail}
    return first, tail, sum(1 for e in head[len(first):] if e.id not in tail_ids)


def _legend(keys: Sequence[str], critical: bool, unfinished: bool) -> Markup:
    names = {"RETRIED": "Failed attempt (retried)", "UNKNOWN": "Unknown state"}
    items = EMPTY.join(Markup('<span><span class="pw-swatch pw-key-{}"></span>{}</span>')
                       .format(k.lower(), names.get(k, k.title())) for k in keys)
    if critical:
        items += Markup('<span><span class="pw-swatch pw-key-critical"></span>'
                        "critical path</span>")
    if unfinished:
        items += Markup('<span><span class="pw-swatch pw-key-unfinished"></span>'
                        "never finished</span>")
    return Markup('<div class="pw-counts pw-legend">{}</div>').format(items)


def _timeline_html(view: FlowRunView, tasks: Sequence[TaskRunView],
                   unfinished: Collection[str]) -> tuple[Markup, Markup]:
    """The canvas with its data blob, and the critical path table (or their errors);
    `unfinished` task runs end at the run's end, drawn as never finished."""
    from prefect_widgets.analytics import _run_until, attempts_frame, critical_path_from_frame

    frame, frame_error = try_load("the timeline", view.data.timeline)
    path, path_error = (None, frame_error) if frame is None else try_load(
        "the critical path", lambda: critical_path_from_frame(
            frame, until=_run_until(view), run_start=view.start_time))
    attempts, attempts_error = try_load("the retry attempts", lambda: attempts_frame(view))
    until = pd.Timestamp(_run_until(view), tz="UTC").to_pydatetime()
    critical = [] if path is None else path["task_run_id"].astype(str).tolist()
    data = timeline_data(tasks, attempts, critical, until, unfinished)
    waiting = sum(1 for t in tasks if t.start_time is None)
    note = Markup('<div class="pw-muted">{:,} task runs never started (listed below)</div>'
                  ).format(waiting) if waiting else EMPTY
    canvas = Markup(
        '<div class="pw-timeline"><canvas role="img" aria-label="timeline of {:,} task runs">'
        '</canvas><div class="pw-tip" hidden></div><noscript><div class="pw-muted">The '
        "timeline needs JavaScript; every task run is listed below.</div></noscript></div>"
    ).format(len(tasks) - waiting)
    legend = _legend(data["keys"], bool(data["critical"]), bool(data["unfinished"]))
    timeline = attempts_error + legend + canvas + note + json_script(data, "pw-report-data")
    return timeline, path_error if path is None else critical_path_html(path)


SECTION = Markup('<section class="pw-report-section" id="{}" data-pw-report>{}</section>')
PARTS = Markup('{header}{errors}<h3>Task runs</h3>{summary}<h3>Timeline</h3>{timeline}'
               '<h3>Critical path</h3><div class="pw-critical-path">{critical}</div>'
               "<h3>Slowest task runs</h3>{slowest}<h3>Subflow runs</h3>{subflows}"
               '<details class="pw-all" open><summary>All task runs <span class="pw-count">'
               "({count:,})</span></summary>{tasks}</details>"
               '<h3>Artifacts</h3><div class="pw-artifacts">{artifacts}</div>'
               "<h3>State history</h3>{history}<h3>Logs</h3>{logs}")
ERRORS = Markup('<h3 class="pw-state-failed">Errors</h3><div class="pw-errors">{}</div>')


def flow_run_section(view: FlowRunView) -> Markup:
    """One run's report section (see the module's docstring)."""
    key = _anchor(view)
    with option_context(*REPORT_OPTIONS):
        tasks, task_error = try_load("the task runs", view.task_runs)
        flow_name, flow_error = try_load("the flow", lambda: view.flow.name)
        header = flow_run_body(view, None, flow_name=flow_name, errors=task_error + flow_error)
        read, logs_error = try_load("the logs", lambda: _read_logs(view))
        head, tail, skipped = read if read is not None else ([], [], 0)
        logs = logs_error or logs_html(key, head, tail, skipped, tasks or [])
        if tasks is None:
            return SECTION.format(key, header + Markup("<h3>Logs</h3>") + logs)
        failed = [t for t in tasks if t.state.type in ("FAILED", "CRASHED")]
        subflows = sum(1 for t in tasks if t.kind == "subflow-run")
        unfinished = unfinished_ids(view, tasks)
        summary = muted(run_counts_text(len(tasks) - subflows, subflows)) + counts_html(
            Counter(t.state.type for t in tasks)) + unfinished_note(len(unfinished)) + (
            failed_table_html(failed) if failed else EMPTY)
        timeline, critical = _timeline_html(view, tasks, unfinished)
        ended = [t for t in tasks if t.task_run_id not in unfinished]
        lines = Counter(e.task_run_id for e in (*head, *tail) if e.task_run_id)
        errors = errors_html(view)
        parts = PARTS.format(header=header, errors=ERRORS.format(errors) if errors else EMPTY,
                             summary=summary, timeline=timeline,
                             critical=critical, slowest=slowest_table_html(ended),
                             subflows=subflows_html(tasks), count=len(tasks),
                             tasks=task_table_html(key, tasks, lines, unfinished),
                             artifacts=artifacts_html(view, tasks),
                             history=run_history_html(view), logs=logs)
    return SECTION.format(key, parts)


DOCUMENT = Markup(
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="color-scheme" content="light dark">'
    '<meta name="generator" content="prefect-widgets {version}">'
    "<title>{title}</title><style>{css}{report_css}</style></head>"
    '<body style="margin:0"><div class="pw-root pw-report"><div class="pw-wrap">{body}'
    '<p class="pw-muted">Generated by prefect-widgets {version} at {generated}.</p>'
    "</div></div><script>{script}</script></body></html>\n")


def _document(title: str, body: Markup) -> str:
    generated = fmt_time(datetime.now(timezone.utc))
    text = DOCUMENT.format(version=__version__, title=cut(title, 200), css=stylesheet(),
                           report_css=_asset("report.css"), body=body, generated=generated,
                           script=_asset("report.js"))
    return text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from the server


def _write(text: str, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def flow_run_report(flow_run: FlowRunView, path: str | Path | None = None) -> str:
    """A self-contained HTML report of one flow run; also written to `path` if given."""
    text = _document(f"Flow run {flow_run.name} — {flow_run.state.name}",
                     flow_run_section(flow_run))
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
                 title: str = "Prefect flow runs") -> Path:
    """One HTML file covering several runs: an index, then a section per run."""
    views = list(flow_runs)
    sections = []
    for view in views:
        try:
            sections.append(flow_run_section(view))
        except Exception as exc:  # one broken run must not lose the others' report
            sections.append(SECTION.format(_anchor(view),
                                           error_block(f"flow run {view.name}", exc)))
    body = Markup('<h1>{}</h1><p class="pw-muted">{:,} flow runs</p>{}{}').format(
        cut(title, 200), len(views), _index(views), EMPTY.join(sections))
    return _write(_document(title, body), output_path)
