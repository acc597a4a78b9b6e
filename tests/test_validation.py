"""Input validation: bad arguments are rejected locally, with clear errors, before any request.

No server is needed: the client's transport records every request it is asked to send
(and fails it), so each test can assert that nothing went out.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import httpx
import pytest

from prefect_widgets import (
    Client,
    FlowRunView,
    FlowView,
    InvalidRequest,
    PrefectWidgetsError,
    ServerUnreachable,
    TaskRunView,
)
from prefect_widgets.client import RetryPolicy
from prefect_widgets.queries import FLOW_RUN_FILTERS, FLOW_RUN_SORTS, TASK_RUN_SORTS
from prefect_widgets.states import STATE_TYPES

GOOD_ID = "8e445d74-9ca6-425b-98e5-72754b7ea174"


class RecordingTransport(httpx.BaseTransport):
    """Records what would have been sent, and fails it like an unreachable server.

    The CSRF probe is answered as a Prefect server with CSRF off answers it (422), so a
    POST's body gets as far as the transport and can be inspected.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        self.requests.append(request)
        raise httpx.ConnectError("recording transport: nothing is listening", request=request)


@pytest.fixture
def recorded():
    transport = RecordingTransport()
    with Client("http://127.0.0.1:9/api", transport=transport,
                retry=RetryPolicy(max_retries=0)) as client:
        yield client, transport
    assert transport.requests == [], [str(r.url) for r in transport.requests]


@pytest.fixture
def offline_run(recorded):
    client, _ = recorded
    return FlowRunView.from_json({"id": GOOD_ID, "flow_id": GOOD_ID, "name": "offline",
                                  "state": {"type": "RUNNING", "name": "Running"}}, client)


def test_the_recording_transport_does_see_requests():
    transport = RecordingTransport()
    with Client("http://127.0.0.1:9/api", transport=transport,
                retry=RetryPolicy(max_retries=0)) as client:
        with pytest.raises(ServerUnreachable):
            FlowRunView.from_flow_run_id(GOOD_ID, client=client)
    assert len(transport.requests) == 1  # so the zero counts below mean something


@pytest.mark.parametrize("bad, message", [
    ("woodoo-leopard", "'woodoo-leopard' is not a valid UUID"),
    ("", "is not a valid UUID"),
    (GOOD_ID[:-1], "is not a valid UUID"),
    (GOOD_ID + "/../../flows", "is not a valid UUID"),
    ("x" * 500, "..."),
    (12345, "must be a UUID string, got int"),
    (None, "must be a UUID string, got NoneType"),
    ([GOOD_ID], "must be a UUID string, got list"),
])
def test_malformed_ids_are_rejected_locally(bad, message, recorded):
    client, _ = recorded
    for load in (FlowRunView.from_flow_run_id, TaskRunView.from_task_run_id):
        with pytest.raises(InvalidRequest) as info:
            load(bad, client=client)
        assert message in str(info.value)
        assert "8e445d74-9ca6-425b-98e5-72754b7ea174" in str(info.value) or "got" in str(
            info.value)  # shows the expected shape
        assert len(str(info.value)) < 300  # a huge argument is not echoed in full
    with pytest.raises(InvalidRequest):
        asyncio.run(FlowRunView.afrom_flow_run_id(bad, client=client))


def test_uuid_objects_and_uppercase_are_accepted_forms(recorded):
    client, transport = recorded
    for form in (uuid.UUID(GOOD_ID), GOOD_ID.upper(), f" {GOOD_ID} "):
        with pytest.raises(ServerUnreachable):  # validated, canonicalised, then sent
            FlowRunView.from_flow_run_id(form, client=client)
    assert {r.url.path for r in transport.requests} == {f"/api/flow_runs/{GOOD_ID}"}
    transport.requests.clear()


@pytest.mark.parametrize("kind, sorts", [(FlowRunView, FLOW_RUN_SORTS),
                                         (TaskRunView, TASK_RUN_SORTS)])
def test_unknown_sort_lists_the_valid_ones(kind, sorts, recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest) as info:
        kind.query(client=client, sort="FASTEST_FIRST")
    assert "'FASTEST_FIRST'" in str(info.value)
    assert all(name in str(info.value) for name in sorts)


@pytest.mark.parametrize("kind", [FlowRunView, TaskRunView])
@pytest.mark.parametrize("limit", [-1, "10", 2.5, True])
def test_bad_limits(kind, limit, recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest, match="limit must be a non-negative int"):
        kind.query(client=client, limit=limit)


@pytest.mark.parametrize("offset", [-5, "1", 1.0, True])
def test_bad_offsets(offset, recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest, match="offset must be a non-negative int"):
        FlowRunView.query(client=client, offset=offset)


