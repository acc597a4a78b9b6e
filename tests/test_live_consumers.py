"""Every live consumer at once on one running flow — the widget, `watch_flow_run` and the
CLI's `logs --follow` — ends equal to the server: through the kernel's one event
subscription, and through polling when a proxy blocks the websocket."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fault_proxy import FaultProxy

from prefect_widgets import FlowRunView, TaskRunView, watch_flow_run
from prefect_widgets.client import Client
from prefect_widgets.event_hub import shared_hub
from prefect_widgets.samples import wait_until_recorded
from prefect_widgets.widget import FlowRunWidget

SLOW_TASKS = 12  # samples.slow_pipeline's default


@contextmanager
def slow_run(prefect_server) -> Iterator[FlowRunView]:
    """The slow sample (12 tasks, 0.5 s each) run in a subprocess; its flow run once running."""
    before = {r.flow_run_id for r in FlowRunView.query(flow_name="slow-pipeline", limit=None)}
    flows = subprocess.Popen([sys.executable, "-m", "prefect_widgets.samples", "slow"],
                             env=prefect_server.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        run = None
        deadline = time.monotonic() + 90
        while run is None and time.monotonic() < deadline:
            found = FlowRunView.query(flow_name="slow-pipeline", state_type="RUNNING", limit=5)
            run = next((r for r in found if r.flow_run_id not in before), None)
            time.sleep(0.1)
        assert run is not None, "the slow sample never started running"
        yield run
    finally:
        out, err = flows.communicate(timeout=180)
        assert flows.returncode == 0, err[-2000:]


class Consumers:
    """A widget, a `watch_flow_run` thread and a `logs --follow` process on one flow run."""

    def __init__(self, run: FlowRunView, client: Client, env: dict[str, str], **widget: Any):
        self.run_id = run.flow_run_id
        self.widget = FlowRunWidget(FlowRunView.from_flow_run_id(self.run_id, client=client),
                                    live=True, interval=0.5, **widget)
        self.live_via: set[str] = set()
        self.reasons: set[str] = set()
        self.streamed = 0  # task-run records drawn straight from the stream
        apply = self.widget._apply

        def counting(batch: Any) -> None:
            self.streamed += len(batch.records)
            apply(batch)

        self.widget._apply = counting  # type: ignore[method-assign]
        self.widget.observe(self._header, names="header")
        self.watched: list[Any] = []
        self.watcher = threading.Thread(target=lambda: self.watched.extend(watch_flow_run(
            self.run_id, client=client, poll_interval=0.5)), daemon=True)
        self.watcher.start()
        self.follow = subprocess.Popen(
            [sys.executable, "-m", "prefect_widgets", "--output", "json", "logs", self.run_id,
             "--follow", "--poll-interval", "0.5"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _header(self, change: dict[str, Any]) -> None:
        self.live_via.add(change["new"].get("live_via"))
        self.reasons.add(change["new"].get("live_reason"))

    def finish(self, seconds: float = 120) -> list[dict[str, Any]]:
        """Wait for all three to end; the CLI's log entries."""
        deadline = time.monotonic() + seconds
        while self.widget.is_polling and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not self.widget.is_polling, "the widget never settled"
        self.watcher.join(max(1.0, deadline - time.monotonic()))
        assert not self.watcher.is_alive(), "watch_flow_run never ended"
        out, err = self.follow.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert self.follow.returncode == 0, err[-2000:]
        return [json.loads(line) for line in out.splitlines()]


def assert_equal_to_server(consumers: Consumers, cli: list[dict[str, Any]],
                           client: Client) -> None:
    run_id = consumers.run_id
    wait_until_recorded(client.api_url, [run_id])
    server = FlowRunView.from_flow_run_id(run_id, client=client)
    counts = TaskRunView.count_by_state(flow_run_id=run_id, client=client)
    assert counts == {"COMPLETED": SLOW_TASKS}
    header = consumers.widget.header
    assert header["state_type"] == server.state.type == "COMPLETED"
    assert header["counts"] == counts and consumers.widget.timeline["n"] == SLOW_TASKS
    assert header["live"] is False and header["error"] is None and header["unfinished"] == 0
    logs = [entry.message for entry in server.get_logs()]
    watched = [entry.message for entry in consumers.watched]
    assert [m for m in watched if m in logs] == logs  # every line, in order, once
    assert any(m.startswith("Entered state Completed") for m in watched)
    assert [e["message"] for e in cli if e["message"] in logs] == logs


def test_every_consumer_follows_the_stream_and_ends_equal_to_the_server(prefect_server, client):
    with slow_run(prefect_server) as run:
        consumers = Consumers(run, client, prefect_server.env(), reconcile=60)
        cli = consumers.finish()
    assert_equal_to_server(consumers, cli, client)
    assert "stream" in consumers.live_via
    # with a minute between REST catch-ups, the task runs' states came from the stream
    assert consumers.streamed >= SLOW_TASKS
    assert not shared_hub(client).running  # the last consumer gone: no socket, no thread


def test_with_the_websocket_blocked_every_consumer_polls_and_ends_equal(prefect_server,
                                                                        api_url):
    with FaultProxy(api_url) as proxy, slow_run(prefect_server) as run:
        client = Client(proxy.api_url)
        env = {**prefect_server.env(), "PREFECT_API_URL": proxy.api_url}
        consumers = Consumers(run, client, env)
        cli = consumers.finish()
        assert_equal_to_server(consumers, cli, client)
    assert "polling" in consumers.live_via and "stream" not in consumers.live_via
    assert consumers.streamed == 0
    assert any("poll" in reason.lower() for reason in consumers.reasons), consumers.reasons
