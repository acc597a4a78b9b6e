"""What `inspect` shows of a failed run: errors with their tracebacks, state histories with
durations, artifacts; as rich text for a terminal and as records for json, tsv and csv.

A traceback shows the user's frames and the final exception line always; each run of
Prefect's internal (or another library's) frames folds into one line, "… N internal frames
(--full to show)", unless `full`. Every string passes through `output.clean` (visible,
cut to `display.max_text`); lists are cut to `MAX_SHOWN` items with "… N more".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from prefect_widgets.formatting import human_duration, shorten

from .app import shown_time
from .output import clean, iso, seconds, state_line

if TYPE_CHECKING:
    from prefect_widgets.artifacts import Artifact
    from prefect_widgets.state_history import StateHistory
    from prefect_widgets.tracebacks import Failure, Frame, TracebackSection

__all__ = ["failure_text", "history_text", "artifacts_table", "failure_record", "failure_pairs",
           "history_records", "artifact_record", "artifact_size", "MAX_SHOWN"]

#: frames, states or artifacts shown per list (head and tail beyond it)
MAX_SHOWN = 40
#: characters of what an artifact holds, in its line (a data: URL can be long)
_DETAIL = 100


def _head_tail(items: Sequence[Any]) -> tuple[list[Any], int, list[Any]]:
    """The first and last `MAX_SHOWN // 2` items and how many lie between them."""
    if len(items) <= MAX_SHOWN:
        return list(items), 0, []
    half = MAX_SHOWN // 2
    return list(items[:half]), len(items) - 2 * half, list(items[-half:])


# --------------------------------------------------------------------------- tracebacks


def _folded_line(frames: Sequence[Frame], full: bool) -> Text:
    """"… 3 internal frames (--full to show)": a run of frames left out."""
    origins = " and ".join(sorted({f.origin for f in frames}))
    noun = "frame" if len(frames) == 1 else "frames"
    hint = "not shown" if full else "(--full to show)"
    return Text(f"  … {len(frames)} {origins} {noun} {hint}\n", style="dim")


def _frame_text(frame: Frame) -> Text:
    style = "" if frame.is_user else "dim"
    text = Text(f"  {clean(str(frame).splitlines()[0], multiline=False)}\n", style=style)
    if frame.code:
        text.append(f"    {clean(frame.code, multiline=False)}\n",
                    style="bold" if frame.is_user else "dim")
    return text


def _section_text(section: TracebackSection, full: bool) -> Text:
    text = Text()
    if section.follows:
        text.append(f"\n{section.follows}\n\n", style="italic")
    shown = section.frames if full else [f for f in section.frames if f.is_user]
    head, _, tail = _head_tail(shown)
    keep = {id(f) for f in head + tail}
    folded: list[Frame] = []
    for frame in section.frames:
        if id(frame) in keep:
            if folded:
                text.append_text(_folded_line(folded, full))
                folded = []
            text.append_text(_frame_text(frame))
        else:
            folded.append(frame)
    if folded:
        text.append_text(_folded_line(folded, full))
    text.append(clean(section.exception_line) + "\n", style="bold red")
    return text


def failure_text(failure: Failure, *, full: bool = False,
                 history: StateHistory | None = None) -> Text:
    """One failure: the run and its state and message, the traceback (or the exception
    line the message names), then the run's state history when given."""
    what = "task run" if failure.task_run_id else "flow run"
    text = Text(f"{what} ", style="bold")
    text.append(clean(failure.run_name, multiline=False), style="bold")
    if failure.task_name:
        text.append(f"  (task {clean(failure.task_name, multiline=False)})", style="dim")
    text.append("\n  ")
    text.append_text(state_line(failure.state_type, failure.state_name, failure.message))
    text.append("\n")
    if failure.traceback is not None:
        text.append("Traceback (most recent call last):\n", style="dim")
        for section in failure.traceback.sections:
            text.append_text(_section_text(section, full))
    else:
        if failure.exception_line:
            text.append(clean(failure.exception_line) + "\n", style="bold red")
        text.append("(no traceback in the run's logs)\n", style="dim")
    if history is not None and len(history):
        text.append("States:\n", style="dim")
        text.append_text(history_text(history, indent="  "))
        text.append("\n")
    return text


# --------------------------------------------------------------------------- state history


def history_text(history: StateHistory, indent: str = "") -> Text:
    """One line per state: local start time, time spent in it, the state and its message."""
    text = Text()
    head, hidden, tail = _head_tail(list(history))
    lines: list[Text] = []
    for span in head:
        lines.append(_span_line(span, indent))
    if hidden:
        lines.append(Text(f"{indent}… {hidden} more states", style="dim"))
    lines += [_span_line(span, indent) for span in tail]
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        text.append_text(line)
    return text


