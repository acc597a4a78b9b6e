"""Prefect Cloud's contract (issue 22, item 2), against a local stand-in over the real server.

`tests/cloud_standin.py` answers like Cloud: workspace URLs, Bearer keys (401/403), rate limits
(429 with Retry-After on /filter and /count) and the authenticated event stream. The event stream
is also read directly from the local server (no auth) and from a server started with
`PREFECT_SERVER_API_AUTH_STRING`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cloud_standin import CloudStandin
from fault_proxy import FaultProxy
from typer.testing import CliRunner

import prefect_widgets
from prefect_widgets import (
    BadResponse,
    FlowRunView,
    RateLimited,
    StreamUnavailable,
    Unauthorized,
    _ops,
)
from prefect_widgets.cli import app
from prefect_widgets.client import Client, RetryPolicy
from prefect_widgets.event_stream import (
    AsyncEventStream,
    EventStream,
    StreamEvent,
    StreamLog,
    parse_event,
    parse_log,
)
from prefect_widgets.samples import run_in_subprocess, wait_until_recorded
from prefect_widgets.server import LocalServer

ACCOUNT, WORKSPACE = "0f1e2d3c-acct", "9a8b7c6d-work"
KEY = "pnu_standin_key_0123456789abcdef"
OTHER_KEY = "pnu_other_workspace_key_fedcba98"
KEYS = {KEY: (ACCOUNT, WORKSPACE), OTHER_KEY: (ACCOUNT, "another-workspace")}


@pytest.fixture
def cloud(api_url):
    with CloudStandin(api_url, keys=KEYS) as standin:
        yield standin


@pytest.fixture
def workspace_env(cloud, monkeypatch):
    """PREFECT_API_URL (a workspace URL) and PREFECT_API_KEY, as a Cloud user sets them."""
    monkeypatch.setenv("PREFECT_API_URL", cloud.workspace_url(ACCOUNT, WORKSPACE))
    monkeypatch.setenv("PREFECT_API_KEY", KEY)
    prefect_widgets.configure()
    return cloud


def assert_all_authenticated(cloud: CloudStandin) -> None:
    assert cloud.requests, "nothing reached the stand-in"
    prefix = f"/api/accounts/{ACCOUNT}/workspaces/{WORKSPACE}/"
    for seen in cloud.requests:
        assert seen.path.startswith(prefix), seen.path
        assert seen.headers.get("authorization") == f"Bearer {KEY}", seen.path


# --------------------------------------------------------------------------- reads


def test_views_frames_and_reprs_read_through_a_workspace_url(workspace_env, runs, client):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    direct = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
    assert run.name == direct.name and run.state.type == direct.state.type
    assert sorted(t.task_run_id for t in run.get_all_task_runs()) == \
        sorted(t.task_run_id for t in direct.get_all_task_runs())
    frame, expected = run.to_dataframe(), direct.to_dataframe()
    assert sorted(frame.index) == sorted(expected.index)
    assert run.name in run._repr_html_()
    listed = FlowRunView.query(flow_name="mapped-squares")
    assert runs["mapped"] in [v.flow_run_id for v in listed]
    assert len(listed.to_dataframe()) == len(listed)
    assert_all_authenticated(workspace_env)


def test_cli_reads_through_a_workspace_url(workspace_env, runs):
    result = CliRunner().invoke(app, ["--output", "json", "flow-run", "inspect", runs["hello"]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parameters"] == {"name": "world"}
    assert KEY not in result.output
    assert_all_authenticated(workspace_env)


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("pnu_unknown_key_555555", 401),
                                             (OTHER_KEY, 403)])
def test_a_missing_or_wrong_key_is_a_typed_error_without_the_key(cloud, runs, key, status):
    with Client(cloud.workspace_url(ACCOUNT, WORKSPACE), api_key=key) as c, \
            pytest.raises(Unauthorized) as info:
        FlowRunView.from_flow_run_id(runs["hello"], client=c)
    assert info.value.status_code == status
    text = str(info.value)
    assert str(status) in text
    assert any(hint in text for hint in ("PREFECT_API_KEY", "your key", "No credentials"))
    assert key is None or key not in text and key not in repr(info.value)


def test_the_cli_reports_a_refused_key_without_it(cloud, runs, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", cloud.workspace_url(ACCOUNT, WORKSPACE))
    monkeypatch.setenv("PREFECT_API_KEY", OTHER_KEY)
    prefect_widgets.configure()
    result = CliRunner().invoke(app, ["flow-run", "inspect", runs["hello"]])
    assert result.exit_code != 0
    assert "403" in result.output and OTHER_KEY not in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- rate limits


def test_a_burst_past_the_rate_limit_ends_in_complete_data(api_url, runs, client):
    every = FlowRunView.query(client=client, limit=None)
    expected = every.task_run_counts(client=client)
    with CloudStandin(api_url, keys=KEYS, rate_limit=4, rate_window=1.0) as cloud, \
            Client(cloud.workspace_url(ACCOUNT, WORKSPACE), api_key=KEY, timeout=60) as c:
        started = time.monotonic()
        counted = every.task_run_counts(client=c, max_workers=4)
        elapsed = time.monotonic() - started
    assert counted == expected
    assert cloud.limited > 0, "the burst never reached the limit: the test proves nothing"
    assert elapsed < 60


def test_past_the_retry_budget_a_429_is_a_typed_error_within_the_deadline(api_url, runs):
    with CloudStandin(api_url, keys=KEYS, rate_limit=0) as cloud, \
            Client(cloud.workspace_url(ACCOUNT, WORKSPACE), api_key=KEY, timeout=8,
                   retry=RetryPolicy(max_retries=2)) as c:
        started = time.monotonic()
        with pytest.raises(RateLimited) as info:
            FlowRunView.query(client=c, limit=5)
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 8  # two waits of Retry-After: 1, then the typed error
    assert info.value.retry_after == 1 and info.value.status_code == 429
    assert "429" in str(info.value) and KEY not in str(info.value)
    assert cloud.limited == 3


# --------------------------------------------------------------------------- UI links


def test_ui_links_follow_prefect_ui_url(workspace_env, runs, monkeypatch):
    monkeypatch.setenv("PREFECT_UI_URL", "https://app.example.test/account/a/workspace/w/")
    prefect_widgets.configure()
    run = FlowRunView.from_flow_run_id(runs["hello"])
    expected = f"https://app.example.test/account/a/workspace/w/runs/flow-run/{runs['hello']}"
    assert run.ui_url == expected
    assert f'href="{expected}"' in run._repr_html_()
    task = run.get_all_task_runs()[0]
    assert task.ui_url == ("https://app.example.test/account/a/workspace/w/runs/task-run/"
                           f"{task.task_run_id}")


def test_a_workspace_url_without_prefect_ui_url_links_nowhere_it_cannot_know(workspace_env,
                                                                              runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    assert run.ui_url is None
    assert "<a href" not in run._repr_html_().split("</h", 1)[0]


def test_cloud_api_urls_map_to_cloud_ui_urls():
    with Client("https://api.prefect.cloud/api/accounts/A/workspaces/W", api_key=KEY) as c:
        assert c.ui_url == "https://app.prefect.cloud/account/A/workspace/W"
        assert KEY not in repr(c) and KEY not in repr(c.settings)


# --------------------------------------------------------------------------- event stream


@contextlib.contextmanager
def reading(stream: EventStream | AsyncEventStream) -> Iterator[list[Any]]:
    """Open `stream` and read it on a thread (an async one in its own event loop) into the
    list yielded; stop, close and join on leaving."""
    items: list[Any] = []
    stop, opened = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def read_sync() -> None:
        assert isinstance(stream, EventStream)
        with stream:
            opened.set()
            while not stop.is_set():
                item = stream.receive(timeout=0.2)
                if item is not None:
                    items.append(item)

    async def read_async() -> None:
        assert isinstance(stream, AsyncEventStream)
        async with stream:
            opened.set()
            while not stop.is_set():
                item = await stream.receive(timeout=0.2)
                if item is not None:
                    items.append(item)

    def run() -> None:
        try:
            if isinstance(stream, EventStream):
                read_sync()
            else:
                asyncio.run(read_async())
        except BaseException as exc:  # raised in the test below
            failures.append(exc)
        opened.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert opened.wait(30)
    try:
        if failures:
            raise failures[0]
        yield items
    finally:
        stop.set()
        thread.join(10)
    assert not failures, failures


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def task_run_events(items: list[Any], flow_run_id: str) -> list[StreamEvent]:
    return [e for e in items if isinstance(e, StreamEvent) and e.event.startswith(
        "prefect.task-run.") and f"prefect.flow-run.{flow_run_id}" in e.related_ids]


def completed_task_runs(items: list[Any], flow_run_id: str) -> set[str]:
    return {e.resource_id for e in task_run_events(items, flow_run_id)
            if e.event == "prefect.task-run.Completed"}


def test_the_event_stream_through_cloud_and_directly_yields_a_runs_task_run_events(
        cloud, prefect_server, client):
    workspace = Client(cloud.workspace_url(ACCOUNT, WORKSPACE), api_key=KEY)
    events = EventStream(workspace)
    with reading(events) as through_cloud, reading(AsyncEventStream(client)) as direct:
        flow_run_id = prefect_server.run_flows("hello")["hello"]
        wait_until_recorded(prefect_server.api_url, [flow_run_id])
        expected = {f"prefect.task-run.{t['id']}" for t in client.run(_ops.filter_page(
            "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}}))}
        assert expected
        assert wait_for(lambda: completed_task_runs(through_cloud, flow_run_id) == expected
                        and completed_task_runs(direct, flow_run_id) == expected)
    first, second = cloud.sockets[0].messages[:2]
    assert first == {"type": "auth", "token": KEY}
    assert second["type"] == "filter"
    assert KEY not in repr(events)


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("pnu_unknown_key_555555", 401),
                                             (OTHER_KEY, 401)])
def test_a_refused_stream_key_is_a_typed_error_without_the_key(cloud, key, status):
    workspace = Client(cloud.workspace_url(ACCOUNT, WORKSPACE), api_key=key)
    with pytest.raises(Unauthorized) as info, EventStream(workspace, open_timeout=10):
        pass
    assert info.value.status_code == status and "1008" in str(info.value)
    assert key is None or key not in str(info.value)


def test_a_proxy_that_blocks_websockets_makes_the_stream_unavailable(api_url):
    with FaultProxy(api_url) as proxy, pytest.raises(StreamUnavailable) as info, \
            EventStream(Client(proxy.api_url), open_timeout=10):
        pass
    assert "poll" in str(info.value).lower()


def test_a_server_that_is_gone_makes_the_stream_unavailable(api_url):
    proxy = FaultProxy(api_url).start()
    url = proxy.api_url
    proxy.stop()
    started = time.monotonic()
    with pytest.raises(StreamUnavailable), EventStream(Client(url), open_timeout=5):
        pass
    assert time.monotonic() - started < 10


def test_stream_messages_parse_into_events_or_typed_errors():
    event = {"id": "e1", "event": "prefect.task-run.Completed",
             "occurred": "2026-12-01T10:00:00.5Z", "payload": {"validated_state": {}},
             "resource": {"prefect.resource.id": "prefect.task-run.t1"},
             "related": [{"prefect.resource.id": "prefect.flow-run.f1",
                          "prefect.resource.role": "flow-run"}]}
    parsed = parse_event({"type": "event", "event": event})
    assert parsed is not None and parsed.resource_id == "prefect.task-run.t1"
    assert parsed.related_ids == ("prefect.flow-run.f1",) and parsed.occurred is not None
    assert parse_event({"type": "auth_success"}) is None
    with pytest.raises(BadResponse):
        parse_event({"type": "event", "event": {"id": "e1"}})
    with pytest.raises(BadResponse):
        parse_log({"type": "log", "log": {"message": "no level"}})


# ------------------------------------------------------- a server with an auth string
# (and its log stream on: PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED and
# PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED are off by default)

AUTH_STRING = "admin:s3cret-stream-pass"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A second real server started with PREFECT_SERVER_API_AUTH_STRING."""
    started = {"PREFECT_SERVER_API_AUTH_STRING": AUTH_STRING,
               "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "true",
               "PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED": "true"}
    os.environ.update(started)
    try:
        server = LocalServer(home=tmp_path_factory.mktemp("auth-server")).start()
    finally:
        for name in started:
            del os.environ[name]
    try:
        yield server
    finally:
        server.stop()


def test_an_auth_string_server_streams_to_its_auth_string_only(auth_server):
    with pytest.raises(Unauthorized) as info, EventStream(Client(auth_server.api_url)):
        pass
    assert "No credentials" in str(info.value)
    wrong = Client(auth_server.api_url, auth_string="admin:wrong-pass")
    with pytest.raises(Unauthorized) as info, EventStream(wrong):
        pass
    assert "wrong-pass" not in str(info.value) and "1008" in str(info.value)
    right = Client(auth_server.api_url, auth_string=AUTH_STRING)
    events, log_stream = EventStream(right), EventStream(right, stream="logs")
    with reading(events) as seen, reading(log_stream) as logs:
        env = {**auth_server.env(), "PREFECT_API_AUTH_STRING": AUTH_STRING}
        flow_run_id = run_in_subprocess(["hello"], env, timeout=300)["hello"]
        assert wait_for(lambda: len(completed_task_runs(seen, flow_run_id)) == 2), seen
        assert wait_for(lambda: any(isinstance(x, StreamLog) and x.flow_run_id == flow_run_id
                                    for x in logs)), logs
    assert "s3cret" not in repr(events) + repr(log_stream)
