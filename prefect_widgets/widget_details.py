"""The widget's details panel (`run_details`): what the panel shows about one timeline row
beyond what the browser already has (kind, state, times, retries).

Everything comes from the snapshot's run data (`FlowRunView.data`, read once and shared with
the flow run's repr and report): the task-run record the timeline was built from, the
task run's state history (`RunData.histories`), its newest log lines (`RunData.task_logs`),
its artifacts (`RunData.task_artifacts`) and, when the repr already read them, the run's
errors (`failures`). Opening a row twice reads nothing again. Every list and string is
bounded (`_ITEMS`, `display.max_text`); the browser sets every string as text, except the
artifacts' sanitised HTML.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from markupsafe import Markup

from .errors import PrefectWidgetsError, ResultNotAvailable
from .formatting import human_duration, shorten, visible
from .options import display
from .records import max_retries_of, task_inputs_of
from .results import load_result
from .state_history import state_history
from .tracebacks import failure_of
from .views import FlowRunView, TaskRunView

if TYPE_CHECKING:
    from .artifacts import Artifact
    from .logs import LogEntry
    from .state_history import StateHistory
    from .tracebacks import Failure, Frame, TracebackSection

__all__ = ["run_details", "failure_payload"]

#: frames per traceback section, states, artifacts, inputs and linked runs in the panel
_ITEMS = 30
#: traceback sections (exceptions of a chain) shown, the last ones
_SECTIONS = 5
#: characters of one artifact's HTML, of one folded run of frames, of a whole traceback
#: (the copy button's text) and of a multi-line log message
_ARTIFACT_HTML, _FOLDED_TEXT, _TRACEBACK_TEXT = 20_000, 4_000, 10_000
#: newest log lines read for the panel, and the characters of all those shown together
_LOG_LINES, _LOG_BUDGET = 100, 30_000


def _ms(value: datetime | None) -> float | None:
    return value.timestamp() * 1000 if value is not None else None


def _text(value: Any, limit: int | None = None) -> str:
    """Text for the panel: invisible and bidi characters shown escaped, cut to `limit`."""
    return visible(shorten("" if value is None else str(value), limit or display.max_text),
                   "\n")


def _head_tail(items: list[Any]) -> tuple[list[Any], int, list[Any]]:
    if len(items) <= _ITEMS:
        return items, 0, []
    half = _ITEMS // 2
    return items[:half], len(items) - 2 * half, items[-half:]


# ---------------------------------------------------------------- error, states, artifacts


def _section_payload(section: TracebackSection) -> dict[str, Any]:
    """One exception of a traceback: user frames as items, each run of other frames folded
    into one item (how many, their origins, their text), and the exception line."""
    head, _, tail = _head_tail([f for f in section.frames if f.is_user])
    keep = {id(f) for f in head + tail}
    items: list[dict[str, Any]] = []
    folded: list[Frame] = []

    def fold() -> None:
        if folded:
            items.append({"folded": len(folded),
                          "origins": " and ".join(sorted({f.origin for f in folded})),
                          "text": _text("\n".join(map(str, folded)), _FOLDED_TEXT)})
            folded.clear()

    for frame in section.frames:
        if id(frame) in keep:
            fold()
            items.append({"frame": _text(frame, 500)})
        else:
            folded.append(frame)
    fold()
    return {"follows": section.follows, "items": items,
            "exception": _text(section.exception_line)}


def failure_payload(failure: Failure, where: str = "") -> dict[str, Any]:
    """A `Failure` for the panel: state, message, exception line, traceback sections and
    the whole traceback's text (what the copy button copies); `where` names the run that
    failed when it is not the row's (a task run of a subflow)."""
    traceback = failure.traceback
    sections = traceback.sections if traceback is not None else ()
    return {"state_type": failure.state_type, "state_name": _text(failure.state_name, 80),
            "message": _text(failure.message), "exception_line": _text(failure.exception_line),
            "where": _text(where), "sections": [_section_payload(s) for s in sections[-_SECTIONS:]],
            "sections_more": max(0, len(sections) - _SECTIONS),
            "text": _text(traceback.text, _TRACEBACK_TEXT) if traceback is not None else ""}


def _states_payload(history: StateHistory) -> tuple[list[dict[str, Any]], int]:
    head, hidden, tail = _head_tail(list(history))
    return [{"type": s.state.type, "name": _text(s.state.name, 80), "start_ms": _ms(s.start),
             "duration_ms": s.duration.total_seconds() * 1000 if s.duration else None,
             "message": _text(s.message)} for s in head + tail], hidden


def _artifact_payload(artifact: Artifact) -> dict[str, Any]:
    """An artifact as the reprs render it (`html.artifact_body`: markdown sanitised, tables
    bounded, only safe URLs); over `_ARTIFACT_HTML` characters it is named, not shown."""
    from .html.debug import artifact_body

    html = str(artifact_body(artifact))
    if len(html) > _ARTIFACT_HTML:
        html = str(Markup('<div class="pw-artifact"><span class="pw-chip">{}</span> {} '
                          '<span class="pw-muted">too large for this panel ({:,} characters '
                          'of HTML): see <code>.artifacts</code></span></div>').format(
                              artifact.kind, shorten(artifact.key or "", 200), len(html)))
    return {"key": _text(artifact.key, 200), "kind": artifact.kind, "html": html}


