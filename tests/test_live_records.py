"""The task-run record a state event carries (`live.task_record_from_event`), and `newest`:
a REST read older than the event already drawn never moves a bar back."""

from __future__ import annotations

import uuid

from prefect_widgets.event_stream import parse_event
from prefect_widgets.live import newest, task_record_from_event
from prefect_widgets.records import task_runs_frame

TASK_RUN, FLOW_RUN = str(uuid.uuid4()), str(uuid.uuid4())


def event(state: str, occurred: str, **task_run: object) -> dict:
    """A `prefect.task-run.<state>` message shaped as Prefect 3.8's client emits it
    (`prefect/utilities/engine.emit_task_run_state_change_event`)."""
    return {"type": "event", "event": {
        "id": str(uuid.uuid4()), "event": f"prefect.task-run.{state.title()}",
        "occurred": occurred,
        "resource": {"prefect.resource.id": f"prefect.task-run.{TASK_RUN}",
                     "prefect.resource.name": "square-3a1", "prefect.state-type": state},
        "related": [{"prefect.resource.id": f"prefect.flow-run.{FLOW_RUN}",
                     "prefect.resource.role": "flow-run"},
                    {"prefect.resource.id": "prefect.tag.etl", "prefect.resource.role": "tag"}],
        "payload": {
            "intended": {"from": "PENDING", "to": state},
            "validated_state": {"type": state, "name": state.title(), "message": "",
                                "state_details": {}},
            "task_run": {"name": "square-3a1", "task_key": "square-abc", "dynamic_key": "3",
                         "tags": ["etl"], "run_count": 1, "empirical_policy": {"retries": 2},
                         "task_inputs": {}, **task_run}}}}


def test_a_running_event_is_the_record_the_rest_api_will_serve():
    record = task_record_from_event(parse_event(event(
        "RUNNING", "2026-12-02T10:00:01.500000Z", start_time="2026-12-02T10:00:01.500000Z")))
    assert record["id"] == TASK_RUN and record["flow_run_id"] == FLOW_RUN
    assert record["state_type"] == "RUNNING" and record["state"]["name"] == "Running"
    assert record["state"]["state_details"]["task_run_id"] == TASK_RUN
    frame = task_runs_frame([record])
    row = frame.loc[TASK_RUN]
    assert row["task_name"] == "square" and row["dynamic_key"] == "3"
    assert str(row["state_type"]) == "RUNNING" and row["tags"] == ["etl"]
    assert row["start_time"].isoformat() == "2026-12-02T10:00:01.500000+00:00"
    assert row["max_retries"] == 2


def test_other_events_carry_no_task_record():
    flow_event = event("RUNNING", "2026-12-02T10:00:01Z")
    flow_event["event"]["resource"]["prefect.resource.id"] = f"prefect.flow-run.{FLOW_RUN}"
    assert task_record_from_event(parse_event(flow_event)) is None
    bare = event("RUNNING", "2026-12-02T10:00:01Z")
    del bare["event"]["payload"]["task_run"]
    assert task_record_from_event(parse_event(bare)) is None


def test_newest_keeps_the_latest_state_per_task_run():
    completed = task_record_from_event(parse_event(event(
        "COMPLETED", "2026-12-02T10:00:03Z", end_time="2026-12-02T10:00:03Z")))
    held: dict = {}
    assert newest(held, [completed]) == [completed]
    lagging_rest = {**completed, "state_type": "RUNNING",
                    "state": {"type": "RUNNING", "timestamp": "2026-12-02T10:00:01+00:00"}}
    assert newest(held, [lagging_rest]) == []  # the server had not written Completed yet
    assert held[TASK_RUN] is completed
    caught_up = {**completed, "created": "2026-12-02T10:00:00Z"}  # same state, read later
    assert newest(held, [caught_up]) == [caught_up] and held[TASK_RUN] is caught_up
