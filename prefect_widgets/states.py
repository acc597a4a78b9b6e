"""Prefect run states, with the Prefect 1 `State` helpers (`is_finished()`, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from ._parse import parse_datetime
from .errors import BadResponse
from .formatting import shorten, visible
from .options import display
from .seam import Displayed

__all__ = ["State", "STATE_TYPES", "FINISHED_TYPES", "STATE_COLORS", "STATE_COLORS_DARK",
           "UNKNOWN_STATE_COLOR", "STATE_GLYPHS", "UNKNOWN_STATE_GLYPH"]

#: Every state type of the Prefect 3 server, in lifecycle order.
STATE_TYPES: tuple[str, ...] = (
    "SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING",
    "COMPLETED", "FAILED", "CANCELLED", "CRASHED",
)
FINISHED_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
#: Light-theme colour of each state type: the one palette. repr.css, report.css, the Gantt
#: and the widget (`js/src/states.ts`) hold the same values (tests/test_contrast.py checks
#: them and their AA contrast: white badge text, dark on Scheduled's amber).
STATE_COLORS: dict[str, str] = {
    "COMPLETED": "#15803d", "FAILED": "#dc2626", "CRASHED": "#991b1b", "RUNNING": "#2563eb",
    "SCHEDULED": "#d97706", "PENDING": "#a16207", "PAUSED": "#7c3aed",
    "CANCELLING": "#6b7280", "CANCELLED": "#4b5563",
}
#: Dark-theme colours: the same hues lifted to read on dark backgrounds (dark badge text).
STATE_COLORS_DARK: dict[str, str] = {
    "COMPLETED": "#22c55e", "FAILED": "#f05252", "CRASHED": "#f87171", "RUNNING": "#4f8ff7",
    "SCHEDULED": "#f59e0b", "PENDING": "#d97706", "PAUSED": "#a78bfa",
    "CANCELLING": "#9ca3af", "CANCELLED": "#7d8696",
}
#: A glyph per state type beside its name in badges, so states that share a hue
#: (Failed/Crashed, Scheduled/Pending, Cancelling/Cancelled) differ without colour;
#: `js/src/states.ts` holds the same table.
STATE_GLYPHS: dict[str, str] = {
    "COMPLETED": "\u2713", "FAILED": "\u2715", "CRASHED": "\u21af", "RUNNING": "\u25b8",
    "SCHEDULED": "\u25f7", "PENDING": "\u2026", "PAUSED": "\u2016",
    "CANCELLING": "\u2296", "CANCELLED": "\u2298",
}
#: glyph of a state type Prefect 3.8 does not define
UNKNOWN_STATE_GLYPH = "?"


#: colour of a state type Prefect 3.8 does not define
UNKNOWN_STATE_COLOR = "#9ca3af"


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadResponse(f"A run state's {key!r} from the server is not a string: "
                          f"{value!r:.60}.")
    return value


@dataclass(frozen=True)
class State(Displayed):
    """A flow or task run state: `type` (e.g. ``"COMPLETED"``), `name`, `message`."""

    _html: ClassVar[str] = "state_badge_html"

    type: str
    name: str
    message: str | None = None
    timestamp: datetime | None = None
    data: Any = field(default=None, repr=False, compare=False)
    state_details: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    id: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any] | None) -> State:
        """Build from the API's state object; a missing state reads as Pending. A state type
        Prefect 3.8 does not define is kept as sent (upper case); a malformed state object
        is `BadResponse`."""
        if not body:
            return cls.pending()
        if not isinstance(body, Mapping):
            raise BadResponse(f"A run state from the server is not a JSON object: {body!r:.60}.")
        type_ = _text(body, "type") or "PENDING"
        details = body.get("state_details") or {}
        if not isinstance(details, Mapping):
            raise BadResponse("A run state's state_details from the server is not an object.")
        timestamp = parse_datetime(body.get("timestamp"))
        return cls(
            type=type_.upper(),
            name=_text(body, "name") or type_.title(),
            message=_text(body, "message") or None,
            timestamp=timestamp.replace(tzinfo=timezone.utc)
            if timestamp is not None and timestamp.tzinfo is None else timestamp,
            data=body.get("data"),
            state_details=dict(details),
            id=_text(body, "id"),
        )

    @classmethod
    def pending(cls) -> State:
        return cls(type="PENDING", name="Pending", message="No state recorded yet.")

    def is_finished(self) -> bool:
        return self.type in FINISHED_TYPES

    def is_running(self) -> bool:
        return self.type == "RUNNING"

    def is_completed(self) -> bool:
        return self.type == "COMPLETED"

    def is_failed(self) -> bool:
        return self.type == "FAILED"

    def is_crashed(self) -> bool:
        return self.type == "CRASHED"

    def is_cancelled(self) -> bool:
        return self.type == "CANCELLED"

    def is_scheduled(self) -> bool:
        return self.type == "SCHEDULED"

    def is_pending(self) -> bool:
        return self.type == "PENDING"

    def is_paused(self) -> bool:
        return self.type == "PAUSED"

    def __repr__(self) -> str:
        """`<Failed: "message">`, terminal-safe and bounded (`display.max_text`)."""
        name = visible(shorten(str(self.name), display.max_text))
        if self.message:
            return f'<{name}: "{visible(shorten(self.message, display.max_text))}">'
        return f"<{name}>"

