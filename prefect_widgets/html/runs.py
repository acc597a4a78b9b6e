"""The reprs of single runs: flow runs, task runs and flows, and their plain-text forms
(the terminal's pretty-printer).

Also the task-run tables (all task runs head and tail, the failed ones, the slowest ones)
that the run lists and the reports reuse. A flow run's repr loads its task runs and its
flow within the display deadline (`prefect_widgets.display_deadline`) and shows what the
snapshot holds past it. Markup comes from `.markup` (escaped by construction).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prefect_widgets.formatting import (
    UNCERTAIN_NOTE,
    fmt_duration,
    fmt_time,
    run_counts_text,
    task_label,
    visible,
)
from prefect_widgets.options import display
from prefect_widgets.records import unfinished_text
from prefect_widgets.states import State

from .debug import debug_loads, flow_run_debug, task_run_debug
from .markup import (
    COUNT_ORDER,
    EMPTY,
    HTML,
    Markup,
    badge,
    chips,
    counts_html,
    cut,
    details,
    error_block,
    escape,
    grid,
    head_tail,
    header,
    mapping,
    mono,
    muted,
    row,
    table,
    trunc,
    try_load,
    wrap,
)
from .markup import link as link_to
from .unfinished import UNFINISHED_MARK, unfinished_ids, unfinished_note

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView, FlowView, TaskRunView

__all__ = [
    "TASK_HEADER", "SLOWEST", "task_row", "task_table_html", "failed_table_html",
    "slowest_task_runs", "slowest_table_html", "load_task_runs", "flow_run_text",
    "flow_run_body", "flow_run_html", "flow_run_repr", "task_run_text", "task_run_html",
    "flow_html", "ui_url",
]

TASK_HEADER = ("state", "name", "task", "start", "duration", "retries")
#: rows in the "Slowest task runs" section
SLOWEST = 5


def _message(state: State) -> Markup:
    if not state.message:
        return EMPTY
    return Markup('<div class="pw-message">{}</div>').format(
        trunc(state.message, 4 * display.max_colwidth))


def _text_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{t.title()}: {n:,}" for t in COUNT_ORDER if (n := counts.get(t)))


def _run_counts(task_runs: Sequence[TaskRunView]) -> str:
    subflows = sum(1 for t in task_runs if t.kind == "subflow-run")
    return run_counts_text(len(task_runs) - subflows, subflows)


def _uncertain_note(task_runs: Iterable[TaskRunView]) -> Markup:
    if not any(t.map_index_uncertain for t in task_runs):
        return EMPTY
    return Markup('<div class="pw-muted pw-note">{}</div>').format(UNCERTAIN_NOTE)


def _is_problem(task: TaskRunView) -> bool:
    return task.state.type in ("FAILED", "CRASHED")


def _retries(run_count: int) -> str:
    return str(max(0, run_count - 1))


def ui_url(view: FlowRunView) -> str | None:
    """The flow run's page in the Prefect UI, or None without usable settings."""
    try:
        return view.ui_url
    except Exception:  # no usable settings: render the name without a link
        return None


def _ui_base(view: TaskRunView) -> str | None:
    """The Prefect UI's base URL from the view's client (none held: no link)."""
    return getattr(view.client, "ui_url", None)


# --------------------------------------------------------------------------- task tables


def _task_name_cell(task: TaskRunView) -> Markup:
    """The run's name; a subflow run's is marked and links to the subflow run."""
    if task.kind != "subflow-run":
        return trunc(task.name)
    child = task.child_flow_run_id
    base = _ui_base(task)
    url = f"{base}/runs/flow-run/{child}" if base and child else None
    mark = Markup('<span class="pw-chip pw-subflow">subflow</span> ')
    return mark + link_to(trunc(task.name), url)


def task_row(task: TaskRunView, message: bool = False, flow_run: HTML | None = None,
             unfinished: bool = False) -> Markup:
    """One task run's table row (TASK_HEADER; with `message`, the state's message too;
    with `flow_run`, that cell after the task's; `unfinished` marks its state)."""
    label = task_label(task.task_name, task.map_index, task.mapped, task.map_index_uncertain)
    state = badge(task.state) + (UNFINISHED_MARK if unfinished else EMPTY)
    cells: list[HTML] = [state, _task_name_cell(task), trunc(label),
                         fmt_time(task.start_time),
                         fmt_duration(None if unfinished else task.duration), str(task.retries)]
    if flow_run is not None:
        cells.insert(3, flow_run)
    if message:
        cells.append(trunc(task.state.message or "", 2 * display.max_colwidth))
    return row(cells, numeric=(len(TASK_HEADER) - 1 + (flow_run is not None),))


