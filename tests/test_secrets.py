"""Security: credentials are sent where they belong and appear nowhere else.

The fault proxy records every header the library sends and can echo the Authorization
header back inside error bodies, as a careless proxy or server might; the client must scrub
it from every message. The proxy also emulates a server with CSRF protection enabled.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import traceback

import pytest
from fault_proxy import Fault, FaultProxy

from prefect_widgets import (
    AsyncClient,
    Client,
    FlowRunView,
    PrefectWidgetsError,
    TaskRunView,
    Unauthorized,
)
from prefect_widgets.client import Call, RetryPolicy
from prefect_widgets.settings import resolve_settings

API_KEY = "pnu_SECRET_KEY_123"
AUTH_STRING = "admin:S3CRET-PASS"
BASIC = base64.b64encode(AUTH_STRING.encode()).decode()
FORBIDDEN = (API_KEY, AUTH_STRING, "S3CRET-PASS", BASIC, "SECRET_KEY", "S3CRET")
FAST = RetryPolicy(max_retries=1, backoff=0.01, max_backoff=0.02)


def assert_no_secret(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into: {text[:400]}"


def everything_shown(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *map(str, exc.args),
                      "".join(traceback.format_exception(exc))])


@pytest.fixture
def proxy(api_url):
    with FaultProxy(api_url) as p:
        yield p


@pytest.fixture(params=["api_key", "auth_string"])
def secret_env(request, monkeypatch):
    """Both secrets in the environment, or only the self-hosted auth string."""
    if request.param == "api_key":
        monkeypatch.setenv("PREFECT_API_KEY", API_KEY)
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", AUTH_STRING)
    return request.param


def test_credentials_are_sent(proxy, runs, secret_env):
    with Client(proxy.api_url) as c:
        FlowRunView.from_flow_run_id(runs["hello"], client=c)
        FlowRunView.query(client=c, limit=1)
    sent = {r.headers.get("authorization") for r in proxy.requests}
    # both set or only the string: HTTP basic auth with PREFECT_API_AUTH_STRING, as Prefect's
    # own client does (prefect 3.8.8 prefect/client/orchestration/__init__.py,
    # PrefectClient.__init__: "Prioritize auth_string if provided, otherwise use api_key")
    assert sent == {f"Basic {BASIC}"}
    assert all(r.headers.get("x-prefect-api-version") for r in proxy.requests)


def test_reprs_never_show_secrets(proxy, runs, secret_env):
    with Client(proxy.api_url) as c:
        assert_no_secret(repr(c) + str(c))
        assert_no_secret(repr(c.settings) + str(c.settings))
        assert_no_secret(repr(resolve_settings()))
        run = FlowRunView.from_flow_run_id(runs["hello"], client=c)
        task = run.get_task_run(task_slug="say_hello")
        shown = [repr(run), repr(task), repr(run.flow), repr(run.state), repr(run.states),
                 repr(FlowRunView.query(client=c, limit=3)),
                 repr(TaskRunView.query(client=c, flow_run_id=runs["hello"])),
                 repr(run.get_logs()), run.to_dataframe().to_string()]
    for text in shown:
        assert_no_secret(text)


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


ECHO_STATUSES = [401, 403, 404, 409, 422, 429, 500, 502, 503]


@pytest.mark.parametrize("status", ECHO_STATUSES)
def test_echoed_authorization_is_scrubbed_from_errors(status, proxy, runs, secret_env):
    proxy.add(Fault("echo_auth", status=status))
    with Client(proxy.api_url, retry=FAST) as c:
        for action in (lambda: FlowRunView.from_flow_run_id(runs["hello"], client=c),
                       lambda: FlowRunView.query(client=c, flow_name="hello-world"),
                       lambda: c.call(Call("GET", "/flows/filter-me"))):
            with pytest.raises(PrefectWidgetsError) as info:
                action()
            assert_no_secret(everything_shown(info.value))
    echoed = [r for r in proxy.requests if r.headers.get("authorization")]
    assert echoed  # the secret really went out and came back in the body


def test_secret_cut_at_the_truncation_boundary_does_not_leak(proxy, runs, secret_env):
    # a non-JSON error body is shown truncated to 200 characters; scrubbing after the cut
    # would miss a secret that straddles it and leak its first half
    known = [BASIC, "S3CRET-PASS"] + ([API_KEY] if secret_env == "api_key" else [])
    for cut in range(180, 200, 3):
        for secret in known:
            proxy.clear()
            body = ("x" * cut + f"Authorization: {secret} rejected").encode()
            proxy.add(Fault("status", status=418, body=body))
            with Client(proxy.api_url, retry=FAST) as c, pytest.raises(PrefectWidgetsError) as info:
                FlowRunView.query(client=c, limit=1)
            text = everything_shown(info.value)
            assert "(418)" in text
            for prefix_len in range(5, len(secret) + 1):
                assert secret[:prefix_len] not in text, (cut, secret[:prefix_len])


@pytest.mark.parametrize("fault", ["truncate", "malform", "drop", "delay"])
def test_other_fault_messages_carry_no_secret(fault, proxy, runs, secret_env):
    proxy.add(Fault(fault, delay=2.0))
    with Client(proxy.api_url, retry=FAST, timeout=0.3) as c:
        with pytest.raises(PrefectWidgetsError) as info:
            FlowRunView.query(client=c, limit=1)
    assert_no_secret(everything_shown(info.value))


@pytest.mark.parametrize("url", ["refused", "dns", "tls"])
def test_connection_errors_carry_no_secret(url, proxy, secret_env):
    target = {"refused": _closed_url(), "dns": "http://no-such-host.invalid/api",
              "tls": proxy.api_url.replace("http://", "https://")}[url]
    with Client(target, retry=FAST) as c, pytest.raises(PrefectWidgetsError) as info:
        FlowRunView.query(client=c, limit=1)
    assert_no_secret(everything_shown(info.value))


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_proxy(api_url):
    with FaultProxy(api_url, csrf=True) as p:
        yield p


def test_csrf_token_is_fetched_sent_and_refreshed_after_rotation(csrf_proxy, runs):
    with Client(csrf_proxy.api_url) as c:
        assert FlowRunView.count(client=c) >= 1
        assert len(TaskRunView.query(client=c, flow_run_id=runs["mapped"], limit=None)) == 450
        token_fetches = [r for r in csrf_proxy.requests if r.path.endswith("/csrf-token")]
        assert len(token_fetches) == 1
        client_id = token_fetches[0].query["client"][0]
        posts = [r for r in csrf_proxy.requests if r.method == "POST"]
        assert len(posts) == 5  # 2 counts + three pages, all accepted with the first token
        assert {(p.headers.get("prefect-csrf-token"), p.headers.get("prefect-csrf-client"))
                for p in posts} == {("t1", client_id)}

        csrf_proxy.rotate_csrf()  # the token expires: the next POST is refused once
        csrf_proxy.requests.clear()
        assert FlowRunView.count(client=c) >= 1
        seen = [(r.method, r.path.rsplit("/", 1)[-1], r.headers.get("prefect-csrf-token"))
                for r in csrf_proxy.requests]
        assert seen[0][0] == "POST" and seen[0][2] == "t1"  # refused by the proxy
        assert seen[1][:2] == ("GET", "csrf-token")
        assert seen[2] == ("POST", "count", "t2")
        assert csrf_proxy.csrf_issued == 2


def test_csrf_survives_a_transient_token_endpoint_failure(csrf_proxy, runs):
    csrf_proxy.add(Fault("status", status=503, path="/csrf-token", times=1))
    with Client(csrf_proxy.api_url, retry=FAST) as c:
        assert FlowRunView.count(client=c) >= 1
        assert FlowRunView.count(client=c) >= 1
    assert csrf_proxy.csrf_issued == 1


def test_csrf_always_refused_is_an_actionable_error(csrf_proxy, runs):
    csrf_proxy.add(Fault("status", status=403, path="/flow_runs/count",
                         body=b'{"detail": "Invalid CSRF token or client identifier."}'))
    with Client(csrf_proxy.api_url, retry=FAST) as c, pytest.raises(Unauthorized) as info:
        FlowRunView.count(client=c)
    assert "403" in str(info.value) and "CSRF" in str(info.value)
    assert len([r for r in csrf_proxy.requests if r.path.endswith("/count")]) == 2  # one refresh


def test_async_client_handles_csrf(csrf_proxy, runs):
    async def go() -> int:
        async with AsyncClient(csrf_proxy.api_url) as ac:
            from prefect_widgets import _ops

            first = await ac.run(_ops.count("/flow_runs/count", {}))
            csrf_proxy.rotate_csrf()
            return first + await ac.run(_ops.count("/flow_runs/count", {}))

    assert asyncio.run(go()) >= 2
    assert csrf_proxy.csrf_issued == 2


def test_api_key_alone_is_sent_as_a_bearer_token(proxy, runs, monkeypatch):
    monkeypatch.setenv("PREFECT_API_KEY", API_KEY)
    with Client(proxy.api_url) as c:
        FlowRunView.count(client=c)
    assert {r.headers.get("authorization") for r in proxy.requests} == {f"Bearer {API_KEY}"}


def test_a_401_names_the_credential_that_was_sent(proxy, runs, secret_env):
    proxy.add(Fault("status", status=401, body=b'{"exception_message": "Unauthorized"}'))
    with Client(proxy.api_url, retry=FAST) as c, pytest.raises(Unauthorized) as info:
        FlowRunView.from_flow_run_id(runs["hello"], client=c)
    message = str(info.value)
    assert "PREFECT_API_AUTH_STRING was sent as HTTP basic auth for user 'admin'" in message
    assert ("PREFECT_API_KEY is set too" in message) == (secret_env == "api_key")
    assert_no_secret(everything_shown(info.value))
