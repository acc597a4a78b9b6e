"""The server's live event and log streams (websockets), read-only and authenticated the way
Prefect's own subscribers do it.

Prefect 3.8.8's `PrefectEventSubscriber` and `PrefectLogsSubscriber`
(`prefect/events/clients.py`, `prefect/logging/clients.py`) open `ws(s)://<API URL>/events/out`
(or `/logs/out`) with the "prefect" subprotocol, send `{"type": "auth", "token": ...}` (the API
key for Prefect Cloud, the auth string for a server with `PREFECT_SERVER_API_AUTH_STRING`, else
null), wait for `{"type": "auth_success"}` — a refusal closes the socket with code 1008 and a
reason (`prefect/server/utilities/subscriptions.py`) — then send `{"type": "filter", ...}`.
Here the token is the auth string, else the API key (Prefect sends a key only to Cloud URLs;
a server without auth ignores it), and the upgrade request carries the same Authorization
header as every REST call, for proxies that check it before the handshake.

`EventStream` (sync) and `AsyncEventStream` share that protocol; each is a context manager
whose iteration yields `StreamEvent`s (or `StreamLog`s) until the server closes the socket.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import anyio
import httpx
from websockets.asyncio.client import ClientConnection as AsyncConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.exceptions import WebSocketException as _WebSocketError
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as sync_connect

from ._parse import parse_datetime
from ._version import __version__
from .client import AsyncClient, Client, get_client, refusal
from .errors import BadResponse, InvalidRequest, StreamUnavailable, Unauthorized
from .settings import Settings

__all__ = ["EventStream", "AsyncEventStream", "StreamEvent", "StreamLog", "EVENT_PREFIXES",
           "parse_event", "parse_log"]

#: the events a run's live view needs: every flow-run and task-run state change
EVENT_PREFIXES = ("prefect.flow-run.", "prefect.task-run.")
Stream = Literal["events", "logs"]
_POLICY_VIOLATION, _PROTOCOL_ERROR = 1008, 1002


@dataclass(frozen=True)
class StreamEvent:
    """One event from the stream: `event` is its name (e.g. "prefect.task-run.Completed"),
    `resource_id` what it is about ("prefect.task-run.<id>"), `related_ids` the resources it
    involves (its flow run, flow, task...)."""

    id: str
    event: str
    occurred: datetime | None
    resource_id: str
    related_ids: tuple[str, ...]
    payload: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class StreamLog:
    """One log line from the log stream."""

    flow_run_id: str | None
    task_run_id: str | None
    level: int
    message: str = field(repr=False)
    timestamp: datetime | None = None


def parse_event(message: Any) -> StreamEvent | None:
    """The event in one stream message (`{"type": "event", "event": {...}}`), None for other
    message types; `BadResponse` if an event message is not shaped like Prefect's."""
    if not isinstance(message, dict) or message.get("type") != "event":
        return None
    try:
        event = message["event"]
        related = tuple(str(r["prefect.resource.id"]) for r in event.get("related") or ())
        return StreamEvent(str(event["id"]), str(event["event"]),
                           parse_datetime(event.get("occurred")),
                           str(event["resource"]["prefect.resource.id"]), related,
                           dict(event.get("payload") or {}))
    except (KeyError, TypeError, AttributeError):
        raise BadResponse("The event stream sent an event without an id, name or "
                          "resource: is this a Prefect 3 server?") from None


def parse_log(message: Any) -> StreamLog | None:
    """The log in one stream message (`{"type": "log", "log": {...}}`), None otherwise."""
    if not isinstance(message, dict) or message.get("type") != "log":
        return None
    try:
        log = message["log"]
        return StreamLog(log.get("flow_run_id"), log.get("task_run_id"), int(log["level"]),
                         str(log["message"]), parse_datetime(log.get("timestamp")))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadResponse("The log stream sent a log without a level or message: is this a "
                          "Prefect 3 server?") from None


