"""Whole exports page concurrently where the server serves in parallel (issue 21, item 1).

`_ops.export(..., read_ahead=True)` asks for the pages the count promises in `Batch`es;
`Client`/`AsyncClient` send a batch's calls at once, at most their `Pace` in flight. Checked:
a property test where every page of a batch is read at another moment, in any order, while
the listing changes (each row that stays is returned exactly once); the real SQLite server
with concurrency 1, forced N > 1, the probe, and 429/503 through the fault proxy; and a
PostgreSQL-backed server serving with 2 worker processes (`workers_server`: what `prefect
server start --workers 2` runs) and a SQLite one, each holding over 10,000 task runs, read
whole, also while a writer adds task runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_proxy import Fault, FaultProxy
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_widgets import FlowRunView, _ops
from prefect_widgets.client import (
    AUTO_CONCURRENCY,
    PROBE_CALLS,
    AsyncClient,
    Batch,
    Call,
    Client,
    Pace,
    RetryPolicy,
)
from prefect_widgets.errors import ConfigurationError, IncompleteData, RateLimited
from prefect_widgets.rundata import graph_nodes_since

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bigrun import FAST_RECORDER_ENV, build_run
from concurrent_export import workers_server
from pg import PostgresCluster, PostgresUnavailable

FAST = RetryPolicy(max_retries=4, backoff=0.01, max_backoff=0.05, max_total=30.0)


@pytest.fixture(autouse=True)
def _read_from_the_server(monkeypatch):
    """These tests are about paging the server: no disk cache answers for it."""
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE", "0")

# ------------------------------------------------------------------ sans-IO: pages read apart


class ShiftingListing:
    """Answers `/count` and `/filter` over ids sorted descending (ID_DESC); after every page
    it serves, one batch of changes (deletions by position, inserted ids) is applied. The
    pages of a `Batch` are served in a random order, each after the changes of the last."""

    def __init__(self, ids: set[int], changes: list[tuple[list[float], list[int]]],
                 seed: int) -> None:
        self.ids = sorted(ids, reverse=True)
        self.changes = list(changes)
        self.deleted: set[int] = set()
        self.random = random.Random(seed)
        self.batches = 0

    def page(self, call: Call) -> Any:
        if call.path.endswith("/count"):
            return len(self.ids)
        offset, limit = call.json["offset"], call.json["limit"]
        page = [{"id": f"{i:08x}"} for i in self.ids[offset:offset + limit]]
        if self.changes:
            deletes, inserts = self.changes.pop(0)
            for where in deletes:
                if self.ids:
                    self.deleted.add(self.ids.pop(int(where * len(self.ids)) % len(self.ids)))
            self.ids = sorted(set(self.ids) | (set(inserts) - self.deleted), reverse=True)
        return page

    def answer(self, step: Call | Batch) -> Any:
        if isinstance(step, Call):
            return self.page(step)
        self.batches += 1
        order = list(range(len(step.calls)))
        self.random.shuffle(order)
        answers: dict[int, Any] = {at: self.page(step.calls[at]) for at in order}
        return [answers[at] for at in range(len(step.calls))]


def drive(operation: Any, server: ShiftingListing) -> Any:
    try:
        step = operation.send(None)
        while True:
            step = operation.send(server.answer(step))
    except StopIteration as stop:
        return stop.value


changes = st.lists(st.tuples(st.lists(st.floats(0, 1, exclude_max=True), max_size=6),
                             st.lists(st.integers(0, 10**6), max_size=6)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(ids=st.sets(st.integers(0, 10**6), max_size=400), changes=changes,
       seed=st.integers(0, 1000))
def test_pages_read_at_once_keep_every_row_that_stays_exactly_once(ids, changes, seed):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_ops, "PAGE_SIZE", 25)
        patch.setattr(_ops, "OVERLAP", 5)
        patch.setattr(_ops, "READ_AHEAD", 6)
        server = ShiftingListing(ids, changes, seed)
        try:
            listing = drive(_ops.export("/task_runs/filter", {"sort": "ID_DESC"},
                                        count_path="/task_runs/count", read_ahead=True), server)
        except IncompleteData:
            return  # allowed: bounded re-reads, never a silently short list
    got = [row["id"] for row in listing.rows]
    assert len(got) == len(set(got))
    assert {f"{i:08x}" for i in ids - server.deleted} <= set(got)
    if len(ids) > 2 * 25:
        assert server.batches >= 1


def test_an_unchanged_listing_is_read_in_batches_without_extra_pages(monkeypatch):
    monkeypatch.setattr(_ops, "PAGE_SIZE", 25)
    monkeypatch.setattr(_ops, "OVERLAP", 5)
    server = ShiftingListing(set(range(1000)), [], seed=1)
    calls: list[int] = []
    original = server.answer

    def counted(step: Call | Batch) -> Any:
        calls.append(len(step.calls) if isinstance(step, Batch) else 1)
        return original(step)

    server.answer = counted  # type: ignore[method-assign]
    rows = drive(_ops.export("/x/filter", {}, count_path="/x/count", read_ahead=True),
                 server).rows
    assert len(rows) == 1000
    # one count, then ceil((1000 - 5) / 20) = 50 pages in batches of READ_AHEAD: the pages a
    # one-by-one pass reads, not one more
    assert calls[0] == 1 and sum(calls[1:]) == 50 and max(calls) == _ops.READ_AHEAD


# ------------------------------------------------------------------ the pace, alone


def test_the_pace_probes_once_then_settles_and_backs_off():
    pace = Pace(None)
    assert pace.segments(3 * PROBE_CALLS - 1) == [(0, 3 * PROBE_CALLS - 1, None)]
    assert pace.segments(20)[:2] == [(0, PROBE_CALLS, 1), (PROBE_CALLS, 3 * PROBE_CALLS, 2)]
    pace.timed(0, PROBE_CALLS, 0.3)              # 0.1 s a call one at a time
    pace.timed(PROBE_CALLS, 3 * PROBE_CALLS, 0.6)  # 0.1 s a call two at a time: no gain
    assert pace.ceiling == pace.limit == 1 and pace.segments(20) == [(0, 20, None)]

    parallel = Pace(None)
    parallel.timed(0, PROBE_CALLS, 0.3)
    parallel.timed(PROBE_CALLS, 3 * PROBE_CALLS, 0.33)  # 0.055 s a call: served in parallel
    assert parallel.ceiling == parallel.limit == AUTO_CONCURRENCY
    before = parallel.throttles
    parallel.throttled()
    assert parallel.limit == AUTO_CONCURRENCY // 2
    parallel.recovered(before)  # that batch was throttled: no growth
    assert parallel.limit == AUTO_CONCURRENCY // 2
    parallel.recovered(parallel.throttles)
    assert parallel.limit == AUTO_CONCURRENCY // 2 + 1


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "4"])
def test_max_concurrency_must_be_a_whole_number(bad):
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        Client("http://127.0.0.1:9/api", max_concurrency=bad)


# ------------------------------------------------------------------ the real SQLite server


class InFlight(httpx.HTTPTransport):
    """A real transport that records the most task-run page requests in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.peak = self.pages = 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        paging = request.url.path.endswith("/task_runs/filter")
        with self.lock:
            if paging:
                self.now += 1
                self.pages += 1
                self.peak = max(self.peak, self.now)
        try:
            return super().handle_request(request)
        finally:
            with self.lock:
                if paging:
                    self.now -= 1


