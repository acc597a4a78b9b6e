"""The Prefect 1 view API against a real Prefect 3 server."""

from __future__ import annotations

import pytest

from prefect_widgets import (
    AmbiguousTaskRun,
    FlowRunView,
    FlowView,
    InvalidRequest,
    NotFound,
    State,
    TaskRunView,
)
from prefect_widgets.samples import MAPPED_SIZE

SEED_001 = '''
from prefect_widgets import FlowRunView

flow_run = FlowRunView.from_flow_run_id("{flow_run_id}")
flow_run.state
assert flow_run.state.is_finished() is True
assert flow_run.state.is_running() is False
flow_run.state.message
flow_run.flow
task_run = flow_run.get_task_run(task_slug='{slug}')
flow_run.task_run_ids
flow_run = flow_run.get_latest()
'''


def test_seed_001_examples_run_with_only_the_import_changed(runs):
    namespace: dict = {}
    exec(SEED_001.format(flow_run_id=runs["hello"], slug="capitalize"), namespace)
    assert namespace["task_run"].name.startswith("capitalize-")
    assert len(namespace["flow_run"].task_run_ids) == 2


def test_from_flow_run_id_fields(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    assert run.flow_run_id == runs["hello"]
    assert run.parameters == {"name": "world"}
    assert run.state.is_completed() and run.state.is_finished() and not run.state.is_running()
    assert run.start_time <= run.end_time
    assert run.total_run_time.total_seconds() > 0
    assert run.run_count == 1
    assert run.parent_task_run_id is None
    assert [s.type for s in run.states][-1] == "COMPLETED"
    assert "RUNNING" in [s.type for s in run.states]
    assert repr(run) == (f"FlowRunView(flow_run_id='{run.flow_run_id}', name='{run.name}', "
                         "state=<Completed>, cached_task_runs=0)")


def test_view_is_immutable(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    with pytest.raises(AttributeError):
        run.name = "other"  # type: ignore[misc]


def test_state_repr_and_helpers(runs):
    run = FlowRunView.from_flow_run_id(runs["failing"])
    assert run.state.is_failed() and run.state.is_finished()
    assert "Could not connect to warehouse" in run.state.message
    assert repr(run.state) == f'<Failed: "{run.state.message}">'
    assert repr(State.from_json(None)) == '<Pending: "No state recorded yet.">'
    assert State.from_json(None).is_pending()


def test_flow_is_lazy_and_cached(counting, runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["hello"], client=client)
    assert not [p for p in transport.paths if "/flows/" in p]
    flow = run.flow
    assert flow.name == "hello-world" and isinstance(flow, FlowView)
    assert run.flow is flow
    assert len([p for p in transport.paths if "/flows/" in p]) == 1
    assert repr(flow).startswith(f"FlowView(flow_id='{run.flow_id}', name='hello-world'")


def test_flow_view_constructors(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    assert FlowView.from_flow_name("hello-world").flow_id == run.flow_id
    assert FlowView.from_flow_id(run.flow_id).name == "hello-world"
    with pytest.raises(NotFound, match="No flow named 'no-such-flow'"):
        FlowView.from_flow_name("no-such-flow")


def test_get_latest_returns_new_instance_and_keeps_task_cache(counting, runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["hello"], client=client)
    task = run.get_task_run(task_slug="capitalize")
    assert run.cached_task_runs == 2  # the slug was looked up among the run's task runs
    latest = run.get_latest()
    assert latest is not run and latest.flow_run_id == run.flow_run_id
    assert latest.cached_task_runs == 2
    before = len(transport.paths)
    assert latest.get_task_run(task_run_id=task.task_run_id) is task
    assert latest.get_task_run(task_slug="capitalize") is task
    assert len(transport.paths) == before  # both answered from the cache


def test_get_task_run_by_name_key_and_id(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    by_task_name = run.get_task_run(task_slug="say_hello")
    by_name = run.get_task_run(task_slug=by_task_name.name)
    by_key = run.get_task_run(task_slug=by_task_name.task_key)
    by_id = run.get_task_run(task_run_id=by_task_name.task_run_id)
    assert by_name.task_run_id == by_key.task_run_id == by_id.task_run_id
    assert repr(by_id).startswith(f"TaskRunView(task_run_id='{by_id.task_run_id}', "
                                  f"task_key='{by_id.task_key}', name='{by_id.name}', "
                                  "state=<Completed>")
    assert repr(by_id).endswith("result=<not loaded>)")
    assert by_id.upstream_task_run_ids == [run.get_task_run(task_slug="capitalize").task_run_id]


def test_mapped_slug_is_ambiguous_until_map_index(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    with pytest.raises(AmbiguousTaskRun) as info:
        run.get_task_run(task_slug="square")
    assert len(info.value.candidates) == MAPPED_SIZE
    assert "map_index=" in str(info.value)
    seventh = run.get_task_run(task_slug="square", map_index=7)
    assert seventh.map_index == 7
    assert seventh.task_inputs.get("x") is not None
    with pytest.raises(NotFound, match="map_index=9999"):
        run.get_task_run(task_slug="square", map_index=9999)


def test_task_run_ids_page_past_200(counting, runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
    ids = run.task_run_ids
    assert len(ids) == len(set(ids)) == MAPPED_SIZE
    assert transport.paths.count("/api/task_runs/filter") == 3  # 200 + 200 + 50
    views = run.get_all_task_runs()
    assert [v.task_run_id for v in views] == ids
    assert sorted(v.map_index for v in views) == list(range(MAPPED_SIZE))
    assert run.cached_task_runs == MAPPED_SIZE


def test_task_run_view_from_id_and_latest(runs):
    run = FlowRunView.from_flow_run_id(runs["retrying"])
    task = run.get_task_run(task_slug="flaky_download")
    assert task.run_count == 3
    assert task.empirical_policy["retries"] == 2
    again = TaskRunView.from_task_run_id(task.task_run_id).get_latest()
    assert again == TaskRunView.from_task_run_id(task.task_run_id)
    assert again.flow_run_id == run.flow_run_id
    assert [s.name for s in again.states].count("Retrying") == 2


def test_unknown_and_malformed_ids(runs):
    with pytest.raises(NotFound, match="No flow run with id"):
        FlowRunView.from_flow_run_id("8e445d74-9ca6-425b-98e5-72754b7ea174")
    with pytest.raises(InvalidRequest, match="not a valid UUID"):
        FlowRunView.from_flow_run_id("woodoo-leopard")
    run = FlowRunView.from_flow_run_id(runs["hello"])
    with pytest.raises(InvalidRequest, match="exactly one"):
        run.get_task_run()
    with pytest.raises(NotFound, match="No task run matches slug 'nope'"):
        run.get_task_run(task_slug="nope")
    other = FlowRunView.from_flow_run_id(runs["mapped"]).task_run_ids[0]
    with pytest.raises(NotFound, match="belongs to flow run"):
        run.get_task_run(task_run_id=other)


async def _async_roundtrip(flow_run_id: str) -> tuple[str, int]:
    run = await FlowRunView.afrom_flow_run_id(flow_run_id)
    latest = await run.aget_latest()
    tasks = await latest.aget_all_task_runs()
    return latest.name, len(tasks)


def test_async_twins(runs):
    import asyncio

    name, count = asyncio.run(_async_roundtrip(runs["hello"]))
    assert name == FlowRunView.from_flow_run_id(runs["hello"]).name
    assert count == 2
