"""Why a run failed: Python tracebacks parsed into frames, and the `Failure` of a run.

Prefect 3.8 keeps a failed run's error in three places: the state message ("Task run
encountered an exception ValueError: boom"), a log line of the run ("Task run failed with
exception: ValueError('boom')" followed by the whole traceback; for a crash, the DEBUG
line "Crash details:"), and the persisted exception result (a pickle, never loaded here).
`Failure` joins the first two: the message always, the traceback when a log line has one.

A traceback's frames are the user's, a library's, or internal: internal frames are Python's
own (the standard library, ``<frozen …>``) and the orchestration packages of `INTERNAL`
(Prefect, anyio, pydantic, …); frames in other installed packages are a library's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from .formatting import shorten, visible
from .seam import Displayed

if TYPE_CHECKING:
    import pandas as pd

    from .records import LogEntry
    from .states import State

__all__ = ["Frame", "TracebackSection", "Traceback", "Failure", "parse_traceback",
           "frame_origin", "failure_of", "exception_line_of", "INTERNAL", "TRACEBACK_START"]

TRACEBACK_START = "Traceback (most recent call last):"
#: installed packages whose frames are the machinery around the user's code
INTERNAL = ("prefect", "anyio", "asyncio", "concurrent", "pydantic", "pydantic_core",
            "importlib", "starlette", "fastapi", "httpx", "httpcore", "sniffio",
            "exceptiongroup", "typing_extensions", "cloudpickle", "uvloop", "opentelemetry",
            "_pytest", "pluggy", "IPython", "ipykernel", "tornado", "runpy", "threading")
#: how a section follows the one before it
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"

_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+)(?:, in (?P<function>.*))?$')
_CARETS = re.compile(r"^\s*[\^~\s]+$")
_GROUP_PREFIX = re.compile(r"^\s*(?:\| ?)+")
_GROUP_RULE = re.compile(r"^\s*\+[-+ 0-9.]*(?:-+)?\s*$")
_STDLIB = re.compile(r"[/\\]lib[/\\](?:python|pypy)\d[^/\\]*[/\\](?!(?:site|dist)-packages)"
                     r"|[/\\]Lib[/\\](?!site-packages)")
_PACKAGES = re.compile(r"[/\\](?:site|dist)-packages[/\\](?P<top>[^/\\]+)")
#: "ValueError: boom", "pkg.mod.Error", "f.<locals>.Abort: stop"
_EXCEPTION_TYPE = re.compile(r"^(?P<type>[A-Za-z_][\w.<>]*)(?::\s?(?P<message>.*))?$",
                             re.DOTALL)
#: "... an exception ValueError: boom", "... exception: ValueError: boom"
_MESSAGE_EXCEPTION = re.compile(
    r"(?:exception:?|due to timeout:)\s+(?P<line>[A-Za-z_][\w.]*(?::\s.*|\(.*\))?)\s*$",
    re.DOTALL)
_REPR_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
#: characters of one line of a text repr
_LINE = 240


def frame_origin(path: str) -> str:
    """"internal", "library" or "user": where a frame's file lives (see the module doc)."""
    if path.startswith("<frozen") or _STDLIB.search(path):
        return "internal"
    package = _PACKAGES.search(path)
    if package is None:
        return "user"
    top = package.group("top").split(".")[0]
    return "internal" if top in INTERNAL else "library"


@dataclass(frozen=True)
class Frame:
    """One frame: `file`, `line`, `function` and its source `code` (if printed)."""

    file: str
    line: int | None
    function: str
    code: str | None = None
    #: "user", "library" or "internal" (`frame_origin`)
    origin: str = "user"

    @property
    def is_user(self) -> bool:
        return self.origin == "user"

    def __str__(self) -> str:
        where = f'File "{self.file}", line {self.line}, in {self.function}'
        return where + (f"\n    {self.code}" if self.code else "")