def task_table_html(task_runs: Sequence[TaskRunView],
                    unfinished: Collection[str] = frozenset()) -> Markup:
    """Head/tail rows of task runs (display.max_rows / min_rows); `unfinished` ids marked."""
    head, hidden, tail = head_tail(task_runs)
    rows = [[task_row(t, unfinished=t.task_run_id in unfinished) for t in part]
            for part in (head, tail)]
    return table(TASK_HEADER, rows[0], hidden, rows[1], "task runs")


def failed_table_html(failed: Sequence[TaskRunView], limit: int | None = None) -> Markup:
    limit = limit or display.max_failed
    rows = [task_row(t, message=True) for t in failed[:limit]]
    hidden = max(0, len(failed) - limit)
    return table((*TASK_HEADER, "message"), rows, hidden, [], "failed task runs")


def slowest_task_runs(task_runs: Iterable[TaskRunView], limit: int = SLOWEST) -> list[TaskRunView]:
    """The `limit` task runs that took longest (finished ones with a duration), slowest first."""
    timed = (t for t in task_runs if t.duration is not None)
    return heapq.nlargest(limit, timed, key=lambda t: t.duration or timedelta(0))


def slowest_table_html(task_runs: Sequence[TaskRunView], limit: int = SLOWEST) -> Markup:
    rows = [task_row(t) for t in slowest_task_runs(task_runs, limit)]
    if not rows:
        return muted("no finished task runs")
    return table(TASK_HEADER, rows, 0, [], "task runs")


# --------------------------------------------------------------------------- flow runs


def load_task_runs(view: FlowRunView) -> tuple[list[TaskRunView] | None, Markup]:
    """The run's task runs, fetched once per view (one paged request) and kept with it."""
    return try_load("the task runs", view.task_runs)


def flow_run_text(view: FlowRunView, task_runs: Sequence[TaskRunView] | None,
                  flow_name: str | None = None) -> str:
    """The flow run as plain text (the terminal's pretty-printer):
    every string cut (`display.max_colwidth`), terminal-safe (`visible`)."""
    lines = [f"FlowRunView {cut(view.name)!r} [{cut(view.state.name)}]"
             + (f" of flow {cut(flow_name)!r}" if flow_name else "")]
    if view.state.message:
        lines.append(f"  message:  {cut(view.state.message, 4 * display.max_colwidth)}")
    lines.append(f"  id:       {view.flow_run_id}")
    lines.append(f"  start:    {fmt_time(view.start_time)}   end: {fmt_time(view.end_time)}"
                 f"   duration: {fmt_duration(view.duration)}")
    if view.tags:
        lines.append(f"  tags:     {', '.join(cut(t) for t in view.tags[:display.max_items])}")
    if task_runs is not None:
        counts = Counter(t.state.type for t in task_runs)
        lines.append(f"  {_run_counts(task_runs)} ({_text_counts(counts)})")
        failed = [t for t in task_runs if _is_problem(t)][:display.max_failed]
        for task in failed:
            lines.append(f"    ✗ {cut(task.name)} [{cut(task.state.name)}] "
                         f"{cut(task.state.message or '')}")
        if unfinished := unfinished_ids(view, task_runs):
            lines.append(f"  ! {unfinished_text(len(unfinished))}")
    return visible("\n".join(lines))


def _task_runs_section(view: FlowRunView, task_runs: Sequence[TaskRunView],
                       slowest_open: bool) -> Markup:
    counts = Counter(t.state.type for t in task_runs)
    failed = [t for t in task_runs if _is_problem(t)]
    unfinished = unfinished_ids(view, task_runs)
    body = counts_html(counts) + unfinished_note(len(unfinished))
    if failed:
        body += details(Markup('<span class="pw-state-failed">Failed task runs</span>'),
                        failed_table_html(failed), len(failed))
    if task_runs:
        ended = [t for t in task_runs if t.task_run_id not in unfinished]
        body += task_table_html(task_runs, unfinished) + _uncertain_note(task_runs)
        body += details("Slowest task runs", slowest_table_html(ended),
                        f"top {SLOWEST}", open_=slowest_open)
    return details("Task runs", body, _run_counts(task_runs))