# ---------------------------------------------------------------- logs, links, inputs, retries


def _logs_payload(entries: list[LogEntry]) -> tuple[list[dict[str, Any]], int]:
    """The newest lines whose text fits `_LOG_BUDGET` (oldest first), and how many of
    `entries` did not fit. A one-line message is cut to `display.max_text`, a multi-line
    one (a traceback) to `_TRACEBACK_TEXT`."""
    shown: list[dict[str, Any]] = []
    budget = _LOG_BUDGET
    for entry in reversed(entries):
        message = entry.message.rstrip("\n")
        text = _text(message, _TRACEBACK_TEXT if "\n" in message else None)
        if len(text) > budget:
            break
        budget -= len(text)
        shown.append({"t_ms": _ms(entry.timestamp), "level": entry.level_name,
                      "levelno": entry.level, "message": text})
    return shown[::-1], len(entries) - len(shown)


class _Rows:
    """The widget's rows: how a linked task run is named and found in the timeline."""

    def __init__(self, frame: pd.DataFrame, wire: pd.DataFrame) -> None:
        self.frame, self.wire = frame, wire
        self.position = {str(task_id): i for i, task_id in enumerate(frame.index)}

    def link(self, task_run_id: str, via: list[str]) -> dict[str, Any]:
        """A linked run: its row (-1: not in the timeline), bar label, state and the
        arguments it passes through (`via`)."""
        i = self.position.get(task_run_id, -1)
        if i < 0:
            return {"index": -1, "label": task_run_id, "state_type": "", "via": _text(
                ", ".join(via), 200)}
        row = self.wire.iloc[i]
        label = ("⤷ " if int(row["kind"]) else "") + str(row["task_key"]) \
            + (f"[{int(row['map_index'])}]" if int(row["map_index"]) >= 0 else "")
        return {"index": i, "label": _text(label, 300), "state_type": str(row["state_type"]),
                "via": _text(", ".join(via), 200)}


def _feeds(task_inputs: Any) -> tuple[dict[str, list[str]], list[list[str]]]:
    """From a task run's `task_inputs`: the upstream task runs with the arguments each
    feeds, and the other arguments with where their value came from (parameter, constant)."""
    feeds: dict[str, list[str]] = {}
    others: list[list[str]] = []
    for argument, sources in task_inputs_of(task_inputs).items():
        plain = []
        for source in sources:
            if source.kind == "task_run" and source.task_run_id:
                feeds.setdefault(source.task_run_id, []).append(argument)
            elif source.kind == "parameter":
                plain.append(f"flow parameter {source.name or ''}".strip())
            elif source.kind == "constant":
                plain.append(f"constant ({source.name})" if source.name else "constant")
            else:
                plain.append(source.kind)
        if plain or not sources:
            others.append([_text(argument, 200), _text(", ".join(plain) or "constant", 500)])
    return feeds, others


def _fed_by(record: dict[str, Any] | None, upstream_id: str) -> list[str]:
    """The arguments of a downstream task run (`record`) that `upstream_id` feeds."""
    try:
        return _feeds((record or {}).get("task_inputs"))[0].get(upstream_id, [])
    except PrefectWidgetsError:  # malformed inputs of another run: name no argument
        return []


def _retry_policy(policy: dict[str, Any]) -> str | None:
    """"up to 2 retries, 1.0s apart" (with jitter, or each delay), None without retries."""
    retries = max_retries_of(policy)
    if not retries:
        return None
    text = f"up to {retries} {'retry' if retries == 1 else 'retries'}"
    delay = policy.get("retry_delay")
    if isinstance(delay, list) and delay:
        text += ", delays " + ", ".join(human_duration(float(d)) for d in delay[:10]
                                        if isinstance(d, (int, float)))
    elif isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
        text += f", {human_duration(float(delay))} apart"
    jitter = policy.get("retry_jitter_factor")
    if isinstance(jitter, (int, float)) and not isinstance(jitter, bool) and jitter > 0:
        text += f", jitter ×{jitter:g}"
    return text


def _result_payload(task: TaskRunView, data: Any) -> dict[str, str] | None:
    """A preview of a Completed task run's persisted JSON result (never unpickled), or why
    a result the state points at cannot be loaded here; None when there is no result."""
    stored = isinstance(task.state.data, dict) and task.state.data.get("storage_key")
    if task.state.type != "COMPLETED" or not stored:
        return None
    try:
        value = data.once(f"result:{task.task_run_id}:{task.state.id}", lambda: load_result(
            task.state, f"task run {task.name!r}"))
    except ResultNotAvailable as exc:
        return {"note": _text(exc, 500)}
    return {"text": _text(json.dumps(value, indent=2, ensure_ascii=False, default=str))}


# ---------------------------------------------------------------- the panel


