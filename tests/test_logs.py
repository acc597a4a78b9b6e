"""Log lines tied to task runs, level filters, and log following that scales (issues 17, 18)."""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from writer import writer

from prefect_widgets import FlowRunView, InvalidRequest, LogList, TaskRunView, watch_flow_run
from prefect_widgets.records import LOG_COLUMNS

# ---------------------------------------------------------------- runs written over REST


def _new_running_flow_run(api_url: str) -> str:
    """A flow run in state Running, made over the REST API (the library itself never
    writes), whose log lines the tests add as they go."""
    with writer(api_url) as http:
        flow = http.post("/flows/", json={"name": "log-follow-test"}).json()
        run = http.post("/flow_runs/", json={"flow_id": flow["id"], "name": "followed",
                                             "state": {"type": "RUNNING", "name": "Running"}})
        return run.json()["id"]


def _write_logs(api_url: str, flow_run_id: str, count: int, *, start: int = 0,
                at: datetime | None = None) -> None:
    """`count` INFO lines "line <n>", in batches; all stamped `at` if given."""
    base = datetime.now(timezone.utc)
    rows = [{"name": "test", "level": 20, "message": f"line {start + i}",
             "flow_run_id": flow_run_id,
             "timestamp": (at or base + timedelta(microseconds=i)).isoformat()}
            for i in range(count)]
    with writer(api_url) as http:
        for at_row in range(0, len(rows), 500):
            http.post("/logs/", json=rows[at_row:at_row + 500]).raise_for_status()


def _finish(api_url: str, flow_run_id: str) -> None:
    with writer(api_url) as http:
        http.post(f"/flow_runs/{flow_run_id}/set_state",
                  json={"state": {"type": "COMPLETED", "name": "Completed"},
                        "force": True}).raise_for_status()


def _log_reads(transport) -> int:
    return sum(p.endswith("/logs/filter") for p in transport.paths)


# ---------------------------------------------------------------- following


def test_following_reads_only_new_lines(counting, api_url):
    """Issue 17 item 6: 3,000 lines written over several polls are read in about
    lines/200 + polls requests (re-reading the whole log took 509 for 50,000 lines), each
    line exactly once."""
    flow_run_id = _new_running_flow_run(api_url)
    _write_logs(api_url, flow_run_id, 1000)
    client, transport = counting
    seen: list[str] = []
    follower = watch_flow_run(flow_run_id, stream_states=False, client=client,
                              poll_interval=0.2, max_poll_interval=0.2, max_duration=120)

    def follow() -> None:
        seen.extend(e.message for e in follower)

    thread = threading.Thread(target=follow)
    thread.start()
    for batch in range(1, 5):
        time.sleep(0.5)
        _write_logs(api_url, flow_run_id, 500, start=500 + 500 * batch)
    time.sleep(0.5)
    _finish(api_url, flow_run_id)
    thread.join(60)
    assert not thread.is_alive()
    assert sorted(seen) == sorted(f"line {i}" for i in range(3000))
    polls = sum(p.endswith(f"/flow_runs/{flow_run_id}") for p in transport.paths)
    assert _log_reads(transport) <= math.ceil(3000 / 199) + polls + 1
    assert _log_reads(transport) < 3 * 15  # re-reading would need ~15 pages a poll


def test_following_a_finished_log_reads_each_page_once(counting, api_url):
    flow_run_id = _new_running_flow_run(api_url)
    _write_logs(api_url, flow_run_id, 1000)
    _finish(api_url, flow_run_id)
    client, transport = counting
    lines = list(watch_flow_run(flow_run_id, stream_states=False, client=client,
                                poll_interval=0.1))
    assert [e.message for e in lines] == [f"line {i}" for i in range(1000)]
    # one pass of 6 pages (the 200th line starts the next page), then the trailing reads of a
    # finished run (one each half second until none came for 2 s: 4, a fifth if a wait ends early)
    assert _log_reads(transport) <= 6 + 5


def test_following_more_lines_than_a_page_in_one_timestamp(counting, api_url):
    """450 lines with the very same timestamp: the bound cannot move, the offset does."""
    flow_run_id = _new_running_flow_run(api_url)
    _write_logs(api_url, flow_run_id, 450, at=datetime.now(timezone.utc))
    _finish(api_url, flow_run_id)
    client, transport = counting
    lines = list(watch_flow_run(flow_run_id, stream_states=False, client=client,
                                poll_interval=0.1))
    assert sorted(e.message for e in lines) == sorted(f"line {i}" for i in range(450))
    assert len({e.id for e in lines}) == 450