def flow_run_body(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                  flow_name: str | None = None, errors: HTML = EMPTY,
                  heading: str = "Flow run", link: bool = True,
                  slowest_open: bool = True, sections: HTML = EMPTY) -> Markup:
    """The flow run's HTML body (no shell): shared by the notebook repr and the reports.

    Below the task table, the `SLOWEST` task runs by duration (from the same task runs:
    no request; a fixed number of rows, so the repr stays bounded)."""
    name = trunc(view.name)
    if link:
        name = link_to(name, ui_url(view))
    extra = badge(view.state)
    if flow_name:
        extra += Markup(' <span class="pw-sub">flow {}</span>').format(trunc(flow_name))
    rows: list[tuple[str, HTML]] = [
        ("id", mono(view.flow_run_id)),
        ("start", fmt_time(view.start_time)),
        ("end", fmt_time(view.end_time)),
        ("duration", fmt_duration(view.duration)),
    ]
    if view.run_count > 1:
        rows.append(("run count", str(view.run_count)))
    if view.deployment_id:
        rows.append(("deployment", mono(view.deployment_id)))
    if view.work_pool_name or view.work_queue_name:
        rows.append(("work pool", trunc(f"{view.work_pool_name or '—'} / "
                                        f"{view.work_queue_name or '—'}")))
    if view.parent_task_run_id:
        rows.append(("parent task run", mono(view.parent_task_run_id)))
    rows.append(("tags", chips(view.tags)))
    if view.labels:
        rows.append(("labels", chips(f"{k}={v}" for k, v in view.labels.items())))
    parts = [header(heading, name, extra), _message(view.state), errors, grid(rows)]
    parts.append(details("Parameters", mapping(view.parameters, "no parameters"),
                         len(view.parameters), open_=bool(view.parameters)
                         and len(view.parameters) <= display.max_items))
    if task_runs is not None:
        parts.append(_task_runs_section(view, task_runs, slowest_open))
    parts.append(escape(sections))  # artifacts, state history (`.debug`)
    return EMPTY.join(parts)


def flow_run_html(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                  fetch: bool = True, deadline: float | None = None) -> Markup:
    """The FlowRunView repr.

    Without `task_runs` they are fetched once (one paged request) and kept with the view;
    the flow's name comes from the cached `view.flow`. `fetch=False` renders offline from
    what is given and cached. Server errors become a short message in the HTML.

    Never blocks: the loads share one `deadline` (seconds; `options.display.deadline` by
    default). Past it the repr shows what the snapshot holds and says the data may be
    stale; the loads finish in the background and fill the snapshot for the next display.
    """
    return flow_run_repr(view, task_runs, fetch=fetch, deadline=deadline)[0]


def flow_run_repr(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                  fetch: bool = True, deadline: float | None = None
                  ) -> tuple[Markup, str | None]:
    """`flow_run_html`, and its note when it shows less than it wanted (else None)."""
    from prefect_widgets.display_deadline import Deadline

    try:
        data = view.data
    except Exception as exc:  # no usable client (no API URL): render what the view holds
        if not fetch:
            return wrap(flow_run_body(view, task_runs)), None
        errors = (error_block("the task runs", exc) if task_runs is None else EMPTY) \
            + error_block("the flow", exc)
        body = flow_run_body(view, task_runs, errors=errors)
        return wrap(body), None
    errors, flow_error, note = EMPTY, EMPTY, None
    if fetch:
        budget = Deadline(deadline)
        tasks_pending = None if task_runs is not None else budget.start(
            "the task runs", lambda: view.task_runs(progress=False), data, "task_views")
        flow_pending = budget.start("the flow", lambda: view.flow.name, data, "flow")
        debug_pending = [budget.start(what, load, data, key)
                         for key, what, load in debug_loads(view)]
        if tasks_pending is not None:
            task_runs, errors = _awaited(budget, tasks_pending)
        flow_error = _awaited(budget, flow_pending)[1]
        flow_error += EMPTY.join(_awaited(budget, p)[1] for p in debug_pending)
        note = budget.note()
    if task_runs is None:  # offline, or not loaded in time: what the snapshot holds
        task_runs = data.peek("task_views")
    flow_name = data.peek("flow").name if data.holds("flow") else None
    notes = Markup('<div class="pw-error pw-stale">{}</div>').format(note) if note else EMPTY
    failures, sections = flow_run_debug(view)
    body = flow_run_body(view, task_runs, flow_name=flow_name,
                         errors=notes + errors + flow_error + failures, sections=sections)
    return wrap(body), note


