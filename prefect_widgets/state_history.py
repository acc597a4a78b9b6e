"""A run's state history with the time spent in each state.

Each `StateSpan` runs from its state's timestamp to the next state's; the last state of a
finished run has no end (the run stays in it), and the last state of an unfinished run
lasts until now. So the spans of a finished run add up to the time from its first state
to its last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, ClassVar

from .formatting import fmt_duration, fmt_time, shorten, visible
from .record_list import RecordList
from .states import State

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StateSpan", "StateHistory", "state_history", "STATE_HISTORY_COLUMNS"]

STATE_HISTORY_COLUMNS = ("state_type", "state_name", "message", "start", "end", "duration")


@dataclass(frozen=True)
class StateSpan:
    """One state of the history: the `state`, when it began (`start`), when the next one
    began (`end`: None for a finished run's last state) and the `duration` between."""

    state: State
    start: datetime | None
    end: datetime | None
    duration: timedelta | None

    @property
    def message(self) -> str | None:
        """The state's message (a Failed or Crashed state says why)."""
        return self.state.message


class StateHistory(RecordList[StateSpan]):
    """The spans of a run's states, oldest first; `.states` gives the `State`s alone."""

    _html: ClassVar[str] = "state_history_html"

    @property
    def states(self) -> list[State]:
        return [span.state for span in self._items]

    @property
    def total(self) -> timedelta:
        """The time from the first state to the end of the last span that ended."""
        return sum((s.duration for s in self._items if s.duration is not None), timedelta(0))

    def to_dataframe(self) -> pd.DataFrame:
        """One row per state: `STATE_HISTORY_COLUMNS`."""
        import pandas as pd

        frame = pd.DataFrame(
            [{"state_type": s.state.type, "state_name": s.state.name, "message": s.message,
              "start": s.start, "end": s.end, "duration": s.duration} for s in self._items],
            columns=list(STATE_HISTORY_COLUMNS))
        for column in ("start", "end"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["duration"] = pd.to_timedelta(frame["duration"])
        return frame

    def __repr__(self) -> str:
        lines = [f"StateHistory({len(self)} states)"]
        for span in self._items[:50]:
            note = f": {shorten(span.message, 200)}" if span.message else ""
            lines.append(visible(f"{fmt_time(span.start)}  {fmt_duration(span.duration):>8}  "
                                 f"{span.state.name}{note}", ""))
        if len(self) > 50:
            lines.append(f"... {len(self) - 50} more")
        return "\n".join(lines)


def state_history(states: Sequence[State], now: datetime | None = None) -> StateHistory:
    """The spans of `states` (oldest first); an unfinished run's last state lasts to `now`."""
    ordered = sorted(states, key=lambda s: (s.timestamp is None, s.timestamp))
    spans = []
    for i, state in enumerate(ordered):
        if i + 1 < len(ordered):
            end = ordered[i + 1].timestamp
        else:
            end = None if state.is_finished() else (now or datetime.now(timezone.utc))
        duration = end - state.timestamp if end and state.timestamp else None
        spans.append(StateSpan(state, state.timestamp, end, duration))
    return StateHistory(spans)
