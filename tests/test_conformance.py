"""Servers that answer like Prefect but odd: each case ends in complete data or a typed error.

The fake servers (`tests/fake_server.py`) produce what a real server cannot: missing endpoints,
odd timestamps, rows without ids, lying counts, unknown state types. The cases of issue 17's
fault matrix are marked `fault_matrix`. The last tests drive the real server (names, slugs).
"""

from __future__ import annotations

import pandas as pd
import pytest
from fake_server import FLOW_RUN_ID, Behaviour, FakePrefect, flow_run, task_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefect_widgets import FlowRunView, FlowView, TaskRunView
from prefect_widgets.client import Client, RetryPolicy
from prefect_widgets.errors import BadResponse, IncompleteData, NotFound, PrefectWidgetsError
from prefect_widgets.gantt import plot_gantt
from prefect_widgets.run_lists import FlowRunList
from prefect_widgets.rundata import graph_nodes_since

NO_RETRY = RetryPolicy(max_retries=0)


def view_of(fake: FakePrefect) -> FlowRunView:
    return FlowRunView.from_flow_run_id(FLOW_RUN_ID, client=Client(fake.api_url, retry=NO_RETRY))


# ------------------------------------------------------------------ missing endpoints


@pytest.mark.fault_matrix
@pytest.mark.parametrize("status", [404, 405])
def test_a_server_without_graph_v2_is_answered_from_the_records(status):
    behaviour = Behaviour(rows=[task_run(n) for n in range(5)], missing={"graph-v2": status})
    with FakePrefect(behaviour) as fake, Client(fake.api_url, retry=NO_RETRY) as client:
        nodes = graph_nodes_since(client, FLOW_RUN_ID)
        assert sorted(nodes.index) == sorted(r["id"] for r in behaviour.rows)
        assert set(nodes["state_type"].astype(str)) == {"COMPLETED"}
        since = pd.Timestamp("2026-01-01T00:00:03Z").to_pydatetime()
        assert len(graph_nodes_since(client, FLOW_RUN_ID, since)) == 3  # ended at 3 s or later
        with pytest.raises(NotFound, match="No flow run with id"):
            graph_nodes_since(client, "0190b6d6-6a50-7c1e-9d52-000000000bad")


@pytest.mark.fault_matrix
def test_a_server_without_graph_v2_is_not_blamed_on_the_run_when_the_run_exists():
    behaviour = Behaviour(rows=[task_run(1)], missing={"graph-v2": 404})
    with FakePrefect(behaviour) as fake, Client(fake.api_url, retry=NO_RETRY) as client:
        assert list(graph_nodes_since(client, FLOW_RUN_ID).index) == [behaviour.rows[0]["id"]]
    assert any(seen.endswith("/graph-v2") for seen in behaviour.seen)


def test_a_server_without_count_names_the_missing_endpoint():
    behaviour = Behaviour(rows=[task_run(n) for n in range(450)], missing={"/count$": 404})
    with FakePrefect(behaviour) as fake:
        with pytest.raises(NotFound, match="no /task_runs/count endpoint"):
            view_of(fake).to_dataframe()


def test_a_server_without_the_csrf_route_still_reads():
    behaviour = Behaviour(rows=[task_run(n) for n in range(3)], missing={"csrf-token": 404})
    with FakePrefect(behaviour) as fake:
        assert len(view_of(fake).to_dataframe()) == 3


# ------------------------------------------------------------------ unknown states


@pytest.mark.fault_matrix
def test_unknown_state_types_are_kept_and_drawn_grey():
    rows = [task_run(0), task_run(1, "AWAITING_APPROVAL"), task_run(2, "RUNNING", end_time=None)]
    behaviour = Behaviour(rows=rows, flow_run=flow_run("AWAITING_APPROVAL"))
    with FakePrefect(behaviour) as fake:
        view = view_of(fake)
        frame = view.to_dataframe()
        timeline = view.to_dataframe(columns="timeline")
        figure = plot_gantt(timeline)
    assert view.state.type == "AWAITING_APPROVAL" and not view.state.is_finished()
    assert frame["state_type"].notna().all()
    assert frame.loc[rows[1]["id"], "state_type"] == "AWAITING_APPROVAL"
    assert "AWAITING_APPROVAL" in frame["state_type"].cat.categories
    assert timeline["state_type"].astype(str).tolist().count("AWAITING_APPROVAL") == 1
    grey = [t for t in figure.data if t.name == "Awaiting_Approval" and t.mode == "lines"]
    assert grey and grey[0].line.color == "#9ca3af"


