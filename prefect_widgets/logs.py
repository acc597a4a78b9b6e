"""Run logs, and Prefect 1's `watch_flow_run` generator of state changes and log lines.

A log line names its task run (`task_run_id`) and, once `with_task_names` has looked them
up, the task run's name ("parse_rows-a1b") and its task's name.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from . import _ops
from ._parse import check_uuid
from .client import Client, get_client
from .errors import InvalidRequest, WatchTimeout
from .formatting import shorten, visible
from .polling import Poll
from .record_list import RecordList
from .records import LEVELS, LogEntry, logs_frame, task_name_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LogEntry", "LogList", "read_logs", "watch_flow_run", "LEVELS", "with_task_names",
           "task_run_names"]

#: lines a `LogList` repr shows, and characters of each line
_REPR_LINES, _REPR_LINE = 20, 300

class LogList(RecordList[LogEntry]):
    """Log entries, oldest first."""

    _html: ClassVar[str] = "log_list_html"

    def __repr__(self) -> str:
        """The last lines, each tagged with its task run (or "flow run"), control
        characters made visible."""
        lines = [visible(shorten(f"{e.timestamp:%H:%M:%S} | {e.level_name:<8} | "
                                 f"{e.task_run_name or e.task_run_id or 'flow run'} | "
                                 f"{e.message}", _REPR_LINE), "")
                 for e in self._items[-_REPR_LINES:]]
        skipped = f"... {len(self) - _REPR_LINES} earlier lines\n" \
            if len(self) > _REPR_LINES else ""
        return f"LogList({len(self)} lines)\n{skipped}" + "\n".join(lines)

    def filter(self, level: int | str | None = None, task_run_id: str | None = None
               ) -> LogList:
        """The lines at `level` or above (a name such as "ERROR", or a number) and, given
        `task_run_id`, of that task run only."""
        minimum = _level_number(level.upper() if isinstance(level, str) else level)
        return LogList([e for e in self._items
                        if (minimum is None or e.level >= minimum)
                        and (task_run_id is None or e.task_run_id == task_run_id)])

    def to_dataframe(self, level: int | str | None = None) -> pd.DataFrame:
        """A typed frame (`records.LOG_COLUMNS`), only lines at `level` or above if given."""
        return logs_frame(self.filter(level)._items if level is not None else self._items)



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


def task_run_names(client: Client, task_run_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """task run id → (run name, task name), read by id in pages of 200 (`/task_runs/filter`);
    ids the server does not know are left out."""
    ids = list(dict.fromkeys(task_run_ids))
    names: dict[str, tuple[str, str]] = {}
    for at in range(0, len(ids), _ops.PAGE_SIZE):
        chunk = ids[at:at + _ops.PAGE_SIZE]
        body = {"task_runs": {"id": {"any_": chunk}}, "limit": len(chunk), "offset": 0}
        for row in client.run(_ops.filter_page("/task_runs/filter", body)):
            if isinstance(row, dict) and row.get("id"):
                names[str(row["id"])] = (str(row.get("name") or ""), task_name_of(
                    row.get("name"), row.get("dynamic_key"), row.get("task_key")))
    return names


def with_task_names(entries: Iterable[LogEntry], known: Mapping[str, tuple[str, str]],
                    client: Client) -> list[LogEntry]:
    """`entries` with their task run's name and task name: from `known` (id → (run name,
    task name)), the others read in one batch (`task_run_names`) and added to `known` when
    it is a dict."""
    entries = list(entries)
    missing = {e.task_run_id for e in entries if e.task_run_id and e.task_run_id not in known}
    names = dict(known)
    if missing:
        found = task_run_names(client, sorted(missing))
        names.update(found)
        if isinstance(known, dict):
            known.update(found)
    return [dataclasses.replace(e, task_run_name=names[e.task_run_id][0],
                                task_name=names[e.task_run_id][1])
            if e.task_run_id in names else e for e in entries]


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
    listing = client.run(_ops.export("/logs/filter", body, limit=limit))
    entries = [LogEntry.from_json(r) for r in listing.rows]
    if start_time is not None:
        entries = [e for e in entries if e.timestamp > start_time]
    return LogList(entries)


def _seconds(value: Any, name: str, *, infinite: bool = False) -> float:
    """A positive number of seconds (a number or a `timedelta`), else `InvalidRequest`."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidRequest(f"{name} must be a number of seconds or a timedelta, not "
                             f"{type(value).__name__}.")
    if math.isnan(seconds) or seconds <= 0 or (math.isinf(seconds) and not infinite):
        raise InvalidRequest(f"{name} must be a positive{'' if infinite else ', finite'} number "
                             f"of seconds; got {value!r}.")
    return seconds


