"""The report's long parts: every task run in one filterable table, the subflow runs, and the
run's logs tagged with their task runs.

Nothing is left out for length: each value is cut to a fixed width with a visible "…" (log
messages: the head and "… (N characters)"), and the logs are bounded by lines and characters
with a note saying what was left out. Without JavaScript the tables and logs read as they
are; `resources/report.js` adds the search boxes (their controls start `hidden`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from prefect_widgets.formatting import fmt_duration, fmt_time, task_label
from prefect_widgets.html.markup import (
    EMPTY,
    Markup,
    badge,
    capped,
    cut,
    link,
    muted,
    state_class,
)
from prefect_widgets.html.runs import TASK_HEADER, task_row
from prefect_widgets.html.unfinished import UNFINISHED_MARK
from prefect_widgets.records import LEVELS

from .timeline import NAME_WIDTH

if TYPE_CHECKING:
    from prefect_widgets.logs import LogEntry
    from prefect_widgets.views import TaskRunView

__all__ = ["MESSAGE_WIDTH", "LOG_MESSAGE_CHARS", "LOG_CHARS", "task_table_html",
           "subflows_html", "log_tag", "logs_html"]

#: characters of a state message in the task table
MESSAGE_WIDTH = 300
#: characters of one log message (then "… (N characters)")
LOG_MESSAGE_CHARS = 4_000
#: characters of log messages in one report section, all lines together
LOG_CHARS = 400_000

ALL_HEADER = (*TASK_HEADER, "logs", "message")
_SEARCH = Markup('<div class="pw-filter" hidden><input type="search" class="pw-{0}-search" '
                 'placeholder="{1}" aria-label="{1}">{2}<span class="pw-muted pw-{0}-shown">'
                 "</span></div>")


def _options(label: str, choices: Sequence[tuple[str, str]], css: str) -> Markup:
    options = EMPTY.join(Markup('<option value="{}">{}</option>').format(v, t)
                         for v, t in choices)
    return Markup('<select class="pw-{}" aria-label="{}">{}</select>').format(css, label, options)


def _subflow_url(task: TaskRunView) -> str | None:
    try:
        return task.child_flow_run_ui_url
    except Exception:  # no usable settings: the name without a link
        return None


def _name_cell(task: TaskRunView) -> Markup:
    name = cut(task.name, NAME_WIDTH)
    if task.kind != "subflow-run":
        return Markup("{}").format(name)
    return Markup('<span class="pw-chip pw-subflow">subflow</span> ') + link(
        name, _subflow_url(task))


def _task_row(key: str, index: int, task: TaskRunView, log_lines: int,
              unfinished: bool) -> Markup:
    label = task_label(task.task_name, task.map_index, task.mapped, task.map_index_uncertain)
    logs = Markup('<a href="#{0}-logs" class="pw-log-link" data-task="{1}">{2:,}</a>').format(
        key, index, log_lines) if log_lines else EMPTY
    state = badge(task.state) + (UNFINISHED_MARK if unfinished else EMPTY)
    cells = (state, _name_cell(task), cut(label, NAME_WIDTH), fmt_time(task.start_time),
             fmt_duration(None if unfinished else task.duration), str(task.retries),
             logs, cut(task.state.message or "", MESSAGE_WIDTH))
    numeric = (5, 6)
    tds = EMPTY.join(Markup('<td class="pw-num">{}</td>' if i in numeric else "<td>{}</td>")
                     .format(c) for i, c in enumerate(cells))
    return Markup('<tr id="{}-t{}" data-s="{}">{}</tr>').format(
        key, index, state_class(task.state.type)[len("pw-state-"):], tds)


def task_table_html(key: str, tasks: Sequence[TaskRunView], log_lines: Mapping[str, int],
                    unfinished: Collection[str] = frozenset()) -> Markup:
    """Every task run, one row each (id `<key>-t<i>`, `data-s` its state), with a search box
    and a state filter; `log_lines` counts each task run's lines in the report's logs;
    `unfinished` task runs (ids) are marked as never finished."""
    states = sorted({t.state.type for t in tasks})
    choose = _options("state", [("", "all states"), *((state_class(s)[len("pw-state-"):],
                                                       s.title()) for s in states)], "state")
    rows = EMPTY.join(_task_row(key, i, t, log_lines.get(t.task_run_id, 0),
                                t.task_run_id in unfinished) for i, t in enumerate(tasks))
    ths = EMPTY.join(Markup("<th>{}</th>").format(h) for h in ALL_HEADER)
    return _SEARCH.format("task", "search task runs by name or task", choose) + Markup(
        '<table class="pw-table pw-all-tasks"><thead><tr>{}</tr></thead><tbody>{}</tbody>'
        "</table>").format(ths, rows)


def subflows_html(tasks: Sequence[TaskRunView]) -> Markup:
    """The subflow runs among the task runs (linked to the Prefect UI when it is known)."""
    subflows = [t for t in tasks if t.kind == "subflow-run"]
    if not subflows:
        return muted("no subflow runs")
    ths = EMPTY.join(Markup("<th>{}</th>").format(h) for h in (*TASK_HEADER, "message"))
    return Markup('<table class="pw-table"><thead><tr>{}</tr></thead><tbody>{}</tbody>'
                  "</table>").format(ths, EMPTY.join(task_row(t, message=True)
                                                     for t in subflows))


def log_tag(entry: LogEntry, names: Mapping[str, str]) -> str:
    """The task run a line belongs to: its name (from the run's task runs, else the logs
    frame's `task_run_name`), its id, or "flow run"."""
    task_run_id = entry.task_run_id
    if not task_run_id:
        return "flow run"
    return names.get(task_run_id) or getattr(entry, "task_run_name", None) or task_run_id


_LINE = Markup('<div class="pw-log-line" data-l="{}" data-t="{}"><span class="pw-muted">{}'
               '</span><span class="pw-log-level pw-level-{}">{}</span><span class="pw-chip '
               'pw-log-task" title="{}">{}</span><span class="pw-log-msg">{}</span></div>')


def _line(entry: LogEntry, names: Mapping[str, str], index: Mapping[str, int]) -> Markup:
    level = entry.level_name
    tag = log_tag(entry, names)
    return _LINE.format(entry.level, index.get(entry.task_run_id or "", -1),
                        fmt_time(entry.timestamp), level.lower(), level, cut(tag, 200),
                        cut(tag, 60), capped(entry.message, LOG_MESSAGE_CHARS))


def _gap(text: str) -> Markup:
    return Markup('<div class="pw-muted pw-log-gap">⋮ {}</div>').format(text)


def logs_html(key: str, head: Sequence[LogEntry], tail: Sequence[LogEntry], skipped: int,
              tasks: Sequence[TaskRunView]) -> Markup:
    """The lines (`head`, a gap of at least `skipped` lines, `tail`), tagged with their task
    runs and bounded by `LOG_CHARS`; a level filter and a search box."""
    if not head and not tail:
        return muted("no log lines")
    names = {t.task_run_id: t.name for t in tasks}
    index = {t.task_run_id: i for i, t in enumerate(tasks)}
    lines: list[Markup] = []
    budget = LOG_CHARS - sum(min(len(e.message), LOG_MESSAGE_CHARS) for e in tail)
    kept = 0
    for entry in head:
        budget -= min(len(entry.message), LOG_MESSAGE_CHARS)
        if budget < 0:
            break
        lines.append(_line(entry, names, index))
        kept += 1
    dropped = len(head) - kept
    if dropped or skipped:
        more = "" if not tail else "+"
        lines.append(_gap(f"{dropped + skipped:,}{more} lines left out to keep the report "
                          f"small; {len(tail):,} newest lines follow" if tail else
                          f"{dropped:,} lines left out to keep the report small"))
    lines += [_line(e, names, index) for e in tail]
    levels = Counter(e.level_name for e in (*head, *tail))
    choose = _options("level", [("0", "all levels"), *((str(n), f"{name} and above")
                                for name, n in LEVELS.items() if n > 10)], "level")
    summary = Markup(", ").join(Markup("{:,} {}").format(n, name) for name, n in levels.items())
    return Markup('<div class="pw-muted">{}</div>').format(summary) + _SEARCH.format(
        "log", "search log lines by task run or message", choose) + Markup(
        '<span class="pw-log-only" hidden></span><div class="pw-log pw-report-log" id="{}-logs">'
        "{}</div>").format(key, EMPTY.join(lines))