def _span_line(span: Any, indent: str) -> Text:
    took = human_duration(span.duration) if span.duration is not None else "-"
    line = Text(f"{indent}{shown_time(span.start)}  {took:>8}  ")
    line.append_text(state_line(span.state.type, span.state.name, span.message))
    return line


def history_records(history: StateHistory) -> list[dict[str, Any]]:
    """The state history for json: type, name, message, timestamp, end and duration (s)."""
    return [{"type": s.state.type, "name": s.state.name, "message": s.message,
             "timestamp": iso(s.start), "end": iso(s.end), "duration": seconds(s.duration)}
            for s in history]


# --------------------------------------------------------------------------- artifacts


def artifact_size(artifact: Artifact) -> str | None:
    """"3 rows × 2 columns" for a table artifact (None for other kinds or a malformed one)."""
    if artifact.kind != "table":
        return None
    from prefect_widgets.errors import BadResponse

    try:
        rows = artifact.rows  # type: ignore[attr-defined]
    except BadResponse:
        return "not a table"
    columns = {c for r in rows for c in r}
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} × {len(columns)} " \
           f"column{'s' if len(columns) != 1 else ''}"


def _artifact_detail(artifact: Artifact) -> str:
    """What an artifact holds, in a few words: a table's size, a link's or an image's URL,
    a progress value, a markdown text's length."""
    if artifact.kind == "table":
        return artifact_size(artifact) or ""
    if artifact.kind in ("link", "image"):
        return str(getattr(artifact, "url", "") or "")
    if artifact.kind == "progress":
        value = getattr(artifact, "progress", None)
        return f"{value:.1f}%" if value is not None else "not a number"
    data = artifact.data if isinstance(artifact.data, str) else json.dumps(artifact.data,
                                                                           default=str)
    return f"{len(data):,} characters"


def artifacts_table(artifacts: Sequence[Artifact]) -> Table:
    """One row per artifact: kind (the server's type for other kinds), key, description
    and what it holds (a table's size, a URL, a progress value)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="cyan", no_wrap=True)
    grid.add_column(style="bold", overflow="fold", max_width=40)
    grid.add_column(overflow="fold", max_width=50)
    grid.add_column(style="dim", overflow="fold")
    head, hidden, tail = _head_tail(list(artifacts))
    for i, artifact in enumerate(head + tail):
        if hidden and i == len(head):
            grid.add_row(Text(f"… {hidden} more artifacts", style="dim"), "", "", "")
        kind = artifact.kind if artifact.kind != "other" else artifact.type or "other"
        grid.add_row(*(Text(clean(value, multiline=False)) for value in (
            kind, artifact.key or "(no key)", artifact.description or "",
            shorten(_artifact_detail(artifact), _DETAIL))))
    return grid


def artifact_record(artifact: Artifact) -> dict[str, Any]:
    """An artifact for json: id, key, kind, type, description, created, task run, size."""
    return {"artifact_id": artifact.artifact_id, "key": artifact.key, "kind": artifact.kind,
            "type": artifact.type, "description": artifact.description,
            "created": iso(artifact.created), "task_run_id": artifact.task_run_id,
            "detail": _artifact_detail(artifact)}


# --------------------------------------------------------------------------- records


def failure_record(failure: Failure) -> dict[str, Any]:
    """A failure for json: the run, state, message, exception line and the traceback's
    frames (each with its origin: user, library or internal)."""
    frames = []
    if failure.traceback is not None:
        frames = [{"section": i, "file": f.file, "line": f.line, "function": f.function,
                   "code": f.code, "origin": f.origin}
                  for i, s in enumerate(failure.traceback.sections) for f in s.frames]
    return {"task_run_id": failure.task_run_id, "flow_run_id": failure.flow_run_id,
            "run_name": failure.run_name, "task_name": failure.task_name,
            "state_type": failure.state_type, "state_name": failure.state_name,
            "message": failure.message, "exception_type": failure.exception_type,
            "exception_line": failure.exception_line, "frames": frames}


def failure_pairs(failure: Failure) -> list[tuple[str, str]]:
    """A failure as key/value lines for tsv and csv: its exception line and user frames."""
    key = f"error.{failure.task_run_id or failure.flow_run_id}"
    pairs = [(key, f"{failure.run_name}: {failure.exception_line or failure.message}")]
    pairs += [(f"{key}.frame.{i}", str(frame).replace("\n    ", " | "))
              for i, frame in enumerate(failure.user_frames)]
    return pairs
