"""`sync_history` / `prefect-widgets sync` (issue 21, item 4) on the real server: the Parquet
dataset read back by DuckDB equals the frames, a later sync adds exactly the new and changed
rows, a crash leaves a readable dataset, the state file holds no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner
from writer import post, writer

import prefect_widgets
from prefect_widgets import Client, ConfigurationError, FlowRunView, InvalidRequest, TaskRunView
from prefect_widgets.cli import app
from prefect_widgets.queries import query_flow_runs, query_task_runs
from prefect_widgets.records import flow_runs_frame
from prefect_widgets.server import LocalServer
from prefect_widgets.sync import (
    FLOW_RUNS,
    STATE_FILE,
    SyncSummary,
    TableChanges,
    sync_history,
    write_rows,
)

TASKS_PER_RUN = 4


def _new_flow_run(http: httpx.Client, flow_id: str, state: str, tasks: int) -> str:
    run = post(http, "/flow_runs/", {
        "flow_id": flow_id, "name": f"sync-{uuid.uuid4().hex[:6]}", "tags": ["sync-test"],
        "parameters": {"n": tasks, "nested": {"a": [1, 2]}},
        "state": {"type": state, "name": state.title()}})
    for i in range(tasks):
        post(http, "/task_runs/", {
            "flow_run_id": run["id"], "task_key": "step-abc123", "dynamic_key": str(i),
            "name": f"step-{i}", "tags": ["t"],
            "state": {"type": state if i else "COMPLETED", "name": "x"}})
    return run["id"]


@pytest.fixture
def flow(api_url):
    """A flow of its own (so the test's dataset holds only its runs) with two finished runs
    and a running one, written through the REST API."""
    name = f"sync-history-{uuid.uuid4().hex[:8]}"
    with writer(api_url) as http:
        flow_id = post(http, "/flows/", {"name": name})["id"]
        for state in ("COMPLETED", "COMPLETED", "RUNNING"):
            _new_flow_run(http, flow_id, state, TASKS_PER_RUN)
    return name, flow_id


def _read(dest: Path, table: str) -> pd.DataFrame:
    return duckdb.sql(f"select * from read_parquet('{dest}/{table}/*/*.parquet', "
                      "hive_partitioning=true)").df()


def _types(dest: Path, table: str) -> dict[str, str]:
    rows = duckdb.sql(f"describe select * from read_parquet('{dest}/{table}/*/*.parquet', "
                      "hive_partitioning=true)").fetchall()
    return {name: kind for name, kind, *_ in rows}


def _micros(series: pd.Series) -> list:
    """Times or spans as integer microseconds (None for missing), whatever their unit."""
    return [None if pd.isna(v) else int(pd.Timedelta(v).value // 1000) if
            isinstance(v, (pd.Timedelta, timedelta)) else int(pd.Timestamp(v).value // 1000)
            for v in series]


# --------------------------------------------------------------------------- contents


def test_duckdb_reads_what_the_frames_hold(flow, tmp_path):
    name, _ = flow
    dest = tmp_path / "history"
    summary = sync_history(dest, flows=name, progress=False)
    flow_runs = query_flow_runs(None, flow_name=name, limit=None).to_dataframe()
    task_runs = query_task_runs(None, flow_name=name, limit=None).to_dataframe()
    assert summary.first and summary.tables["flow_runs"].added == 3 == len(flow_runs)
    assert summary.tables["task_runs"].added == 3 * TASKS_PER_RUN == len(task_runs)

    synced = _read(dest, "flow_runs").set_index("flow_run_id").loc[flow_runs.index]
    assert len(synced) == len(flow_runs) and synced.index.is_unique
    for column in ("name", "flow_id", "state_name"):
        assert synced[column].tolist() == flow_runs[column].astype(str).tolist()
    assert synced["state_type"].tolist() == flow_runs["state_type"].astype(str).tolist()
    for column in ("start_time", "expected_start_time", "created", "updated", "end_time"):
        assert _micros(synced[column]) == _micros(flow_runs[column]), column
    finished = flow_runs["state_type"] == "COMPLETED"
    assert _micros(synced["duration"][finished.to_numpy()]) == \
        _micros(flow_runs["duration"][finished])
    assert [list(t) for t in synced["tags"]] == flow_runs["tags"].tolist()
    assert [json.loads(p) for p in synced["parameters"]] == flow_runs["parameters"].tolist()
    assert synced["date"].astype(str).tolist() == \
        flow_runs["created"].dt.strftime("%Y-%m-%d").tolist()

    tasks = _read(dest, "task_runs").set_index("task_run_id").loc[task_runs.index]
    assert tasks.index.is_unique and len(tasks) == len(task_runs)
    for column in ("name", "task_name", "flow_run_id", "task_key"):
        assert tasks[column].tolist() == task_runs[column].astype(str).tolist()
    assert tasks["map_index"].tolist() == task_runs["map_index"].tolist()
    assert tasks["run_count"].tolist() == task_runs["run_count"].tolist()
    assert _micros(tasks["start_time"]) == _micros(task_runs["start_time"])
    assert [list(t) for t in tasks["tags"]] == task_runs["tags"].tolist()

    types = _types(dest, "task_runs")
    assert types["start_time"] == types["updated"] == "TIMESTAMP WITH TIME ZONE"
    assert types["duration"] == "BIGINT"  # Arrow duration[us]: microseconds
    assert types["map_index"] == types["max_retries"] == "BIGINT"
    assert types["state_type"] == types["task_run_id"] == "VARCHAR"
    assert types["tags"] == types["upstream_task_run_ids"] == "VARCHAR[]"
    assert types["mapped"] == "BOOLEAN" and types["retry_delay"] == "DOUBLE"
    assert types["date"] == "DATE"
    # pyarrow (and so pandas, Polars, Dask) gets the durations back as timedeltas
    import pyarrow.dataset as ds

    arrow = ds.dataset(dest / "task_runs", format="parquet", partitioning="hive").to_table()
    assert str(arrow.schema.field("duration").type) == "duration[us]"
    assert str(arrow.schema.field("created").type) == "timestamp[us, tz=UTC]"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A server of its own for the whole-server sync (the session's holds, by then, whatever
    every earlier test made): two flows' runs, finished and failed, with log lines of the flow
    run and of its task runs. Its API URL and one flow run id."""
    with LocalServer(home=tmp_path_factory.mktemp("sync-home"), startup_timeout=300) as server:
        now = datetime.now(timezone.utc)
        with writer(server.api_url) as http:
            for name in ("sync-whole-a", "sync-whole-b"):
                flow_id = post(http, "/flows/", {"name": name})["id"]
                for state in ("COMPLETED", "FAILED"):
                    run_id = _new_flow_run(http, flow_id, state, TASKS_PER_RUN)
                    tasks = post(http, "/task_runs/filter",
                                 {"flow_runs": {"id": {"any_": [run_id]}}})
                    post(http, "/logs/", [{
                        "name": "sync", "level": 20 + 10 * (i % 2), "message": f"line {i} <b>",
                        "flow_run_id": run_id,
                        "task_run_id": tasks[i % len(tasks)]["id"] if i % 3 else None,
                        "timestamp": (now + timedelta(milliseconds=i)).isoformat()}
                        for i in range(12)])
        yield server.api_url, run_id


def test_the_whole_server_with_logs(own_server, tmp_path, monkeypatch):
    api_url, flow_run_id = own_server
    monkeypatch.setenv("PREFECT_API_URL", api_url)
    prefect_widgets.configure(api_url=api_url)
    dest = tmp_path / "all"
    summary = sync_history(dest, logs=True, progress=False)
    flow_runs = _read(dest, "flow_runs")
    assert flow_runs["flow_run_id"].is_unique
    assert len(flow_runs) == summary.tables["flow_runs"].added == FlowRunView.count()
    tasks = _read(dest, "task_runs")
    assert tasks["task_run_id"].is_unique
    assert len(tasks) == TaskRunView.count(flow_run_id=flow_runs["flow_run_id"].tolist())
    assert len(flow_runs) == 4 and len(tasks) == 4 * TASKS_PER_RUN
    run = FlowRunView.from_flow_run_id(flow_run_id)
    logs = run.get_logs(end_time=None).to_dataframe()
    assert len(logs) == 12 and logs["task_name"].notna().sum() == 8
    synced = _read(dest, "logs").set_index("log_id")
    mine = synced[synced["flow_run_id"] == run.flow_run_id].loc[logs.index]
    assert mine["message"].tolist() == logs["message"].tolist()
    assert mine["task_name"].fillna("").tolist() == logs["task_name"].fillna("").tolist()
    assert _micros(mine["timestamp"]) == _micros(logs["timestamp"])
    again = sync_history(dest, logs=True, progress=False)
    assert not again.first
    assert {name: c.added for name, c in again.tables.items()} == \
        {"flow_runs": 0, "task_runs": 0, "logs": 0}


# --------------------------------------------------------------------------- increments


def test_a_later_sync_adds_exactly_the_new_and_changed_rows(flow, api_url, tmp_path):
    name, flow_id = flow
    dest = tmp_path / "history"
    sync_history(dest, flows=[name], progress=False)
    before = _read(dest, "flow_runs").set_index("flow_run_id")
    tasks_before = _read(dest, "task_runs")

    nothing = sync_history(dest, progress=False)  # the flows are kept in the state file
    assert all(c.added == c.replaced == 0 and not c.partitions
               for c in nothing.tables.values()), nothing

    changed = before.index[before["state_type"] == "COMPLETED"][0]
    changed_task = tasks_before["task_run_id"][tasks_before["flow_run_id"] != changed].iloc[0]
    with writer(api_url) as http:
        new = _new_flow_run(http, flow_id, "COMPLETED", 3)
        post(http, f"/flow_runs/{changed}/set_state",
              {"state": {"type": "FAILED", "name": "Failed"}, "force": True})
        post(http, f"/task_runs/{changed_task}/set_state",
              {"state": {"type": "CRASHED", "name": "Crashed"}, "force": True})
    summary = sync_history(dest, progress=False)

    assert not summary.first
    assert (summary.tables["flow_runs"].added, summary.tables["flow_runs"].replaced) == (1, 1)
    assert (summary.tables["task_runs"].added, summary.tables["task_runs"].replaced) == (3, 1)
    after = _read(dest, "flow_runs").set_index("flow_run_id")
    assert after.index.is_unique and len(after) == len(before) + 1
    assert after.loc[changed, "state_type"] == "FAILED" and new in after.index
    tasks = _read(dest, "task_runs").set_index("task_run_id")
    assert tasks.index.is_unique and len(tasks) == len(tasks_before) + 3
    assert tasks.loc[changed_task, "state_type"] == "CRASHED"
    unchanged = before.index.difference([changed])
    assert after.loc[unchanged, "updated"].equals(before.loc[unchanged, "updated"])


def _wait_for_event(http: httpx.Client, event: str, resource: str) -> None:
    """Until the server has stored `event` of `resource` (its events are persisted in
    batches, a few seconds late)."""
    body = {"filter": {"event": {"name": [event]}, "resource": {"id": [resource]}}, "limit": 1}
    deadline = time.monotonic() + 60
    while not http.post("/events/filter", json=body).json()["events"]:
        assert time.monotonic() < deadline, f"no {event} event of {resource}"
        time.sleep(0.5)


def test_a_state_forced_on_a_run_older_than_the_window_is_seen(flow, api_url, tmp_path,
                                                               monkeypatch):
    """A forced final-to-final change moves no time field: the flow-run event finds it."""
    name, _ = flow
    dest = tmp_path / "history"
    sync_history(dest, flows=name, progress=False)
    monkeypatch.setattr("prefect_widgets.sync.SETTLE", timedelta(0))
    before = _read(dest, "flow_runs").set_index("flow_run_id")
    old = before.index[before["state_type"] == "COMPLETED"][0]
    with writer(api_url) as http:
        post(http, f"/flow_runs/{old}/set_state",
              {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})
        assert http.get(f"/flow_runs/{old}").json()["end_time"] == \
            before.loc[old, "end_time"].isoformat().replace("+00:00", "Z")
        _wait_for_event(http, "prefect.flow-run.Cancelled", f"prefect.flow-run.{old}")
    summary = sync_history(dest, progress=False)
    assert (summary.tables["flow_runs"].added, summary.tables["flow_runs"].replaced) == (0, 1)
    after = _read(dest, "flow_runs").set_index("flow_run_id")
    assert after.index.is_unique and after.loc[old, "state_type"] == "CANCELLED"


def _flow_run_rows(day: str, count: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "flow_id": str(uuid.uuid4()), "name": f"r{i}",
             "state_type": "COMPLETED", "state_name": "Completed",
             "created": f"{day}T10:00:0{i}+00:00", "updated": f"{day}T11:00:0{i}+00:00"}
            for i in range(count)]


