"""Prefect 1 parity gaps, closed against a real Prefect 3 server (each failed before)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

import prefect_widgets.views as views_module
from prefect_widgets import (
    AmbiguousTaskRun,
    FlowRunView,
    FlowView,
    InvalidRequest,
    NotFound,
    ResultNotAvailable,
    TaskRunView,
)
from prefect_widgets.samples import MAPPED_SIZE, wait_until_recorded

MISSING = "8e445d74-9ca6-425b-98e5-72754b7ea174"


# ---- 1. errors


def test_not_found_is_a_value_error_as_in_prefect1(runs):
    with pytest.raises(ValueError, match="No flow run with id"):
        FlowRunView.from_flow_run_id(MISSING)
    with pytest.raises(LookupError):
        TaskRunView.from_task_run_id(MISSING)
    with pytest.raises(NotFound):
        TaskRunView.from_task_run_id(MISSING)
    with pytest.raises(ValueError):
        FlowView.from_flow_id(MISSING)


# ---- 2. results are cached


@pytest.fixture
def loads(monkeypatch, prefect_server) -> list[str]:
    """Every result file load the views make (the real loader, counted)."""
    monkeypatch.setenv("PREFECT_HOME", str(prefect_server.home))
    calls: list[str] = []
    real = views_module.load_result

    def counted(state, what, **kwargs):
        calls.append(what)
        return real(state, what, **kwargs)
    monkeypatch.setattr(views_module, "load_result", counted)
    return calls


def test_get_result_is_read_once_per_view(loads, runs):
    run = FlowRunView.from_flow_run_id(runs["persisted"])
    assert run.get_result() == {"rows": 3, "ok": True}
    assert run.get_result() == {"rows": 3, "ok": True}
    assert len(loads) == 1
    task = run.get_task_run(task_slug="compute_summary")
    assert repr(task).endswith("result=<not loaded>)")
    assert task.get_result() == task.get_result() == {"rows": 3, "ok": True}
    assert len(loads) == 2
    assert repr(task).endswith("result=<loaded>)")


def test_task_run_get_latest_keeps_a_loaded_result(loads, runs):
    task = FlowRunView.from_flow_run_id(runs["persisted"]).get_task_run(
        task_slug="compute_summary")
    value = task.get_result()
    latest = task.get_latest()
    assert latest is not task and repr(latest).endswith("result=<loaded>)")
    assert latest.get_result() is value
    assert len(loads) == 1
    fresh = TaskRunView.from_task_run_id(task.task_run_id)  # a new view loads on its own
    assert repr(fresh).endswith("result=<not loaded>)")


def test_failed_result_load_is_not_cached(loads, runs):
    failed = FlowRunView.from_flow_run_id(runs["failing"])
    for _ in range(2):
        with pytest.raises(ResultNotAvailable):
            failed.get_result()
    assert len(loads) == 2


# ---- 3. get_task_run: id and slug together, map_index checks


def test_task_run_id_with_wrong_map_index_raises(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    child = run.get_task_run(task_slug="square", map_index=7)
    fresh = FlowRunView.from_flow_run_id(runs["mapped"])
    assert fresh.get_task_run(task_run_id=child.task_run_id, map_index=7) == child
    with pytest.raises(InvalidRequest, match=r"has map_index=7.*not map_index=8"):
        fresh.get_task_run(task_run_id=child.task_run_id, map_index=8)
    with pytest.raises(InvalidRequest, match="ran several times"):
        fresh.get_task_run(task_run_id=child.task_run_id, map_index=-1)
    with pytest.raises(InvalidRequest, match="map_index must be"):
        fresh.get_task_run(task_run_id=child.task_run_id, map_index=-2)


def test_task_run_id_and_slug_together_must_agree(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    hello = run.get_task_run(task_slug="say_hello")
    assert run.get_task_run(task_slug="say_hello", task_run_id=hello.task_run_id) == hello
    assert run.get_task_run(task_slug=hello.name, task_run_id=hello.task_run_id) == hello
    assert run.get_task_run(task_slug="say_hello", task_run_id=hello.task_run_id,
                            map_index=-1) == hello
    with pytest.raises(InvalidRequest, match="task_slug='capitalize' does not name"):
        run.get_task_run(task_slug="capitalize", task_run_id=hello.task_run_id)


def test_map_index_minus_one_means_the_single_run(runs):
    hello = FlowRunView.from_flow_run_id(runs["hello"])
    assert hello.get_task_run("say_hello", map_index=-1).task_name == "say_hello"
    mapped = FlowRunView.from_flow_run_id(runs["mapped"])
    with pytest.raises(AmbiguousTaskRun, match="map_index=-1") as info:
        mapped.get_task_run("square", map_index=-1)
    assert len(info.value.candidates) == MAPPED_SIZE
    one = mapped.get_task_run("square", map_index=3)
    with pytest.raises(AmbiguousTaskRun):  # a run name of a mapped task is not "not mapped"
        mapped.get_task_run(one.name, map_index=-1)


def test_map_index_selects_the_child_made_from_that_input(prefect_server):
    flow_run_id = prefect_server.run_flows("named_40")["named_40"]
    wait_until_recorded(prefect_server.api_url, [flow_run_id])
    run = FlowRunView.from_flow_run_id(flow_run_id)
    children = run.task_runs()
    certain = [v for v in children if not v.map_index_uncertain]
    assert certain  # how many share a millisecond depends on the machine's load
    for i in sorted(v.map_index for v in certain):
        assert run.get_task_run("named_square", map_index=i).name == f"sq-{i}"
    for view in children:  # an uncertain index still selects that very child
        assert run.get_task_run("named_square", map_index=view.map_index) is view


# ---- 4. get_all_task_runs downloads only what is not cached


def test_get_all_task_runs_skips_finished_runs_already_cached(counting, runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
    first = run.get_all_task_runs()
    assert transport.paths.count("/api/task_runs/filter") == 3  # 200 + 200 + 50
    before = len(transport.paths)
    again = run.get_all_task_runs()
    asked = transport.paths[before:]
    assert asked.count("/api/task_runs/filter") == 1  # the unfinished ones: none
    assert asked.count("/api/task_runs/count") == 2  # before, and after to prove it whole
    assert [v.task_run_id for v in again] == [v.task_run_id for v in first]
    assert all(a is b for a, b in zip(again, first))  # the cached views themselves
    latest = run.get_latest()
    before = len(transport.paths)
    assert latest.task_run_ids == [v.task_run_id for v in first]
    assert transport.paths[before:].count("/api/task_runs/filter") == 1


def test_get_all_task_runs_with_a_partial_cache_reads_the_rest(counting, runs):
    client, transport = counting
    full = FlowRunView.from_flow_run_id(runs["mapped"]).get_all_task_runs()
    run = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
    for view in full[:5]:
        run.get_task_run(task_run_id=view.task_run_id)
    assert run.cached_task_runs == 5
    views = run.get_all_task_runs()
    assert [(v.task_run_id, v.map_index) for v in views] == \
        [(v.task_run_id, v.map_index) for v in full]
    assert run.cached_task_runs == MAPPED_SIZE


# ---- 5. logs stop at the snapshot


def test_logs_of_an_unfinished_snapshot_stop_at_its_updated_time(runs):
    run = FlowRunView.from_flow_run_id(runs["slow"])
    every = run.get_logs()
    assert len(every) >= 4
    cut = every[len(every) // 2].timestamp
    # the same run as an older snapshot showed it: still running, last changed at `cut`
    older = FlowRunView.from_json({**run.raw, "updated": cut.isoformat(),
                                   "state": {**run.raw["state"], "type": "RUNNING",
                                             "name": "Running"}})
    assert older.updated_at == cut
    seen = older.get_logs()
    assert 0 < len(seen) < len(every)
    assert all(e.timestamp <= cut for e in seen)
    assert [e.id for e in seen] == [e.id for e in every if e.timestamp <= cut]
    assert len(older.get_logs(end_time=None)) == len(every)  # explicitly unbounded


def test_logs_start_time_and_end_time(runs):
    run = FlowRunView.from_flow_run_id(runs["slow"])
    every = run.get_logs()
    start, end = every[1].timestamp, every[-2].timestamp
    window = run.get_logs(start_time=start, end_time=end)  # start exclusive, as in Prefect 1
    assert [e.id for e in window] == [e.id for e in every if start < e.timestamp <= end]
    assert [e.id for e in run.get_logs(since=start)] == \
        [e.id for e in every if start <= e.timestamp]  # since= stays inclusive
    assert len(run.get_logs(end_time=every[0].timestamp - timedelta(seconds=1))) == 0
    with pytest.raises(InvalidRequest, match="not both"):
        run.get_logs(since=start, start_time=start)
    task = run.task_runs()[0]
    assert all(start < e.timestamp for e in task.get_logs(start_time=start))


# ---- 6. Prefect 1 names next to ours


def test_prefect1_names(counting, runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["hello"], client=client)
    assert run.updated_at == run.updated is not None
    assert run.get_flow_metadata() is run.flow
    assert run.flow.updated_at == run.flow.updated
    assert run.get_task_run_ids() == run.task_run_ids
    task = run.get_task_run("say_hello")
    assert task.updated_at == task.updated
    assert TaskRunView.from_task_slug("say_hello", runs["hello"]) == task
    assert TaskRunView.from_task_slug("square", runs["mapped"], map_index=3).map_index == 3
    with pytest.raises(AmbiguousTaskRun):
        TaskRunView.from_task_slug("square", runs["mapped"])
    lazy = FlowRunView.from_flow_run_id(runs["hello"], load_static_tasks=False, client=client)
    assert lazy.cached_task_runs == 0
    before = len(transport.paths)
    loaded = FlowRunView.from_flow_run_id(runs["hello"], load_static_tasks=True, client=client)
    assert loaded.cached_task_runs == 2
    loaded.get_task_run("capitalize")
    assert transport.paths[before:].count("/api/task_runs/filter") == 1


def test_replace_keeps_views_frozen(runs):
    """`updated_at` is read-only, like every field of a snapshot."""
    run = FlowRunView.from_flow_run_id(runs["hello"])
    with pytest.raises(AttributeError):
        run.updated_at = None  # type: ignore[misc]
    assert replace(run, updated=None).updated_at is None
