"""Reliability: every failure of the network or the server becomes a typed, actionable error.

A loopback fault proxy (tests/fault_proxy.py) sits in front of the real test server and
injects one fault at a time; every library entry point either succeeds after bounded
retries or raises the documented `PrefectWidgetsError` subclass — never a raw httpx
exception, never a short list or frame.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
import traceback

import httpx
import pytest
from fault_proxy import Fault, FaultProxy

from prefect_widgets import (
    BadResponse,
    Client,
    DeadlineExceeded,
    FlowRunView,
    IncompleteData,
    InvalidRequest,
    NotFound,
    PrefectWidgetsError,
    RateLimited,
    ServerError,
    ServerUnreachable,
    TaskRunView,
    Unauthorized,
)
from prefect_widgets.client import AsyncClient, Call, RetryPolicy
from prefect_widgets.samples import MAPPED_SIZE

FAST = dict(max_retries=2, backoff=0.01, max_backoff=0.05)
MARGIN = 0.5  # seconds a typed error may come after the call's deadline


def fast_client(url: str, **kwargs) -> Client:
    return Client(url, retry=RetryPolicy(**FAST), **kwargs)


@pytest.fixture
def proxy(api_url):
    with FaultProxy(api_url) as p:
        yield p


def warm(c: Client, proxy: FaultProxy) -> None:
    """Let the client learn the server's CSRF setting (off), so faults hit only real reads."""
    c.call(Call("POST", "/flow_runs/count", json={}))
    proxy.clear()


@pytest.fixture
def pclient(proxy):
    with fast_client(proxy.api_url) as c:
        warm(c, proxy)
        yield c


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the block ends: connections are refused


def assert_clean(exc: BaseException) -> None:
    """A library error whose httpx origin is suppressed, so users see one clear message."""
    assert isinstance(exc, PrefectWidgetsError)
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    shown = "".join(traceback.format_exception(exc))
    raised = [line for line in shown.splitlines() if not line.startswith(" ")]  # not source
    assert not any("httpx." in line for line in raised) and "During handling" not in shown
    assert str(exc).strip()


# --------------------------------------------------------------------------- operations

OPERATIONS = {
    "view": lambda c, runs, view: FlowRunView.from_flow_run_id(runs["hello"], client=c),
    "flow_query": lambda c, runs, view: FlowRunView.query(client=c, flow_name="hello-world"),
    "task_query": lambda c, runs, view: TaskRunView.query(client=c, flow_run_id=runs["hello"]),
    "to_dataframe": lambda c, runs, view: view.to_dataframe(),
    "task_run_ids": lambda c, runs, view: view.task_run_ids,
}


def check_success(op: str, result, runs) -> None:
    if op == "view":
        assert result.flow_run_id == runs["hello"]
    elif op == "flow_query":
        assert runs["hello"] in [v.flow_run_id for v in result]
    elif op == "task_query":
        assert len(result) == 2
    elif op == "to_dataframe":
        assert len(result) == 2
    else:
        assert len(result) == 2


_RAW: dict[str, dict] = {}


def prepared_view(runs, client: Client) -> FlowRunView:
    """A view of the hello run bound to `client` (read once through a healthy client)."""
    if runs["hello"] not in _RAW:
        with Client(runs["_url"]) as healthy:
            _RAW[runs["hello"]] = FlowRunView.from_flow_run_id(runs["hello"], client=healthy).raw
    return FlowRunView.from_json(_RAW[runs["hello"]], client)


@pytest.fixture
def urls(runs, api_url):
    return {**runs, "_url": api_url}


# --------------------------------------------------------------------------- connection faults

CONNECTION_FAULTS = {
    "refused": (lambda: f"http://127.0.0.1:{closed_port()}/api", ["Cannot reach", "ConnectError",
                                                                 "PREFECT_API_URL"]),
    "dns": (lambda: "http://prefect-widgets-test.invalid:4200/api",
            ["Cannot reach", "prefect-widgets-test.invalid", "PREFECT_API_URL"]),
}


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("fault", CONNECTION_FAULTS)
def test_connection_faults(fault, op, urls):
    make_url, needles = CONNECTION_FAULTS[fault]
    with fast_client(make_url()) as c:
        view = prepared_view(urls, c)
        started = time.monotonic()
        with pytest.raises(ServerUnreachable) as info:
            OPERATIONS[op](c, urls, view)
    assert time.monotonic() - started < 15
    assert_clean(info.value)
    for needle in needles:
        assert needle in str(info.value)