@pytest.mark.parametrize("arguments", [
    {"poll_interval": -1}, {"poll_interval": 0}, {"poll_interval": float("nan")},
    {"poll_interval": float("inf")}, {"poll_interval": "2"}, {"poll_interval": True},
    {"max_poll_interval": 0}, {"max_poll_interval": None}, {"max_duration": 0},
    {"max_duration": timedelta(seconds=-5)}, {"max_duration": float("nan")},
    {"max_duration": "1h"},
])
def test_watch_arguments_are_checked_before_any_request(counting, runs, arguments):
    """Issue 17: `poll_interval=-1` raised a bare ValueError and `poll_interval=0` sent 54
    requests in 3 s; now a typed error at the call, before a request is sent."""
    client, transport = counting
    with pytest.raises(InvalidRequest, match="poll_interval|max_duration"):
        watch_flow_run(runs["hello"], client=client, **arguments)
    assert transport.paths == []


def test_watch_without_an_end_accepts_infinite_duration(runs):
    lines = list(watch_flow_run(runs["hello"], max_duration=float("inf"), poll_interval=0.1))
    assert any(e.message.startswith("Entered state Completed") for e in lines)


# ---------------------------------------------------------------- logs tied to task runs


def test_log_lines_name_their_task_runs(debug_runs):
    """Issue 18: each line carries its task run's id, run name and task name."""
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    logs = run.get_logs()
    task_lines = [e for e in logs if e.task_run_id]
    assert task_lines and all(e.task_name == "parse_rows" for e in task_lines)
    assert all(e.task_run_name and e.task_run_name.startswith("parse_rows-")
               for e in task_lines)
    assert any(e.task_run_id is None and e.task_run_name is None for e in logs)
    frame = logs.to_dataframe()
    assert list(frame.columns) == list(LOG_COLUMNS)
    assert {"task_run_id", "task_run_name", "task_name"} <= set(frame.columns)
    assert set(frame["task_name"].dropna()) == {"parse_rows"}
    text = repr(logs)
    assert f"| {task_lines[0].task_run_name} | parsing 3 rows" in text
    assert "| flow run | Beginning flow run" in text


def test_log_names_come_from_the_snapshot_when_held(counting, debug_runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"], client=client)
    run.task_runs()
    before = len(transport.paths)
    logs = run.get_logs()
    assert [p for p in transport.paths[before:] if "task_runs" in p] == []
    assert {e.task_name for e in logs if e.task_run_id} == {"parse_rows"}


def test_log_names_without_the_snapshot_cost_one_batched_read(counting, debug_runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(debug_runs["artifacts"], client=client)
    before = len(transport.paths)
    logs = run.get_logs()
    reads = [p for p in transport.paths[before:] if p.endswith("/task_runs/filter")]
    assert len(reads) == 1
    assert {e.task_name for e in logs if e.task_run_id} == {"report_artifacts"}


def test_task_run_logs_carry_its_names_without_a_request(counting, debug_runs):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"], client=client)
    task = run.get_task_run("parse_rows")
    assert isinstance(task, TaskRunView)
    before = len(transport.paths)
    logs = task.get_logs()
    assert [p for p in transport.paths[before:] if "task_runs" in p] == []
    assert logs and {(e.task_run_name, e.task_name) for e in logs} == {(task.name, "parse_rows")}


def test_level_filters_on_the_server_the_list_and_the_frame(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    everything = run.get_logs()
    errors = run.get_logs(level="ERROR")
    assert errors and all(e.level >= 40 for e in errors)
    assert len(errors) < len(everything)
    assert [e.id for e in everything.filter(level="error")] == [e.id for e in errors]
    assert list(everything.to_dataframe(level="ERROR").index) == [e.id for e in errors]
    task_id = next(e.task_run_id for e in everything if e.task_run_id)
    assert all(e.task_run_id == task_id for e in everything.filter(task_run_id=task_id))
    with pytest.raises(InvalidRequest, match="Unknown log level"):
        everything.filter(level="LOUD")


def test_log_repr_is_bounded_and_shows_control_characters():
    from prefect_widgets.records import LogEntry

    now = datetime.now(timezone.utc)
    entries = [LogEntry(timestamp=now, level=20, message="\x1b[31mred\x1b[0m " + "x" * 10_000,
                        task_run_id="t", task_run_name="evil\u202ename", id=str(i))
               for i in range(100)]
    text = repr(LogList(entries))
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[31mred" in text and "evil\\u202ename" in text
    assert len(text) < 25 * 400
    assert "80 earlier lines" in text
