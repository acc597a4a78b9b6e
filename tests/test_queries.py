"""Queries, counts, logs, results and subflows against the real server (seeds 000-002)."""

from __future__ import annotations

import threading

import httpx
import pytest

from prefect_widgets import (
    FlowRunList,
    FlowRunView,
    InvalidRequest,
    ResultNotAvailable,
    TaskRunList,
    TaskRunView,
    watch_flow_run,
)
from prefect_widgets.samples import MAPPED_SIZE


def server_count(api_url: str, kind: str, body: dict) -> int:
    return httpx.post(f"{api_url}/{kind}/count", json=body).json()


def server_filter(api_url: str, kind: str, body: dict) -> list[dict]:
    return httpx.post(f"{api_url}/{kind}/filter", json=body).json()


def test_seed_task_runs_of_a_flow_run(api_url, runs):
    """query { task_run(where: {flow_run_id: {_eq: ...}}) { id state start_time task {slug} } }"""
    found = TaskRunView.query(flow_run_id=runs["hello"])
    assert isinstance(found, TaskRunList)
    expected = server_filter(api_url, "task_runs",
                             {"flow_runs": {"id": {"any_": [runs["hello"]]}}})
    assert sorted(t.task_run_id for t in found) == sorted(r["id"] for r in expected)
    assert {t.name.rsplit("-", 1)[0] for t in found} == {"capitalize", "say_hello"}


def test_seed_flow_run_by_name_returns_a_list(runs):
    """query { flow_run(where: {name: {_eq: "woodoo-leopard"}}) { id state start_time } }"""
    name = FlowRunView.from_flow_run_id(runs["hello"]).name
    found = FlowRunView.query(name=name)
    assert isinstance(found, FlowRunList)
    assert [r.flow_run_id for r in found] == [runs["hello"]]
    assert FlowRunView.from_flow_run_name(name).flow_run_id == runs["hello"]


def test_seed_count_of_completed_task_runs(api_url):
    """query { task_run_aggregate(where: {state: {_eq: "Success"}}) { aggregate { count } } }"""
    ours = TaskRunView.count(state_type="COMPLETED")
    theirs = server_count(api_url, "task_runs",
                          {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}})
    assert ours == theirs >= MAPPED_SIZE


def test_seed_count_of_failed_flow_runs(api_url):
    """query { flow_run_aggregate(where: {state: {_eq: "Failed"}}) { aggregate { count } } }"""
    ours = FlowRunView.count(state_type="FAILED")
    theirs = server_count(api_url, "flow_runs",
                          {"flow_runs": {"state": {"type": {"any_": ["FAILED"]}}}})
    assert ours == theirs >= 2  # nightly-etl and hostile


def test_count_by_state_sums_to_total(api_url):
    by_state = FlowRunView.count_by_state()
    assert sum(by_state.values()) == server_count(api_url, "flow_runs", {})
    assert by_state["FAILED"] == FlowRunView.count(state_type="FAILED")
    tasks = TaskRunView.count_by_state()
    assert sum(tasks.values()) == server_count(api_url, "task_runs", {})
    assert all(n > 0 for n in tasks.values())


def test_query_pages_past_200_sorted_without_duplicates(runs):
    found = TaskRunView.query(flow_run_id=runs["mapped"], limit=None, sort="NAME_ASC")
    ids = [t.task_run_id for t in found]
    assert len(ids) == len(set(ids)) == MAPPED_SIZE
    names = [t.name for t in found]
    assert names == sorted(names)
    newest_first = TaskRunView.query(flow_run_id=runs["mapped"], limit=None,
                                     sort="EXPECTED_START_TIME_DESC")
    starts = [t.expected_start_time for t in newest_first]
    assert starts == sorted(starts, reverse=True)


def test_limit_offset_and_filter_escape_hatch(runs):
    everything = TaskRunView.query(flow_run_id=runs["mapped"], limit=None, sort="NAME_ASC")
    window = TaskRunView.query(flow_run_id=runs["mapped"], limit=5, offset=210, sort="NAME_ASC")
    assert [t.task_run_id for t in window] == [t.task_run_id for t in everything[210:215]]
    raw = TaskRunView.query(filter={"flow_runs": {"id": {"any_": [runs["hello"]]}},
                                    "task_runs": {"name": {"like_": "capitalize"}}})
    assert [t.name.split("-")[0] for t in raw] == ["capitalize"]


def test_task_filters(runs):
    failed = TaskRunView.query(state_type="FAILED", flow_name="nightly-etl")
    assert [t.name.rsplit("-", 1)[0] for t in failed] == ["write_to_warehouse"]
    tagged = TaskRunView.query(flow_run_id=runs["diamond"], tags=["fast"])
    assert len(tagged) == 4
    assert len(TaskRunView.query(flow_run_id=runs["hello"], task_key=tagged[0].task_key)) == 0
    key = TaskRunView.query(flow_run_id=runs["hello"])[0].task_key
    assert [t.task_key for t in TaskRunView.query(flow_run_id=runs["hello"], task_key=key)] == [key]
    parents = TaskRunView.query(flow_run_id=runs["subflow"], subflow_runs=True)
    assert len(parents) == 1
    retrying = TaskRunView.query(state_name="Completed", flow_run_id=runs["retrying"])
    assert retrying[0].run_count == 3


