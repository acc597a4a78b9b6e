"""Rich HTML reprs without JavaScript (xarray style), shared by the notebook and the reports.

Each repr is one `<div class="pw-root">` holding the stylesheet (a package resource read
once), a `<pre class="pw-text-repr-fallback">` text copy that the stylesheet hides, and the
styled body, which carries `style="display:none"` that the stylesheet overrides: renderers
that drop `<style>` (GitHub, nbviewer, untrusted notebooks) show the text copy instead.
Collapsing uses `<details>`. Every user string goes through `html.escape(..., quote=True)`;
only http(s) URLs become links. Output is bounded by `prefect_widgets.options.display`.
"""

from __future__ import annotations

import heapq
import html as _html
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .formatting import UNCERTAIN_NOTE, fmt_duration, fmt_time, run_counts_text, task_label
from .options import display
from .states import STATE_COLORS, STATE_TYPES, State

if TYPE_CHECKING:
    from .logs import LogList
    from .queries import FlowRunList, TaskRunList
    from .views import FlowRunView, FlowView, TaskRunView

__all__ = [
    "STATE_COLORS", "stylesheet", "state_badge_html", "flow_html", "task_run_html",
    "flow_run_html", "flow_run_list_html", "task_run_list_html", "log_list_html", "mimebundle",
    "escape", "safe_url", "slowest_task_runs",
]

T = TypeVar("T")

#: Order of states in counts: problems first, then the lifecycle.
COUNT_ORDER = ("FAILED", "CRASHED", "RUNNING", "CANCELLING", "PAUSED", "PENDING", "SCHEDULED",
               "CANCELLED", "COMPLETED")


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The repr stylesheet (package resource `resources/repr.css`), read once."""
    return (resources.files("prefect_widgets") / "resources" / "repr.css").read_text("utf-8")


# --------------------------------------------------------------------------- small helpers


def escape(value: Any) -> str:
    return _html.escape(str(value), quote=True)


def safe_url(url: Any) -> str | None:
    """`url` if it is an absolute http(s) URL, else None (no javascript:, data:, ...)."""
    if not isinstance(url, str):
        return None
    cleaned = url.strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(c) < 33 for c in cleaned):
        return None
    return cleaned


def _link(text_html: str, url: Any) -> str:
    href = safe_url(url)
    if href is None:
        return text_html
    return f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{text_html}</a>'


def _cut(value: Any, width: int | None = None) -> str:
    text = str(value)
    width = width or display.max_colwidth
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


MAX_TITLE = 2_000  # characters of a cut value kept in its tooltip
MAX_FALLBACK = 20_000  # characters of the plain-text fallback


def _capped(text: str, limit: int) -> str:
    """Bound a huge string: the head, then how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def trunc(value: Any, width: int | None = None, css: str = "") -> str:
    """Escaped text cut to `width` (display.max_colwidth); the value (up to 2,000
    characters) in a title."""
    text = "" if value is None else str(value)
    short = _cut(text, width)
    cls = f' class="{css}"' if css else ""
    if short == text:
        return f"<span{cls}>{escape(text)}</span>" if css else escape(text)
    cls = f' class="pw-trunc {css}"'.rstrip() if css else ' class="pw-trunc"'
    return f'<span{cls} title="{escape(_capped(text, MAX_TITLE))}">{escape(short)}</span>'


def head_tail(items: Sequence[T], max_rows: int | None = None,
              min_rows: int | None = None) -> tuple[list[T], int, list[T]]:
    """pandas' rule: up to max_rows shown whole, else min_rows split between head and tail."""
    max_rows = max_rows or display.max_rows
    min_rows = min(min_rows or display.min_rows, max_rows)
    n = len(items)
    if n <= max_rows:
        return list(items), 0, []
    head = (min_rows + 1) // 2
    tail = min_rows - head
    return list(items[:head]), n - head - tail, list(items[n - tail:]) if tail else []


def _state_class(state_type: str) -> str:
    kind = str(state_type).lower()
    return f"pw-state-{kind}" if state_type in STATE_TYPES else "pw-state-unknown"