def run_details(flow_run: FlowRunView, frame: pd.DataFrame, wire: pd.DataFrame,
                records: dict[str, dict[str, Any]], index: int) -> dict[str, Any]:
    """The details panel of row `index` of the widget's timeline (`frame`, its wire rows
    `wire`, task-run `records` by id): its task run or, for a subflow row, the subflow run.

    Keys: `fields` (label/value pairs the row does not already show), `failure`
    (`failure_payload`), `states`, `logs`, `upstream`/`downstream` (linked rows),
    `inputs` (arguments not fed by a task run), `result`, `artifacts`, `ui_url` and
    `problems` (parts that could not be read); each list with a `_more` count of items
    left out."""
    problems: list[str] = []

    def attempt(what: str, load: Callable[[], Any]) -> Any:
        try:
            return load()
        except PrefectWidgetsError as exc:
            problems.append(_text(f"Could not read {what}: {exc}", 500))
            return None

    data, client = flow_run.data, flow_run.data.client
    task_id = str(frame.index[index])
    child = frame["child_flow_run_id"].iloc[index]
    child = str(child) if isinstance(child, str) and child else None
    record = records.get(task_id)
    task = attempt("the task run", lambda: TaskRunView.from_json(record, client)) \
        if record is not None else None
    sub = attempt("the subflow run", lambda: data.once(
        f"subflow_view:{child}", lambda: FlowRunView.from_flow_run_id(child, client=client))) \
        if child else None
    run: TaskRunView | FlowRunView | None = sub or task
    fields: list[tuple[str, str]] = []
    if task is not None:
        fields += [("Name", task.name), ("Task run id", task_id)]
    if sub is not None:
        fields += [("Subflow run", sub.name), ("Flow run id", sub.flow_run_id)]
        counts = attempt("the subflow's task runs", lambda: pd.Series(
            [str((r.get("state") or {}).get("type") or "") for r in sub.data.task_rows(False)],
            dtype=object).value_counts())
        if counts is not None and len(counts):
            fields.append(("Task runs", " · ".join(f"{n:,} {state.title()}"
                                                   for state, n in counts.items())))

    entries: list[LogEntry] = []
    older = False
    if sub is not None:
        entries, older = attempt("the logs", lambda: sub.data.log_tail(_LOG_LINES)) \
            or ([], False)
    elif task is not None:
        entries, older = attempt("the logs", lambda: data.task_logs(task_id, _LOG_LINES)) \
            or ([], False)
    logs, logs_more = _logs_payload(entries)

    failure: Failure | None = None
    if run is not None and run.state.type in ("FAILED", "CRASHED"):
        if sub is not None:
            failure = attempt("the error", lambda: (sub.failures() or [None])[0])
        elif task is not None:
            held = [f for f in data.peek("failures") or () if f.task_run_id == task_id]
            failure = held[0] if held else failure_of(
                task.state, entries, flow_run_id=task.flow_run_id, task_run_id=task_id,
                run_name=task.name, task_name=task.task_name)
    elif run is not None and run.state.message:
        fields.append(("Message", run.state.message))
    if task is not None and task.tags:
        fields.append(("Tags", ", ".join(task.tags)))
    policy = _retry_policy(task.empirical_policy) if task is not None else None
    if policy:
        fields.append(("Retry policy", policy))

    if sub is not None:
        history = attempt("the state history", lambda: sub.state_history)
    else:
        history = attempt("the state history", lambda: state_history(
            data.histories([task_id])[task_id])) if task is not None else None
    states, states_more = _states_payload(history) if history is not None else ([], 0)
    artifacts = (attempt("the artifacts", lambda: sub.artifacts) if sub is not None else
                 attempt("the artifacts", lambda: data.task_artifacts(task_id))
                 if task is not None else None) or []

    rows = _Rows(frame, wire)
    feeds, inputs = (attempt("the inputs", lambda: _feeds(task.task_inputs))
                     if task is not None else None) or ({}, [])
    upstream = [rows.link(i, via) for i, via in list(feeds.items())[:_ITEMS]]
    below = [str(i) for i in frame["downstream_task_run_ids"].iloc[index] or ()]
    downstream = [rows.link(i, _fed_by(records.get(i), task_id)) for i in below[:_ITEMS]]
    result = attempt("the result", lambda: _result_payload(task, data)) \
        if task is not None and sub is None else None
    ui_url = run.ui_url if run is not None else None
    return {
        "index": index, "task_run_id": task_id,
        "fields": [[label, _text(value)] for label, value in fields],
        "failure": failure_payload(failure, "" if failure.task_run_id == task_id else
                                   f"in {failure.run_name}") if failure is not None else None,
        "states": states, "states_more": states_more,
        "logs": logs, "logs_more": logs_more, "logs_older": bool(older),
        "upstream": upstream, "upstream_more": max(0, len(feeds) - _ITEMS),
        "downstream": downstream, "downstream_more": max(0, len(below) - _ITEMS),
        "inputs": inputs[:_ITEMS], "inputs_more": max(0, len(inputs) - _ITEMS),
        "result": result,
        "artifacts": [_artifact_payload(a) for a in artifacts[:_ITEMS]],
        "artifacts_more": max(0, len(artifacts) - _ITEMS),
        "ui_url": ui_url,
        "problems": problems,
    }
