"""Prefect run states, with the Prefect 1 `State` helpers (`is_finished()`, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ._parse import parse_datetime
from .seam import Displayed

__all__ = ["State", "STATE_TYPES", "FINISHED_TYPES", "STATE_COLORS"]

#: Every state type of the Prefect 3 server, in lifecycle order.
STATE_TYPES: tuple[str, ...] = (
    "SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING",
    "COMPLETED", "FAILED", "CANCELLED", "CRASHED",
)
FINISHED_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
#: Light-theme colour of each state type; repr.css, the Gantt and the widget use the same values.
STATE_COLORS: dict[str, str] = {
    "COMPLETED": "#16a34a", "FAILED": "#dc2626", "CRASHED": "#b91c1c", "RUNNING": "#2563eb",
    "SCHEDULED": "#d97706", "PENDING": "#b45309", "PAUSED": "#7c3aed",
    "CANCELLING": "#6b7280", "CANCELLED": "#4b5563",
}


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
        """Build from the API's state object; a missing state reads as Pending."""
        if not body:
            return cls.pending()
        type_ = str(body.get("type") or "PENDING").upper()
        return cls(
            type=type_,
            name=body.get("name") or type_.title(),
            message=body.get("message") or None,
            timestamp=parse_datetime(body.get("timestamp")),
            data=body.get("data"),
            state_details=body.get("state_details") or {},
            id=body.get("id"),
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
        if self.message:
            return f'<{self.name}: "{self.message}">'
        return f"<{self.name}>"

