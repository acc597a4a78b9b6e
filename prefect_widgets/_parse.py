"""Small, strict parsers for values that come from the API or from users."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from .errors import BadResponse, InvalidRequest


def parse_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadResponse(f"The server sent an unreadable timestamp: {str(value)[:40]!r}") from None


def parse_seconds(value: Any) -> timedelta | None:
    if value is None:
        return None
    return timedelta(seconds=float(value))


def check_uuid(value: Any, what: str) -> str:
    """Return the canonical form of a UUID string, or raise `InvalidRequest` before any request."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a UUID string, got {type(value).__name__}.")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidRequest(
            f"{what} {shown!r} is not a valid UUID (expected e.g. "
            "'8e445d74-9ca6-425b-98e5-72754b7ea174')."
        ) from None


def expect(kind: type, body: Any, what: str) -> Any:
    if not isinstance(body, kind):
        raise BadResponse(
            f"Unexpected answer for {what}: expected a JSON {kind.__name__}, "
            f"got {type(body).__name__}."
        )
    return body
