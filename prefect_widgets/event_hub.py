"""One live subscription per kernel and server, shared by every live consumer.

The server takes one filter per socket, so a hub opens one event stream (by event prefix, not
by run) and routes each event, in its own thread, to the subscriptions that watch one of the
flow runs the event relates to. The stream is a hint and the REST API the truth: a consumer
treats only `status.state == "streaming"` as live, polls otherwise, and catches up through
the REST API whenever a status says `resumed` (events may have been missed) before it
applies new events.

`shared_hub(client)` is the hub of that client's server and credentials (one per kernel);
its thread and socket exist only while a subscription is open.
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from .client import Client, get_client
from .errors import InvalidRequest, PrefectWidgetsError, Unauthorized
from .event_stream import EVENT_PREFIXES, EventStream, Stream, StreamEvent, StreamLog

__all__ = ["EventHub", "HubStatus", "Subscription", "shared_hub"]

State = Literal["connecting", "streaming", "reconnecting", "polling", "closed"]
Item = StreamEvent | StreamLog
_THREAD_NAME = "prefect-widgets-events"


@dataclass(frozen=True)
class HubStatus:
    """Where the stream stands: `state`, `reason` (why not streaming, secrets removed) and
    `resumed` (streaming again after a gap: catch up through the REST API first)."""

    state: State
    reason: str = ""
    resumed: bool = False


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnects: `first`, doubling up to `longest`; `refused` after the
    server refused the stream (a proxy that blocks websockets, an older server)."""

    first: float = 0.5
    longest: float = 30.0
    refused: float = 60.0

    def wait(self, failures: int) -> float:
        return min(self.longest, self.first * 2 ** max(0, failures - 1))


def _routes(item: Item) -> set[str]:
    """The resource ids an event or log relates to ("prefect.flow-run.<id>", ...)."""
    if isinstance(item, StreamLog):
        return {f"prefect.flow-run.{item.flow_run_id}"} if item.flow_run_id else set()
    return {item.resource_id, *item.related_ids}


class Subscription:
    """A consumer's view of the hub: `on_item` gets the events (or logs) of the watched flow
    runs (every one when `flow_run_ids` is None), `on_status` every status change; both run
    in the hub's thread and must be quick. Close it (or use `with`) when done."""

    def __init__(self, hub: EventHub, flow_run_ids: Iterable[str] | None,
                 on_item: Callable[[Item], None],
                 on_status: Callable[[HubStatus], None] | None) -> None:
        self._hub = hub
        self._everything = flow_run_ids is None
        self._watched = {f"prefect.flow-run.{i}" for i in (flow_run_ids or ())}
        self._lock = threading.Lock()
        self.on_item, self.on_status = on_item, on_status
        self.closed = False

    def __repr__(self) -> str:
        what = "every run" if self._everything else f"{len(self._watched)} flow runs"
        return f"<Subscription to {what}{' (closed)' if self.closed else ''}>"

    def watch(self, *flow_run_ids: str) -> None:
        """Also route these flow runs' events here (subflows found later, new runs)."""
        with self._lock:
            self._watched.update(f"prefect.flow-run.{i}" for i in flow_run_ids)

    def wants(self, routes: set[str]) -> bool:
        if self._everything:
            return True
        with self._lock:
            return not self._watched.isdisjoint(routes)

    @property
    def status(self) -> HubStatus:
        return self._hub.status

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """The stream of one server, fanned out to subscriptions (see the module docstring)."""

    def __init__(self, client: Client | None = None, *, stream: Stream = "events",
                 backoff: Backoff | None = None, tick: float = 0.25) -> None:
        self.client = client or get_client()
        self.stream = stream
        self.backoff = backoff or Backoff()
        self.tick = tick
        self.connections = 0  # sockets opened so far
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._status = HubStatus("closed")

    def __repr__(self) -> str:
        return (f"<EventHub {self.stream} {self.client.api_url} {self._status.state}, "
                f"{len(self._subscriptions)} subscriptions>")

    @property
    def status(self) -> HubStatus:
        return self._status

    @property
    def running(self) -> bool:
        """Whether the hub's thread is alive (only while a subscription is open)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def subscribe(self, flow_run_ids: Iterable[str] | None, on_item: Callable[[Item], None],
                  on_status: Callable[[HubStatus], None] | None = None) -> Subscription:
        """A subscription to these flow runs' events (None: all); starts the hub's thread."""
        if isinstance(flow_run_ids, str):
            raise InvalidRequest("subscribe() takes a list of flow-run ids, not one string.")
        subscription = Subscription(self, flow_run_ids, on_item, on_status)
        with self._lock:
            self._subscriptions.append(subscription)
            if self._thread is None:
                self._stop.clear()
                self._status = HubStatus("connecting")
                self._thread = threading.Thread(target=self._run, name=_THREAD_NAME,
                                                daemon=True)
                self._thread.start()
        return subscription

    def close(self) -> None:
        """Close every subscription and stop the thread."""
        for subscription in list(self._subscriptions):
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
            if self._subscriptions or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=10)
        self._status = HubStatus("closed")

    # ---- the hub's thread

    def _set(self, status: HubStatus) -> None:
        self._status = status
        for subscription in list(self._subscriptions):
            if subscription.on_status is not None:
                _call(subscription.on_status, status)

    def _run(self) -> None:
        failures, was_streaming = 0, False
        while not self._stop.is_set():
            try:
                with EventStream(self.client, stream=self.stream, prefixes=EVENT_PREFIXES,
                                 open_timeout=10) as events:
                    self.connections += 1
                    self._set(HubStatus("streaming", resumed=was_streaming or failures > 0))
                    failures, was_streaming = 0, True
                    self._pump(events)
                if self._stop.is_set():
                    return
                failures += 1
                self._set(HubStatus("reconnecting", "the server closed the stream"))
                wait = self.backoff.wait(failures)
            except PrefectWidgetsError as exc:  # typed by the stream: refused, gone, malformed
                failures += 1
                refused = isinstance(exc, Unauthorized) or getattr(exc, "refused", False)
                self._set(HubStatus("polling" if refused or not was_streaming
                                    else "reconnecting", str(exc)))
                wait = self.backoff.refused if refused else self.backoff.wait(failures)
            self._stop.wait(wait)

    def _pump(self, events: EventStream) -> None:
        while not self._stop.is_set():
            item = events.receive(timeout=self.tick)
            if item is None:
                if events.closed_by_server:
                    return
                continue
            routes = _routes(item)
            for subscription in list(self._subscriptions):
                if subscription.wants(routes):
                    _call(subscription.on_item, item)


def _call(callback: Callable[..., None], *args: object) -> None:
    """A consumer's callback; its failure is its own and never stops the hub."""
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - one consumer's bug must not end every consumer's stream
        import logging

        logging.getLogger("prefect_widgets").exception("An event-hub consumer failed")


_HUBS: dict[tuple[str, str, str], EventHub] = {}
_HUBS_LOCK = threading.Lock()


def shared_hub(client: Client | None = None, *, stream: Stream = "events") -> EventHub:
    """The kernel's one hub for this client's server and credentials."""
    client = client or get_client()
    secrets = hashlib.sha256("\0".join(sorted(client.settings.secrets)).encode()).hexdigest()
    key = (stream, client.api_url, secrets)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None:
            hub = _HUBS[key] = EventHub(client, stream=stream)
        return hub


@atexit.register
def _close_all() -> None:
    for hub in list(_HUBS.values()):
        hub.close()