def _awaited(budget: Any, pending: Any) -> tuple[Any, Markup]:
    """A display load's value, or an error block; nothing when it only came too late
    (the display's note says so once)."""
    from prefect_widgets.errors import DisplayLate

    value, error = budget.result(pending)
    if error is None or isinstance(error, DisplayLate):
        return value, EMPTY
    return None, error_block(pending.what, error)


# --------------------------------------------------------------------------- task runs


def _policy(policy: dict[str, Any]) -> Markup:
    keep = {k: v for k, v in policy.items() if v not in (None, [], {}, 0) or k == "retries"}
    return mapping(keep, "default policy")


def _input_text(item: Any) -> str:
    if isinstance(item, dict) and item.get("input_type") == "task_run":
        return f"task run {item.get('id')}"
    if isinstance(item, dict) and item.get("input_type") == "parameter":
        return f"parameter {item.get('name')}"
    if isinstance(item, dict):
        return str(item.get("input_type") or item)
    return str(item)


def _inputs(task: TaskRunView) -> Markup:
    if not task.task_inputs:
        return muted("no inputs")
    return mapping({name: ", ".join(_input_text(i) for i in items or ()) or "constant"
                    for name, items in task.task_inputs.items()})


def task_run_text(task: TaskRunView) -> str:
    """The task run as plain text (the terminal's pretty-printer):
    every string cut (`display.max_colwidth`), terminal-safe (`visible`)."""
    lines = [f"TaskRunView {cut(task.name)!r} [{cut(task.state.name)}]"]
    if task.state.message:
        lines.append(f"  message:  {cut(task.state.message, 4 * display.max_colwidth)}")
    lines += [f"  id:       {task.task_run_id}", f"  task key: {cut(task.task_key)}",
              f"  start:    {fmt_time(task.start_time)}   end: {fmt_time(task.end_time)}"
              f"   duration: {fmt_duration(task.duration)}",
              f"  retries:  {_retries(task.run_count)}"]
    if task.tags:
        lines.append(f"  tags:     {', '.join(cut(t) for t in task.tags[:display.max_items])}")
    return visible("\n".join(lines))


def task_run_html(task: TaskRunView) -> Markup:
    """The TaskRunView repr. A view read from a server also loads, within the display
    deadline, its error (if it failed), artifacts, state history and upstream run names
    (`.debug.task_run_debug`); a view built without a client shows what it holds."""
    rows: list[tuple[str, HTML]] = [
        ("id", mono(task.task_run_id)),
        ("task key", mono(trunc(task.task_key))),
        ("flow run", mono(task.flow_run_id or "—")),
        ("start", fmt_time(task.start_time)),
        ("end", fmt_time(task.end_time)),
        ("duration", fmt_duration(task.duration)),
        ("run count", f"{task.run_count} (retries: {_retries(task.run_count)})"),
    ]
    if task.map_index is not None:
        rows.append(("map index", str(task.map_index)))
    if task.cache_key:
        rows.append(("cache key", mono(trunc(task.cache_key))))
    rows.append(("tags", chips(task.tags)))
    if task.labels:
        rows.append(("labels", chips(f"{k}={v}" for k, v in task.labels.items())))
    errors, inputs, sections = EMPTY, _inputs(task), EMPTY
    if task.client is not None:
        errors, inputs, sections = task_run_debug(task)
    body = (header("Task run", trunc(task.name), badge(task.state)) + _message(task.state)
            + errors + grid(rows) + details("Inputs", inputs, len(task.task_inputs))
            + sections + details("Retry policy", _policy(task.empirical_policy), open_=False))
    return wrap(body)


# --------------------------------------------------------------------------- flows


def flow_html(flow: FlowView) -> Markup:
    """The FlowView repr."""
    rows: list[tuple[str, HTML]] = [("id", mono(flow.flow_id)),
                                    ("created", fmt_time(flow.created)),
                                    ("updated", fmt_time(flow.updated)),
                                    ("tags", chips(flow.tags))]
    if flow.labels:
        rows.append(("labels", chips(f"{k}={v}" for k, v in flow.labels.items())))
    return wrap(header("Flow", trunc(flow.name)) + grid(rows))