def test_only_partitions_with_changed_rows_are_rewritten(tmp_path):
    monday, tuesday = _flow_run_rows("2026-11-30", 3), _flow_run_rows("2026-12-01", 2)
    first = TableChanges()
    write_rows(tmp_path, FLOW_RUNS, flow_runs_frame(monday + tuesday), first)
    assert (first.added, first.replaced, first.partitions) == (5, 0, {"2026-11-30", "2026-12-01"})
    monday_file = tmp_path / "flow_runs" / "date=2026-11-30" / "part-0.parquet"
    stamp = monday_file.stat().st_mtime_ns, monday_file.stat().st_ino

    tuesday[0] = {**tuesday[0], "state_type": "FAILED", "updated": "2026-12-01T12:00:00+00:00"}
    later = TableChanges()
    write_rows(tmp_path, FLOW_RUNS, flow_runs_frame([*monday, *tuesday,
                                                     *_flow_run_rows("2026-12-01", 1)]), later)
    assert (later.added, later.replaced, later.partitions) == (1, 1, {"2026-12-01"})
    assert (monday_file.stat().st_mtime_ns, monday_file.stat().st_ino) == stamp
    rows = _read(tmp_path, "flow_runs").set_index("flow_run_id")
    assert rows.index.is_unique and len(rows) == 6
    assert rows.loc[tuesday[0]["id"], "state_type"] == "FAILED"