def state_badge_html(state: State, *, standalone: bool = True) -> str:
    """A coloured badge with the state's name; the message in its title."""
    title = f' title="{escape(_capped(state.message, MAX_TITLE))}"' if state.message else ""
    badge = (f'<span class="pw-badge {_state_class(state.type)}"{title}>'
             f"{escape(_cut(state.name, 40))}</span>")
    if not standalone:
        return badge
    return _wrap(badge, repr(state), inline=True)


def _badge(state: State) -> str:
    return state_badge_html(state, standalone=False)


def _chips(values: Iterable[Any]) -> str:
    values = list(values)
    if not values:
        return '<span class="pw-muted">none</span>'
    shown = "".join(f'<span class="pw-chip">{trunc(v)}</span>' for v in values[:display.max_items])
    more = len(values) - display.max_items
    return shown + (f' <span class="pw-muted">… {more} more</span>' if more > 0 else "")


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _mapping(values: dict[str, Any], empty: str = "none") -> str:
    if not values:
        return f'<span class="pw-muted">{escape(empty)}</span>'
    items = list(values.items())
    rows = "".join(f"<dt>{trunc(k, 40)}</dt><dd class=\"pw-mono\">{trunc(_value_text(v))}</dd>"
                   for k, v in items[:display.max_items])
    more = len(items) - display.max_items
    if more > 0:
        rows += f'<dt class="pw-muted">…</dt><dd class="pw-muted">{more} more</dd>'
    return f'<dl class="pw-grid">{rows}</dl>'


def _details(summary: str, body: str, count: int | None = None, open_: bool = True) -> str:
    n = f' <span class="pw-count">({count:,})</span>' if count is not None else ""
    return (f'<details{" open" if open_ else ""}><summary>{summary}{n}</summary>'
            f"{body}</details>")


def _grid(rows: Iterable[tuple[str, str]]) -> str:
    return '<dl class="pw-grid">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _error(what: str, exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return (f'<div class="pw-error">Could not load {escape(what)}: '
            f"{escape(type(exc).__name__)}{': ' + trunc(detail, 200) if detail else ''}</div>")


def _try(what: str, load: Callable[[], T]) -> tuple[T | None, str]:
    """Run a server fetch for a repr: (value, "") or (None, a tidy error block)."""
    try:
        return load(), ""
    except Exception as exc:  # a repr must never show a traceback; the message says what failed
        return None, _error(what, exc)


def _wrap(body: str, text: str, *, inline: bool = False) -> str:
    """The repr shell: stylesheet, hidden text fallback, body hidden until styles load."""
    tag = "span" if inline else "div"
    return (f'<{tag} class="pw-root"><style>{stylesheet()}</style>'
            f'<pre class="pw-text-repr-fallback">{escape(_capped(text, MAX_FALLBACK))}</pre>'
            f'<{tag} class="pw-wrap" style="display:none">{body}</{tag}></{tag}>')


def _header(kind: str, title_html: str, extra: str = "") -> str:
    return (f'<div class="pw-header"><span class="pw-kind">{escape(kind)}</span>'
            f'<span class="pw-title">{title_html}</span>{extra}</div>')


def _message(state: State) -> str:
    if not state.message:
        return ""
    return f'<div class="pw-message">{trunc(state.message, 4 * display.max_colwidth)}</div>'


