"""Display options for the rich reprs, named like pandas' (`display.max_rows`, ...).

    import prefect_widgets
    prefect_widgets.options.display.max_rows = 20
    with prefect_widgets.options.option_context("display.max_rows", 5, "display.max_colwidth", 40):
        flow_run

`display.deadline` (seconds, default 2.5) bounds how long one repr waits for the server,
connecting and reading included: past it, the repr shows what the snapshot already holds and
says the data may be stale (the load goes on in the background and fills the snapshot).

`display.settle_seconds` (default 30, 0 or more): how long after a flow run's end the server
may still be writing its task runs. Past it, task runs not in a final state are flagged as
never finished (`records.unfinished_mask`); within it they are shown as they are.

Above `max_rows` rows, a table shows `min_rows` of them: half from the head, half from the
tail, with "N more" between. Failed task runs are listed before the head and tail.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["display", "option_context", "get_option", "set_option", "reset_option"]


@dataclass
class DisplayOptions:
    #: tables longer than this are cut to `min_rows` (head + tail)
    max_rows: int = 10
    #: rows shown once a table is cut
    min_rows: int = 6
    #: strings longer than this are cut with "…"; the full value is kept in a title attribute
    max_colwidth: int = 60
    #: mapping items (parameters, labels, inputs) and tags shown before "N more"
    max_items: int = 20
    #: failed task runs listed ahead of the head/tail rows of a flow run's task table
    max_failed: int = 5
    #: log lines shown (the newest ones)
    max_log_lines: int = 50
    #: characters of one string in text output (reprs' text/plain, the widget's header and
    #: state, CLI table cells) before "… (N more characters)"
    max_text: int = 2_000
    #: seconds a repr waits for the server (all its loads together) before it shows what
    #: the snapshot holds, noting that the data may be stale
    deadline: float = 2.5
    #: seconds after a finished flow run's end past which its task runs still not in a final
    #: state are flagged as never finished (events may have been dropped); 0 flags at once
    settle_seconds: float = 30.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in {f.name for f in fields(self)}:
            raise AttributeError(f"Unknown display option {name!r}; known: "
                                 f"{', '.join(f.name for f in fields(self))}.")
        if name in SECONDS:
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"display.{name} must be a positive number of seconds, "
                                 f"got {value!r}.")
            value = float(value)
        elif name in NON_NEGATIVE_SECONDS:
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not math.isfinite(value) or value < 0):
                raise ValueError(f"display.{name} must be a number of seconds (0 or more), "
                                 f"got {value!r}.")
            value = float(value)
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"display.{name} must be a positive int, got {value!r}.")
        object.__setattr__(self, name, value)


#: options given in seconds (positive numbers, not only ints)
SECONDS = frozenset({"deadline"})
#: options given in seconds that may be 0
NON_NEGATIVE_SECONDS = frozenset({"settle_seconds"})


display = DisplayOptions()


def _split(key: str) -> str:
    name = key[len("display."):] if key.startswith("display.") else key
    if name not in {f.name for f in fields(DisplayOptions)}:
        raise KeyError(f"Unknown option {key!r}; known: "
                       f"{', '.join('display.' + f.name for f in fields(DisplayOptions))}.")
    return name


def get_option(key: str) -> Any:
    return getattr(display, _split(key))


def set_option(key: str, value: Any) -> None:
    setattr(display, _split(key), value)


def reset_option(key: str) -> None:
    name = _split(key)
    setattr(display, name, getattr(DisplayOptions(), name))


@contextmanager
def option_context(*args: Any) -> Iterator[None]:
    """Set options for the `with` block: `option_context("display.max_rows", 5, ...)`."""
    if len(args) % 2:
        raise ValueError("option_context takes pairs: key, value, key, value, ...")
    pairs = [(_split(args[i]), args[i + 1]) for i in range(0, len(args), 2)]
    saved = [(name, getattr(display, name)) for name, _ in pairs]
    try:
        for name, value in pairs:
            setattr(display, name, value)
        yield
    finally:
        for name, value in saved:
            object.__setattr__(display, name, value)