def test_a_crash_mid_write_leaves_a_readable_dataset(flow, api_url, tmp_path):
    name, flow_id = flow
    dest = tmp_path / "history"
    sync_history(dest, flows=name, progress=False)
    before = _read(dest, "task_runs")
    state_before = (dest / STATE_FILE).read_text()
    with writer(api_url) as http:
        _new_flow_run(http, flow_id, "COMPLETED", 2)
    # the process dies while writing a partition: half a file, no clean-up, no state saved
    crash = ("import os, pyarrow.parquet as pq\n"
             "def die(table, where, **kwargs):\n"
             "    open(where, 'wb').write(b'PAR1 half a file')\n"
             "    os._exit(9)\n"
             "pq.write_table = die\n"
             "from prefect_widgets.sync import sync_history\n"
             f"sync_history({str(dest)!r}, progress=False)\n")
    died = subprocess.run([sys.executable, "-c", crash], env={**os.environ,
                          "PREFECT_API_URL": api_url}, capture_output=True, timeout=120)
    assert died.returncode == 9, died.stderr
    assert list(dest.glob("*/date=*/.part-0.parquet.tmp-*")), "the crash left no half file"
    assert (dest / STATE_FILE).read_text() == state_before
    readable = _read(dest, "task_runs")
    assert sorted(readable["task_run_id"]) == sorted(before["task_run_id"])

    summary = sync_history(dest, progress=False)
    assert summary.tables["task_runs"].added == 2
    assert not list(dest.glob("*/date=*/.part-0.parquet.tmp-*"))
    assert len(_read(dest, "task_runs")) == len(before) + 2