def test_flow_run_filters(runs):
    hello = FlowRunView.from_flow_run_id(runs["hello"])
    assert runs["hello"] in [r.flow_run_id for r in FlowRunView.query(flow_id=hello.flow_id)]
    assert [r.flow_run_id for r in FlowRunView.query(flow_name="nightly-etl")] == [runs["failing"]]
    failed = FlowRunView.query(state_type=["FAILED", "CRASHED"], limit=None)
    assert runs["failing"] in [r.flow_run_id for r in failed]
    assert all(r.state.type in ("FAILED", "CRASHED") for r in failed)
    after = FlowRunView.query(start_time_after=hello.start_time, sort="START_TIME_ASC")
    assert after[0].start_time >= hello.start_time


def test_bad_queries_fail_before_any_request():
    with pytest.raises(TypeError, match="valid filters"):
        TaskRunView.query(flow_run=1)
    with pytest.raises(InvalidRequest, match="Unknown state_type 'DONE'"):
        FlowRunView.query(state_type="DONE")
    with pytest.raises(InvalidRequest, match="valid: ID_DESC"):
        TaskRunView.query(sort="START_TIME_SIDEWAYS")
    with pytest.raises(InvalidRequest, match="limit"):
        FlowRunView.query(limit=-1)


def test_logs_complete_in_order_and_task_subset(api_url, runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    logs = run.get_logs()
    server = server_filter(api_url, "logs", {"logs": {"flow_run_id": {"any_": [runs["hello"]]}},
                                             "limit": 200})
    assert len(logs) == len(server)
    stamps = [e.timestamp for e in logs]
    assert stamps == sorted(stamps)
    assert any("Hello, WORLD!" in e.message for e in logs)
    task = run.get_task_run(task_slug="say_hello")
    task_logs = task.get_logs()
    assert {e.id for e in task_logs} <= {e.id for e in logs}
    assert [e.message for e in task_logs if "Hello" in e.message] == ["Hello, WORLD!"]
    errors = FlowRunView.from_flow_run_id(runs["failing"]).get_logs(level="ERROR")
    assert errors and all(e.level >= 40 for e in errors)
    frame = logs.to_dataframe()
    assert len(frame) == len(logs) and str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_watch_flow_run_streams_states_and_logs(prefect_server):
    run_ids: dict[str, str] = {}

    def start() -> None:
        run_ids.update(prefect_server.run_flows("slow"))

    # Watch the next slow-pipeline run: start it, find it, follow it to the end.
    before = {r.flow_run_id for r in FlowRunView.query(flow_name="slow-pipeline", limit=None)}
    thread = threading.Thread(target=start)
    thread.start()
    try:
        new = None
        for _ in range(100):
            found = FlowRunView.query(flow_name="slow-pipeline", limit=None)
            new = next((r for r in found if r.flow_run_id not in before), None)
            if new is not None:
                break
            threading.Event().wait(0.2)
        assert new is not None
        entries = list(watch_flow_run(new.flow_run_id, poll_interval=0.5, max_duration=120))
    finally:
        thread.join()
    messages = [e.message for e in entries]
    assert any(m.startswith("Entered state Running") for m in messages)
    assert messages.index(next(m for m in messages if m.startswith("Entered state Running"))) < \
        messages.index(next(m for m in messages if m.startswith("Entered state Completed")))
    assert any("finished stage 1 of" in m for m in messages)
    assert len({e.id for e in entries}) == len(entries)


def test_json_result_loads_and_unpersisted_explains(prefect_server, runs, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(prefect_server.home))
    run = FlowRunView.from_flow_run_id(runs["persisted"])
    assert run.get_result() == {"rows": 3, "ok": True}
    task = run.get_task_run(task_slug="compute_summary")
    assert task.get_result() == {"rows": 3, "ok": True}
    assert repr(task).endswith("result=<loaded>)")
    with pytest.raises(ResultNotAvailable, match="persist_result=True"):
        run.get_task_run(task_slug="ephemeral").get_result()
    failed = FlowRunView.from_flow_run_id(runs["failing"])
    with pytest.raises(ResultNotAvailable, match="Failed, not Completed"):
        failed.get_result()


def test_pickled_result_needs_opt_in(prefect_server, tmp_path):
    import base64
    import json

    import cloudpickle

    from prefect_widgets.results import load_result
    from prefect_widgets.states import State

    record = {"metadata": {"serializer": {"type": "pickle"}},
              "result": base64.b64encode(cloudpickle.dumps({"x": 1})).decode()}
    (tmp_path / "abc").write_text(json.dumps(record))
    state = State(type="COMPLETED", name="Completed", data={"storage_key": str(tmp_path / "abc")})
    with pytest.raises(ResultNotAvailable, match="allow_pickle=True"):
        load_result(state, "task run 'x'", storage_path=str(tmp_path))
    assert load_result(state, "task run 'x'", storage_path=str(tmp_path),
                       allow_pickle=True) == {"x": 1}


def test_subflow_navigation_both_ways(runs):
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    children = parent.subflow_runs
    assert len(children) == 1
    child = children[0]
    assert child.flow.name == "child-report"
    assert child.parent_flow_run.flow_run_id == parent.flow_run_id
    link = TaskRunView.from_task_run_id(child.parent_task_run_id)
    assert link.flow_run_id == parent.flow_run_id
    assert link.child_flow_run.flow_run_id == child.flow_run_id
    assert parent.parent_flow_run is None
    assert parent.deployment is None