@dataclass(frozen=True)
class TracebackSection:
    """One exception of a chain: its frames and the exception line ("ValueError: boom").
    `follows` says how it follows the previous section (`CAUSE`, `CONTEXT` or None)."""

    frames: tuple[Frame, ...]
    exception_line: str
    follows: str | None = None

    @property
    def exception_type(self) -> str | None:
        found = _EXCEPTION_TYPE.match(self.exception_line.split("\n", 1)[0])
        return found.group("type") if found else None


@dataclass(frozen=True, repr=False)
class Traceback:
    """A parsed Python traceback: its sections in printed order (the raised one last)."""

    sections: tuple[TracebackSection, ...]
    text: str = field(compare=False)

    @property
    def frames(self) -> tuple[Frame, ...]:
        """The frames of the exception that was raised last (the final section)."""
        return self.sections[-1].frames if self.sections else ()

    @property
    def user_frames(self) -> tuple[Frame, ...]:
        """The user's frames of every section, in printed order."""
        return tuple(f for s in self.sections for f in s.frames if f.is_user)

    @property
    def exception_line(self) -> str | None:
        """The final exception line, e.g. "ValueError: boom"."""
        return self.sections[-1].exception_line if self.sections else None

    @property
    def exception_type(self) -> str | None:
        return self.sections[-1].exception_type if self.sections else None

    def to_dataframe(self) -> pd.DataFrame:
        """One row per frame: section, file, line, function, code, origin."""
        import pandas as pd

        return pd.DataFrame(
            [{"section": i, "file": f.file, "line": f.line, "function": f.function,
              "code": f.code, "origin": f.origin}
             for i, s in enumerate(self.sections) for f in s.frames],
            columns=["section", "file", "line", "function", "code", "origin"],
        ).astype({"section": "int64", "line": "Int64", "origin": "category"})

    def __repr__(self) -> str:
        lines = []
        for section in self.sections:
            if section.follows:
                lines.append(section.follows)
            hidden = sum(not f.is_user for f in section.frames)
            lines += [visible(shorten(str(f), _LINE)) for f in section.frames if f.is_user]
            if hidden:
                lines.append(f"  ({hidden} library or internal frames not shown)")
            lines.append(visible(shorten(section.exception_line, _LINE)))
        return "Traceback\n" + "\n".join(lines)


def _strip_group(line: str) -> str | None:
    """A line of an exception group's box drawing, as a plain traceback line (None: a rule)."""
    if _GROUP_RULE.match(line):
        return None
    return _GROUP_PREFIX.sub("", line) if _GROUP_PREFIX.match(line) else line


def parse_traceback(text: str) -> Traceback | None:
    """The traceback in `text` (text before its first "Traceback (most recent call last):"
    is ignored), or None if there is none."""
    if not isinstance(text, str) or TRACEBACK_START not in text:
        return None
    start = text.index(TRACEBACK_START)
    head = text[:start].rstrip("\n").rsplit("\n", 1)[-1].strip()
    pending = head if head in (CAUSE, CONTEXT) else None
    sections: list[TracebackSection] = []
    frames: list[Frame] = []
    tail: list[str] = []
    in_frames = False

    def close() -> None:
        nonlocal frames, tail, pending
        exception = "\n".join(tail).strip()
        if frames or exception:
            sections.append(TracebackSection(tuple(frames), exception, pending))
        frames, tail, pending = [], [], None

    for raw in text[start:].splitlines():
        line = _strip_group(raw)
        if line is None:
            continue
        stripped = line.strip()
        if stripped == TRACEBACK_START:
            if in_frames or tail:
                close()
            in_frames = True
            continue
        if stripped in (CAUSE, CONTEXT):
            close()
            pending, in_frames = stripped, False
            continue
        match = _FRAME.match(line)
        if match and (in_frames or not tail):
            path = match.group("file")
            frames.append(Frame(path, int(match.group("line")),
                                match.group("function") or "<module>", None,
                                frame_origin(path)))
            in_frames = True
            continue
        if in_frames and frames and line.startswith("    ") and not tail:
            if _CARETS.match(line) or stripped.startswith("[Previous line repeated"):
                continue
            last = frames[-1]
            if last.code is None:
                frames[-1] = Frame(last.file, last.line, last.function, stripped, last.origin)
            continue
        if not stripped and not tail:
            continue
        in_frames = False
        tail.append(line)
    close()
    for index, section in enumerate(sections):  # drop blank lines closing an exception
        sections[index] = TracebackSection(section.frames, section.exception_line.rstrip(),
                                           section.follows)
    return Traceback(tuple(sections), text[start:]) if sections else None


