"""Run logs, and Prefect 1's `watch_flow_run` generator of state changes and log lines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from . import _ops
from ._parse import check_uuid
from .client import Client, get_client
from .errors import InvalidRequest, WatchTimeout
from .polling import Poll
from .records import LEVELS, LogEntry, logs_frame
from .seam import Displayed

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LogEntry", "LogList", "read_logs", "watch_flow_run", "LEVELS"]

class LogList(Displayed, Sequence):
    """Log entries, oldest first."""

    _html: ClassVar[str] = "log_list_html"

    def __init__(self, entries: list[LogEntry]) -> None:
        self._entries = entries

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return LogList(self._entries[index])
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        lines = [str(e) for e in self._entries[-20:]]
        skipped = f"... {len(self) - 20} earlier lines\n" if len(self) > 20 else ""
        return f"LogList({len(self)} lines)\n{skipped}" + "\n".join(lines)

    def to_dataframe(self) -> pd.DataFrame:
        return logs_frame(self._entries)



def _level_number(level: int | str | None) -> int | None:
    if level is None:
        return None
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str) and level.upper() in LEVELS:
        return LEVELS[level.upper()]
    raise InvalidRequest(f"Unknown log level {level!r}; use one of {', '.join(LEVELS)} or an int.")


def _aware(value: datetime, name: str) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest(f"{name}= must be a timezone-aware datetime.")
    return value.isoformat()


def log_filter(flow_run_id: str | None = None, task_run_id: str | None = None,
               level: int | str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> dict[str, Any]:
    """The `/logs/filter` body: `since` / `until` are inclusive timestamp bounds."""
    logs: dict[str, Any] = {}
    if flow_run_id is not None:
        logs["flow_run_id"] = {"any_": [check_uuid(flow_run_id, "flow_run_id")]}
    if task_run_id is not None:
        logs["task_run_id"] = {"any_": [check_uuid(task_run_id, "task_run_id")]}
    number = _level_number(level)
    if number is not None:
        logs["level"] = {"ge_": number}
    timestamp: dict[str, str] = {}
    if since is not None:
        timestamp["after_"] = _aware(since, "since")
    if until is not None:
        timestamp["before_"] = _aware(until, "end_time")
    if timestamp:
        logs["timestamp"] = timestamp
    return {"logs": logs}


def read_logs(client: Client, *, flow_run_id: str | None = None, task_run_id: str | None = None,
              level: int | str | None = None, since: datetime | None = None,
              limit: int | None = None, start_time: datetime | None = None,
              end_time: datetime | None = None) -> LogList:
    """Logs matching the arguments, oldest first, auto-paged.

    `since` and `end_time` bound the log timestamps inclusively; `start_time` is Prefect 1's
    exclusive lower bound (a line stamped exactly `start_time` is left out, so a loop that
    polls from the last line it saw never gets it twice).
    """
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InvalidRequest("limit must be a non-negative int or None.")
    if since is not None and start_time is not None:
        raise InvalidRequest("Pass start_time= (exclusive) or since= (inclusive), not both.")
    body = {**log_filter(flow_run_id, task_run_id, level, since or start_time, end_time),
            "sort": "TIMESTAMP_ASC"}
    rows = client.run(_ops.filter_all("/logs/filter", body, limit=limit))
    entries = [LogEntry.from_json(r) for r in rows]
    if start_time is not None:
        entries = [e for e in entries if e.timestamp > start_time]
    return LogList(entries)


def watch_flow_run(flow_run_id: str, stream_states: bool = True, stream_logs: bool = True,
                   max_duration: timedelta | float = timedelta(hours=12), *,
                   client: Client | None = None, poll_interval: float = 2.0,
                   max_poll_interval: float = 10.0) -> Iterator[LogEntry]:
    """Yield state changes and new log lines of a flow run in time order until it finishes.

    Polls with backoff (`poll_interval` growing to `max_poll_interval`, reset when something
    arrives). Raises `WatchTimeout` once `max_duration` has passed.
    """
    from .states import State

    client = get_client(client)
    flow_run_id = check_uuid(flow_run_id, "flow_run_id")
    limit = max_duration.total_seconds() if isinstance(max_duration, timedelta) else max_duration
    poll = Poll(poll_interval, maximum=max_poll_interval, factor=1.5, timeout=float(limit))
    seen: set[str] = set()
    while True:
        run = client.run(_ops.get(f"/flow_runs/{flow_run_id}",
                                  f"No flow run with id {flow_run_id} on this server."))
        fresh: list[LogEntry] = []
        if stream_states:
            for row in client.run(_ops.get_list("/flow_run_states/", {"flow_run_id": flow_run_id})):
                if row.get("id") in seen:
                    continue
                seen.add(row.get("id"))
                state = State.from_json(row)
                note = f": {state.message}" if state.message else ""
                fresh.append(LogEntry(timestamp=state.timestamp or datetime.now(timezone.utc),
                                      level=LEVELS["INFO"],
                                      message=f"Entered state {state.name}{note}",
                                      logger="prefect_widgets.watch", flow_run_id=flow_run_id,
                                      id=row.get("id")))
        if stream_logs:
            for entry in read_logs(client, flow_run_id=flow_run_id):
                if entry.id not in seen:
                    seen.add(entry.id)
                    fresh.append(entry)
        yield from sorted(fresh, key=lambda e: e.timestamp)
        if State.from_json(run.get("state")).is_finished():
            if stream_logs:  # a flow's last log batch arrives after its final state
                poll.wait(min(2.0, poll_interval))
                yield from (e for e in read_logs(client, flow_run_id=flow_run_id)
                            if e.id not in seen)
            return
        delay = poll.succeeded() if fresh else poll.failed()  # quiet rounds back off
        if poll.expired(within=delay):
            raise WatchTimeout(f"Flow run {flow_run_id} did not finish within {limit:.0f} s "
                               "(max_duration). Raise max_duration to keep watching.")
        poll.wait()
