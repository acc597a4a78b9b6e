"""The reprs of many things at once: lists of flow runs and task runs, and log lines.

Each list shows its exact size and state counts, then a bounded table (head and tail,
`prefect_widgets.options.display`); logs show the newest lines, level-coloured. Markup
comes from `.markup` (escaped by construction); task rows from `.runs`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prefect_widgets.formatting import fmt_duration, fmt_time
from prefect_widgets.options import display
from prefect_widgets.states import State

from .markup import (
    EMPTY,
    Markup,
    badge,
    chips,
    counts_html,
    head_tail,
    header,
    link,
    muted,
    row,
    table,
    trunc,
    wrap,
)
from .runs import TASK_HEADER, task_row, ui_url

if TYPE_CHECKING:
    from prefect_widgets.logs import LogList
    from prefect_widgets.queries import FlowRunList, TaskRunList
    from prefect_widgets.views import FlowRunView

__all__ = ["flow_run_list_html", "task_run_list_html", "log_lines_html", "log_list_html"]

FLOW_RUN_HEADER = ("state", "name", "start", "duration", "tags")


def _flow_run_row(view: FlowRunView) -> Markup:
    return row([badge(view.state), link(trunc(view.name), ui_url(view)),
                fmt_time(view.start_time), fmt_duration(view.duration),
                chips(view.tags) if view.tags else EMPTY])


def _list_html(kind: str, runs: Sequence[Any], states: Iterable[State], header_row: Sequence[str],
               render: Any, noun: str) -> Markup:
    head, hidden, tail = head_tail(runs)
    listed = table(header_row, map(render, head), hidden, map(render, tail), noun) \
        if len(runs) else EMPTY
    body = header(kind, f"{len(runs):,}") + counts_html(Counter(s.type for s in states)) + listed
    return wrap(body, repr(runs))


def flow_run_list_html(runs: FlowRunList) -> Markup:
    """The FlowRunList repr: its size, state counts and a bounded table."""
    return _list_html("Flow runs", runs, (v.state for v in runs), FLOW_RUN_HEADER,
                      _flow_run_row, "flow runs")


def task_run_list_html(runs: TaskRunList) -> Markup:
    """The TaskRunList repr: its size, state counts and a bounded table."""
    return _list_html("Task runs", runs, (t.state for t in runs), TASK_HEADER, task_row,
                      "task runs")


def log_lines_html(entries: Sequence[Any], limit: int | None = None) -> Markup:
    """The newest `limit` (display.max_log_lines) lines, level-coloured."""
    limit = limit or display.max_log_lines
    shown = list(entries[-limit:])
    skipped = len(entries) - len(shown)
    out = [Markup('<div class="pw-muted">⋮ {:,} earlier lines</div>').format(skipped)
           if skipped else EMPTY]
    line = Markup('<div class="pw-log-line"><span class="pw-muted">{}</span>'
                  '<span class="pw-log-level pw-level-{}">{}</span>'
                  '<span class="pw-log-msg">{}</span></div>')
    for entry in shown:
        level = entry.level_name
        out.append(line.format(fmt_time(entry.timestamp), level.lower(), level,
                               trunc(entry.message, 8 * display.max_colwidth)))
    return Markup('<div class="pw-log">{}</div>').format(EMPTY.join(out))


def log_list_html(logs: LogList) -> Markup:
    """The LogList repr: how many lines of each level, then the newest lines."""
    levels = Counter(e.level_name for e in logs)
    summary = Markup(", ").join(Markup("{:,} {}").format(n, name) for name, n in levels.items())
    extra = Markup('<span class="pw-sub">{}</span>').format(summary)
    lines = log_lines_html(logs) if len(logs) else muted("no log lines")
    return wrap(header("Logs", f"{len(logs):,} lines", extra) + lines, repr(logs))