# --------------------------------------------------------------------------- state file


def test_the_state_file_names_no_secret_and_no_other_server(flow, api_url, tmp_path):
    name, _ = flow
    dest = tmp_path / "history"
    secret = "pnu_sync-SECRET-key-123"
    with Client(api_url, api_key=secret) as client:
        sync_history(dest, flows=name, client=client, progress=False)
    state = json.loads((dest / STATE_FILE).read_text())
    assert set(state) == {"format", "server", "flows", "logs", "since", "marks", "synced_at"}
    assert state["server"].startswith("sha256:") and api_url not in json.dumps(state)
    assert state["flows"] == [name]
    for path in dest.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    other = api_url.replace("127.0.0.1", "localhost")
    with Client(other) as client, pytest.raises(ConfigurationError, match="another server"):
        sync_history(dest, client=client, progress=False)
    with pytest.raises(InvalidRequest, match="folder of their own"):
        sync_history(dest, flows="some-other-flow", progress=False)
    with pytest.raises(InvalidRequest, match="without logs"):
        sync_history(dest, logs=True, progress=False)


def test_arguments_are_checked_before_any_request(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidRequest, match="not a folder"):
        sync_history(tmp_path / "file")
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        sync_history(tmp_path / "d", since=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidRequest, match="flow names"):
        sync_history(tmp_path / "d", flows=[""])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / STATE_FILE).write_text("{not json")
    with pytest.raises(InvalidRequest, match="unreadable"):
        sync_history(tmp_path / "bad", client=Client("http://127.0.0.1:9/api"))


