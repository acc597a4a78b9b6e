"""Reprs never block a notebook: one short deadline shared by all the loads of a display.

A repr (`_repr_html_`, `_repr_mimebundle_`, the IPython extension's formatters) starts each
server load it needs in a daemon thread and waits for them together at most
`prefect_widgets.options.display.deadline` seconds (2.5 by default), connecting and reading
included, whether the server refuses connections or accepts them and never answers. Past
the deadline the repr renders what the snapshot already holds and says so (`Deadline.note`);
a load still running goes on in the background and fills the snapshot (`RunData.once`), so
the next display is complete. A load of a key that another thread is already running (an
earlier display's) is waited on, not started again.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import DisplayLate

if TYPE_CHECKING:
    from .rundata import RunData

__all__ = ["Deadline"]


class _Pending:
    """One load of a display: done, running in a daemon thread, or a wait on another's."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        #: a load of this key already runs elsewhere: (data, key, load) to wait on
        self.joined: tuple[RunData, str, Callable[[], Any]] | None = None

    def run(self, load: Callable[[], Any]) -> None:
        try:
            self.value = load()
        except BaseException as exc:  # handed to the display, which shows a tidy note
            self.error = exc
        finally:
            self.done.set()


def _in_background(pending: _Pending, load: Callable[[], Any]) -> None:
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(pending.run, load), daemon=True,
                     name=f"prefect-widgets-display {pending.what}").start()


class Deadline:
    """The time budget of one display, shared by all its loads."""

    def __init__(self, seconds: float | None = None) -> None:
        if seconds is None:
            from .options import display

            seconds = display.deadline
        self.seconds = float(seconds)
        self._end = time.monotonic() + self.seconds
        #: what did not arrive in time, and what could not be loaded
        self.late: list[str] = []
        self.failed: list[str] = []

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def start(self, what: str, load: Callable[[], Any], data: RunData | None = None,
              key: str | None = None) -> _Pending:
        """Begin `load()` (which reads `key` of `data` through `RunData.once`, if given).

        Held already: loaded at once, here. Being loaded by another thread: waited on in
        `result()`. Otherwise run in a daemon thread."""
        pending = _Pending(what)
        if data is not None and key is not None:
            if data.holds(key):
                pending.run(load)
                return pending
            if data.loading(key):
                pending.joined = (data, key, load)
                return pending
        _in_background(pending, load)
        return pending

    def result(self, pending: _Pending) -> tuple[Any, BaseException | None]:
        """(value, None), (None, the load's error), or (None, `DisplayLate`) past the deadline."""
        if pending.joined is not None:
            data, key, load = pending.joined
            pending.joined = None
            if data.wait(key, self.remaining()):
                pending.run(load)  # held now: no request
            elif data.loading(key):
                return self._late(pending)
            else:  # that load failed: try once more within what is left
                _in_background(pending, load)
        if not pending.done.wait(self.remaining()):
            return self._late(pending)
        if pending.error is not None:
            self.failed.append(pending.what)
            return None, pending.error
        return pending.value, None

    def call(self, what: str, load: Callable[[], Any]) -> Any:
        """`load()` within the deadline: its value, its error raised, or `DisplayLate`."""
        value, error = self.result(self.start(what, load))
        if error is not None:
            raise error
        return value

    def _late(self, pending: _Pending) -> tuple[None, DisplayLate]:
        self.late.append(pending.what)
        return None, DisplayLate(self.note() or "")

    def note(self) -> str | None:
        """What the display should say when it shows less than it wanted; None if all came."""
        if self.late:
            return (f"Showing data held by this snapshot; the server did not answer within "
                    f"{self.seconds:g} s ({', '.join(self.late)} not loaded yet) — the data "
                    "may be stale or incomplete.")
        if self.failed:
            return (f"Showing data held by this snapshot; {' and '.join(self.failed)} could "
                    "not be loaded — the data may be stale or incomplete.")
        return None