def _new_logs(client: Client, flow_run_id: str, tail: _ops.Tail) -> list[LogEntry]:
    """The run's log lines after the last one `tail` read, oldest first (`_ops.rows_after`)."""
    def body(since: datetime | None) -> dict[str, Any]:
        return {**log_filter(flow_run_id, since=since), "sort": "TIMESTAMP_ASC"}

    return [LogEntry.from_json(row)
            for row in client.run(_ops.rows_after("/logs/filter", body, tail))]


def _state_entries(client: Client, flow_run_id: str, seen: set[str]) -> list[LogEntry]:
    """The run's state changes not yet seen, as INFO lines "Entered state …"."""
    from .states import State

    fresh = []
    for row in client.run(_ops.get_list("/flow_run_states/", {"flow_run_id": flow_run_id})):
        if not isinstance(row, dict) or row.get("id") in seen:
            continue
        seen.add(str(row.get("id")))
        state = State.from_json(row)
        note = f": {state.message}" if state.message else ""
        fresh.append(LogEntry(timestamp=state.timestamp or datetime.now(timezone.utc),
                              level=LEVELS["INFO"], message=f"Entered state {state.name}{note}",
                              logger="prefect_widgets.watch", flow_run_id=flow_run_id,
                              id=row.get("id")))
    return fresh


def watch_flow_run(flow_run_id: str, stream_states: bool = True, stream_logs: bool = True,
                   max_duration: timedelta | float = timedelta(hours=12), *,
                   client: Client | None = None, poll_interval: float = 2.0,
                   max_poll_interval: float = 10.0, live: bool = True) -> Iterator[LogEntry]:
    """Yield state changes and new log lines of a flow run in time order until it finishes.

    Reads through the REST API, each round only the log lines after the last one seen,
    tagged with their task run's name. With `live` (default), the kernel's shared event
    stream (`event_hub.shared_hub`) starts a round as soon as the server publishes one of
    the run's events; rounds also come every `poll_interval`, backing off to
    `max_poll_interval` while nothing arrives (all there is when the stream is unavailable).
    Once the run has finished it yields the log lines still arriving (a flow's last batches
    are sent after its final state) until none came for 2 s.
    Raises `WatchTimeout` once `max_duration` has passed. The arguments are checked at the
    call (`InvalidRequest`), before any request.
    """
    flow_run_id = check_uuid(flow_run_id, "flow_run_id")
    interval = _seconds(poll_interval, "poll_interval")
    longest = _seconds(max_poll_interval, "max_poll_interval")
    limit = _seconds(max_duration, "max_duration", infinite=True)
    return _watch(get_client(client), flow_run_id, stream_states, stream_logs, limit,
                  interval, longest, live)


def _trailing_logs(read: Callable[[], list[LogEntry]], hint: threading.Event,
                   quiet: float = 2.0, longest: float = 15.0) -> Iterator[LogEntry]:
    """The log lines a finished run still sends: read (on the stream's hint, else every
    half second) until none came for `quiet` seconds, `longest` at most."""
    now = time.monotonic()
    deadline, quiet_until = now + longest, now + quiet
    while time.monotonic() < min(deadline, quiet_until):
        hint.wait(0.5)
        hint.clear()
        fresh = read()
        if fresh:
            quiet_until = time.monotonic() + quiet
            yield from fresh


def _watch(client: Client, flow_run_id: str, stream_states: bool, stream_logs: bool,
           limit: float, interval: float, longest: float, live: bool) -> Iterator[LogEntry]:
    from .event_hub import shared_hub
    from .states import State

    poll = Poll(interval, maximum=longest, factor=1.5,
                timeout=None if math.isinf(limit) else limit)
    tail, seen_states = _ops.Tail(), set[str]()
    names: dict[str, tuple[str, str]] = {}
    hint = threading.Event()  # rung by the stream: one of the run's events was published
    subscriptions = [shared_hub(client, stream=stream).subscribe(
        [flow_run_id], lambda item: hint.set()) for stream in
        (("events", "logs") if stream_logs else ("events",))] if live else []

    def new_logs() -> list[LogEntry]:
        return with_task_names(_new_logs(client, flow_run_id, tail), names, client) \
            if stream_logs else []

    try:
        while True:
            hint.clear()
            run = client.run(_ops.get(f"/flow_runs/{flow_run_id}",
                                      f"No flow run with id {flow_run_id} on this server."))
            fresh = _state_entries(client, flow_run_id, seen_states) if stream_states else []
            fresh += new_logs()
            yield from sorted(fresh, key=lambda e: e.timestamp)
            if State.from_json(run.get("state")).is_finished():
                if stream_logs:  # a flow's last log batches arrive after its final state
                    yield from _trailing_logs(new_logs, hint)
                return
            delay = poll.succeeded() if fresh else poll.failed()  # quiet rounds back off
            if poll.expired(within=delay):
                raise WatchTimeout(f"Flow run {flow_run_id} did not finish within {limit:.0f} "
                                   "s (max_duration). Raise max_duration to keep watching.")
            hint.wait(delay)
    finally:
        for subscription in subscriptions:
            subscription.close()