def test_summary_reads_as_a_sentence(tmp_path):
    summary = SyncSummary(tmp_path, {"flow_runs": TableChanges(2, 1, {"2026-12-01"})}, False)
    assert str(summary) == (f"Updated {tmp_path}: flow_runs: +2 new, 1 changed, "
                            "1 partitions written")


# --------------------------------------------------------------------------- CLI


def _cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def test_cli_help_names_the_layout_and_the_options():
    text = _cli("sync", "--help").stdout
    for needed in ("DEST", "--since", "--flow", "--logs", "date=", "_sync_state.json",
                   "never credentials"):
        assert needed in text


def test_cli_syncs_and_exits_with_the_documented_codes(flow, api_url, tmp_path):
    name, _ = flow
    dest = tmp_path / "cli"
    done = json.loads(_cli("--output", "json", "sync", dest, "--flow", name,
                           "--since", "1d").stdout)
    assert done["first"] is True and done["tables"]["flow_runs"]["added"] == 3
    assert done["tables"]["task_runs"]["added"] == 3 * TASKS_PER_RUN
    again = _cli("sync", dest)
    assert again.stdout == "" and "+0 new, 0 changed" in again.stderr
    (tmp_path / "file").write_text("x")
    assert "not a folder" in _cli("sync", tmp_path / "file", code=1).stderr
    assert "--since" in _cli("sync", tmp_path / "x", "--since", "soon", code=1).stderr
    unreachable = _cli("--api-url", "http://127.0.0.1:9/api", "--retries", "0", "--timeout",
                       "2", "sync", tmp_path / "y", code=3)
    assert unreachable.stderr.startswith("Error: ")
    prefect_widgets.configure(api_url=api_url)  # --api-url configured the process
