"""The transport rows of issue 17's fault matrix: every fault ends in complete data or a typed
`PrefectWidgetsError` raised within the call's deadline (`timeout=`) plus a small margin.

Faults a real server can be made to show go through `tests/fault_proxy.py` in front of the real
test server; those below HTTP (nothing listening, resets, silence) use `tests/fake_sockets.py`.
Each case runs the sync client, the async client and, where the deadline matters, the CLI.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
import uuid
from collections.abc import Callable

import pytest
from fake_sockets import never_answering, resetting
from fault_proxy import Fault, FaultProxy
from typer.testing import CliRunner

from prefect_widgets import (
    BadResponse,
    Client,
    DeadlineExceeded,
    FlowRunView,
    PrefectWidgetsError,
    RateLimited,
    RedirectRefused,
    ServerError,
    ServerUnreachable,
    Unauthorized,
)
from prefect_widgets.cli import app
from prefect_widgets.client import RetryPolicy
from prefect_widgets.samples import MAPPED_SIZE

pytestmark = pytest.mark.fault_matrix

DEADLINE = 2.0  # each call's timeout= in these tests
MARGIN = 0.5  # how late a typed error may come after the deadline
RETRY = RetryPolicy(max_retries=3, backoff=0.05, max_backoff=0.2)


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"  # closed: nothing listens


def read_sync(url: str, flow_run_id: str, **settings: str) -> FlowRunView:
    with Client(url, timeout=DEADLINE, retry=RETRY, **settings) as c:
        return FlowRunView.from_flow_run_id(flow_run_id, client=c)


def read_async(url: str, flow_run_id: str, **settings: str) -> FlowRunView:
    with Client(url, timeout=DEADLINE, retry=RETRY, **settings) as c:
        return asyncio.run(FlowRunView.afrom_flow_run_id(flow_run_id, client=c))


READS: dict[str, Callable[..., FlowRunView]] = {"sync": read_sync, "async": read_async}


def timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    try:
        outcome: object = action()
    except Exception as exc:  # noqa: BLE001 - the outcome is checked by the caller
        outcome = exc
    return outcome, time.monotonic() - started


def assert_typed_in_time(outcome: object, elapsed: float, expected: type[Exception],
                         limit: float = DEADLINE + MARGIN) -> Exception:
    assert isinstance(outcome, expected), repr(outcome)
    assert isinstance(outcome, PrefectWidgetsError)
    assert elapsed < limit, f"{elapsed:.2f} s"
    message = str(outcome)
    assert "httpx" not in message and len(message) < 800, message
    return outcome


def cli(url: str, *args: str) -> tuple[object, float]:
    command = ["--api-url", url, "--timeout", str(DEADLINE), "--retries", "0", *args]
    return timed(lambda: CliRunner().invoke(app, command))


def assert_cli_fails_in_time(outcome: object, elapsed: float, *needles: str) -> None:
    assert elapsed < DEADLINE + MARGIN, f"{elapsed:.2f} s"
    assert outcome.exit_code == 3, (outcome.exit_code, outcome.stderr)  # type: ignore[attr-defined]
    error = outcome.stderr  # type: ignore[attr-defined]
    assert error.startswith("Error: ") and "Traceback" not in error
    for needle in needles:
        assert needle in error, error


@pytest.fixture
def proxy(api_url):
    with FaultProxy(api_url) as p:
        yield p


# --------------------------------------------------------------------------- below HTTP


@pytest.mark.parametrize("mode", READS)
def test_server_not_started(mode):
    outcome, elapsed = timed(lambda: READS[mode](closed_url(), str(uuid.uuid4())))
    error = assert_typed_in_time(outcome, elapsed, ServerUnreachable)
    assert "Cannot reach" in str(error) and "PREFECT_API_URL" in str(error)


@pytest.mark.parametrize("mode", READS)
def test_server_refusing_connections(mode):
    with resetting() as url:
        outcome, elapsed = timed(lambda: READS[mode](url, str(uuid.uuid4())))
    assert_typed_in_time(outcome, elapsed, ServerUnreachable)


@pytest.mark.parametrize("mode", READS)
def test_server_accepting_and_never_answering(mode):
    with never_answering() as url:
        outcome, elapsed = timed(lambda: READS[mode](url, str(uuid.uuid4())))
    error = assert_typed_in_time(outcome, elapsed, DeadlineExceeded)
    assert elapsed > DEADLINE - 0.1  # it waited the whole deadline, not less
    assert "2 s deadline" in str(error) and "waiting for the answer's headers" in str(error)
    assert "timeout=" in str(error)


def test_cli_not_started_and_never_answering():
    outcome, elapsed = cli(closed_url(), "count")
    assert_cli_fails_in_time(outcome, elapsed, "Cannot reach")
    with never_answering() as url:
        outcome, elapsed = cli(url, "count")
    assert_cli_fails_in_time(outcome, elapsed, "deadline", "--timeout")


# --------------------------------------------------------------------------- slow answers


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("phase", ["drip_headers", "drip_body"])
def test_server_dripping_a_byte_a_second(phase, mode, proxy, runs):
    proxy.add(Fault(phase, path="/flow_runs/", delay=1.0))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    error = assert_typed_in_time(outcome, elapsed, DeadlineExceeded)
    where = "headers" if phase == "drip_headers" else "body"
    assert f"answer's {where}" in str(error)


@pytest.mark.parametrize("phase", ["drip_headers", "drip_body"])
def test_cli_honours_the_deadline_against_a_dripping_server(phase, proxy, runs):
    proxy.add(Fault(phase, path="/flow_runs/", delay=1.0))
    outcome, elapsed = cli(proxy.api_url, "count")
    assert_cli_fails_in_time(outcome, elapsed, "deadline")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_server_killed_mid_export(mode, proxy, runs):
    # the second page of the 450-row export kills the server: every later connect is refused
    with Client(proxy.api_url, timeout=DEADLINE, retry=RETRY) as c:
        view = FlowRunView.from_flow_run_id(runs["mapped"], client=c)
        proxy.add(Fault("kill", path="/task_runs/filter", skip=1))
        export = (view.get_all_task_runs if mode == "sync"
                  else lambda: asyncio.run(view.aget_all_task_runs()))
        outcome, elapsed = timed(export)
    assert_typed_in_time(outcome, elapsed, ServerUnreachable)


# --------------------------------------------------------------------------- HTTP answers


@pytest.mark.parametrize("mode", READS)
def test_5xx_burst_recovers_to_complete_data(mode, proxy, runs):
    fault = proxy.add(Fault("status", status=503, path="/flow_runs/", times=3))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    assert isinstance(outcome, FlowRunView) and outcome.flow_run_id == runs["hello"]
    assert fault.fired == 3 and elapsed < DEADLINE


@pytest.mark.parametrize("mode", READS)
def test_5xx_for_good_is_a_server_error_in_time(mode, proxy, runs):
    proxy.add(Fault("status", status=502, path="/flow_runs/"))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    assert_typed_in_time(outcome, elapsed, ServerError)


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("form", ["seconds", "http-date", "garbage"])
def test_429_with_retry_after_recovers(form, mode, proxy, runs):
    value = {"seconds": "1", "http-date": _http_date(1.0), "garbage": "soon, maybe"}[form]
    fault = proxy.add(Fault("status", status=429, path="/flow_runs/", times=1,
                            headers={"Retry-After": value}))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    assert isinstance(outcome, FlowRunView), repr(outcome)
    assert fault.fired == 1 and elapsed < DEADLINE
    waited = [r.at for r in proxy.requests if r.path.startswith("/api/flow_runs/")]
    if form == "seconds":
        assert waited[1] - waited[0] >= 0.95  # the server's wish was honoured


@pytest.mark.parametrize("mode", READS)
def test_429_asking_for_an_hour_fails_fast(mode, proxy, runs):
    proxy.add(Fault("status", status=429, path="/flow_runs/", headers={"Retry-After": "3600"}))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    error = assert_typed_in_time(outcome, elapsed, RateLimited, limit=MARGIN)
    assert error.retry_after == pytest.approx(3600)  # type: ignore[attr-defined]
    assert "wait 3600 s" in str(error) and "deadline" in str(error)


NGINX_PAGE = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
              + "<p>The upstream is gone.</p>" * 800 + "</body></html>").encode()


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("status", [200, 502])
def test_html_error_page_is_a_short_typed_error(status, mode, proxy, runs):
    proxy.add(Fault("status", status=status, path="/flow_runs/", body=NGINX_PAGE,
                    headers={"Content-Type": "text/html"}))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    error = assert_typed_in_time(outcome, elapsed, BadResponse if status == 200 else ServerError)
    assert "HTML page titled '502 Bad Gateway'" in str(error)
    assert "<" not in str(error) and "upstream is gone" not in str(error)


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("kind", ["truncate", "malform"])
def test_truncated_and_non_json_bodies(kind, mode, proxy, runs):
    proxy.add(Fault(kind, path="/flow_runs/", body=b"this is not json {"))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    error = assert_typed_in_time(outcome, elapsed, BadResponse)
    assert "not JSON" in str(error)


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("times", [2, None])
def test_dropped_connections(times, mode, proxy, runs):
    proxy.add(Fault("drop", path="/flow_runs/", times=times))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    if times is None:
        assert_typed_in_time(outcome, elapsed, ServerUnreachable)
    else:
        assert isinstance(outcome, FlowRunView) and elapsed < DEADLINE


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("location", ["https://admin:hunter22@elsewhere.example/api/flow_runs/x",
                                      None])
def test_redirects_are_refused_with_the_reason(location, mode, proxy, runs):
    headers = {"Location": location} if location else {}
    proxy.add(Fault("status", status=307, path="/flow_runs/", headers=headers, body=b""))
    outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"]))
    error = assert_typed_in_time(outcome, elapsed, RedirectRefused)
    message = str(error) + repr(error)
    assert "does not follow redirects" in message and "PREFECT_API_URL" in message
    assert "hunter22" not in message and "admin:" not in message
    if location:
        assert "https://***@elsewhere.example/api/flow_runs/x" in message
        assert error.location == "https://***@elsewhere.example/api/flow_runs/x"  # type: ignore[attr-defined]
    else:
        assert "no Location" in message
    assert len(proxy.requests) == 1  # not followed, not retried


@pytest.mark.parametrize("mode", READS)
@pytest.mark.parametrize("password", ["wrong", "right"])
def test_password_on_a_csrf_enforcing_server(password, mode, api_url, runs):
    with FaultProxy(api_url, csrf=True, auth_string="admin:right") as proxy:
        outcome, elapsed = timed(lambda: READS[mode](proxy.api_url, runs["hello"],
                                                     auth_string=f"admin:{password}"))
        # a read that POSTs: the CSRF check comes first on the server, the 401 only on the token
        with Client(proxy.api_url, auth_string=f"admin:{password}", timeout=DEADLINE,
                    retry=RETRY) as c:
            counted, _ = timed(lambda: FlowRunView.count(client=c))
    if password == "right":
        assert isinstance(outcome, FlowRunView) and isinstance(counted, int) and counted >= 1
        return
    for error in (assert_typed_in_time(outcome, elapsed, Unauthorized), counted):
        assert isinstance(error, Unauthorized) and error.status_code == 401, repr(error)
        assert "PREFECT_API_AUTH_STRING" in str(error) and "'admin'" in str(error)
        assert "CSRF" not in str(error) and "wrong" not in str(error)


def test_complete_export_through_the_proxy_still_works(proxy, runs):
    """The control row: with no fault, the same path returns every row."""
    with Client(proxy.api_url, timeout=DEADLINE, retry=RETRY) as c:
        rows = FlowRunView.from_flow_run_id(runs["mapped"], client=c).get_all_task_runs()
    assert len(rows) == MAPPED_SIZE
