"""`run_events.flow_runs_in_events`, the one reader of flow runs named by events, and its two
callers' answers to a server without the events API, driven with canned answers (the
end-to-end reads are in test_history.py and test_sync.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from prefect_widgets.client import Call, Client
from prefect_widgets.errors import BadResponse, NotFound
from prefect_widgets.history import _state_changes
from prefect_widgets.run_events import FLOW_RUN, TASK_RUN, flow_runs_in_events
from prefect_widgets.sync import _flow_runs_with_events

RUN_A, RUN_B, RUN_C = (str(uuid.uuid4()) for _ in range(3))


def _event(resource: str, *related: str) -> dict[str, Any]:
    return {"resource": {"prefect.resource.id": resource},
            "related": [{"prefect.resource.id": r} for r in related]}


def _drive(operation: Any, pages: list[Any]) -> tuple[set[str], list[Call]]:
    """Answer each call with the next page; the result and the calls sent."""
    calls = [next(operation)]
    try:
        for page in pages:
            calls.append(operation.send(page))
    except StopIteration as done:
        return done.value, calls
    raise AssertionError("the operation asked for more pages than given")


def test_the_first_call_carries_the_window_the_prefixes_and_the_related_resource():
    operation = flow_runs_in_events("2026-12-01T00:00:00+00:00", [FLOW_RUN],
                                    related_to="prefect.flow.f", not_found="no events API")
    first = next(operation)
    assert (first.method, first.path, first.not_found) == ("POST", "/events/filter",
                                                           "no events API")
    query = first.json["filter"]
    assert query["occurred"]["since"] == "2026-12-01T00:00:00+00:00"
    assert query["event"] == {"prefix": [FLOW_RUN]}
    assert query["related"] == {"id": ["prefect.flow.f"]}


def test_without_a_related_resource_the_filter_has_none():
    first = next(flow_runs_in_events("2026-12-01T00:00:00+00:00", [FLOW_RUN, TASK_RUN]))
    assert "related" not in first.json["filter"] and first.not_found is None
    assert first.json["filter"]["event"] == {"prefix": [FLOW_RUN, TASK_RUN]}


def test_pages_are_followed_and_only_flow_run_uuids_kept():
    pages = [
        {"events": [_event(FLOW_RUN + RUN_A), _event(FLOW_RUN + "not-a-uuid"),
                    _event(TASK_RUN + RUN_B, FLOW_RUN + RUN_C), "not an event"],
         "next_page": "http://x/api/events/filter/next?page-token=t1"},
        {"events": [_event(FLOW_RUN + RUN_B)], "next_page": None},
    ]
    ids, calls = _drive(flow_runs_in_events("2026-12-01T00:00:00+00:00", [FLOW_RUN]), pages)
    assert ids == {RUN_A, RUN_B}  # RUN_C is only a related resource: not counted
    assert (calls[1].method, calls[1].path, calls[1].params) == (
        "GET", "/events/filter/next", {"page-token": "t1"})


def test_related_flow_runs_count_when_asked():
    pages = [{"events": [_event(TASK_RUN + RUN_B, FLOW_RUN + RUN_C, "prefect.flow.f")]}]
    ids, _ = _drive(flow_runs_in_events("2026-12-01T00:00:00+00:00", [FLOW_RUN, TASK_RUN],
                                        count_related=True), pages)
    assert ids == {RUN_C}


@pytest.mark.parametrize("page", [[], {"events": {"not": "a list"}}])
def test_a_malformed_page_is_a_typed_error(page):
    with pytest.raises(BadResponse):
        _drive(flow_runs_in_events("2026-12-01T00:00:00+00:00", [FLOW_RUN]), [page])


def _server_without_events_api() -> Client:
    """A client whose server answers 404 to everything (no events API, no CSRF route)."""
    return Client("http://prefect.test/api", transport=httpx.MockTransport(
        lambda request: httpx.Response(404, json={"detail": "Not Found"})))


def test_a_history_refresh_without_the_events_api_says_what_to_do():
    with _server_without_events_api() as client, pytest.raises(NotFound) as raised:
        client.run(_state_changes(RUN_A, "2026-12-01T00:00:00+00:00"))
    assert "refreshing a history needs Prefect's events API" in str(raised.value)


def test_a_sync_without_the_events_api_finds_no_runs_by_event():
    with _server_without_events_api() as client:
        assert _flow_runs_with_events(client, datetime(2026, 12, 1, tzinfo=timezone.utc)) == set()