def test_known_states_keep_the_documented_dtype():
    with FakePrefect(Behaviour(rows=[task_run(0), task_run(1, "FAILED")])) as fake:
        frame = view_of(fake).to_dataframe()
    from prefect_widgets.records import STATE_DTYPE
    assert frame["state_type"].dtype == STATE_DTYPE


# ------------------------------------------------------------------ rows and counts


@pytest.mark.fault_matrix
@pytest.mark.parametrize("row_id", [None, "", 17, ["a"], {"x": 1}])
def test_rows_without_ids_are_a_bad_response(row_id):
    rows = [task_run(n) for n in range(3)]
    rows[1]["id"] = row_id
    with FakePrefect(Behaviour(rows=rows)) as fake:
        with pytest.raises(BadResponse, match="no id"):
            view_of(fake).to_dataframe()


@pytest.mark.fault_matrix
def test_a_count_above_the_rows_is_incomplete_data():
    with FakePrefect(Behaviour(rows=[task_run(n) for n in range(250)], count_error=7)) as fake:
        with pytest.raises(IncompleteData, match="counted 257"):
            view_of(fake).to_dataframe()
        with pytest.raises(IncompleteData):
            TaskRunView.query(client=Client(fake.api_url, retry=NO_RETRY), limit=None)


@pytest.mark.fault_matrix
def test_a_count_below_the_rows_still_returns_every_row():
    with FakePrefect(Behaviour(rows=[task_run(n) for n in range(250)], count_error=-40)) as fake:
        frame = view_of(fake).to_dataframe()
        listing = TaskRunView.query(client=Client(fake.api_url, retry=NO_RETRY), limit=None)
    assert len(frame) == 250 and len(listing) == 250 and listing.total == 250


@pytest.mark.fault_matrix
def test_a_limited_listing_cut_below_its_count_raises():
    behaviour = Behaviour(rows=[task_run(n) for n in range(5)], count_error=100)
    with FakePrefect(behaviour) as fake:
        with pytest.raises(IncompleteData):
            TaskRunView.query(client=Client(fake.api_url, retry=NO_RETRY), limit=20)


# ------------------------------------------------------------------ odd timestamps


@pytest.mark.parametrize("stamp, expected", [
    ("2026-01-01T00:00:05", "2026-01-01T00:00:05Z"),  # no zone: UTC
    ("2026-01-01T00:00:05Z", "2026-01-01T00:00:05Z"),
    ("2026-01-01T01:00:05+01:00", "2026-01-01T00:00:05Z"),
    ("2026-01-01T00:00:05.123456789Z", "2026-01-01T00:00:05.123456789Z"),
    (None, None),
])
def test_odd_timestamps_read_as_utc(stamp, expected):
    rows = [task_run(0, start_time=stamp)]
    with FakePrefect(Behaviour(rows=rows)) as fake:
        view = view_of(fake)
        frame = view.to_dataframe()
        task = view.task_runs()[0]
    got = frame["start_time"].iloc[0]
    assert (pd.isna(got) and expected is None) or got == pd.Timestamp(expected)
    assert task.start_time is None or task.start_time.tzinfo is not None


@pytest.mark.parametrize("stamp", ["garbage", "2026-13-45T99:00:00Z", 12345, ["2026"], {}])
def test_garbage_timestamps_are_a_bad_response(stamp):
    with FakePrefect(Behaviour(rows=[task_run(0, start_time=stamp)])) as fake:
        with pytest.raises(BadResponse):
            view_of(fake).to_dataframe()


# ------------------------------------------------------------------ bad inputs

