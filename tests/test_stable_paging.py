"""Exports cannot skip or repeat a row while the listing changes (issue 17, item 4).

`_ops.export` pages with anchors: checked by a property test against an in-memory listing
that changes between pages, and against the real server with task runs deleted and added
through the REST API while the library pages.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_widgets import FlowRunView, TaskRunView, _ops
from prefect_widgets.client import Call, Client, RetryPolicy
from prefect_widgets.errors import IncompleteData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bigrun import build_run

# ------------------------------------------------------------------ in-memory changing listing


class ChangingListing:
    """Answers `/count` and `/filter` like the server over ids sorted descending (ID_DESC),
    applying one batch of changes after each page it serves."""

    def __init__(self, ids: list[int], changes: list[tuple[list[float], list[int]]]) -> None:
        self.ids = sorted(ids, reverse=True)
        self.changes = list(changes)
        self.deleted: set[int] = set()
        self.pages = 0

    def answer(self, call: Call) -> Any:
        if call.path.endswith("/count"):
            return len(self.ids)
        offset, limit = call.json["offset"], call.json["limit"]
        page = [{"id": f"{i:08x}"} for i in self.ids[offset:offset + limit]]
        self.pages += 1
        if self.changes:
            deletes, inserts = self.changes.pop(0)
            for where in deletes:
                if self.ids:
                    self.deleted.add(self.ids.pop(int(where * len(self.ids)) % len(self.ids)))
            self.ids = sorted(set(self.ids) | (set(inserts) - self.deleted), reverse=True)
        return page


def run(operation: Any, server: ChangingListing) -> Any:
    try:
        call = operation.send(None)
        while True:
            call = operation.send(server.answer(call))
    except StopIteration as stop:
        return stop.value


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(_ops, "PAGE_SIZE", 25)
    monkeypatch.setattr(_ops, "OVERLAP", 5)


changes = st.lists(st.tuples(st.lists(st.floats(0, 1, exclude_max=True), max_size=8),
                             st.lists(st.integers(0, 10**6), max_size=8)), max_size=20)


@settings(max_examples=300, deadline=None)
@given(ids=st.sets(st.integers(0, 10**6), max_size=300), changes=changes)
def test_every_row_that_stays_is_returned_exactly_once(ids, changes):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_ops, "PAGE_SIZE", 25)
        patch.setattr(_ops, "OVERLAP", 5)
        server = ChangingListing(list(ids), changes)
        try:
            listing = run(_ops.export("/task_runs/filter", {"sort": "ID_DESC"},
                                      count_path="/task_runs/count"), server)
        except IncompleteData:
            return  # allowed: bounded re-reads, never a silently short list
    got = [row["id"] for row in listing.rows]
    assert len(got) == len(set(got))
    stayed = {f"{i:08x}" for i in ids - server.deleted}
    assert stayed <= set(got)


def test_a_deleted_read_row_and_a_new_last_row_lose_nothing(small_pages):
    # the case: the count still matches, yet offset paging shifted past one row
    ids = list(range(100))
    server = ChangingListing(ids, [([0.0], [-1])])  # after page 1: delete the first, add a last
    rows = run(_ops.export("/x/filter", {}, count_path="/x/count"), server).rows
    got = {row["id"] for row in rows}
    assert server.deleted == {99}
    assert {f"{i:08x}" for i in set(ids) - server.deleted} <= got and len(rows) == len(got)


def test_many_deletions_behind_the_anchor_step_back(small_pages):
    ids = list(range(200))
    deletes = [i / 30 * 0.2 for i in range(20)]  # 20 rows among the first ones read
    server = ChangingListing(ids, [([], []), (deletes, [])])
    rows = run(_ops.export("/x/filter", {}, count_path="/x/count"), server).rows
    got = [row["id"] for row in rows]
    assert len(got) == len(set(got))
    assert {f"{i:08x}" for i in set(ids) - server.deleted} <= set(got)


def test_a_limited_listing_reports_the_total_and_a_cut_page_raises(small_pages):
    server = ChangingListing(list(range(100)), [])
    listing = run(_ops.export("/x/filter", {}, limit=30, count_path="/x/count"), server)
    assert len(listing.rows) == 30 and listing.total == 100

    class Cut(ChangingListing):
        def answer(self, call: Call) -> Any:
            page = super().answer(call)
            return page[:3] if call.path.endswith("/filter") else page

    with pytest.raises(IncompleteData, match="counted 30"):
        run(_ops.export("/x/filter", {}, limit=30, count_path="/x/count"),
            Cut(list(range(100)), []))


# ------------------------------------------------------------------ the real server

N = 1000


def low_id(n: int) -> str:
    """A task-run id that sorts last in ID_DESC (read on the export's last page)."""
    return f"00000000-0000-7000-8000-{n:012x}"


@pytest.fixture(scope="module")
def big(api_url: str):
    return build_run(api_url, N, seed=17, failed_fraction=0.05, timeout=120)


class ChangeDuringExport(httpx.HTTPTransport):
    """A real transport that, after the `after`-th task-run page, runs `change()` (plain
    httpx writes to the server: the library never writes)."""

    def __init__(self, after: int, change: Any) -> None:
        super().__init__()
        self.after, self.change, self.pages = after, change, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/task_runs/filter"):
            if self.pages == self.after:  # the pages before were read: change, then go on
                self.change()
            self.pages += 1
        return super().handle_request(request)


def _ids(api_url: str, flow_run_id: str) -> list[str]:
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC"}
    ids: list[str] = []
    with httpx.Client(base_url=api_url, timeout=60) as http:
        while True:
            page = http.post("/task_runs/filter", json={**body, "limit": 200,
                                                         "offset": len(ids)}).json()
            ids += [row["id"] for row in page]
            if len(page) < 200:
                return ids


def _write(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The test's own write, retried while SQLite answers 503 to the suite's other writers."""
    for _ in range(60):
        response = http.request(method, path, **kwargs)
        if response.status_code != 503:
            return response
        time.sleep(0.5)
    return response


def _add_task_run(http: httpx.Client, flow_run_id: str, task_run_id: str | None) -> str:
    body = {"flow_run_id": flow_run_id, "task_key": "late-key", "dynamic_key": str(uuid.uuid4()),
            "name": "late"}
    if task_run_id:
        body["id"] = task_run_id
    response = _write(http, "POST", "/task_runs/", json=body)
    response.raise_for_status()
    return response.json()["id"]


@pytest.mark.fault_matrix
@pytest.mark.parametrize("deleted, added_low, added_new", [(1, 1, 0), (30, 2, 5)])
def test_export_while_rows_are_deleted_and_added(api_url, big, deleted, added_low, added_new):
    before = _ids(api_url, big.flow_run_id)
    read_first = before[:deleted * 3:3]  # on the first page (ID_DESC), so already read
    gone: list[str] = []

    def change() -> None:
        with httpx.Client(base_url=api_url, timeout=60) as http:
            for task_run_id in read_first:
                assert _write(http, "DELETE", f"/task_runs/{task_run_id}").status_code == 204
                gone.append(task_run_id)
            for n in range(added_low):
                _add_task_run(http, big.flow_run_id, low_id(deleted * 100 + n))
            for _ in range(added_new):
                _add_task_run(http, big.flow_run_id, None)

    transport = ChangeDuringExport(after=2, change=change)
    # The export's reads meet SQLite's 503s while the whole suite writes: a budget sized for
    # that (the default gives up sooner by design; this test is about paging, not retries).
    patient = RetryPolicy(max_retries=20, max_total=240.0)
    with Client(api_url, transport=transport, retry=patient) as client:
        frame = FlowRunView.from_flow_run_id(big.flow_run_id, client=client).to_dataframe(
            progress=False)
    assert transport.pages > 2 and len(gone) == deleted
    stayed = set(before) - set(gone)
    assert frame.index.is_unique
    assert stayed <= set(frame.index), f"missing: {sorted(stayed - set(frame.index))[:5]}"


def test_a_limited_query_says_it_is_short(api_url, runs):
    everything = FlowRunView.count()
    found = FlowRunView.query(limit=2)
    assert len(found) == 2 and found.total == everything and found.is_partial
    assert f"2 of {everything:,} — pass limit=None for all" in repr(found)
    complete = FlowRunView.query(limit=None)
    assert complete.total == len(complete) == everything and not complete.is_partial
    tasks = TaskRunView.query(limit=1)
    assert tasks.total == TaskRunView.count() and tasks.is_partial
