"""Fuzzing the records layer: arbitrary JSON-ish rows raise nothing but `BadResponse`, and
valid rows round-trip into frames with the documented dtypes (issue 17)."""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_widgets.errors import BadResponse
from prefect_widgets.records import (
    FLOW_RUN_COLUMNS,
    STATE_DTYPE,
    TASK_RUN_COLUMNS,
    TIMELINE_COLUMNS,
    flow_fields,
    flow_run_fields,
    flow_runs_frame,
    graph_nodes,
    states_from_json,
    task_run_fields,
    task_runs_frame,
    timeline_from_tasks,
)
from prefect_widgets.states import STATE_TYPES, State

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "COMPLETED",
                              "WAITING", "", "nan", "-1", "1e400", str(uuid.uuid4())]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
FIELDS = ("id", "name", "task_key", "dynamic_key", "flow_run_id", "flow_id", "state_type",
          "state_name", "state", "start_time", "end_time", "expected_start_time", "created",
          "updated", "total_run_time", "estimated_run_time", "run_count", "tags", "labels",
          "task_inputs", "empirical_policy", "cache_key", "parameters", "deployment_id")
STATE_FIELDS = ("type", "name", "message", "timestamp", "data", "state_details", "id")
states = st.fixed_dictionaries({}, optional={k: json_values for k in STATE_FIELDS})
shaped_rows = st.fixed_dictionaries({}, optional={
    **{k: json_values for k in FIELDS}, "state": states | json_values})
rows = shaped_rows | json_values


def typed_only(parse: Any, *args: Any) -> None:
    try:
        parse(*args)
    except BadResponse:
        pass


@FUZZ
@given(row=rows)
def test_single_record_parsers_raise_only_bad_response(row):
    for parse in (task_run_fields, flow_run_fields, flow_fields):
        typed_only(parse, row)


@FUZZ
@given(state=states | json_values)
def test_state_from_json_raises_only_bad_response(state):
    typed_only(State.from_json, state)
    typed_only(states_from_json, [state])


@FUZZ
@given(batch=st.lists(rows, max_size=5))
def test_frame_builders_raise_only_bad_response(batch):
    typed_only(task_runs_frame, batch)
    typed_only(flow_runs_frame, batch)
    typed_only(lambda b: timeline_from_tasks(task_runs_frame(b)), batch)


@FUZZ
@given(graph=st.fixed_dictionaries({}, optional={"nodes": st.lists(
    st.tuples(json_values, shaped_rows | json_values), max_size=4) | json_values}) | json_values)
def test_graph_nodes_raise_only_bad_response(graph):
    typed_only(graph_nodes, graph)


# ------------------------------------------------------------------ valid rows round-trip

times = st.datetimes(min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
                     max_value=pd.Timestamp("2100-01-01").to_pydatetime())


@st.composite
def valid_task_run(draw: Any) -> dict[str, Any]:
    state_type = draw(st.sampled_from(STATE_TYPES))
    start = draw(times)
    length = draw(st.floats(0, 10**6))
    return {
        "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "name": draw(st.text(max_size=20)), "task_key": draw(st.text(min_size=1, max_size=20)),
        "dynamic_key": draw(st.text(max_size=8)), "flow_run_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "state_type": state_type, "state_name": state_type.title(),
        "state": {"type": state_type, "name": state_type.title(),
                  "message": draw(st.none() | st.text(max_size=20))},
        "start_time": start.isoformat() + "Z",
        "end_time": (pd.Timestamp(start) + pd.Timedelta(seconds=length)).isoformat() + "Z",
        "expected_start_time": start.isoformat() + "+00:00",
        "run_count": draw(st.integers(0, 50)), "tags": draw(st.lists(st.text(max_size=5))),
        "total_run_time": length, "task_inputs": {}, "empirical_policy": {"retries": 1},
    }


@FUZZ
@given(batch=st.lists(valid_task_run(), max_size=8, unique_by=lambda r: r["id"]))
def test_valid_task_runs_round_trip_with_documented_dtypes(batch):
    frame = task_runs_frame(batch)
    assert {c: str(frame[c].dtype) for c in TASK_RUN_COLUMNS} == \
        {c: str(pd.Series(dtype=d).dtype) for c, d in TASK_RUN_COLUMNS.items()}
    assert frame["state_type"].dtype == STATE_DTYPE
    by_id = {r["id"]: r for r in batch}
    assert set(frame.index) == set(by_id)
    for task_run_id, row in frame.iterrows():
        source = by_id[task_run_id]
        assert row["state_type"] == source["state_type"] and row["name"] == source["name"]
        assert row["start_time"] == pd.Timestamp(source["start_time"])
        assert row["retries"] == max(0, source["run_count"] - 1)
    timeline = timeline_from_tasks(frame)
    assert list(timeline.columns) == list(TIMELINE_COLUMNS)
    assert timeline["state_type"].dtype == STATE_DTYPE


@FUZZ
@given(batch=st.lists(valid_task_run(), min_size=1, max_size=5, unique_by=lambda r: r["id"]),
       unknown=st.from_regex(r"[A-Z][A-Z_]{2,15}", fullmatch=True))
def test_unknown_state_types_stay_their_own_category(batch, unknown):
    batch[0] = {**batch[0], "state_type": unknown}
    frame = task_runs_frame(batch)
    assert frame["state_type"].notna().all()
    assert frame.loc[batch[0]["id"], "state_type"] == unknown
    flow_runs = flow_runs_frame([{**r, "flow_id": str(uuid.uuid4())} for r in batch])
    assert flow_runs["state_type"].notna().all()
    assert list(flow_runs.columns) == list(FLOW_RUN_COLUMNS)
