"""The reprs of many things at once: lists of flow runs and task runs, and log lines.

Each list shows its exact size and state counts, then a bounded table (head and tail,
`prefect_widgets.options.display`) read from the list's frame (`to_dataframe()`) and
views: a flow run's flow and parent task run, a task run's parent flow run. Flow and
flow-run names are looked up once per distinct id (at most `MAX_NAME_LOOKUPS`), together
within one display deadline; an id that did not come shows as its first 8 characters.
Logs show the newest lines, level-coloured. Markup comes from `.markup` (escaped by
construction); task rows from `.runs`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

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
    from prefect_widgets.views import FlowRunView, TaskRunView

__all__ = ["flow_run_list_html", "task_run_list_html", "log_lines_html", "log_list_html",
           "FLOW_RUN_HEADER", "LIST_TASK_HEADER", "MAX_NAME_LOOKUPS"]

FLOW_RUN_HEADER = ("state", "name", "flow", "start", "duration", "parent task run", "tags")
LIST_TASK_HEADER = (*TASK_HEADER[:3], "flow run", *TASK_HEADER[3:])
#: distinct flows (flow runs) whose names one list display looks up, within its deadline
MAX_NAME_LOOKUPS = 20


def _names(views: Iterable[Any], key: Callable[[Any], str | None],
           load: Callable[[Any], str]) -> tuple[dict[str, str], Markup]:
    """`key(view)` → `load(view)` for the first `MAX_NAME_LOOKUPS` distinct keys, loaded
    together within one display deadline; what did not come is left out, and the note
    says so."""
    from prefect_widgets.display_deadline import Deadline

    first: dict[str, Any] = {}
    for view in views:
        found = key(view)
        if found and found not in first and len(first) < MAX_NAME_LOOKUPS:
            first[found] = view
    if not first:
        return {}, EMPTY
    budget = Deadline()
    pending = {k: budget.start(f"the name of {k}", partial(load, v)) for k, v in first.items()}
    names = {}
    for k, waiting in pending.items():
        value, _ = budget.result(waiting)
        if value:
            names[k] = str(value)
    note = budget.note()
    return names, Markup('<div class="pw-muted pw-stale">{}</div>').format(note) \
        if note else EMPTY


def _short_id(ident: Any, url: str | None = None) -> Markup:
    """A run or flow id cut to its first 8 characters (the whole id in the title)."""
    if not isinstance(ident, str) or not ident:
        return muted("—")
    return link(Markup('<span class="pw-mono" title="{}">{}</span>').format(ident, ident[:8]),
                url)


def _ui(view: Any, path: str, ident: Any) -> str | None:
    base = getattr(view.client, "ui_url", None)
    return f"{base}/runs/{path}/{ident}" if base and isinstance(ident, str) and ident else None


def _cell_state(record: Any) -> State:
    return State(str(record.state_type), str(record.state_name),
                 record.state_message if isinstance(record.state_message, str) else None)


def _span(value: Any) -> str:
    return fmt_duration(None if pd.isna(value) else value.to_pytimedelta())


def _time(value: Any) -> str:
    return fmt_time(None if pd.isna(value) else value.to_pydatetime())


def _shown(runs: Sequence[Any]) -> list[Any]:
    """The views whose rows the table shows (head and tail)."""
    head, _, tail = head_tail(list(runs))
    return head + tail


def _list_html(kind: str, runs: Sequence[Any], frame: pd.DataFrame, header_row: Sequence[str],
               render: Callable[[Any, Any], Markup], noun: str, note: Markup) -> Markup:
    """Size, state counts, then the rows: `render(view, frame record)` for each shown run."""
    if not len(runs):
        return wrap(header(kind, "0") + muted(f"no {noun}"))
    records = list(frame.itertuples())
    head, hidden, tail = head_tail(list(range(len(runs))))
    listed = table(header_row, [render(runs[i], records[i]) for i in head], hidden,
                   [render(runs[i], records[i]) for i in tail], noun)
    counts = counts_html(Counter(str(s) for s in frame["state_type"]))
    return wrap(header(kind, f"{len(runs):,}") + counts + note + listed)


def _flow_name(view: FlowRunView) -> str:
    return view.flow.name


def flow_run_list_html(runs: FlowRunList) -> Markup:
    """The FlowRunList repr: its size, state counts and a bounded table (from its frame):
    state, name, flow (names looked up within the display deadline), start, duration,
    parent task run (subflow runs), tags."""
    names, note = _names(_shown(runs), lambda v: v.flow_id, _flow_name)

    def render(view: FlowRunView, record: Any) -> Markup:
        flow = trunc(names[record.flow_id]) if record.flow_id in names \
            else _short_id(record.flow_id)
        parent = record.parent_task_run_id
        return row([badge(_cell_state(record)), link(trunc(record.name), ui_url(view)), flow,
                    _time(record.start_time), _span(record.duration),
                    _short_id(parent, _ui(view, "task-run", parent)),
                    chips(record.tags) if record.tags else EMPTY], numeric=(4,))

    return _list_html("Flow runs", runs, runs.to_dataframe(), FLOW_RUN_HEADER, render,
                      "flow runs", note)


def _flow_run_name(view: TaskRunView) -> str:
    parent = view.flow_run
    return "" if parent is None else parent.name


def task_run_list_html(runs: TaskRunList) -> Markup:
    """The TaskRunList repr: its size, state counts and a bounded table (from its frame):
    state, name, task, flow run (the parent; names looked up within the display
    deadline), start, duration, retries."""
    names, note = _names(_shown(runs), lambda v: v.flow_run_id, _flow_run_name)

    def render(view: TaskRunView, record: Any) -> Markup:
        parent = record.flow_run_id
        name = names.get(parent)
        url = _ui(view, "flow-run", parent)
        return task_row(view, flow_run=link(trunc(name), url) if name
                        else _short_id(parent, url))

    return _list_html("Task runs", runs, runs.to_dataframe(), LIST_TASK_HEADER, render,
                      "task runs", note)


def log_lines_html(entries: Sequence[Any], limit: int | None = None) -> Markup:
    """The newest `limit` (display.max_log_lines) lines, level-coloured, each tagged with
    its task run's name ("flow run" for the flow run's own lines)."""
    limit = limit or display.max_log_lines
    shown = list(entries[-limit:])
    skipped = len(entries) - len(shown)
    out = [Markup('<div class="pw-muted">⋮ {:,} earlier lines</div>').format(skipped)
           if skipped else EMPTY]
    line = Markup('<div class="pw-log-line"><span class="pw-muted">{}</span> '
                  '<span class="pw-log-level pw-level-{}">{}</span> '
                  '<span class="pw-log-task">{}</span> '
                  '<span class="pw-log-msg">{}</span></div>')
    for entry in shown:
        level = entry.level_name
        run = getattr(entry, "task_run_name", None)
        out.append(line.format(fmt_time(entry.timestamp), level.lower(), level,
                               trunc(run, 40) if run else muted("flow run"),
                               trunc(entry.message, 8 * display.max_colwidth)))
    return Markup('<div class="pw-log">{}</div>').format(EMPTY.join(out))


def log_list_html(logs: LogList) -> Markup:
    """The LogList repr: how many lines of each level, then the newest lines."""
    levels = Counter(e.level_name for e in logs)
    summary = Markup(", ").join(Markup("{:,} {}").format(n, name) for name, n in levels.items())
    extra = Markup('<span class="pw-sub">{}</span>').format(summary)
    lines = log_lines_html(logs) if len(logs) else muted("no log lines")
    return wrap(header("Logs", f"{len(logs):,} lines", extra) + lines)