def exception_line_of(message: str | None) -> str | None:
    """The exception line a Prefect state message names: "Task run encountered an exception
    ValueError: boom" → "ValueError: boom"; "… TimeoutError('late')" → "TimeoutError: late"."""
    if not message:
        return None
    found = _MESSAGE_EXCEPTION.search(message)
    if found is None:
        return None
    line = found.group("line")
    as_repr = _REPR_LINE.match(line)
    if as_repr and ":" not in line.split("(", 1)[0]:
        args = as_repr.group("args")
        quoted = len(args) >= 2 and args[0] == args[-1] and args[0] in "'\""
        return f"{as_repr.group('type')}: {args[1:-1] if quoted else args}" if args \
            else as_repr.group("type")
    return line


@dataclass(frozen=True, repr=False)
class Failure(Displayed):
    """Why a run failed or crashed: the state's `message`, the `exception_line` and
    `exception_type`, and the parsed `traceback` when a log line of the run holds it."""

    _html: ClassVar[str] = "failure_html"

    message: str
    state_type: str
    state_name: str
    exception_line: str | None
    traceback: Traceback | None
    flow_run_id: str | None
    task_run_id: str | None = None
    #: the run's name ("parse_rows-a1b", or the flow run's name) and task name (task runs)
    run_name: str = ""
    task_name: str | None = None

    @property
    def exception_type(self) -> str | None:
        if self.traceback is not None and self.traceback.exception_type:
            return self.traceback.exception_type
        found = _EXCEPTION_TYPE.match((self.exception_line or "").split("\n", 1)[0])
        return found.group("type") if found and self.exception_line else None

    @property
    def user_frames(self) -> tuple[Frame, ...]:
        return self.traceback.user_frames if self.traceback is not None else ()

    def __repr__(self) -> str:
        what = f"task run {self.run_name!r}" if self.task_run_id else f"flow run {self.run_name!r}"
        head = f"Failure of {visible(what, '')} ({self.state_name}): " \
               f"{visible(shorten(self.message, _LINE), '')}"
        if self.traceback is None:
            return head + "\n" + visible(shorten(self.exception_line or "", _LINE)) \
                + "\n(no traceback in the run's logs)"
        return head + "\n" + repr(self.traceback)


def _traceback_in(logs: Iterable[LogEntry]) -> Traceback | None:
    """The last traceback among these log lines."""
    found = None
    for entry in logs:
        parsed = parse_traceback(entry.message)
        if parsed is not None:
            found = parsed
    return found


def failure_of(state: State, logs: Sequence[LogEntry], *, flow_run_id: str | None,
               task_run_id: str | None = None, run_name: str = "",
               task_name: str | None = None) -> Failure | None:
    """The `Failure` of a run in `state` (None unless Failed or Crashed); `logs` are the run's
    own lines (of a flow run: those with no task run), oldest first."""
    if state.type not in ("FAILED", "CRASHED"):
        return None
    traceback = _traceback_in(logs)
    line = traceback.exception_line if traceback is not None else None
    return Failure(message=state.message or "", state_type=state.type, state_name=state.name,
                   exception_line=line or exception_line_of(state.message),
                   traceback=traceback, flow_run_id=flow_run_id, task_run_id=task_run_id,
                   run_name=run_name, task_name=task_name)