def test_unknown_keywords_are_type_errors_naming_the_valid_ones(recorded):
    client, _ = recorded
    with pytest.raises(TypeError) as info:
        FlowRunView.query(client=client, staet_type="FAILED")
    assert "'staet_type'" in str(info.value)
    assert all(name in str(info.value) for name in FLOW_RUN_FILTERS)
    with pytest.raises(TypeError, match="'flow_run'.*valid filters: .*flow_run_id"):
        TaskRunView.query(client=client, flow_run=GOOD_ID)
    with pytest.raises(TypeError, match="'limit'"):
        FlowRunView.count(client=client, limit=3)
    with pytest.raises(TypeError, match="'task_key'"):
        TaskRunView.count(client=client, task_key="x")
    with pytest.raises(TypeError, match="drop state_type"):
        FlowRunView.count_by_state(client=client, state_type="FAILED")


@pytest.mark.parametrize("value", ["DONE", ["COMPLETED", "DONE"], "", 3])
def test_bad_state_type(value, recorded):
    client, _ = recorded
    for call in (FlowRunView.query, FlowRunView.count, TaskRunView.query, TaskRunView.count):
        with pytest.raises(InvalidRequest) as info:
            call(client=client, state_type=value)
        assert "Unknown state_type" in str(info.value)
        assert all(t in str(info.value) for t in STATE_TYPES)


def test_state_type_is_case_insensitive(recorded):
    client, transport = recorded
    with pytest.raises(ServerUnreachable):  # accepted, then sent
        FlowRunView.count(client=client, state_type="failed")
    sent = transport.requests[-1]
    assert b'"FAILED"' in sent.content
    transport.requests.clear()


@pytest.mark.parametrize("kwargs, message", [
    ({"start_time_after": datetime(2024, 1, 1)}, "timezone-aware"),
    ({"start_time_before": datetime(2024, 1, 1)}, "timezone-aware"),
    ({"start_time_after": "yesterday"}, "ISO 8601"),
    ({"start_time_after": 1700000000}, "datetime or ISO 8601"),
    ({"tags": ["ok", 3]}, "list of strings"),
    ({"tags": []}, "at least one value"),
    ({"name": 7}, "list of strings"),
    ({"flow_id": "not-a-uuid"}, "not a valid UUID"),
    ({"deployment_id": [GOOD_ID, "nope"]}, "not a valid UUID"),
    ({"parent_task_run_id": 5}, "must be a UUID string"),
    ({"filter": "flow_runs.name = x"}, "filter= takes a dict"),
])
def test_bad_flow_run_filters(kwargs, message, recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest, match=message):
        FlowRunView.query(client=client, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"flow_run_id": "abc"}, "not a valid UUID"),
    ({"expected_start_time_after": datetime(2024, 1, 1)}, "timezone-aware"),
    ({"subflow_runs": "yes"}, "True or False"),
    ({"task_key": 5}, "list of strings"),
])
def test_bad_task_run_filters(kwargs, message, recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest, match=message):
        TaskRunView.query(client=client, **kwargs)


def test_aware_datetimes_are_accepted(recorded):
    client, transport = recorded
    with pytest.raises(ServerUnreachable):
        FlowRunView.query(client=client, start_time_after=datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert b"2024-01-01T00:00:00+00:00" in transport.requests[-1].content
    transport.requests.clear()


def test_view_method_arguments(offline_run):
    with pytest.raises(InvalidRequest, match="exactly one"):
        offline_run.get_task_run()
    with pytest.raises(InvalidRequest, match="not a valid UUID"):  # slug and id may agree
        offline_run.get_task_run(task_slug="a", task_run_id="nope")
    with pytest.raises(InvalidRequest, match="map_index must be"):
        offline_run.get_task_run(task_slug="a", map_index=-2)
    with pytest.raises(InvalidRequest, match="not a valid UUID"):
        offline_run.get_task_run(task_run_id="nope")
    with pytest.raises(InvalidRequest, match="non-empty string"):
        offline_run.get_task_run(task_slug="")
    with pytest.raises(InvalidRequest, match="'timeline'"):
        offline_run.to_dataframe(columns="everything")
    with pytest.raises(InvalidRequest, match="Unknown log level 'LOUD'"):
        offline_run.get_logs(level="LOUD")
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        offline_run.get_logs(since=datetime(2024, 1, 1))
    with pytest.raises(InvalidRequest, match="limit"):
        offline_run.get_logs(limit=-1)


def test_unknown_dataframe_columns_are_rejected_before_fetching(offline_run):
    with pytest.raises(PrefectWidgetsError) as info:
        offline_run.to_dataframe(columns=["state_type", "no_such_column"])
    assert "no_such_column" in str(info.value)


def test_flow_view_ids(recorded):
    client, _ = recorded
    with pytest.raises(InvalidRequest, match="not a valid UUID"):
        FlowView.from_flow_id("flow-please", client=client)