def _counts_html(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return '<span class="pw-muted">no task runs</span>'
    ordered = [(t, counts[t]) for t in COUNT_ORDER if counts.get(t)]
    ordered += [(t, n) for t, n in counts.items() if t not in COUNT_ORDER and n]
    bar = "".join(f'<span class="{_state_class(t)}" style="width:{100 * n / total:.3f}%" '
                  f'title="{escape(t.title())}: {n:,}"></span>' for t, n in ordered)
    legend = "".join(f'<span><span class="pw-swatch {_state_class(t)}"></span>'
                     f"{escape(t.title())} {n:,}</span>" for t, n in ordered)
    return f'<div class="pw-bar">{bar}</div><div class="pw-counts">{legend}</div>'


def _text_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{t.title()}: {n:,}" for t in COUNT_ORDER if (n := counts.get(t)))


def _run_counts(task_runs: Sequence[TaskRunView]) -> str:
    subflows = sum(1 for t in task_runs if t.kind == "subflow-run")
    return run_counts_text(len(task_runs) - subflows, subflows)


def _uncertain_note(task_runs: Iterable[TaskRunView]) -> str:
    if not any(t.map_index_uncertain for t in task_runs):
        return ""
    return f'<div class="pw-muted pw-note">{escape(UNCERTAIN_NOTE)}</div>'


# --------------------------------------------------------------------------- task tables


def _retries(run_count: int) -> str:
    return str(max(0, run_count - 1))


def _task_name_cell(task: TaskRunView) -> str:
    """The run's name; a subflow run's is marked and links to the subflow run."""
    if task.kind != "subflow-run":
        return trunc(task.name)
    child = task.child_flow_run_id
    base = _ui_base(task)
    url = f"{base}/runs/flow-run/{child}" if base and child else None
    return ('<span class="pw-chip pw-subflow">subflow</span> '
            + _link(trunc(task.name), url))


def _task_row(task: TaskRunView, message: bool = False) -> str:
    label = task_label(task.task_name, task.map_index, task.mapped, task.map_index_uncertain)
    cells = [
        _badge(task.state), _task_name_cell(task), trunc(label), fmt_time(task.start_time),
        fmt_duration(task.duration),
    ]
    row = "".join(f"<td>{c}</td>" for c in cells)
    row += f'<td class="pw-num">{task.retries}</td>'
    if message:
        row += f"<td>{trunc(task.state.message or '', 2 * display.max_colwidth)}</td>"
    return f"<tr>{row}</tr>"


def _table(header: Sequence[str], head: list[str], hidden: int, tail: list[str],
           noun: str) -> str:
    ths = "".join(f"<th>{escape(h)}</th>" for h in header)
    more = (f'<tr class="pw-more"><td colspan="{len(header)}">⋮ {hidden:,} more {escape(noun)}'
            "</td></tr>" if hidden else "")
    return (f'<table class="pw-table"><thead><tr>{ths}</tr></thead><tbody>'
            f'{"".join(head)}{more}{"".join(tail)}</tbody></table>')


TASK_HEADER = ("state", "name", "task", "start", "duration", "retries")


def task_table_html(task_runs: Sequence[TaskRunView]) -> str:
    """Head/tail rows of task runs (display.max_rows / min_rows)."""
    head, hidden, tail = head_tail(task_runs)
    return _table(TASK_HEADER, [_task_row(t) for t in head], hidden,
                  [_task_row(t) for t in tail], "task runs")


def failed_table_html(failed: Sequence[TaskRunView], limit: int | None = None) -> str:
    limit = limit or display.max_failed
    rows = [_task_row(t, message=True) for t in failed[:limit]]
    hidden = max(0, len(failed) - limit)
    return _table((*TASK_HEADER, "message"), rows, hidden, [], "failed task runs")


def _is_problem(task: TaskRunView) -> bool:
    return task.state.type in ("FAILED", "CRASHED")


#: rows in the "Slowest task runs" section
SLOWEST = 5


def slowest_task_runs(task_runs: Iterable[TaskRunView], limit: int = SLOWEST) -> list[TaskRunView]:
    """The `limit` task runs that took longest (finished ones with a duration), slowest first."""
    timed = (t for t in task_runs if t.duration is not None)
    return heapq.nlargest(limit, timed, key=lambda t: t.duration)


def slowest_table_html(task_runs: Sequence[TaskRunView], limit: int = SLOWEST) -> str:
    rows = [_task_row(t) for t in slowest_task_runs(task_runs, limit)]
    if not rows:
        return '<span class="pw-muted">no finished task runs</span>'
    return _table(TASK_HEADER, rows, 0, [], "task runs")


# --------------------------------------------------------------------------- flow runs


def _flow_name(view: FlowRunView) -> tuple[str | None, str]:
    return _try("the flow", lambda: view.flow.name)


def _load_task_runs(view: FlowRunView) -> tuple[list[TaskRunView] | None, str]:
    """The run's task runs, fetched once per view (one paged request) and kept with it."""
    return _try("the task runs", view.task_runs)


def flow_run_text(view: FlowRunView, task_runs: Sequence[TaskRunView] | None,
                  flow_name: str | None = None) -> str:
    lines = [f"FlowRunView {view.name!r} [{view.state.name}]"
             + (f" of flow {flow_name!r}" if flow_name else "")]
    if view.state.message:
        lines.append(f"  message:  {_cut(view.state.message, 4 * display.max_colwidth)}")
    lines.append(f"  id:       {view.flow_run_id}")
    lines.append(f"  start:    {fmt_time(view.start_time)}   end: {fmt_time(view.end_time)}"
                 f"   duration: {fmt_duration(view.duration)}")
    if view.tags:
        lines.append(f"  tags:     {', '.join(_cut(t) for t in view.tags[:display.max_items])}")
    if task_runs is not None:
        counts = Counter(t.state.type for t in task_runs)
        lines.append(f"  {_run_counts(task_runs)} ({_text_counts(counts)})")
        failed = [t for t in task_runs if _is_problem(t)][:display.max_failed]
        for task in failed:
            lines.append(f"    ✗ {_cut(task.name)} [{task.state.name}] "
                         f"{_cut(task.state.message or '')}")
    return "\n".join(lines)


def flow_run_body(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                  flow_name: str | None = None, errors: str = "",
                  heading: str = "Flow run", link: bool = True,
                  slowest_open: bool = True) -> str:
    """The flow run's HTML body (no shell): shared by the notebook repr and the reports.

    Below the task table, the `SLOWEST` task runs by duration (from the same task runs:
    no request; a fixed number of rows, so the repr stays bounded)."""
    name_html = trunc(view.name)
    if link:
        name_html = _link(name_html, _ui_url(view))
    extra = _badge(view.state)
    if flow_name:
        extra += f'<span class="pw-sub">flow {trunc(flow_name)}</span>'
    rows = [
        ("id", f'<span class="pw-mono">{escape(view.flow_run_id)}</span>'),
        ("start", escape(fmt_time(view.start_time))),
        ("end", escape(fmt_time(view.end_time))),
        ("duration", escape(fmt_duration(view.duration))),
    ]
    if view.run_count > 1:
        rows.append(("run count", str(view.run_count)))
    if view.deployment_id:
        rows.append(("deployment", f'<span class="pw-mono">{escape(view.deployment_id)}</span>'))
    if view.work_pool_name or view.work_queue_name:
        rows.append(("work pool", trunc(f"{view.work_pool_name or '—'} / "
                                        f"{view.work_queue_name or '—'}")))
    if view.parent_task_run_id:
        rows.append(("parent task run",
                     f'<span class="pw-mono">{escape(view.parent_task_run_id)}</span>'))
    rows.append(("tags", _chips(view.tags)))
    if view.labels:
        rows.append(("labels", _chips(f"{k}={v}" for k, v in view.labels.items())))
    parts = [_header(heading, name_html, extra), _message(view.state), errors, _grid(rows)]
    parts.append(_details("Parameters", _mapping(view.parameters, "no parameters"),
                          len(view.parameters), open_=bool(view.parameters)
                          and len(view.parameters) <= display.max_items))
    if task_runs is not None:
        counts = Counter(t.state.type for t in task_runs)
        failed = [t for t in task_runs if _is_problem(t)]
        body = _counts_html(counts)
        if failed:
            body += _details('<span class="pw-state-failed">Failed task runs</span>',
                             failed_table_html(failed), len(failed))
        if task_runs:
            body += task_table_html(task_runs) + _uncertain_note(task_runs)
            body += _details(f"Slowest task runs <span class=\"pw-count\">(top {SLOWEST})</span>",
                             slowest_table_html(task_runs), open_=slowest_open)
        counted = escape(_run_counts(task_runs))
        parts.append(_details(f'Task runs <span class="pw-count">({counted})</span>', body))
    return "".join(parts)


def flow_run_html(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                  fetch: bool = True, deadline: float | None = None) -> str:
    """The FlowRunView repr.

    Without `task_runs` they are fetched once (one paged request) and kept with the view;
    the flow's name comes from the cached `view.flow`. `fetch=False` renders offline from
    what is given and cached. Server errors become a short message in the HTML.

    Never blocks: the loads share one `deadline` (seconds; `options.display.deadline` by
    default). Past it the repr shows what the snapshot holds and says the data may be
    stale; the loads finish in the background and fill the snapshot for the next display.
    """
    return _flow_run_repr(view, task_runs, fetch=fetch, deadline=deadline)[0]


def _flow_run_repr(view: FlowRunView, task_runs: Sequence[TaskRunView] | None = None, *,
                   fetch: bool = True, deadline: float | None = None
                   ) -> tuple[str, str | None]:
    """`flow_run_html`, and its note when it shows less than it wanted (else None)."""
    from .display_deadline import Deadline

    try:
        data = view.data
    except Exception as exc:  # no usable client (no API URL): render what the view holds
        if not fetch:
            return _wrap(flow_run_body(view, task_runs), flow_run_text(view, task_runs)), None
        errors = (_error("the task runs", exc) if task_runs is None else "") \
            + _error("the flow", exc)
        body = flow_run_body(view, task_runs, errors=errors)
        return _wrap(body, flow_run_text(view, task_runs)), None
    errors, flow_error, note = "", "", None
    if fetch:
        budget = Deadline(deadline)
        tasks_pending = None if task_runs is not None else budget.start(
            "the task runs", lambda: view.task_runs(progress=False), data, "task_views")
        flow_pending = budget.start("the flow", lambda: view.flow.name, data, "flow")
        if tasks_pending is not None:
            task_runs, errors = _awaited(budget, tasks_pending)
        flow_error = _awaited(budget, flow_pending)[1]
        note = budget.note()
    if task_runs is None:  # offline, or not loaded in time: what the snapshot holds
        task_runs = data.peek("task_views")
    flow_name = data.peek("flow").name if data.holds("flow") else None
    notes = f'<div class="pw-error pw-stale">{escape(note)}</div>' if note else ""
    body = flow_run_body(view, task_runs, flow_name=flow_name,
                         errors=notes + errors + flow_error)
    text = flow_run_text(view, task_runs, flow_name)
    if note:
        text += f"\n  note:     {note}"
    return _wrap(body, text), note


def _awaited(budget: Any, pending: Any) -> tuple[Any, str]:
    """A display load's value, or an error block; nothing when it only came too late
    (the display's note says so once)."""
    from .errors import DisplayLate

    value, error = budget.result(pending)
    if error is None or isinstance(error, DisplayLate):
        return value, ""
    return None, _error(pending.what, error)


def _ui_url(view: FlowRunView) -> str | None:
    try:
        return view.ui_url
    except Exception:  # no usable settings: render the name without a link
        return None


def _ui_base(view: TaskRunView) -> str | None:
    from .client import get_client

    try:
        return get_client(view.client).ui_url
    except Exception:  # no usable settings: no link
        return None


# --------------------------------------------------------------------------- task runs


def _policy(policy: dict[str, Any]) -> str:
    keep = {k: v for k, v in policy.items() if v not in (None, [], {}, 0) or k == "retries"}
    return _mapping(keep, "default policy")


def _inputs(task: TaskRunView) -> str:
    if not task.task_inputs:
        return '<span class="pw-muted">no inputs</span>'
    rendered = {}
    for name, items in task.task_inputs.items():
        parts = []
        for item in items or ():
            if isinstance(item, dict) and item.get("input_type") == "task_run":
                parts.append(f"task run {item.get('id')}")
            elif isinstance(item, dict) and item.get("input_type") == "parameter":
                parts.append(f"parameter {item.get('name')}")
            elif isinstance(item, dict):
                parts.append(str(item.get("input_type") or item))
            else:
                parts.append(str(item))
        rendered[name] = ", ".join(parts) or "constant"
    return _mapping(rendered)


def task_run_text(task: TaskRunView) -> str:
    lines = [f"TaskRunView {task.name!r} [{task.state.name}]"]
    if task.state.message:
        lines.append(f"  message:  {_cut(task.state.message, 4 * display.max_colwidth)}")
    lines += [f"  id:       {task.task_run_id}", f"  task key: {task.task_key}",
              f"  start:    {fmt_time(task.start_time)}   end: {fmt_time(task.end_time)}"
              f"   duration: {fmt_duration(task.duration)}",
              f"  retries:  {_retries(task.run_count)}"]
    if task.tags:
        lines.append(f"  tags:     {', '.join(_cut(t) for t in task.tags[:display.max_items])}")
    return "\n".join(lines)


def task_run_html(task: TaskRunView) -> str:
    rows = [
        ("id", f'<span class="pw-mono">{escape(task.task_run_id)}</span>'),
        ("task key", f'<span class="pw-mono">{trunc(task.task_key)}</span>'),
        ("flow run", f'<span class="pw-mono">{escape(task.flow_run_id or "—")}</span>'),
        ("start", escape(fmt_time(task.start_time))),
        ("end", escape(fmt_time(task.end_time))),
        ("duration", escape(fmt_duration(task.duration))),
        ("run count", f"{task.run_count} (retries: {_retries(task.run_count)})"),
    ]
    if task.map_index is not None:
        rows.append(("map index", str(task.map_index)))
    if task.cache_key:
        rows.append(("cache key", f'<span class="pw-mono">{trunc(task.cache_key)}</span>'))
    rows.append(("tags", _chips(task.tags)))
    if task.labels:
        rows.append(("labels", _chips(f"{k}={v}" for k, v in task.labels.items())))
    upstream = task.upstream_task_run_ids
    rows.append(("upstream", _chips(upstream) if upstream
                 else '<span class="pw-muted">none</span>'))
    body = (_header("Task run", trunc(task.name), _badge(task.state)) + _message(task.state)
            + _grid(rows) + _details("Inputs", _inputs(task), len(task.task_inputs))
            + _details("Retry policy", _policy(task.empirical_policy), open_=False))
    return _wrap(body, task_run_text(task))


# --------------------------------------------------------------------------- flows


def flow_html(flow: FlowView) -> str:
    rows = [("id", f'<span class="pw-mono">{escape(flow.flow_id)}</span>'),
            ("created", escape(fmt_time(flow.created))),
            ("updated", escape(fmt_time(flow.updated))),
            ("tags", _chips(flow.tags))]
    if flow.labels:
        rows.append(("labels", _chips(f"{k}={v}" for k, v in flow.labels.items())))
    body = _header("Flow", trunc(flow.name)) + _grid(rows)
    return _wrap(body, repr(flow))


# --------------------------------------------------------------------------- lists


def _flow_run_row(view: FlowRunView) -> str:
    name = _link(trunc(view.name), _ui_url(view))
    cells = [_badge(view.state), name, escape(fmt_time(view.start_time)),
             escape(fmt_duration(view.duration)), _chips(view.tags) if view.tags else ""]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _list_counts(states: Iterable[State]) -> str:
    return _counts_html(Counter(s.type for s in states))


def flow_run_list_html(runs: FlowRunList) -> str:
    head, hidden, tail = head_tail(runs)
    table = _table(("state", "name", "start", "duration", "tags"),
                   [_flow_run_row(v) for v in head], hidden, [_flow_run_row(v) for v in tail],
                   "flow runs")
    body = (_header("Flow runs", f"{len(runs):,}") + _list_counts(v.state for v in runs)
            + (table if len(runs) else ""))
    return _wrap(body, repr(runs))


def task_run_list_html(runs: TaskRunList) -> str:
    head, hidden, tail = head_tail(runs)
    table = _table(TASK_HEADER, [_task_row(t) for t in head], hidden,
                   [_task_row(t) for t in tail], "task runs")
    body = (_header("Task runs", f"{len(runs):,}") + _list_counts(t.state for t in runs)
            + (table if len(runs) else ""))
    return _wrap(body, repr(runs))


# --------------------------------------------------------------------------- logs


def log_lines_html(entries: Sequence[Any], limit: int | None = None) -> str:
    """The newest `limit` (display.max_log_lines) lines, level-coloured."""
    limit = limit or display.max_log_lines
    shown = list(entries[-limit:])
    skipped = len(entries) - len(shown)
    out = []
    if skipped:
        out.append(f'<div class="pw-muted">⋮ {skipped:,} earlier lines</div>')
    for entry in shown:
        level = entry.level_name
        out.append(
            f'<div class="pw-log-line"><span class="pw-muted">{escape(fmt_time(entry.timestamp))}'
            f'</span><span class="pw-log-level pw-level-{escape(level.lower())}">{escape(level)}'
            f'</span><span class="pw-log-msg">{trunc(entry.message, 8 * display.max_colwidth)}'
            "</span></div>")
    return f'<div class="pw-log">{"".join(out)}</div>'


def log_list_html(logs: LogList) -> str:
    levels = Counter(e.level_name for e in logs)
    summary = ", ".join(f"{n:,} {escape(name)}" for name, n in levels.items())
    body = (_header("Logs", f"{len(logs):,} lines", f'<span class="pw-sub">{summary}</span>')
            + (log_lines_html(logs) if len(logs) else '<span class="pw-muted">no log lines</span>'))
    return _wrap(body, repr(logs))


# --------------------------------------------------------------------------- mimebundle


def _md(value: Any) -> str:
    text = escape(_cut(value))
    for ch in "\\`*_[]|#":
        text = text.replace(ch, "\\" + ch)
    return text


def _markdown(obj: Any) -> str | None:
    from .views import FlowRunView, FlowView, TaskRunView

    if isinstance(obj, State):
        return f"**{_md(obj.name)}**" + (f": {_md(obj.message)}" if obj.message else "")
    if isinstance(obj, FlowView):
        return f"**Flow** {_md(obj.name)} (`{obj.flow_id}`)"
    if isinstance(obj, (FlowRunView, TaskRunView)):
        kind = "Flow run" if isinstance(obj, FlowRunView) else "Task run"
        ident = obj.flow_run_id if isinstance(obj, FlowRunView) else obj.task_run_id
        lines = [f"**{kind}** {_md(obj.name)} — **{_md(obj.state.name)}**", "",
                 "| | |", "|---|---|", f"| id | `{ident}` |",
                 f"| start | {fmt_time(obj.start_time)} |", f"| end | {fmt_time(obj.end_time)} |",
                 f"| duration | {fmt_duration(obj.duration)} |"]
        if obj.state.message:
            lines.append(f"| message | {_md(obj.state.message)} |")
        return "\n".join(lines)
    return None


def mimebundle(obj: Any) -> dict[str, str]:
    """`_repr_mimebundle_` for every display type: text/plain, text/html, and text/markdown
    for the single objects (states, flows, runs) where a short summary reads well."""
    from .logs import LogList
    from .queries import FlowRunList, TaskRunList
    from .views import FlowRunView, FlowView, TaskRunView

    renderers: list[tuple[type, Callable[[Any], str]]] = [
        (State, state_badge_html), (FlowRunView, flow_run_html), (TaskRunView, task_run_html),
        (FlowView, flow_html), (FlowRunList, flow_run_list_html),
        (TaskRunList, task_run_list_html), (LogList, log_list_html),
    ]
    bundle = {"text/plain": repr(obj)}
    if isinstance(obj, FlowRunView):  # the one display that loads: note what did not come
        bundle["text/html"], note = _flow_run_repr(obj)
        if note:
            bundle["text/plain"] += f"\n# {note}"
    for cls, render in renderers if "text/html" not in bundle else ():
        if isinstance(obj, cls):
            bundle["text/html"] = render(obj)
            break
    markdown = _markdown(obj)
    if markdown is not None:
        bundle["text/markdown"] = markdown
    return bundle