odd_inputs = (st.none() | st.booleans() | st.integers(-2**80, 2**80) | st.floats()
              | st.text(max_size=12) | st.binary(max_size=4) | st.lists(st.integers(), max_size=2)
              | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
PUBLIC_CALLS = {
    "query.limit": lambda c, v, w: TaskRunView.query(client=c, limit=w),
    "query.offset": lambda c, v, w: TaskRunView.query(client=c, offset=w),
    "query.sort": lambda c, v, w: TaskRunView.query(client=c, sort=w),
    "query.state_type": lambda c, v, w: TaskRunView.query(client=c, state_type=w),
    "query.name": lambda c, v, w: TaskRunView.query(client=c, name=w),
    "query.task_key": lambda c, v, w: TaskRunView.query(client=c, task_key=w),
    "query.flow_run_id": lambda c, v, w: TaskRunView.query(client=c, flow_run_id=w),
    "query.after": lambda c, v, w: TaskRunView.query(client=c, start_time_after=w),
    "count.state_type": lambda c, v, w: TaskRunView.count(client=c, state_type=w),
    "from_flow_run_id": lambda c, v, w: FlowRunView.from_flow_run_id(w, client=c),
    "from_flow_name": lambda c, v, w: FlowView.from_flow_name(w, client=c),
    "get_task_run.slug": lambda c, v, w: v.get_task_run(task_slug=w),
    "get_task_run.map_index": lambda c, v, w: v.get_task_run(task_slug="work", map_index=w),
    "get_task_run.id": lambda c, v, w: v.get_task_run(task_run_id=w),
    "to_dataframe.columns": lambda c, v, w: v.to_dataframe(columns=w),
    "task_run_counts": lambda c, v, w: FlowRunList([v]).task_run_counts(max_workers=w),
    "get_result.storage_path": lambda c, v, w: v.get_result(storage_path=w),
}


@pytest.fixture(scope="module")
def odd_server():
    with FakePrefect(Behaviour(rows=[task_run(n) for n in range(3)])) as fake:
        client = Client(fake.api_url, retry=NO_RETRY)
        yield client, FlowRunView.from_flow_run_id(FLOW_RUN_ID, client=client)


@pytest.mark.parametrize("call", PUBLIC_CALLS)
def test_bad_inputs_end_in_typed_errors(call, odd_server):
    client, view = odd_server

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=odd_inputs)
    def drive(value):
        try:
            PUBLIC_CALLS[call](client, view, value)
        except PrefectWidgetsError as exc:
            assert str(exc)
    drive()


# ------------------------------------------------------------------ the real server


@pytest.fixture(scope="module")
def named(prefect_server) -> dict[str, str]:
    return prefect_server.run_flows("named_3", "load_files")


def test_a_flow_name_with_query_characters_is_one_path_segment(api_url, runs):
    for name in ("etl?v=2", "a#b", "50% done", "x/../y", ".."):
        with pytest.raises(NotFound, match="No flow named"):
            FlowView.from_flow_name(name)
    assert FlowView.from_flow_name("hello-world").name == "hello-world"


def test_slug_by_task_name_for_runs_with_a_custom_task_run_name(named, runs):
    hostile = FlowRunView.from_flow_run_id(runs["hostile"])
    assert hostile.get_task_run(task_slug="hostile_task").task_key.startswith("hostile_task-")
    files = FlowRunView.from_flow_run_id(named["load_files"])
    assert files.get_task_run(task_slug="load_file", map_index=1).name == "load-beta.csv"
    squares = FlowRunView.from_flow_run_id(named["named_3"])
    assert squares.get_task_run(task_slug="named_square", map_index=2).name == "sq-2"


def test_task_key_queries_match_exactly_not_like(named):
    files = FlowRunView.from_flow_run_id(named["load_files"])
    key = files.task_runs()[0].task_key
    found = TaskRunView.query(flow_run_id=files.flow_run_id, task_key=key, limit=None)
    assert len(found) == 4 and found.total == 4  # names like "load-alpha.csv" hold no key stem
    wildcard = key.replace("_", "%", 1)
    assert len(TaskRunView.query(flow_run_id=files.flow_run_id, task_key=wildcard)) == 0
    underscore = key.replace("d_", "d?", 1).replace("?", "_")
    assert underscore == key or not len(TaskRunView.query(task_key=underscore))


def test_every_error_here_is_typed():
    assert issubclass(IncompleteData, PrefectWidgetsError)