def _server_ids(api_url: str, flow_run_id: str) -> tuple[int, set[str]]:
    """The server's count of the run's task runs and their ids, read by plain httpx."""
    runs = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    ids: set[str] = set()
    with httpx.Client(base_url=api_url, timeout=120) as http:
        total = http.post("/task_runs/count", json=runs).json()
        while True:
            page = http.post("/task_runs/filter", json={**runs, "sort": "ID_DESC", "limit": 200,
                                                        "offset": len(ids)}).json()
            ids |= {row["id"] for row in page}
            if len(page) < 200:
                return total, ids


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 25 rows: the 450 task runs of the mapped sample make 23 pages."""
    monkeypatch.setattr(_ops, "PAGE_SIZE", 25)
    monkeypatch.setattr(_ops, "OVERLAP", 5)


def test_sqlite_one_at_a_time_and_forced_four_read_the_same_rows(api_url, runs, small_pages):
    total, ids = _server_ids(api_url, runs["mapped"])
    frames = {}
    for concurrency in (1, 4):
        transport = InFlight()
        with Client(api_url, transport=transport, max_concurrency=concurrency,
                    retry=RetryPolicy(max_retries=20, max_total=240.0)) as client:
            frame = FlowRunView.from_flow_run_id(runs["mapped"], client=client).to_dataframe(
                progress=False)
        assert frame.index.is_unique and set(frame.index) == ids and len(frame) == total
        assert transport.peak == concurrency, (concurrency, transport.peak)
        assert transport.pages == -(-(total - 5) // 20)  # no page read twice
        frames[concurrency] = frame
    assert frames[1].sort_index().equals(frames[4].sort_index())


def test_sqlite_async_client_reads_the_same_rows(api_url, runs, small_pages):
    total, ids = _server_ids(api_url, runs["mapped"])
    body = {"flow_runs": {"id": {"any_": [runs["mapped"]]}}, "sort": "ID_DESC"}

    async def export() -> list[dict]:
        async with AsyncClient(api_url, max_concurrency=4) as client:
            listing = await client.run(_ops.export("/task_runs/filter", body,
                                                   count_path="/task_runs/count",
                                                   read_ahead=True))
            return listing.rows

    rows = asyncio.run(export())
    assert len(rows) == total == len({row["id"] for row in rows}) and \
        {row["id"] for row in rows} == ids


def test_sqlite_default_concurrency_is_measured_and_rows_complete(api_url, runs, small_pages):
    total, ids = _server_ids(api_url, runs["mapped"])
    with Client(api_url) as client:
        assert client.pace.ceiling is None and client.pace.limit == 1
        frame = FlowRunView.from_flow_run_id(runs["mapped"], client=client).to_dataframe(
            progress=False)
        assert client.pace.ceiling in (1, AUTO_CONCURRENCY)  # settled by the probe
    assert set(frame.index) == ids and len(frame) == total


@pytest.mark.parametrize("quantile", [0.0, 0.5, 1.0])
def test_changed_task_rows_are_what_graph_v2_since_answers(api_url, runs, small_pages,
                                                          quantile):
    """The widget's fallback past 10,000 nodes reads only what changed: the same task runs
    as `graph-v2?since=` (checked on a run small enough for graph-v2 to answer)."""
    flow_run_id = runs["mapped"]
    with httpx.Client(base_url=api_url, timeout=120) as http:
        ends = sorted(node["end_time"] for _, node in http.get(
            f"/flow_runs/{flow_run_id}/graph-v2").json()["nodes"] if node.get("end_time"))
        since = datetime.fromisoformat(ends[int(quantile * (len(ends) - 1))])
        since = since + timedelta(microseconds=1) if quantile == 1.0 else since
        graph = {node_id for node_id, node in http.get(
            f"/flow_runs/{flow_run_id}/graph-v2", params={"since": since.isoformat()}
        ).json()["nodes"]}
    with Client(api_url, max_concurrency=4) as client:
        rows = client.run(_ops.changed_task_rows(flow_run_id, since))
    assert len(rows) == len({row["id"] for row in rows})
    assert {row["id"] for row in rows} == graph
    assert len(graph) == {0.0: len(ends), 1.0: 0}.get(quantile, len(graph))


def test_a_live_poll_past_the_graph_limit_reads_only_what_changed(api_url, runs):
    """graph-v2 refused (the server's 400 above 10,000 nodes, armed on a proxy): the poll's
    nodes equal graph-v2's own `since` answer and no page of the whole run is read."""
    flow_run_id = runs["mapped"]
    with httpx.Client(base_url=api_url, timeout=120) as http:
        ends = sorted(node["end_time"] for _, node in http.get(
            f"/flow_runs/{flow_run_id}/graph-v2").json()["nodes"] if node.get("end_time"))
        since = datetime.fromisoformat(ends[len(ends) // 2])
        expected = {node_id for node_id, _ in http.get(
            f"/flow_runs/{flow_run_id}/graph-v2", params={"since": since.isoformat()}
        ).json()["nodes"]}
    recording = RecordingTransport()
    with FaultProxy(api_url) as refusing, \
            Client(refusing.api_url, transport=recording) as client:
        refusing.add(Fault("status", path="/graph-v2", status=400,
                           body=b'{"detail": "Flow run has more than 10000 nodes"}'))
        nodes = graph_nodes_since(client, flow_run_id, since)
    assert set(nodes.index) == expected and 0 < len(expected) < len(ends)
    assert recording.bodies and all("end_time" in body.get("task_runs", {})
                                    for body in recording.bodies)


class RecordingTransport(httpx.HTTPTransport):
    """A real transport that keeps the body of every task-run listing request."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/task_runs/filter"):
            self.bodies.append(json.loads(request.content))
        return super().handle_request(request)


@pytest.fixture
def proxy(api_url):
    with FaultProxy(api_url) as p:
        yield p


@pytest.mark.parametrize("status, headers", [(503, {}), (429, {"Retry-After": "0"})])
def test_throttling_answers_halve_the_concurrency(proxy, runs, small_pages, status, headers,
                                                  monkeypatch):
    monkeypatch.setattr(_ops, "READ_AHEAD", 32)  # the run's 23 pages in one batch
    total, ids = _server_ids(proxy.api_url, runs["mapped"])
    with Client(proxy.api_url, max_concurrency=4, retry=FAST) as client:
        proxy.add(Fault("status", path="/task_runs/filter", status=status, headers=headers,
                        skip=2, times=2))
        frame = FlowRunView.from_flow_run_id(runs["mapped"], client=client).to_dataframe(
            progress=False)
        assert set(frame.index) == ids and len(frame) == total
        assert client.pace.throttles == 2 and client.pace.limit == 1  # 4 → 2 → 1
        proxy.clear()
        for grown in (2, 3):  # each batch without a throttle adds one back
            client.call_batch(Batch((Call("POST", "/task_runs/count", json={}),) * 2))
            assert client.pace.limit == grown


def test_a_batch_that_stays_rate_limited_raises_the_typed_error(proxy, runs, small_pages):
    with Client(proxy.api_url, max_concurrency=4,
                retry=RetryPolicy(max_retries=1, backoff=0.01, max_backoff=0.02)) as client:
        client.call(Call("POST", "/flow_runs/count", json={}))  # learn the CSRF setting first
        proxy.add(Fault("status", path="/task_runs/filter", status=429, skip=3))
        with pytest.raises(RateLimited, match="rate limiting"):
            FlowRunView.from_flow_run_id(runs["mapped"], client=client).to_dataframe(
                progress=False)
        assert client.pace.limit == 1


# ------------------------------------------------------------------ past 10,000: both backends

BIG = 10_050


@pytest.fixture(scope="module", params=["postgres-2-workers", "sqlite"])
def big_server(request, tmp_path_factory):
    """A server holding a flow run of `BIG` task runs, and the concurrency to read it with:
    PostgreSQL serving with 2 worker processes (built through a 1-worker server with services:
    the task-run recorder writes them), read 4 pages at a time; or SQLite (one process), read
    with the concurrency the client's probe measures."""
    if request.param == "sqlite":
        database = tmp_path_factory.mktemp("sqlite-big") / "prefect.db"
        with workers_server(f"sqlite+aiosqlite:///{database}", 1, FAST_RECORDER_ENV) as api_url:
            made = build_run(api_url, BIG, seed=22, timeout=900)
            yield api_url, made.flow_run_id, None
        return
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    try:
        with workers_server(cluster.url, 1, FAST_RECORDER_ENV) as builder:
            made = build_run(builder, BIG, seed=21, timeout=900)
        with workers_server(cluster.url, 2) as api_url:
            yield api_url, made.flow_run_id, 4
    finally:
        cluster.stop()


def test_an_export_past_ten_thousand_equals_count(big_server):
    api_url, flow_run_id, concurrency = big_server
    total, ids = _server_ids(api_url, flow_run_id)
    assert total == BIG
    transport = InFlight()
    with Client(api_url, transport=transport, max_concurrency=concurrency, timeout=120) as client:
        frame = FlowRunView.from_flow_run_id(flow_run_id, client=client).to_dataframe(
            progress=False)
    assert frame.index.is_unique and set(frame.index) == ids and len(frame) == total
    if concurrency:
        assert transport.peak == concurrency


def test_an_export_past_ten_thousand_while_a_writer_adds_task_runs(big_server):
    api_url, flow_run_id, concurrency = big_server
    _, before = _server_ids(api_url, flow_run_id)
    stop = threading.Event()
    added: list[str] = []

    def writer() -> None:
        with httpx.Client(base_url=api_url, timeout=60) as http:
            while not stop.is_set():
                response = http.post("/task_runs/", json={
                    "flow_run_id": flow_run_id, "task_key": "late", "name": "late",
                    "dynamic_key": str(uuid.uuid4())})
                if response.status_code in (200, 201):
                    added.append(response.json()["id"])
                time.sleep(0.02)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(added) < 3:  # the writer is under way before the export starts
            time.sleep(0.05)
        with Client(api_url, max_concurrency=concurrency, timeout=120) as client:
            frame = FlowRunView.from_flow_run_id(flow_run_id, client=client).to_dataframe(
                progress=False)
        written_during = len(added)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert written_during > 3, "the writer added nothing while the export ran"
    assert frame.index.is_unique
    assert before <= set(frame.index), f"missing: {sorted(before - set(frame.index))[:5]}"
    assert set(frame.index) <= before | set(added)
