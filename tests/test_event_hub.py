"""The shared event hub against the real server: one socket for every consumer, routing by
flow run, status changes a consumer can act on (streaming, polling, resumed after a gap),
and no thread or socket left once the last subscription closes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from cloud_standin import _pipe
from fault_proxy import FaultProxy

from prefect_widgets import _ops
from prefect_widgets.client import Client
from prefect_widgets.event_hub import Backoff, EventHub, HubStatus, shared_hub
from prefect_widgets.event_stream import StreamEvent
from prefect_widgets.samples import wait_until_recorded


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def task_run_ids(client: Client, flow_run_id: str) -> set[str]:
    listing = client.run(_ops.export("/task_runs/filter", {
        "flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC"}))
    return {f"prefect.task-run.{row['id']}" for row in listing.rows}


def completed(items: list[Any], flow_run_id: str) -> set[str]:
    return {e.resource_id for e in items if isinstance(e, StreamEvent)
            and e.event == "prefect.task-run.Completed"
            and f"prefect.flow-run.{flow_run_id}" in e.related_ids}


def flow_runs_in(items: list[Any]) -> set[str]:
    return {r.removeprefix("prefect.flow-run.") for e in items if isinstance(e, StreamEvent)
            for r in (e.resource_id, *e.related_ids) if r.startswith("prefect.flow-run.")}


def test_one_socket_routes_each_consumer_its_own_runs(prefect_server, client):
    hub = EventHub(client)
    everything: list[Any] = []
    first: list[Any] = []
    second: list[Any] = []
    seen_runs: list[str] = []
    watchers: list[Any] = []

    def discover(item: Any) -> None:  # like %%prefect_watch: a new run goes to the next watcher
        everything.append(item)
        if isinstance(item, StreamEvent) and item.resource_id.startswith("prefect.flow-run."):
            run = item.resource_id.removeprefix("prefect.flow-run.")
            if run not in seen_runs and len(seen_runs) < len(watchers):
                watchers[len(seen_runs)].watch(run)
                seen_runs.append(run)

    discoverer = hub.subscribe(None, discover)  # asked first, so the watcher gets this event
    a = hub.subscribe([], first.append)
    b = hub.subscribe([], second.append)
    watchers += [a, b]
    try:
        assert wait_for(lambda: hub.status.state == "streaming")
        ids = prefect_server.run_flows("hello", "diamond")
        wait_until_recorded(prefect_server.api_url, list(ids.values()))
        hello, diamond = ids["hello"], ids["diamond"]
        assert wait_for(lambda: completed(first, hello) == task_run_ids(client, hello)
                        and completed(second, diamond) == task_run_ids(client, diamond))
        assert seen_runs[:2] == [hello, diamond]
        assert flow_runs_in(first) == {hello} and flow_runs_in(second) == {diamond}
        assert hub.connections == 1 and hub.running
    finally:
        for subscription in (a, b, discoverer):
            subscription.close()
    assert not hub.running and hub.status.state == "closed"


def test_a_failing_consumer_does_not_stop_the_others(prefect_server, client):
    hub = EventHub(client)
    items: list[Any] = []

    def broken(item: Any) -> None:
        raise RuntimeError("a consumer's bug")

    with hub.subscribe(None, broken), hub.subscribe(None, items.append):
        assert wait_for(lambda: hub.status.state == "streaming")
        run = prefect_server.run_flows("hello")["hello"]
        assert wait_for(lambda: completed(items, run) == task_run_ids(client, run))
    assert not hub.running


def test_a_blocked_websocket_means_polling_and_closing_is_prompt(api_url):
    statuses: list[HubStatus] = []
    with FaultProxy(api_url) as proxy:
        hub = EventHub(Client(proxy.api_url))
        with hub.subscribe(None, lambda item: None, statuses.append):
            assert wait_for(lambda: any(s.state == "polling" for s in statuses), 30)
            polling = next(s for s in statuses if s.state == "polling")
            assert "poll" in polling.reason.lower() and not polling.resumed
            started = time.monotonic()
        assert time.monotonic() - started < 5  # not the minute it waits before asking again
    assert not hub.running and hub.connections == 0


class Relay:
    """A TCP relay to the server whose connections can all be cut at once (a network blip)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"

    def _accept(self) -> None:
        while True:
            try:
                inner, _ = self.listener.accept()
            except OSError:
                return
            outer = socket.create_connection(("127.0.0.1", self.port))
            with self.lock:
                self.connections += [inner, outer]
            for source, target in ((inner, outer), (outer, inner)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            cut, self.connections = self.connections, []
        for connection in cut:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_after_a_dropped_connection_the_hub_reconnects_and_says_catch_up(prefect_server,
                                                                         api_url):
    relay = Relay(httpx.URL(api_url).port or 80)
    statuses: list[HubStatus] = []
    items: list[Any] = []
    hub = EventHub(Client(relay.api_url), backoff=Backoff(first=0.2, longest=1.0))
    try:
        with hub.subscribe(None, items.append, statuses.append):
            assert wait_for(lambda: hub.status.state == "streaming")
            relay.cut()
            assert wait_for(lambda: hub.connections == 2 and hub.status.state == "streaming")
            states = [s.state for s in statuses]
            assert states[states.index("reconnecting"):] == ["reconnecting", "streaming"]
            assert statuses[-1].resumed and not statuses[0].resumed
            run = prefect_server.run_flows("hello")["hello"]
            client = Client(api_url)
            assert wait_for(lambda: completed(items, run) == task_run_ids(client, run))
    finally:
        relay.close()
    assert not hub.running


def test_one_hub_per_server_credentials_and_stream(api_url):
    assert shared_hub(Client(api_url)) is shared_hub(Client(api_url))
    assert shared_hub(Client(api_url)) is not shared_hub(Client(api_url, api_key="pnu_other"))
    assert shared_hub(Client(api_url)) is not shared_hub(Client(api_url), stream="logs")
    hub = shared_hub(Client(api_url, api_key="pnu_secret_key_1234"))
    assert "pnu_secret_key_1234" not in repr(hub) and not hub.running
    with pytest.raises(ValueError, match="list of flow-run ids"):
        hub.subscribe("one-id", lambda item: None)  # type: ignore[arg-type]


def test_watch_flow_run_is_woken_by_the_stream(prefect_server, client):
    """Polling alone every 40 s would see the end up to 40 s late; the stream wakes it."""
    from prefect_widgets import FlowRunView, watch_flow_run

    started = datetime.now(timezone.utc)
    runner = threading.Thread(target=prefect_server.run_flows, args=("slow",), daemon=True)
    runner.start()
    found: list[Any] = []
    assert wait_for(lambda: bool(found.extend(FlowRunView.query(
        flow_name="slow-pipeline", start_time_after=started, client=client)) or found), 120)
    entries = list(watch_flow_run(found[0].flow_run_id, client=client, poll_interval=40,
                                  max_poll_interval=40, max_duration=600))
    ended = datetime.now(timezone.utc)
    runner.join(timeout=120)
    run = found[0].get_latest()
    assert run.state.is_completed() and run.end_time is not None
    assert "Entered state Completed" in [e.message for e in entries]
    assert sum("finished stage" in e.message for e in entries) == 12
    assert (ended - run.end_time).total_seconds() < 15
