"""What a person debugging a failed run sees: failures with their whole tracebacks,
artifacts, state histories and task inputs, as HTML (no JavaScript).

A traceback shows the user's frames and the final exception line as text (copyable, no
tooltip-only content); runs of library and internal frames (Prefect, anyio, the standard
library, …) fold into a `<details>`, and the whole traceback text sits in one more
`<details>` for copying. Artifacts render by kind: markdown through `markdown_html`
(sanitised), tables as bounded tables, links and images only to safe URLs, progress as a
`<progress>` bar. Everything is bounded by `prefect_widgets.options.display`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prefect_widgets.formatting import fmt_duration, fmt_time, shorten, visible
from prefect_widgets.options import display

from .markdown import image_url, markdown_html
from .markup import (
    EMPTY,
    MAX_FALLBACK,
    Markup,
    badge,
    capped,
    details,
    head_tail,
    header,
    link,
    mono,
    muted,
    row,
    state_class,
    state_glyph,
    table,
    trunc,
    wrap,
)

if TYPE_CHECKING:
    from prefect_widgets.artifacts import Artifact, ArtifactList
    from prefect_widgets.records import TaskInput
    from prefect_widgets.state_history import StateHistory
    from prefect_widgets.tracebacks import Failure, Frame, Traceback, TracebackSection
    from prefect_widgets.views import FlowRunView, TaskRunView

__all__ = [
    "traceback_html", "failure_body", "failure_html", "failures_section",
    "artifact_body", "artifact_html", "artifact_list_html", "artifacts_section",
    "state_history_table", "state_history_html", "task_inputs_html", "debug_loads",
    "flow_run_debug", "task_run_debug", "MAX_FRAMES",
]

#: user frames shown per traceback section (head and tail beyond it)
MAX_FRAMES = 40
_ORIGIN_WORDS = {"internal": "internal", "library": "library"}


# --------------------------------------------------------------------------- tracebacks


def _frame_text(frame: Frame) -> str:
    return visible(shorten(str(frame), 2 * display.max_text))


def _folded(frames: Sequence[Frame]) -> Markup:
    """A run of library or internal frames, folded: how many and where, then their text."""
    origins = sorted({f.origin for f in frames})
    noun = "frame" if len(frames) == 1 else "frames"
    summary = f"{len(frames)} {' and '.join(_ORIGIN_WORDS.get(o, o) for o in origins)} {noun}"
    text = "\n".join(_frame_text(f) for f in frames)
    return Markup('<details class="pw-tb-folded"><summary>{}</summary>'
                  '<pre class="pw-tb-frames">{}</pre></details>').format(
                      summary, capped(text, MAX_FALLBACK))


def _section_html(section: TracebackSection) -> Markup:
    parts: list[Markup] = []
    if section.follows:
        parts.append(Markup('<div class="pw-tb-follows">{}</div>').format(section.follows))
    user = [f for f in section.frames if f.is_user]
    keep = {id(f) for f in (user[:MAX_FRAMES // 2] + user[-(MAX_FRAMES // 2):]
                            if len(user) > MAX_FRAMES else user)}
    run: list[Frame] = []
    for frame in section.frames:
        if id(frame) in keep:
            if run:
                parts.append(_folded(run))
                run = []
            parts.append(Markup('<pre class="pw-tb-frame">{}</pre>').format(_frame_text(frame)))
        else:
            run.append(frame)
    if run:
        parts.append(_folded(run))
    line = visible(shorten(section.exception_line, display.max_text), "\n")
    parts.append(Markup('<pre class="pw-tb-exception">{}</pre>').format(line))
    return EMPTY.join(parts)


def traceback_html(traceback: Traceback) -> Markup:
    """The traceback: user frames and exception lines visible, other frames folded, and the
    whole text in a closed `<details>` for copying."""
    sections = EMPTY.join(_section_html(s) for s in traceback.sections)
    whole = details("Whole traceback text", Markup('<pre class="pw-tb-text">{}</pre>').format(
        capped(visible(traceback.text), MAX_FALLBACK)), open_=False)
    return Markup('<div class="pw-traceback">{}{}</div>').format(sections, whole)


# --------------------------------------------------------------------------- failures


def _failure_title(failure: Failure) -> Markup:
    if failure.task_run_id:
        task = Markup(' <span class="pw-muted">task {}</span>').format(
            trunc(failure.task_name)) if failure.task_name else EMPTY
        return Markup("task run {}{}").format(mono(trunc(failure.run_name)), task)
    return Markup("flow run {}").format(mono(trunc(failure.run_name)))


def failure_body(failure: Failure) -> Markup:
    """One failure (no shell): its run, state, message and traceback."""
    state = Markup('<span class="pw-badge {}"{}>{}</span>').format(
        state_class(failure.state_type), state_glyph(failure.state_type),
        trunc(failure.state_name, 40))
    head = Markup('<div class="pw-failure-head">{} {}</div>').format(
        state, _failure_title(failure))
    message = Markup('<div class="pw-message">{}</div>').format(
        visible(shorten(failure.message, display.max_text), "\n")) if failure.message else EMPTY
    if failure.traceback is not None:
        body = traceback_html(failure.traceback)
    else:
        line = failure.exception_line or ""
        body = (Markup('<pre class="pw-tb-exception">{}</pre>').format(
            visible(shorten(line, display.max_text), "\n")) if line else EMPTY) \
            + muted("No traceback in the run's logs.")
    return Markup('<div class="pw-failure">{}{}{}</div>').format(head, message, body)


def failure_html(failure: Failure) -> Markup:
    """The `Failure` repr."""
    return wrap(header("Failure", _failure_title(failure)) + failure_body(failure))


def failures_section(failures: Sequence[Failure]) -> Markup:
    """The "Errors" section of a run: each failure (at most `display.max_failed`)."""
    if not failures:
        return EMPTY
    shown = EMPTY.join(failure_body(f) for f in failures[:display.max_failed])
    more = len(failures) - display.max_failed
    if more > 0:
        shown += muted(f"… {more:,} more failed runs")
    return details(Markup('<span class="pw-state-failed">Errors</span>'), shown, len(failures))


# --------------------------------------------------------------------------- artifacts


def _cell(value: Any) -> Markup:
    if value is None:
        return EMPTY
    text = value if isinstance(value, str) else json.dumps(value, default=str,
                                                           ensure_ascii=False)
    return trunc(text)


def _table(artifact: Any) -> Markup:
    try:
        rows = artifact.rows
    except Exception as exc:  # a malformed table: say so, show the raw text
        return muted(str(exc)) + Markup('<pre class="pw-mono">{}</pre>').format(
            capped(str(artifact.data), display.max_text))
    if not rows:
        return muted("empty table")
    columns: list[Any] = []
    for item in rows:
        columns += [c for c in item if c not in columns]
    shown = columns[:display.max_items]
    head, hidden, tail = head_tail(rows)
    render = lambda r: row([_cell(r.get(c)) for c in shown])  # noqa: E731
    more = len(columns) - len(shown)
    note = muted(f"… {more:,} more columns") if more > 0 else EMPTY
    return table([_column_name(c) for c in shown], map(render, head), hidden, map(render, tail),
                 "rows") + note


def _column_name(column: Any) -> str:
    """A table artifact's column name as a header cell's text."""
    return shorten(str(column), display.max_colwidth)


def _content(artifact: Artifact) -> Markup:
    kind = artifact.kind
    if kind == "link":
        url = getattr(artifact, "url", "")
        return link(trunc(getattr(artifact, "text", "") or url), url)
    if kind == "markdown":
        return markdown_html(artifact.data)
    if kind == "table":
        return _table(artifact)
    if kind == "progress":
        value = getattr(artifact, "progress", None)
        if value is None:
            return muted(f"not a number: {shorten(str(artifact.data), 80)}")
        return Markup('<progress class="pw-progress" max="100" value="{:.1f}"></progress> '
                      "{:.1f}%").format(value, value)
    if kind == "image":
        url = image_url(artifact.data)
        if url is None:
            return muted(f"image not shown (only https: and data:image/ URLs are): "
                         f"{shorten(str(artifact.data or ''), 200)}")
        return Markup('<img class="pw-artifact-img" src="{}" alt="{}">').format(
            url, shorten(artifact.description or artifact.key or "image", 200))
    return Markup('<pre class="pw-mono">{}</pre>').format(
        capped(visible(artifact._summary()), display.max_text))


def artifact_body(artifact: Artifact, content: Markup | None = None) -> Markup:
    """One artifact (no shell): its kind, key, description, time, then its content (or
    `content` in its place)."""
    head = [Markup('<span class="pw-chip">{}</span>').format(artifact.kind)]
    if artifact.key:
        head.append(mono(trunc(artifact.key)))
    if artifact.description:
        head.append(muted(trunc(artifact.description)))
    head.append(muted(fmt_time(artifact.created)))
    return Markup('<div class="pw-artifact"><div class="pw-artifact-head">{}</div>'
                  '<div class="pw-artifact-body">{}</div></div>').format(
                      Markup(" ").join(head),
                      _content(artifact) if content is None else content)


def artifact_html(artifact: Artifact) -> Markup:
    """The `Artifact` repr."""
    return wrap(header("Artifact", trunc(artifact.key or artifact.artifact_id))
                + artifact_body(artifact))


def _artifacts(artifacts: Sequence[Artifact]) -> Markup:
    shown = EMPTY.join(artifact_body(a) for a in artifacts[:display.max_items])
    more = len(artifacts) - display.max_items
    return shown + (muted(f"… {more:,} more artifacts") if more > 0 else EMPTY)


def artifact_list_html(artifacts: ArtifactList) -> Markup:
    """The `ArtifactList` repr."""
    body = _artifacts(artifacts) if len(artifacts) else muted("no artifacts")
    return wrap(header("Artifacts", f"{len(artifacts):,}") + body)


def artifacts_section(artifacts: Sequence[Artifact], open_: bool = True) -> Markup:
    """The "Artifacts" section of a run's repr: the user's artifacts (Prefect's own
    ``result`` records are counted, not shown; `run.artifacts` lists them all)."""
    shown = [a for a in artifacts if a.type != "result"]
    if not shown:
        return EMPTY
    hidden = len(artifacts) - len(shown)
    note = muted(f"{hidden:,} result records not shown") if hidden else EMPTY
    return details("Artifacts", _artifacts(shown) + note, len(shown), open_=open_)


# --------------------------------------------------------------------------- state history


def state_history_table(history: StateHistory) -> Markup:
    """State, start, time in the state and message, one row per state (bounded)."""
    def render(span: Any) -> Markup:
        message = span.message or ""
        return row([badge(span.state), fmt_time(span.start), fmt_duration(span.duration),
                    Markup('<span class="pw-history-message">{}</span>').format(
                        shorten(visible(message), 4 * display.max_colwidth))], numeric=(2,))
    head, hidden, tail = head_tail(list(history))
    return table(("state", "start", "time in state", "message"), map(render, head), hidden,
                 map(render, tail), "states")


def state_history_html(history: StateHistory) -> Markup:
    """The `StateHistory` repr."""
    body = state_history_table(history) if len(history) else muted("no states")
    extra = Markup(' <span class="pw-sub">{}</span>').format(fmt_duration(history.total))
    return wrap(header("State history", f"{len(history):,} states", extra) + body)


# --------------------------------------------------------------------------- task inputs


def _source(source: TaskInput, names: Mapping[str, str], ui_base: str | None) -> Markup:
    if source.kind == "task_run" and source.task_run_id:
        ident = source.task_run_id
        label = Markup("{} {}").format(trunc(names[ident]), muted(ident[:8])) \
            if ident in names else mono(ident)
        url = f"{ui_base}/runs/task-run/{ident}" if ui_base else None
        return Markup('<span class="pw-input">task run {}</span>').format(link(label, url))
    if source.kind == "parameter":
        return Markup("parameter {}").format(mono(trunc(source.name or "")))
    return muted(source.kind + (f" {source.name}" if source.name else ""))


def task_inputs_html(inputs: Mapping[str, Iterable[TaskInput]], names: Mapping[str, str],
                     ui_base: str | None) -> Markup:
    """Each argument with where its value came from; upstream task runs named (`names`:
    id → run name) and linked to the Prefect UI when `ui_base` is known."""
    if not inputs:
        return muted("no inputs")
    items = list(inputs.items())
    cells = EMPTY.join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(
            trunc(name, 40), Markup(", ").join(_source(s, names, ui_base) for s in sources)
            or muted("constant"))
        for name, sources in items[:display.max_items])
    more = len(items) - display.max_items
    if more > 0:
        cells += Markup('<dt class="pw-muted">…</dt><dd class="pw-muted">{} more</dd>').format(
            more)
    return Markup('<dl class="pw-grid">{}</dl>').format(cells)



# ------------------------------------------------------------------ a run's debugging parts


def debug_loads(view: FlowRunView) -> list[tuple[str, str, Callable[[], Any]]]:
    """What a flow run's repr loads to show its debugging parts: (`RunData` key, what, load)
    for the errors (of a failed or crashed run), the artifacts and the state history."""
    loads: list[tuple[str, str, Callable[[], Any]]] = [
        ("artifacts", "the artifacts", lambda: view.artifacts),
        ("states", "the state history", lambda: view.states)]
    if view.state.type in ("FAILED", "CRASHED"):
        loads.insert(0, ("failures", "the errors", view.failures))
    return loads


def flow_run_debug(view: FlowRunView) -> tuple[Markup, Markup]:
    """From what the snapshot holds (no request): the errors section (for the top of the
    repr), and the artifacts and state-history sections (for its end)."""
    from prefect_widgets.state_history import state_history

    data = view.data
    failures = data.peek("failures") if data.holds("failures") else []
    artifacts = data.peek("artifacts") if data.holds("artifacts") else []
    sections = artifacts_section(artifacts)
    if data.holds("states"):
        history = state_history(data.peek("states"))
        sections += details("State history", state_history_table(history),
                            f"{len(history):,} states, {fmt_duration(history.total)}",
                            open_=False)
    return failures_section(failures), sections


def _upstream_names(task: TaskRunView) -> dict[str, str]:
    """The run names of the task runs feeding `task` (at most `display.max_items` reads)."""
    from prefect_widgets.views import TaskRunView

    ids = task.upstream_task_run_ids[:display.max_items]
    return {i: TaskRunView.from_task_run_id(i, client=task.client).name for i in ids}


def task_run_debug(task: TaskRunView, deadline: float | None = None
                   ) -> tuple[Markup, Markup, Markup]:
    """What a task run's repr loads within one display deadline: its error (if it failed),
    artifacts, state history and upstream run names. Returns the errors section, the inputs
    grid, and the artifacts and state-history sections."""
    from prefect_widgets.display_deadline import Deadline
    from prefect_widgets.errors import DisplayLate
    from prefect_widgets.state_history import state_history

    budget = Deadline(deadline)
    loads: dict[str, Callable[[], Any]] = {
        "the artifacts": lambda: task.artifacts, "the state history": lambda: task.states,
        "the upstream runs": lambda: _upstream_names(task)}
    if task.state.type in ("FAILED", "CRASHED"):
        loads["the error"] = lambda: task.error
    pending = {what: budget.start(what, load) for what, load in loads.items()}
    got: dict[str, Any] = {}
    problems = EMPTY
    for what, waiting in pending.items():
        got[what], error = budget.result(waiting)
        if error is not None and not isinstance(error, DisplayLate):
            problems += Markup('<div class="pw-error">Could not load {}: {}</div>').format(
                what, shorten(f"{type(error).__name__}: {error}", 200))
    if budget.note() and budget.late:
        problems += Markup('<div class="pw-error pw-stale">{}</div>').format(budget.note())
    failure = got.get("the error")
    errors = problems + (failures_section([failure]) if failure is not None else EMPTY)
    ui_base = getattr(task.client, "ui_url", None)
    try:
        inputs = task_inputs_html(task.inputs, got.get("the upstream runs") or {}, ui_base)
    except Exception as exc:  # malformed task inputs: say so, keep the rest of the repr
        inputs = muted(f"Could not read the inputs: {shorten(str(exc), 200)}")
    sections = artifacts_section(got.get("the artifacts") or [])
    if got.get("the state history"):
        history = state_history(got["the state history"])
        sections += details("State history", state_history_table(history),
                            f"{len(history):,} states, {fmt_duration(history.total)}")
    return errors, inputs, sections