@pytest.mark.parametrize("op", OPERATIONS)
def test_tls_to_plain_http_server(op, urls, proxy):
    with fast_client(proxy.api_url.replace("http://", "https://")) as c:
        view = prepared_view(urls, c)
        with pytest.raises(ServerUnreachable) as info:
            OPERATIONS[op](c, urls, view)
    assert_clean(info.value)
    message = str(info.value)
    assert "TLS" in message and "https://" in message and "PREFECT_API_URL" in message


# --------------------------------------------------------------------------- HTTP faults

# name -> (fault, expected error type or None for success, words the message must contain)
HTTP_FAULTS = {
    "401": (lambda: Fault("status", status=401), Unauthorized,
            ["401", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"]),
    "403": (lambda: Fault("status", status=403), Unauthorized, ["403", "access"]),
    "422": (lambda: Fault("status", status=422, body=b'{"detail": "field required: x"}'),
            InvalidRequest, ["422", "field required: x"]),
    "429-no-retry-after": (lambda: Fault("status", status=429), RateLimited,
                           ["429", "Wait and try again"]),
    "429-retry-after": (lambda: Fault("status", status=429, headers={"Retry-After": "0"}),
                        RateLimited, ["429", "wait 0 s"]),
    "429-garbage-retry-after": (lambda: Fault("status", status=429,
                                              headers={"Retry-After": "soon"}),
                                RateLimited, ["429"]),
    "500-permanent": (lambda: Fault("status", status=500), ServerError,
                      ["500", "after 2 retries", "Try again later"]),
    "502-permanent": (lambda: Fault("status", status=502), ServerError, ["502", "server's logs"]),
    "503-permanent": (lambda: Fault("status", status=503), ServerError, ["503", "Try again later"]),
    "500-transient": (lambda: Fault("status", status=500, times=2), None, []),
    "502-transient": (lambda: Fault("status", status=502, times=2), None, []),
    "503-transient": (lambda: Fault("status", status=503, times=1), None, []),
    "429-transient": (lambda: Fault("status", status=429, times=2,
                                    headers={"Retry-After": "0"}), None, []),
    "drop-transient": (lambda: Fault("drop", times=1), None, []),
    "drop-permanent": (lambda: Fault("drop"), ServerUnreachable,
                       ["Cannot reach", "RemoteProtocolError", "PREFECT_API_URL"]),
    "truncated-json": (lambda: Fault("truncate"), BadResponse, ["not JSON", "/api"]),
    "html-not-json": (lambda: Fault("malform"), BadResponse, ["not JSON", "PREFECT_API_URL"]),
    "json-wrong-shape": (lambda: Fault("malform", body=b'{"unexpected": "shape"}'), BadResponse,
                         []),
}


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("name", HTTP_FAULTS)
def test_http_faults(name, op, urls, proxy, pclient):
    make_fault, expected, needles = HTTP_FAULTS[name]
    view = prepared_view(urls, pclient)
    proxy.clear()
    fault = proxy.add(make_fault())
    started = time.monotonic()
    if expected is None:
        check_success(op, OPERATIONS[op](pclient, urls, view), urls)
        assert fault.fired == fault.times  # the fault really happened, then was retried
    else:
        with pytest.raises(expected) as info:
            OPERATIONS[op](pclient, urls, view)
        assert_clean(info.value)
        for needle in needles:
            assert needle.lower() in str(info.value).lower(), str(info.value)
        if expected in (ServerError, RateLimited, ServerUnreachable):
            assert fault.fired == 1 + FAST["max_retries"]  # bounded: first try + 2 retries
        if expected is Unauthorized:
            assert info.value.status_code == int(name)
    assert time.monotonic() - started < 5


def test_404_on_a_view_and_on_a_query(urls, proxy, pclient):
    proxy.add(Fault("status", status=404, path="/flow_runs/"))
    with pytest.raises(NotFound) as info:
        FlowRunView.from_flow_run_id(urls["hello"], client=pclient)
    assert_clean(info.value)
    assert f"No flow run with id {urls['hello']}" in str(info.value)
    assert "PREFECT_API_URL" in str(info.value)
    with pytest.raises(NotFound) as info:
        FlowRunView.query(client=pclient, flow_name="hello-world")
    assert "/flow_runs/" in str(info.value) and "PREFECT_API_URL" in str(info.value)
    assert_clean(info.value)


@pytest.mark.fault_matrix
@pytest.mark.parametrize("op", OPERATIONS)
def test_read_timeout(op, urls, proxy):
    # timeout= is the whole call's deadline: a server slower than it gets no second attempt
    with Client(proxy.api_url, timeout=0.5, retry=RetryPolicy(**FAST)) as c:
        warm(c, proxy)
        view = prepared_view(urls, c)
        proxy.add(Fault("delay", delay=3.0))
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as info:
            OPERATIONS[op](c, urls, view)
    elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 0.5 + MARGIN
    assert_clean(info.value)
    message = str(info.value)
    assert "0.5 s deadline" in message and "timeout=" in message
    assert "waiting for the answer's headers" in message


def test_permanent_5xx_is_bounded_by_max_total(urls, proxy):
    proxy.add(Fault("status", status=503))
    policy = RetryPolicy(max_retries=50, backoff=0.05, max_backoff=0.1, max_total=0.5)
    started = time.monotonic()
    with Client(proxy.api_url, retry=policy) as c, pytest.raises(ServerError):
        FlowRunView.from_flow_run_id(urls["hello"], client=c)
    assert time.monotonic() - started < 1.0


# --------------------------------------------------------------------------- paging faults


@pytest.fixture
def mapped_view(urls, pclient):
    return prepared_view({**urls, "hello": urls["mapped"]}, pclient)


EXPORTS = {
    "to_dataframe": lambda view: view.to_dataframe(),
    "task_run_ids": lambda view: view.task_run_ids,
    "get_all_task_runs": lambda view: view.get_all_task_runs(),
    "task_query": lambda view: TaskRunView.query(client=view.client, flow_run_id=view.flow_run_id,
                                                 limit=None),
    "async_get_all": lambda view: asyncio.run(view.aget_all_task_runs()),
}


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("kind", ["503", "drop"])
def test_server_killed_mid_paging_never_returns_a_short_result(kind, export, proxy, mapped_view):
    # the 2nd page of 3 (450 rows) fails for good: a typed error, not 200 rows
    fault = Fault("status", status=503) if kind == "503" else Fault("drop")
    fault.path, fault.skip = "/task_runs/filter", 1
    proxy.add(fault)
    expected = ServerError if kind == "503" else ServerUnreachable
    with pytest.raises(expected) as info:
        EXPORTS[export](mapped_view)
    assert_clean(info.value)
    assert "/task_runs/filter" in str(info.value) or "Cannot reach" in str(info.value)
    assert fault.fired == 1 + FAST["max_retries"]


@pytest.mark.parametrize("export", ["to_dataframe", "task_run_ids"])
def test_short_page_is_detected_against_the_count(export, proxy, mapped_view):
    # page 2 comes back with 10 rows instead of 200, as if the listing had been cut: the
    # count says 450, so the export re-reads once and then raises rather than return 210
    proxy.add(Fault("short", path="/task_runs/filter", keep=10, skip=1, times=None))
    with pytest.raises(IncompleteData) as info:
        result = getattr(mapped_view, export)
        result() if callable(result) else result
    assert_clean(info.value)
    assert f"counted {MAPPED_SIZE}" in str(info.value) and "no partial result" in str(info.value)


def test_one_failed_page_recovers_to_the_full_export(proxy, mapped_view):
    fault = proxy.add(Fault("status", status=502, path="/task_runs/filter", skip=1, times=2))
    frame = mapped_view.to_dataframe()
    assert len(frame) == MAPPED_SIZE and frame.index.is_unique
    assert fault.fired == 2


@pytest.mark.parametrize("name", ["401", "422", "503-permanent", "503-transient", "500-transient",
                                  "drop-permanent", "truncated-json", "json-wrong-shape"])
def test_async_twins_under_faults(name, urls, proxy, pclient):
    make_fault, expected, needles = HTTP_FAULTS[name]
    proxy.add(make_fault())

    async def read() -> list:
        run = await FlowRunView.afrom_flow_run_id(urls["hello"], client=pclient)
        return await run.aget_all_task_runs()

    if expected is None:
        assert len(asyncio.run(read())) == 2
        return
    with pytest.raises(expected) as info:
        asyncio.run(read())
    assert_clean(info.value)
    for needle in needles:
        assert needle.lower() in str(info.value).lower()


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_is_honoured(form, urls, proxy):
    def header() -> str:
        if form == "seconds":
            return "1"
        return email.utils.formatdate(time.time() + 1.5, usegmt=True)  # whole seconds: ~1 s

    proxy.add(Fault("status", status=429, path="/flow_runs/", times=1,
                    headers={"Retry-After": header()}))
    with Client(proxy.api_url, retry=RetryPolicy(max_retries=2, backoff=0.01,
                                                 max_backoff=0.05)) as c:
        view = FlowRunView.from_flow_run_id(urls["hello"], client=c)
    assert view.flow_run_id == urls["hello"]
    first, second = [r.at for r in proxy.requests if r.path.startswith("/api/flow_runs/")]
    waited = second - first
    assert 0.45 <= waited <= 2.0 if form == "http-date" else 0.95 <= waited <= 1.5


def test_retry_after_longer_than_max_total_fails_fast(urls, proxy):
    proxy.add(Fault("status", status=429, headers={"Retry-After": "120"}))
    started = time.monotonic()
    with fast_client(proxy.api_url) as c, pytest.raises(RateLimited) as info:
        FlowRunView.from_flow_run_id(urls["hello"], client=c)
    assert time.monotonic() - started < 1
    assert info.value.retry_after == pytest.approx(120)
    assert "wait 120 s" in str(info.value)


# --------------------------------------------------------------------------- read-only


@pytest.mark.parametrize("call", [
    Call("PUT", "/flow_runs/8e445d74-9ca6-425b-98e5-72754b7ea174"),
    Call("PATCH", "/flow_runs/8e445d74-9ca6-425b-98e5-72754b7ea174", json={"name": "x"}),
    Call("DELETE", "/flow_runs/8e445d74-9ca6-425b-98e5-72754b7ea174"),
    Call("POST", "/flow_runs/", json={"flow_id": "8e445d74-9ca6-425b-98e5-72754b7ea174"}),
    Call("POST", "/flow_runs/8e445d74-9ca6-425b-98e5-72754b7ea174/set_state", json={}),
    Call("POST", "/deployments/8e445d74-9ca6-425b-98e5-72754b7ea174/create_flow_run"),
    # smuggling a write past the suffix check
    Call("POST", "/flow_runs/?x=/filter"),
    Call("POST", "/deployments/x/create_flow_run#/filter"),
    Call("POST", "/flow_runs/filter/../../flow_runs/"),
    # an absolute URL would send the credentials to another host
    Call("GET", "http://attacker.invalid/api/flow_runs/filter"),
    Call("POST", "//attacker.invalid/api/flow_runs/filter"),
], ids=lambda c: f"{c.method} {c.path}")
def test_client_refuses_writes_before_sending(call, proxy):
    with fast_client(proxy.api_url) as c, pytest.raises(InvalidRequest) as info:
        c.call(call)
    assert_clean(info.value)
    assert "read-only" in str(info.value) or "only sends API paths" in str(info.value)
    assert proxy.requests == []

    async def async_refusal() -> None:
        async with AsyncClient(proxy.api_url) as ac:
            await ac.call(call)

    with pytest.raises(InvalidRequest):
        asyncio.run(async_refusal())
    assert proxy.requests == []


READ_POSTS = ("/filter", "/count", "/history")


def test_every_request_of_a_representative_session_is_a_read(urls, proxy):
    with Client(proxy.api_url) as c:
        run = FlowRunView.from_flow_run_id(urls["hello"], client=c)
        run.flow, run.states, run.get_latest(), run.task_run_ids
        task = run.get_task_run(task_slug="say_hello")
        task.states, task.get_latest(), task.get_logs(), task.flow_run
        run.get_logs(level="INFO")
        run.to_dataframe(), run.to_dataframe("timeline")
        mapped = FlowRunView.from_flow_run_id(urls["mapped"], client=c)
        assert len(mapped.to_dataframe()) == MAPPED_SIZE
        _ = FlowRunView.from_flow_run_id(urls["subflow"], client=c).subflow_runs
        FlowRunView.query(client=c, state_type="COMPLETED", limit=5)
        FlowRunView.count(client=c), FlowRunView.count_by_state(client=c)
        TaskRunView.query(client=c, flow_run_id=urls["mapped"], limit=None)
        TaskRunView.count(client=c, state_type="FAILED")
        run.flow.runs(limit=3)
        asyncio.run(FlowRunView.afrom_flow_run_id(urls["hello"], client=c))
    assert len(proxy.requests) > 20
    methods = {r.method for r in proxy.requests}
    assert methods <= {"GET", "POST"}
    posts = {r.path for r in proxy.requests if r.method == "POST"}
    assert posts and all(p.endswith(READ_POSTS) for p in posts), posts
    gets = {r.path.split("/")[2] for r in proxy.requests if r.method == "GET"}
    assert gets <= {"flow_runs", "task_runs", "flows", "flow_run_states", "task_run_states",
                    "csrf-token", "deployments"}, gets


def test_no_raw_httpx_error_from_an_unexpected_transport_failure(urls):
    class Broken(httpx.HTTPTransport):
        def handle_request(self, request):
            raise httpx.UnsupportedProtocol("boom: unsupported")

    with Client(urls["_url"], transport=Broken(), retry=RetryPolicy(**FAST)) as c:
        with pytest.raises(ServerUnreachable) as info:
            FlowRunView.from_flow_run_id(urls["hello"], client=c)
    assert_clean(info.value)
