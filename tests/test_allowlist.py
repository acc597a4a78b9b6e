"""Read-only by construction: no input makes the library send a request outside its allow-list.

Hypothesis generates API URLs (odd paths, queries, fragments, credentials, unicode, dot
segments) and arguments to the public API (ids, names, slugs, filters, raw `Call`s); a
recording `httpx.MockTransport` answers minimal valid JSON. Every request that reaches it must
be a read, judged here independently of the library's own check; bad input may only end in a
typed `PrefectWidgetsError`. Also the regression of issue 17: `PREFECT_API_URL=http://host/api/
flows/?` turned a count into `POST /api/flows/?/flow_runs/count`, which created a flow.
"""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_widgets import (
    ConfigurationError,
    FlowRunView,
    FlowView,
    PrefectWidgetsError,
    TaskRunView,
)
from prefect_widgets.client import ALLOWED_REQUESTS, Call, Client, RetryPolicy, api_path, refusal

READ_POSTS = re.compile(r"(?:/[a-z_-]+)+/(?:filter|count|history)")


class Recorder:
    """A mock server that records every request and answers minimal valid JSON."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        if path.endswith("/count"):
            return httpx.Response(200, json=0)
        if request.method == "POST" or path.endswith(("/flow_run_states/", "/task_run_states/")):
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"detail": "Not found"})


def assert_only_reads(recorder: Recorder, api_url: str) -> None:
    base = httpx.URL(api_url)
    root = base.raw_path.rstrip(b"/").decode()
    for request in recorder.requests:
        url = request.url
        assert (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port), url
        assert not url.userinfo and not url.fragment
        path = url.raw_path.decode().partition("?")[0]
        assert path.startswith(root + "/"), (path, root)
        relative = path[len(root):]
        assert "/../" not in relative + "/" and "/./" not in relative + "/"
        if request.method == "POST":
            assert not url.query, url
            assert READ_POSTS.fullmatch(relative), relative
        else:
            assert request.method == "GET", request.method


def client_for(api_url: str, recorder: Recorder) -> Client:
    return Client(api_url, transport=httpx.MockTransport(recorder), timeout=5,
                  retry=RetryPolicy(max_retries=0))


# --------------------------------------------------------------------------- strategies

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
HOSTILE = st.sampled_from(["?", "#", "/", "..", ".", "%2e%2e", "%2F", "?x=/filter", "#/count",
                           "/../../flows/", "user:pass@", "\\", " ", "\x00", "é", "/filter",
                           "//evil.example/", "http://evil.example/api/", "%", "%zz"])
PIECE = st.one_of(TEXT, HOSTILE)
NAME = st.lists(PIECE, max_size=4).map("".join)

BASE_URLS = st.builds(
    lambda scheme, auth, host, port, path, tail: f"{scheme}{auth}{host}{port}{path}{tail}",
    st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "http:/", "ws://"]),
    st.sampled_from(["", "user:password@", "admin:S3CRET/x@", "@"]),
    st.sampled_from(["127.0.0.1", "localhost", "bücher.example", "[::1]", "", "h_st"]),
    st.sampled_from(["", ":4200", ":0", ":99999", ":x"]),
    st.lists(st.one_of(st.sampled_from(["/api", "/api/flows", "/.", "/..", "/%2e%2e", "/a b",
                                        "/ü", "//", "/api/accounts/a/workspaces/b"]),
                       PIECE.map(lambda s: "/" + s)), max_size=3).map("".join),
    st.sampled_from(["", "/", "?", "?x=1", "#", "#frag", "/?", "/#x"]),
)


def public_calls(draw_name: str, draw_int: int):
    """Every public entry point that reaches the wire, with a drawn name and number."""
    return [
        lambda c: FlowRunView.from_flow_run_id(draw_name, client=c),
        lambda c: FlowRunView.from_flow_run_name(draw_name, client=c),
        lambda c: FlowView.from_flow_name(draw_name, client=c),
        lambda c: FlowView.from_flow_id(draw_name, client=c),
        lambda c: TaskRunView.from_task_run_id(draw_name, client=c),
        lambda c: TaskRunView.from_task_slug(draw_name, draw_name, client=c),
        lambda c: FlowRunView.query(client=c, flow_name=draw_name, limit=draw_int),
        lambda c: FlowRunView.query(client=c, name=draw_name, tags=[draw_name]),
        lambda c: TaskRunView.query(client=c, flow_run_id=draw_name, limit=draw_int),
        lambda c: FlowRunView.count(client=c, flow_name=draw_name),
        lambda c: TaskRunView.count(client=c, flow_run_id=draw_name),
        lambda c: FlowRunView.count_by_state(client=c, flow_name=draw_name),
    ]


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=BASE_URLS, name=NAME, number=st.integers(-5, 500))
def test_no_input_produces_a_request_outside_the_allow_list(base, name, number):
    recorder = Recorder()
    try:
        client = client_for(base, recorder)
    except ConfigurationError as exc:
        assert "password" not in str(exc) or "user:password@host" in str(exc)
        assert "S3CRET" not in str(exc) + repr(exc)
        return
    with client:
        for action in public_calls(name, number):
            try:
                action(client)
            except PrefectWidgetsError:
                pass
    assert_only_reads(recorder, client.api_url)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "get", "HEAD",
                               "OPTIONS", "POST "]),
       segments=st.lists(PIECE, min_size=0, max_size=4),
       raw=st.booleans(),
       params=st.one_of(st.none(), st.dictionaries(TEXT, TEXT, max_size=2)))
def test_no_raw_call_leaves_outside_the_allow_list(method, segments, raw, params):
    recorder = Recorder()
    path = "/" + "/".join(segments) if raw else api_path(*segments)
    with client_for("http://127.0.0.1:4200/api", recorder) as client:
        try:
            client.call(Call(method, path, json={}, params=params))
        except PrefectWidgetsError:
            pass
    assert_only_reads(recorder, "http://127.0.0.1:4200/api")


@given(segments=st.lists(TEXT.filter(bool), min_size=1, max_size=4))
def test_api_path_segments_are_accepted_for_get(segments):
    # names as Prefect accepts them (e.g. 'etl?v=2', '..', 'a/b') are percent-encoded whole
    url = httpx.URL("http://h/api/" + api_path(*segments).lstrip("/"))
    assert refusal("GET", url, "http://h/api") is None


# --------------------------------------------------------------------------- examples


def test_query_in_the_api_url_cannot_turn_a_count_into_a_write(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://host/api/flows/?")
    recorder = Recorder()
    with pytest.raises(ConfigurationError) as info:
        Client(transport=httpx.MockTransport(recorder))
    assert "query or fragment" in str(info.value) and "http://127.0.0.1:4200/api" in str(info.value)
    assert recorder.requests == []


@pytest.mark.parametrize("url", ["http://admin:hunter22@host/api", "admin:hunter22@host/api",
                                 "htp://admin:hunter22@host/api", "http://admin:hun/ter22@host/api"])
def test_credentials_in_the_url_are_refused_and_never_echoed(url):
    with pytest.raises(ConfigurationError) as info:
        Client(url)
    shown = str(info.value) + repr(info.value)
    assert "hunter22" not in shown and "ter22" not in shown
    assert "PREFECT_API_AUTH_STRING" in shown


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/csrf-token"), ("GET", "/events/out"), ("GET", "/logs/out"),
    ("GET", "/flows/name/etl%3Fv%3D2"), ("POST", "/flow_runs/filter"),
    ("POST", "/task_runs/count"), ("POST", "/ui/flow_runs/history"),
])
def test_the_declared_reads_pass(method, path):
    assert refusal(method, httpx.URL("http://h:4200/api" + path), "http://h:4200/api") is None


@pytest.mark.parametrize(("method", "url"), [
    ("POST", "http://h:4200/api/flows/"), ("POST", "http://h:4200/api/flow_runs/filter?x=1"),
    ("DELETE", "http://h:4200/api/flow_runs/x"), ("GET", "http://evil:4200/api/flows/x"),
    ("POST", "http://h:4200/api/deployments/x/create_flow_run"),
    ("GET", "http://h:4200/other/flows"), ("POST", "http://h:4200/api/x/%2e%2e/filter"),
    ("GET", "ws://h:4200/api/flows/x"),
])
def test_everything_else_is_refused(method, url):
    assert refusal(method, httpx.URL(url), "http://h:4200/api") is not None


def test_websocket_streams_are_declared():
    declared = {(method, pattern) for method, pattern, _why in ALLOWED_REQUESTS}
    assert {("GET", "/events/out"), ("GET", "/logs/out"), ("GET", "/csrf-token")} <= declared
    assert refusal("GET", httpx.URL("ws://h:4200/api/events/out"), "http://h:4200/api") is None
