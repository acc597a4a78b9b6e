"""The filters every listing takes, declared once: `--flow`, `--state`, `--tag`, `--since`,
`--limit`; the one parser of `--since` / `--until` times; and `keeps`, the one test of
`--state`, `--tag` and `--since` on a frame of task runs.

A time is either back from now, a number and a unit (`45s`, `30m`, `1h`, `2d`, `1w`), or an
ISO 8601 time (`2026-12-01`, `2026-12-01T14:00Z`; without a zone it is UTC).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated

import typer

from prefect_widgets.errors import InvalidRequest

if TYPE_CHECKING:
    import pandas as pd

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)

FlowOpt = Annotated[str | None, typer.Option(
    "--flow", metavar="NAME", help="Only runs of the flow with this name.")]
TagOpt = Annotated[list[str] | None, typer.Option(
    "--tag", metavar="TAG", help="Only runs with this tag; repeat to require several.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="TIME",
    help="Only runs started at or after TIME: back from now (30m, 1h, 2d, 1w) or an ISO 8601 "
         "time (2026-12-01T14:00Z; UTC when no zone is given).")]


def limit_opt(what: str) -> object:
    """The `--limit N` option of a listing of `what`, 0 meaning all."""
    return typer.Option("--limit", "-n", min=0, metavar="N",
                        help=f"Show at most N {what} (0: all).")


def parse_since(text: str | None, option: str = "--since",
                now: datetime | None = None) -> datetime | None:
    """`text` as a UTC-aware time: `30m`/`1h`/`2d`/`1w` back from `now`, or ISO 8601."""
    if text is None:
        return None
    value = text.strip()
    ago = _AGO.fullmatch(value)
    if ago:
        amount, unit = float(ago.group(1)), ago.group(2).lower()
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{option} takes a time back from now (30m, 1h, 2d, 1w) or an "
                             f"ISO 8601 time such as 2026-12-01T14:00Z, not {text!r}.") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def keeps(frame: pd.DataFrame, states: Sequence[str] | None, tags: Sequence[str] | None,
          after: datetime | None) -> pd.Series:
    """The rows of a task-run frame (`state_type`, `tags`, `start_time`) that pass `--state`,
    `--tag` (every tag, as the server's `tags.all_`) and `--since` (a run that has not
    started does not pass, as on the server), as a boolean mask."""
    import pandas as pd

    mask = pd.Series(True, index=frame.index, dtype=bool)
    if states:
        mask &= frame["state_type"].astype(str).isin(list(states))
    if tags:
        wanted = set(tags)
        mask &= frame["tags"].map(lambda run_tags: wanted <= set(run_tags)).astype(bool)
    if after is not None:
        started = pd.to_datetime(frame["start_time"], utc=True)
        mask &= started.notna() & (started >= after)
    return mask
