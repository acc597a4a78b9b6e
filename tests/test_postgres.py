"""The core view API against a Prefect server backed by PostgreSQL instead of SQLite.

A module fixture starts Debian's PostgreSQL (installed by `./dev test`, which also creates the
system user it runs as; skipped with the reason otherwise) on loopback in a temp directory
(tests/pg.py),
then a Prefect server with `PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...`,
runs the sample flows into it and waits until their task runs are recorded.

Compared with SQLite (Prefect 3.8.8, PostgreSQL 15, same sample flows, 2026-11) every
assertion below holds unchanged. Observed:
- Timestamp precision is the same: microseconds (all 1,800 timestamps of the mapped run's
  task runs have 6 fractional digits on both), no `expected_start_time` ties among its 450
  task runs on either, and log rows come back in timestamp order on both.
- Unsorted `/task_runs/filter` rows came back in another order (PostgreSQL's heap order,
  not insertion order): the library always sends a `sort` and orders task runs client-side
  by (expected_start_time, id), so it is not affected.
- Slower set-up: `wait_until_recorded` took 11-32 s here for these five flows (not timed
  on SQLite), and a fresh PostgreSQL-backed server became healthy in 15-29 s (13-25 s for
  SQLite on the same, heavily shared, 2-core machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import CountingTransport
from pg import PostgresCluster, PostgresUnavailable

from prefect_widgets import AmbiguousTaskRun, Client, FlowRunView, NotFound, TaskRunView
from prefect_widgets.dataframes import TIMELINE_COLUMNS
from prefect_widgets.samples import MAPPED_SIZE, wait_until_recorded
from prefect_widgets.server import LocalServer

SAMPLES = ["hello", "failing", "retrying", "mapped", "subflow"]


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    cluster = PostgresCluster()
    t0 = time.monotonic()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    try:
        server = LocalServer(home=tmp_path_factory.mktemp("prefect-pg-home"),
                             database_url=cluster.url)
        t1 = time.monotonic()
        server.start()
        t2 = time.monotonic()
        try:
            out = subprocess.run([sys.executable, "-m", "prefect_widgets.samples", *SAMPLES],
                                 env=server.env(), capture_output=True, text=True, timeout=180,
                                 check=False)
            assert out.returncode == 0, out.stderr[-4000:]
            runs = json.loads(out.stdout.strip().splitlines()[-1])
            t3 = time.monotonic()
            wait_until_recorded(server.api_url, list(runs.values()))
            print(f"\npostgres {t1-t0:.1f}s, server {t2-t1:.1f}s, flows {t3-t2:.1f}s, "
                  f"recorded {time.monotonic()-t3:.1f}s", flush=True)
            yield server, cluster, runs
        finally:
            server.stop()
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def api_url(pg_server) -> str:
    """Overrides the session fixture: the autouse configuration points at this server."""
    return pg_server[0].api_url


@pytest.fixture(scope="module")
def runs(pg_server, api_url) -> dict[str, str]:
    """Depends on `api_url` so that the autouse fixture configures the library for it."""
    return pg_server[2]


def server_count(api_url: str, kind: str, body: dict) -> int:
    return httpx.post(f"{api_url}/{kind}/count", json=body).json()


def test_server_really_uses_postgres(pg_server):
    server, cluster, _ = pg_server
    import asyncio

    import asyncpg

    async def tables() -> int:
        conn = await asyncpg.connect(cluster.url.replace("+asyncpg", ""))
        try:
            return await conn.fetchval("select count(*) from task_run")
        finally:
            await conn.close()

    in_postgres = asyncio.run(tables())
    assert in_postgres == server_count(server.api_url, "task_runs", {}) > MAPPED_SIZE
    assert not list(server.home.glob("*.db"))  # no SQLite file next to it


def test_flow_run_and_task_run_basics(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    assert run.parameters == {"name": "world"}
    assert run.state.is_completed() and run.start_time <= run.end_time
    assert run.flow.name == "hello-world"
    assert [s.type for s in run.states][-1] == "COMPLETED"
    say = run.get_task_run(task_slug="say_hello")
    assert say.state.is_completed() and say.run_count == 1
    assert say.upstream_task_run_ids == [run.get_task_run(task_slug="capitalize").task_run_id]
    again = TaskRunView.from_task_run_id(say.task_run_id)
    assert (again.name, again.state.type, again.start_time, again.end_time) == \
        (say.name, say.state.type, say.start_time, say.end_time)
    failing = FlowRunView.from_flow_run_id(runs["failing"])
    assert failing.state.is_failed() and "Could not connect to warehouse" in failing.state.message
    flaky = FlowRunView.from_flow_run_id(runs["retrying"]).get_task_run(task_slug="flaky_download")
    assert flaky.run_count == 3 and [s.name for s in flaky.states].count("Retrying") == 2
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    assert [c.name for c in parent.subflow_runs] and parent.subflow_runs[0].flow.name == \
        "child-report"


def test_get_task_run_by_slug_and_map_index(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    with pytest.raises(AmbiguousTaskRun) as info:
        run.get_task_run(task_slug="square")
    assert len(info.value.candidates) == MAPPED_SIZE
    seventh = run.get_task_run(task_slug="square", map_index=7)
    assert seventh.map_index == 7
    with pytest.raises(NotFound, match="map_index=9999"):
        run.get_task_run(task_slug="square", map_index=9999)


def test_task_run_ids_page_past_200(api_url, runs):
    transport = CountingTransport()
    with Client(api_url, transport=transport) as client:
        run = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
        ids = run.task_run_ids
        assert len(ids) == len(set(ids)) == MAPPED_SIZE
        assert transport.paths.count("/api/task_runs/filter") == 3  # 200 + 200 + 50
        views = run.get_all_task_runs()
        assert [v.task_run_id for v in views] == ids
        assert sorted(v.map_index for v in views) == list(range(MAPPED_SIZE))


@pytest.mark.parametrize("sample", SAMPLES)
def test_to_dataframe_rows_equal_server_count(api_url, runs, sample):
    frame = FlowRunView.from_flow_run_id(runs[sample]).to_dataframe()
    body = {"flow_runs": {"id": {"any_": [runs[sample]]}}}
    assert len(frame) == server_count(api_url, "task_runs", body)
    assert frame.index.is_unique


def test_timeline_frame_matches_full_frame(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    timeline = view.to_dataframe(columns="timeline")
    full = view.to_dataframe()
    assert list(timeline.columns) == list(TIMELINE_COLUMNS)
    assert set(timeline.index) == set(full.index) and len(timeline) == MAPPED_SIZE
    joined = timeline.join(full[["start_time", "end_time", "state_type"]],
                           suffixes=("", "_full"))
    assert (joined["start_time"] == joined["start_time_full"]).all()
    assert (joined["end_time"] == joined["end_time_full"]).all()
    assert (joined["state_type"] == joined["state_type_full"]).all()
    assert timeline["start_time"].is_monotonic_increasing


def test_count_by_state_sums_to_server_counts(api_url):
    flows = FlowRunView.count_by_state()
    assert sum(flows.values()) == server_count(api_url, "flow_runs", {})
    assert flows["FAILED"] == FlowRunView.count(state_type="FAILED") == 1
    tasks = TaskRunView.count_by_state()
    assert sum(tasks.values()) == server_count(api_url, "task_runs", {})
    assert tasks["COMPLETED"] == TaskRunView.count(state_type="COMPLETED") >= MAPPED_SIZE


def test_logs_complete_and_in_order(api_url, runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    logs = run.get_logs()
    server = httpx.post(f"{api_url}/logs/filter", json={
        "logs": {"flow_run_id": {"any_": [runs["hello"]]}}, "limit": 200}).json()
    assert len(logs) == len(server) > 0
    stamps = [e.timestamp for e in logs]
    assert stamps == sorted(stamps)
    assert any("Hello, WORLD!" in e.message for e in logs)
    task_logs = run.get_task_run(task_slug="say_hello").get_logs()
    assert [e.message for e in task_logs if "Hello" in e.message] == ["Hello, WORLD!"]
    errors = FlowRunView.from_flow_run_id(runs["failing"]).get_logs(level="ERROR")
    assert errors and all(e.level >= 40 for e in errors)