class _Protocol:
    """What both streams share: the URL, headers, messages, and the mapping of failures."""

    def __init__(self, client: Client | AsyncClient | None, stream: Stream,
                 prefixes: Iterable[str], flow_run_ids: Iterable[str] | None,
                 since: datetime | None, backfill: bool, open_timeout: float) -> None:
        if stream not in ("events", "logs"):
            raise InvalidRequest(f"stream must be 'events' or 'logs', not {stream!r:.40}.")
        self.settings: Settings = (client or get_client()).settings
        self.stream = stream
        self.prefixes = list(prefixes)
        self.flow_run_ids = None if flow_run_ids is None else [str(i) for i in flow_run_ids]
        self.since = since or datetime.now(timezone.utc)
        self.backfill = backfill
        self.open_timeout = open_timeout
        base = httpx.URL(self.settings.api_url)
        self.url = str(base.copy_with(scheme="wss" if base.scheme == "https" else "ws",
                                      raw_path=base.raw_path.rstrip(b"/")
                                      + f"/{stream}/out".encode()))
        reason = refusal("GET", httpx.URL(self.url), self.settings.api_url)
        if reason is not None:
            raise InvalidRequest(f"prefect-widgets did not open {self.url}: {reason}.")

    def __repr__(self) -> str:
        return f"<{self.stream} stream {self.url}>"

    def connect_options(self) -> dict[str, Any]:
        headers = {}
        if self.settings.auth_string:
            encoded = base64.b64encode(self.settings.auth_string.encode()).decode()
            headers["Authorization"] = f"Basic {encoded}"
        elif self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return {"subprotocols": ["prefect"], "additional_headers": headers,
                "user_agent_header": f"prefect-widgets/{__version__}",
                "open_timeout": self.open_timeout, "ping_interval": 20, "max_size": 2**24}

    def auth_message(self) -> str:
        return json.dumps({"type": "auth",
                           "token": self.settings.auth_string or self.settings.api_key})

    def filter_message(self) -> str:
        since = self.since.astimezone(timezone.utc)
        until = (datetime.now(timezone.utc) + timedelta(days=365)).isoformat()
        if self.stream == "logs":
            log_filter: dict[str, Any] = {"timestamp": {"after_": since.isoformat(),
                                                        "before_": until}}
            if self.flow_run_ids is not None:
                log_filter["flow_run_id"] = {"any_": self.flow_run_ids}
            return json.dumps({"type": "filter", "filter": log_filter})
        event_filter: dict[str, Any] = {"occurred": {"since": since.isoformat(), "until": until},
                                        "event": {"prefix": self.prefixes}}
        if self.flow_run_ids is not None:
            event_filter["related"] = {"id": [f"prefect.flow-run.{i}"
                                              for i in self.flow_run_ids]}
        return json.dumps({"type": "filter", "backfill": self.backfill, "filter": event_filter})

    def accept_auth(self, reply: Any) -> None:
        try:
            kind = json.loads(reply).get("type")
        except (ValueError, AttributeError):
            kind = None
        if kind != "auth_success":
            raise self._refused(f"answered {self._scrub(str(reply))[:120]!r}")

    def parse(self, message: Any) -> StreamEvent | StreamLog | None:
        try:
            decoded = json.loads(message)
        except ValueError:
            raise BadResponse(f"The {self.stream} stream at {self.url} sent a message that is "
                              "not JSON.") from None
        return parse_log(decoded) if self.stream == "logs" else parse_event(decoded)

    def failure(self, exc: BaseException) -> Exception:
        """The typed error for a failure to open, authenticate or keep the socket."""
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status in (401, 403):
                return Unauthorized(f"The Prefect API at {self.settings.api_url} refused the "
                                    f"{self.stream} stream's connection ({status}). "
                                    + self._credentials(), status)
            return StreamUnavailable(
                f"The Prefect API at {self.settings.api_url} did not open its {self.stream} "
                f"stream ({self.url} answered HTTP {status}): the server may be older than "
                "Prefect 3, or a proxy may block websockets. Poll the REST API instead.",
                refused=True)
        if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
            code, reason = exc.rcvd.code, self._scrub(exc.rcvd.reason)[:200]
            if code == _POLICY_VIOLATION:
                return self._refused(f"closed the socket (code 1008: {reason or 'no reason'})")
            if code == _PROTOCOL_ERROR:
                return InvalidRequest(f"The {self.stream} stream at {self.url} refused its "
                                      f"filter (code 1002: {reason or 'no reason'}).")
        what = self._scrub(str(exc))[:200] or type(exc).__name__
        return StreamUnavailable(
            f"The {self.stream} stream at {self.url} is unavailable ({type(exc).__name__}: "
            f"{what}). Check that the server is running and that no proxy blocks websockets; "
            "the REST API can be polled instead.")

    def _refused(self, how: str) -> Unauthorized:
        return Unauthorized(f"The Prefect API at {self.settings.api_url} refused the "
                            f"{self.stream} stream's auth message: it {how}. "
                            + self._credentials(), 401)

    def _credentials(self) -> str:
        if self.settings.auth_string:
            return ("PREFECT_API_AUTH_STRING was sent: check it against the server's "
                    "PREFECT_SERVER_API_AUTH_STRING.")
        if self.settings.api_key:
            return ("PREFECT_API_KEY was sent: check that the key is valid and belongs to this "
                    "workspace.")
        return ("No credentials were sent: set PREFECT_API_AUTH_STRING (a self-hosted server "
                "with auth) or PREFECT_API_KEY (Prefect Cloud).")

    def _scrub(self, text: str) -> str:
        for secret in sorted(self.settings.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


#: what opening or reading a socket may raise besides the typed errors above
_SOCKET_ERRORS = (_WebSocketError, OSError, TimeoutError)


class EventStream:
    """A live, read-only subscription: `with EventStream(client) as stream: for event in stream`.

    `stream="events"` yields `StreamEvent`s whose name starts with one of `prefixes`,
    `stream="logs"` yields `StreamLog`s; `flow_run_ids` narrows either to those runs' events
    or logs. `since` (default: now) with `backfill=True` replays recorded events first.
    Opening raises `Unauthorized` (refused credentials) or `StreamUnavailable`.
    """

    def __init__(self, client: Client | None = None, *, stream: Stream = "events",
                 prefixes: Iterable[str] = EVENT_PREFIXES,
                 flow_run_ids: Iterable[str] | None = None, since: datetime | None = None,
                 backfill: bool = False, open_timeout: float = 10.0) -> None:
        self._protocol = _Protocol(client, stream, prefixes, flow_run_ids, since, backfill,
                                   open_timeout)
        self._socket: ClientConnection | None = None
        self.closed_by_server = False

    def __repr__(self) -> str:
        return f"EventStream({self._protocol!r})"

    def open(self) -> EventStream:
        """Connect, authenticate and send the filter."""
        protocol = self._protocol
        try:
            self._socket = sync_connect(protocol.url, **protocol.connect_options())
            self._socket.send(protocol.auth_message())
            protocol.accept_auth(self._socket.recv(timeout=protocol.open_timeout))
            self._socket.send(protocol.filter_message())
        except _SOCKET_ERRORS as exc:
            self.close()
            raise protocol.failure(exc) from None
        except Exception:
            self.close()
            raise
        return self

    def receive(self, timeout: float | None = None) -> StreamEvent | StreamLog | None:
        """The next event (or log), waiting up to `timeout` seconds: None if none came, or
        the server closed the stream normally (then `closed_by_server`)."""
        if self._socket is None:
            raise InvalidRequest("The stream is not open: use `with EventStream(...)`.")
        while True:
            try:
                message = self._socket.recv(timeout=timeout)
            except TimeoutError:
                return None
            except ConnectionClosedOK:
                self.closed_by_server = True
                return None
            except _SOCKET_ERRORS as exc:
                raise self._protocol.failure(exc) from None
            item = self._protocol.parse(message)
            if item is not None:
                return item

    def __iter__(self) -> Iterator[StreamEvent | StreamLog]:
        while (item := self.receive()) is not None:
            yield item

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> EventStream:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream:
    """The asyncio twin of `EventStream` (same arguments): `async with` and `async for`."""

    def __init__(self, client: AsyncClient | Client | None = None, *, stream: Stream = "events",
                 prefixes: Iterable[str] = EVENT_PREFIXES,
                 flow_run_ids: Iterable[str] | None = None, since: datetime | None = None,
                 backfill: bool = False, open_timeout: float = 10.0) -> None:
        self._protocol = _Protocol(client, stream, prefixes, flow_run_ids, since, backfill,
                                   open_timeout)
        self._socket: AsyncConnection | None = None
        self.closed_by_server = False

    def __repr__(self) -> str:
        return f"AsyncEventStream({self._protocol!r})"

    async def open(self) -> AsyncEventStream:
        protocol = self._protocol
        try:
            self._socket = await async_connect(protocol.url, **protocol.connect_options())
            await self._socket.send(protocol.auth_message())
            with anyio.fail_after(protocol.open_timeout):
                reply = await self._socket.recv()
            protocol.accept_auth(reply)
            await self._socket.send(protocol.filter_message())
        except _SOCKET_ERRORS as exc:
            await self.aclose()
            raise protocol.failure(exc) from None
        except Exception:
            await self.aclose()
            raise
        return self

    async def receive(self, timeout: float | None = None) -> StreamEvent | StreamLog | None:
        """The next event (or log), waiting up to `timeout` seconds: None if none came, or
        the server closed the stream normally (then `closed_by_server`)."""
        if self._socket is None:
            raise InvalidRequest("The stream is not open: use `async with AsyncEventStream()`.")
        while True:
            try:
                with anyio.fail_after(timeout):
                    message = await self._socket.recv()
            except TimeoutError:
                return None
            except ConnectionClosedOK:
                self.closed_by_server = True
                return None
            except _SOCKET_ERRORS as exc:
                raise self._protocol.failure(exc) from None
            item = self._protocol.parse(message)
            if item is not None:
                return item

    async def __aiter__(self) -> AsyncIterator[StreamEvent | StreamLog]:
        while (item := await self.receive()) is not None:
            yield item

    async def aclose(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    async def __aenter__(self) -> AsyncEventStream:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
