"""The Prefect runs panel's server extension (issue 23), called as the panel calls it: a real
`jupyter server` (the extension enabled by the installed package's config, a token required)
reading the session's Prefect server through a proxy that can drop every connection, with
`PREFECT_API_KEY` set in the Jupyter server's environment."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fault_proxy import Fault, FaultProxy
from lab import JupyterServer
from writer import force_state, post, writer

from prefect_widgets import FlowRunView
from prefect_widgets.states import STATE_TYPES

API_KEY = "pw-panel-secret-key-3f9a"
#: the flow and tag of this module's own run (no sample flow run carries a tag)
FLOW, TAG = "panel-tagged", "panel-tag"


@pytest.fixture(scope="module")
def tagged_run(api_url):
    """A finished run of flow FLOW tagged TAG, written straight to the server."""
    with writer(api_url) as http:
        flow = post(http, "/flows/", {"name": FLOW})
        run = post(http, "/flow_runs/", {"flow_id": flow["id"], "name": "panel-tagged-run",
                                         "tags": [TAG], "state": {"type": "RUNNING"}})
        force_state(http, "flow", run["id"], "COMPLETED")
    return run["id"]


@pytest.fixture(scope="module")
def proxy(prefect_server):
    proxy = FaultProxy(prefect_server.api_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def jupyter(prefect_server, proxy, tmp_path_factory):
    env = {**prefect_server.env(), "PREFECT_API_URL": proxy.api_url, "PREFECT_API_KEY": API_KEY}
    server = JupyterServer(tmp_path_factory.mktemp("panel-root"),
                           tmp_path_factory.mktemp("panel-state"), env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(jupyter):
    with httpx.Client(base_url=f"{jupyter.url}/prefect-widgets", headers=jupyter.auth(),
                      timeout=60) as client:
        yield client


def get(http: httpx.Client, path: str, **params: object) -> httpx.Response:
    answer = http.get(path, params=params)
    assert API_KEY not in answer.text
    return answer


def library_ids(**filters: object) -> list[str]:
    return [v.flow_run_id for v in FlowRunView.query(sort="START_TIME_DESC", **filters)]


def test_recent_runs_are_the_librarys_records(http, runs, proxy):
    answer = get(http, "flow-runs", limit=25)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    views = FlowRunView.query(limit=25, sort="START_TIME_DESC")
    assert [r["id"] for r in body["runs"]] == [v.flow_run_id for v in views]
    assert body["total"] == views.total
    # a sample run is found by its flow, however many runs earlier tests left on the server
    hello = FlowRunView.from_flow_run_id(runs["hello"])
    assert runs["hello"] in [r["id"] for r in get(http, "flow-runs", flow=hello.flow.name,
                                                  limit=200).json()["runs"]]
    for record, view in zip(body["runs"], views):
        assert (record["state_type"], record["state_name"]) == (view.state.type, view.state.name)
        assert record["flow_name"] == view.flow.name and record["tags"] == list(view.tags)
        assert record["start_time"] == (view.start_time and view.start_time.isoformat())
        assert record["ui_url"] == f"{proxy.base_url}/runs/flow-run/{view.flow_run_id}"
        failed = view.state.type in ("FAILED", "CRASHED")
        assert record["state_message"] == (view.state.message if failed else None)
    # the key went to Prefect (the proxy saw it), never back to the browser
    assert any(s.headers.get("authorization") == f"Bearer {API_KEY}" for s in proxy.requests)


def test_filters_narrow_as_the_library_does(http, tagged_run):
    every = get(http, "flow-runs", limit=200).json()["runs"]
    flow = every[-1]["flow_name"]
    state = every[-1]["state_type"]
    tagged = get(http, "flow-runs", tag=TAG).json()["runs"]
    assert [(r["id"], r["flow_name"], r["tags"]) for r in tagged] == [(tagged_run, FLOW, [TAG])]
    tag = TAG
    cases = [({"flow": flow}, {"flow_name": [flow]}), ({"tag": tag}, {"tags": [tag]}),
             ({"state": state}, {"state_type": [state]}),
             ({"state": f"{state},FAILED"}, {"state_type": [state, "FAILED"]}),
             ({"flow": flow, "since_hours": 24}, None)]
    for params, keywords in cases:
        found = [r["id"] for r in get(http, "flow-runs", limit=200, **params).json()["runs"]]
        assert found and len(found) <= len(every), params
        if keywords is not None:
            assert found == library_ids(limit=200, **keywords), params
        if "flow" in params:
            assert all(r["flow_name"] == flow for r in every if r["id"] in found)
    nothing = get(http, "flow-runs", deployment="no-such-deployment").json()
    assert nothing["runs"] == [] and nothing["total"] == 0


def test_counts_by_state_are_the_servers(http, api_url):
    counts = get(http, "counts").json()
    expected = {}
    for state in STATE_TYPES:
        n = httpx.post(f"{api_url}/flow_runs/count", timeout=30,
                       json={"flow_runs": {"state": {"type": {"any_": [state]}}}}).json()
        if n:
            expected[state] = n
    assert counts == {"counts": expected, "total": sum(expected.values())}


def test_only_authenticated_reads(http, jupyter):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("flow-runs", "counts", "health"):
            answer = http.request(method, path, json={})
            assert answer.status_code == 405, (method, path, answer.status_code)
    anonymous = httpx.get(f"{jupyter.url}/prefect-widgets/flow-runs", timeout=30)
    assert anonymous.status_code == 403 and "runs" not in anonymous.text


def test_bad_filters_are_typed_errors(http):
    for params, needle in [({"state": "DONE"}, "Unknown state 'DONE'"),
                           ({"limit": "0"}, "limit must be from 1 to 500"),
                           ({"colour": "red"}, "Unknown filter 'colour'"),
                           ({"since_hours": "soon"}, "since_hours must be a number")]:
        answer = get(http, "flow-runs", **params)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["type"] == "InvalidRequest" and needle in error["message"], error


def test_health_names_the_server_part_without_secrets(http, proxy):
    body = get(http, "health").json()
    assert body == {"version": body["version"], "api_url": proxy.api_url,
                    "ui_url": proxy.base_url}


def test_prefect_down_is_a_typed_error_then_recovers(http, proxy):
    proxy.faults.append(Fault("drop", path="/api/"))
    try:
        started = time.monotonic()
        answer = get(http, "flow-runs", **{"limit": 5})
        assert time.monotonic() - started < 30
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["type"] in ("ServerUnreachable", "DeadlineExceeded"), error
        assert get(http, "health").status_code == 200  # the server part itself is fine
    finally:
        proxy.faults.clear()
    assert get(http, "flow-runs", **{"limit": 5}).status_code == 200


def test_the_panel_query_string_is_what_the_front_end_sends(http):
    """`js/lab/src/model.ts: queryString` writes these keys, each accepted, and Jupyter's
    `ServerConnection.makeRequest` appends a bare timestamp, ignored."""
    query = urlencode({"flow": "x", "deployment": "y", "tag": "z", "state": "RUNNING",
                       "since_hours": "1", "limit": "50"})
    answer = http.get(f"flow-runs?{query}&1796255589693")
    assert answer.status_code == 200 and json.loads(answer.text)["runs"] == []


def test_the_extension_points_name_the_built_front_end():
    """What `jupyter labextension develop` and `jupyter server` read from the package."""
    import prefect_widgets.lab as lab

    (labext,) = lab._jupyter_labextension_paths()
    built = Path(lab.__file__).parent / labext["src"] / "package.json"
    assert json.loads(built.read_text())["name"] == labext["dest"] == lab.LABEXTENSION
    assert lab._jupyter_server_extension_points() == [{"module": "prefect_widgets.lab"}]
