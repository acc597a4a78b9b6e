"""The `prefect-widgets` command line against the real test server.

Most commands run in-process through typer's CliRunner (fast); a few run as real
subprocesses (`python -m prefect_widgets ...`) to check piping, exit codes and `--follow`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.cli import app
from prefect_widgets.cli.output import Column, Output
from prefect_widgets.errors import InvalidRequest, NotFound
from prefect_widgets.samples import HOSTILE, MAPPED_SIZE, wait_until_recorded

SECRET = "sk-SECRET123"
UNREACHABLE = "http://127.0.0.1:9/api"


def cli(*args: str, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (
        f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        f"\nexception: {result.exception!r}")
    return result


def cli_json(*args: str):
    return json.loads(cli("--output", "json", *args).stdout)


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def run_module(*args: str, env: dict[str, str], timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "prefect_widgets", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- help


HELP = {
    (): ["--api-url", "--api-key", "--profile", "--output", "--debug", "--retries", "--timeout",
         "flow-run", "task-run", "logs", "export", "report", "count", "demo"],
    ("flow-run", "ls"): ["--flow", "--state", "--tag", "--since", "--name", "--limit", "--wide",
                         "--utc", "--local", "newest first"],
    ("flow-run", "inspect"): ["FLOW_RUN", "--failed-limit", "--output", "--local"],
    ("task-run", "ls"): ["FLOW_RUN", "--state", "--tag", "--since", "--sort", "--limit", "--wide",
                         "NAME_ASC", "RUN_ORDER"],
    ("task-run", "inspect"): ["--slug", "--map-index", "max_retries"],
    ("logs",): ["FLOW_RUN", "--level", "--task-run", "--since", "--limit", "--follow",
                "--poll-interval"],
    ("export",): ["--output", "-o", "--format", ".parquet", "pyarrow"],
    ("report",): ["FLOW_RUN", "--output", "HTML"],
    ("count",): ["flow-runs|task-runs", "--by-state", "--flow", "--state", "--tag",
                 "--flow-run", "--since", "--until"],
    ("demo",): ["--api-url", "--output", "--lab", "--sample"],
}


@pytest.mark.parametrize("command", list(HELP), ids=lambda c: " ".join(c) or "main")
def test_help_of_every_command_lists_its_options(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for needle in HELP[command]:
        assert needle in result.stdout, f"{needle!r} missing from help of {command}"


def test_demo_refuses_an_unknown_sample_before_starting_anything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(cli("demo", "--sample", "hello", "--sample", "nope", code=1))
    assert line.startswith("Error: No sample flow named 'nope'. The samples are: hello, failing,")
    assert not list(tmp_path.iterdir())  # no report, no server home


def test_version_and_usage_error_exit_codes():
    assert cli("--version").stdout.strip().startswith("prefect-widgets ")
    usage = CliRunner().invoke(app, ["flow-run", "ls", "--no-such-option"])
    assert usage.exit_code == 2
    assert "No such option" in usage.stderr


# --------------------------------------------------------------------------- flow-run


def test_flow_run_ls_json_is_the_library_answer_newest_first(runs):
    listed = cli_json("flow-run", "ls", "--limit", "0")
    expected = FlowRunView.query(limit=None, sort="START_TIME_DESC")
    assert [r["flow_run_id"] for r in listed] == [v.flow_run_id for v in expected]
    assert set(runs.values()) <= {r["flow_run_id"] for r in listed}
    starts = [datetime.fromisoformat(r["start_time"]) for r in listed if r["start_time"]]
    assert starts == sorted(starts, reverse=True)
    hello = next(r for r in listed if r["flow_run_id"] == runs["hello"])
    assert hello["flow_name"] == "hello-world"
    assert hello["parameters"] == {"name": "world"}
    assert hello["state_type"] == "COMPLETED"
    assert len(cli_json("flow-run", "ls", "--limit", "3")) == 3


def test_flow_run_ls_filters(runs):
    failing = cli_json("flow-run", "ls", "--flow", "nightly-etl")
    assert runs["failing"] in [r["flow_run_id"] for r in failing]
    assert {r["flow_name"] for r in failing} == {"nightly-etl"}
    failed = cli_json("flow-run", "ls", "--state", "failed", "--limit", "0")
    assert {r["state_type"] for r in failed} == {"FAILED"}
    assert len(failed) == FlowRunView.count(state_type="FAILED")
    both = cli_json("flow-run", "ls", "--state", "failed,completed", "--limit", "0")
    assert len(both) == FlowRunView.count(state_type=["FAILED", "COMPLETED"])
    name = FlowRunView.from_flow_run_id(runs["hello"]).name
    assert [r["flow_run_id"] for r in cli_json("flow-run", "ls", "--name", name)] == [runs["hello"]]


def test_flow_run_ls_piped_default_is_tab_separated_and_table_is_readable(runs):
    plain = cli("flow-run", "ls", "--limit", "0").stdout
    rows = [line.split("\t") for line in plain.splitlines()]
    assert all(len(row) == 6 for row in rows)
    by_id = {row[0]: row for row in rows}
    assert (by_id[runs["failing"]][1], by_id[runs["failing"]][3]) == ("nightly-etl", "FAILED")
    assert "\x1b[" not in plain  # no colour codes in a pipe
    table = cli("--output", "table", "flow-run", "ls", "--flow", "hello-world").stdout
    assert "STATE" in table and "hello-world" in table and "Completed" in table
    assert runs["hello"][:8] in table and runs["hello"] not in table  # short ids
    wide = cli("--output", "table", "flow-run", "ls", "--flow", "hello-world", "--wide").stdout
    assert runs["hello"] in wide
    csv_text = cli("--output", "csv", "flow-run", "ls", "--limit", "2").stdout
    frame = pd.read_csv(io.StringIO(csv_text))
    assert list(frame.columns) == ["flow_run_id", "flow_name", "name", "state_type",
                                   "start_time", "duration"]
    assert len(frame) == 2


def test_flow_run_inspect_shows_the_failure(runs):
    table = cli("--output", "table", "flow-run", "inspect", runs["failing"]).stdout
    assert "Could not connect to warehouse at db.internal:5432" in table
    assert "write_to_warehouse" in table
    assert "Failed 1" in table and "Completed 1" in table and "2 task runs" in table
    assert "subflow run" not in table
    data = cli_json("flow-run", "inspect", runs["failing"])
    assert data["flow_run_id"] == runs["failing"]
    assert data["state_type"] == "FAILED"
    assert "Could not connect to warehouse" in data["state_message"]
    assert data["task_run_counts"] == TaskRunView.count_by_state(flow_run_id=runs["failing"])
    failed = TaskRunView.query(flow_run_id=runs["failing"], state_type="FAILED")
    assert [t["task_run_id"] for t in data["failed_task_runs"]] == [t.task_run_id for t in failed]
    assert "ConnectionError" in data["failed_task_runs"][0]["state_message"]
    plain = cli("flow-run", "inspect", runs["failing"]).stdout
    assert f"flow_run_id\t{runs['failing']}" in plain.splitlines()


def test_flow_run_inspect_by_name_and_parameters(runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    data = cli_json("flow-run", "inspect", view.name)
    assert data["flow_run_id"] == runs["hello"]
    assert data["parameters"] == {"name": "world"}
    assert data["task_run_count"] == len(view.task_run_ids) == 2
    assert data["subflow_run_count"] == 0
    assert data["failed_task_runs"] == []
    assert data["duration"] == pytest.approx(view.duration.total_seconds(), abs=1e-3)
    table = cli("--output", "table", "flow-run", "inspect", runs["hello"]).stdout
    assert '{"name": "world"}' in table and "Completed 2" in table


# --------------------------------------------------------------------------- task-run


def test_task_run_ls_every_task_run_of_the_mapped_run(runs):
    listed = cli_json("task-run", "ls", runs["mapped"], "--limit", "0")
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    assert len(listed) == MAPPED_SIZE
    assert {t["task_run_id"] for t in listed} == set(view.task_run_ids)
    named = cli_json("task-run", "ls", runs["mapped"], "--sort", "name_asc", "--limit", "5",
                     "--state", "completed")
    assert [t["name"] for t in named] == sorted(t["name"] for t in listed)[:5]
    table = cli("--output", "table", "task-run", "ls", runs["mapped"], "--limit", "3")
    assert table.stdout.count("square-") == 3
    assert f"Showing 3 of {MAPPED_SIZE} task runs" in table.stderr


def test_task_run_ls_is_the_snapshot_listing_in_run_order(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    views = view.task_runs()
    listed = cli_json("task-run", "ls", runs["mapped"], "--limit", "0")
    assert [t["task_run_id"] for t in listed] == [v.task_run_id for v in views]
    assert [t["map_index"] for t in listed] == [v.map_index for v in views]
    assert {t["task_name"] for t in listed} == {"square"}
    assert all(t["mapped"] and t["kind"] == "task-run" for t in listed)
    assert [t["task_label"] for t in listed[:3]] == [
        f"square[{'~' if v.map_index_uncertain else ''}{v.map_index}]" for v in views[:3]]
    frame = view.to_dataframe()
    assert [t["task_run_id"] for t in listed] == list(frame.index)
    assert [t["map_index"] for t in listed] == frame["map_index"].tolist()
    first = cli_json("task-run", "ls", runs["mapped"], "--limit", "10")
    assert first == listed[:10]
    by_id = cli_json("task-run", "ls", runs["mapped"], "--limit", "0", "--sort", "id_desc")
    assert [t["task_run_id"] for t in by_id] == sorted((t["task_run_id"] for t in listed),
                                                       reverse=True)
    expected = cli_json("task-run", "ls", runs["mapped"], "--limit", "0",
                        "--sort", "EXPECTED_START_TIME_ASC")
    by_expected = sorted(views, key=lambda v: v.expected_start_time)  # stable: run order
    assert [t["task_run_id"] for t in expected] == [v.task_run_id for v in by_expected]
    ends = cli_json("task-run", "ls", runs["diamond"], "--sort", "END_TIME_DESC")
    end_times = [datetime.fromisoformat(t["end_time"]) for t in ends]
    assert end_times == sorted(end_times, reverse=True)


def test_task_run_ls_table_shows_task_labels_and_retries(runs):
    table = cli("--output", "table", "task-run", "ls", runs["retrying"]).stdout
    assert "TASK" in table and "RETRIES" in table
    row = next(line for line in table.splitlines() if "flaky_download-" in line)
    assert row.split()[1] == "flaky_download" and row.split()[-1] == "2"
    mapped = cli("--output", "table", "task-run", "ls", runs["mapped"], "--limit", "3").stdout
    assert mapped.count("square[") == 3
    header = cli("--output", "csv", "task-run", "ls", runs["hello"]).stdout.splitlines()[0]
    assert header == "task_run_id,task_label,name,state_type,start_time,duration,retries"
    retried = cli_json("task-run", "ls", runs["retrying"])
    assert [(t["retries"], t["max_retries"], t["run_count"]) for t in retried] == [(2, 2, 3)]


def test_task_run_inspect_retries_mean_retries_that_happened(runs):
    task = FlowRunView.from_flow_run_id(runs["retrying"]).task_runs()[0]
    data = cli_json("task-run", "inspect", task.task_run_id)
    assert (data["retries"], data["max_retries"], data["run_count"]) == (2, 2, 3)
    assert data["task_name"] == "flaky_download" and data["kind"] == "task-run"
    assert data["map_index"] == 0 and data["mapped"] is False
    table = cli("--output", "table", "task-run", "inspect", task.task_run_id).stdout
    assert "3 (2 retries; up to 2 allowed)" in table
    hello = cli_json("task-run", "inspect",
                     FlowRunView.from_flow_run_id(runs["hello"]).task_runs()[0].task_run_id)
    assert (hello["retries"], hello["max_retries"]) == (0, 0)


def test_subflow_runs_are_listed_and_counted_apart(runs):
    listed = cli_json("task-run", "ls", runs["subflow"])
    assert [t["kind"] for t in listed] == ["subflow-run"]
    child = FlowRunView.from_flow_run_id(listed[0]["child_flow_run_id"])
    assert child.parent_task_run_id == listed[0]["task_run_id"]
    assert listed[0]["task_name"] == "child-report"
    data = cli_json("flow-run", "inspect", runs["subflow"])
    assert (data["task_run_count"], data["subflow_run_count"]) == (0, 1)
    table = cli("--output", "table", "flow-run", "inspect", runs["subflow"]).stdout
    assert "0 task runs · 1 subflow run" in table


def test_task_run_ls_state_filter_and_unknown_flow_run(runs):
    failed = cli_json("task-run", "ls", runs["failing"], "--state", "FAILED")
    assert [t["name"].rsplit("-", 1)[0] for t in failed] == ["write_to_warehouse"]
    missing = cli("task-run", "ls", "8e445d74-9ca6-425b-98e5-72754b7ea174", code=1)
    assert "No flow run with id 8e445d74" in one_error_line(missing)


def test_task_run_inspect_by_id_and_by_slug(runs):
    task = FlowRunView.from_flow_run_id(runs["hello"]).get_task_run(task_slug="say_hello")
    by_id = cli_json("task-run", "inspect", task.task_run_id)
    assert by_id["task_run_id"] == task.task_run_id
    assert by_id["name"] == task.name
    assert [s["type"] for s in by_id["states"]] == ["PENDING", "RUNNING", "COMPLETED"]
    assert by_id["upstream_task_run_ids"] == task.upstream_task_run_ids
    by_slug = cli_json("task-run", "inspect", runs["hello"], "--slug", "say_hello")
    assert by_slug["task_run_id"] == task.task_run_id
    expected = FlowRunView.from_flow_run_id(runs["mapped"]).get_task_run(task_slug="square",
                                                                         map_index=7)
    mapped = cli_json("task-run", "inspect", runs["mapped"], "--slug", "square",
                      "--map-index", "7")
    assert (mapped["task_run_id"], mapped["map_index"]) == (expected.task_run_id, 7)
    table = cli("--output", "table", "task-run", "inspect", task.task_run_id).stdout
    assert task.name in table and "History" in table and "Completed" in table


def test_task_run_inspect_ambiguous_slug_exits_2_in_one_line_naming_the_option(runs):
    result = cli("task-run", "inspect", runs["mapped"], "--slug", "square", code=2)
    line = one_error_line(result)
    assert f"matches {MAPPED_SIZE} task runs" in line and "--map-index" in line
    failed = cli("task-run", "inspect", runs["retrying"], "--slug", "nope", code=1)
    assert "No task run matches slug 'nope'" in one_error_line(failed)


# --------------------------------------------------------------------------- logs


def test_logs_of_the_hello_run(runs):
    plain = cli("logs", runs["hello"]).stdout
    lines = [line.split("\t") for line in plain.splitlines()]
    messages = [line[-1] for line in lines]
    assert "Hello, WORLD!" in messages and "Saying hello to world" in messages
    assert all(len(line) == 7 for line in lines)  # LOG_COLUMNS
    table = cli("--output", "table", "logs", runs["hello"]).stdout
    assert "Hello, WORLD!" in table and "INFO" in table
    as_json = cli_json("logs", runs["hello"])
    expected = FlowRunView.from_flow_run_id(runs["hello"]).get_logs()
    assert [e["message"] for e in as_json] == [e.message for e in expected]


def test_logs_level_and_task_run_filters(runs):
    errors = cli_json("logs", runs["failing"], "--level", "error")
    assert errors and {e["level_name"] for e in errors} <= {"ERROR", "CRITICAL"}
    assert "Warehouse connection refused" in [e["message"] for e in errors]
    say_hello = FlowRunView.from_flow_run_id(runs["hello"]).get_task_run(task_slug="say_hello")
    task_logs = cli_json("logs", runs["hello"], "--task-run", say_hello.task_run_id)
    assert {e["task_run_id"] for e in task_logs} == {say_hello.task_run_id}
    assert "Hello, WORLD!" in [e["message"] for e in task_logs]
    assert "Saying hello to world" not in [e["message"] for e in task_logs]
    assert "Unknown log level 'LOUD'" in one_error_line(
        cli("logs", runs["hello"], "--level", "LOUD", code=1))


def test_logs_follow_on_a_finished_run_prints_states_and_returns(runs):
    out = cli("logs", runs["hello"], "--follow").stdout
    assert "Hello, WORLD!" in out
    assert "Entered state Completed" in out


def test_logs_follow_streams_a_live_run_until_it_finishes(prefect_server):
    env = prefect_server.env()
    started = time.monotonic()
    flows = subprocess.Popen([sys.executable, "-m", "prefect_widgets.samples", "slow"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        running = None
        while running is None and time.monotonic() - started < 60:
            found = FlowRunView.query(flow_name="slow-pipeline", state_type="RUNNING", limit=1)
            running = found[0] if len(found) else None
            time.sleep(0.2)
        assert running is not None, "the slow sample never started running"
        launched = datetime.now(timezone.utc)
        follow = run_module("--output", "json", "logs", running.flow_run_id, "--follow",
                            "--poll-interval", "0.5", env=env)
        assert follow.returncode == 0, follow.stderr
        entries = [json.loads(line) for line in follow.stdout.splitlines()]
        messages = [e["message"] for e in entries]
        assert "finished stage 12 of 12" in messages
        assert messages[-1].startswith("Entered state Completed") or \
            "Entered state Completed" in " ".join(messages)
        assert any(m.startswith("Entered state Running") for m in messages)
        finished = FlowRunView.from_flow_run_id(running.flow_run_id)
        assert finished.state.is_completed()
        assert finished.end_time > launched  # it really followed a live run to its end
    finally:
        flows.communicate(timeout=120)


# --------------------------------------------------------------------------- export


def _normalise(frame: pd.DataFrame) -> dict[str, list]:
    """Column → comparable Python values (NaN/NaT/None → None, arrays → lists)."""
    out = {}
    for name in frame.columns:
        values = []
        for value in frame[name].tolist():
            if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
                value = value.tolist()
            if not isinstance(value, list) and pd.isna(value):
                value = None
            values.append(value)
        out[name] = values
    return out


def _expected(flow_run_id: str) -> pd.DataFrame:
    return FlowRunView.from_flow_run_id(flow_run_id).to_dataframe().reset_index()


def test_export_parquet_round_trips_the_dataframe(runs, tmp_path):
    path = tmp_path / "mapped.parquet"
    result = cli("export", runs["mapped"], "-o", path)
    assert f"Wrote {MAPPED_SIZE} task runs" in result.stderr
    back = pd.read_parquet(path)
    expected = _expected(runs["mapped"])
    assert list(back.columns) == list(expected.columns)
    assert back["state_type"].dtype == expected["state_type"].dtype
    assert back["start_time"].dtype == expected["start_time"].dtype
    assert _normalise(back) == _normalise(expected)


def test_export_csv_equals_the_dataframe(runs, tmp_path):
    path = tmp_path / "diamond.csv"
    cli("export", runs["diamond"], "--output", path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = _expected(runs["diamond"])
    assert list(back.columns) == list(expected.columns)
    assert len(back) == len(expected) == 4
    parsed = pd.DataFrame({
        "task_run_id": back["task_run_id"], "name": back["name"],
        "map_index": back["map_index"].astype(int),
        "state_type": back["state_type"],
        "start_time": pd.to_datetime(back["start_time"], utc=True),
        "duration": pd.to_timedelta(back["duration"]),
        "run_count": back["run_count"].astype(int),
        "tags": [json.loads(v) for v in back["tags"]],
        "upstream_task_run_ids": [json.loads(v) for v in back["upstream_task_run_ids"]],
        "cache_key": back["cache_key"].replace("", None),
    })
    want = expected[list(parsed.columns)].astype({"state_type": str, "map_index": int})
    assert _normalise(parsed) == _normalise(want)
    assert any(len(ups) == 2 for ups in parsed["upstream_task_run_ids"])  # the diamond's join


def test_export_takes_the_listing_filters(runs, tmp_path):
    """`export` keeps the task runs that pass --state/--tag/--since/--limit, as `task-run ls`."""
    frame = FlowRunView.from_flow_run_id(runs["mapped"]).to_dataframe()
    path = tmp_path / "some.csv"
    cli("export", runs["mapped"], "--output", path, "--state", "completed", "--limit", "7")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    want = frame[frame["state_type"] == "COMPLETED"].head(7)
    assert back["task_run_id"].tolist() == want.index.tolist()
    cli("export", runs["failing"], "--output", path, "--state", "FAILED,CRASHED")
    failed = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert set(failed["state_type"]) == {"FAILED"} and len(failed) >= 1
    cli("export", runs["mapped"], "--output", path, "--since", "1h", "--tag", "no-such-tag")
    assert len(pd.read_csv(path, dtype=str, keep_default_na=False)) == 0
    late = frame["start_time"].dropna().sort_values().iloc[len(frame) // 2]
    cli("export", runs["mapped"], "--output", path, "--since", late.isoformat())
    since = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(since) == int((frame["start_time"] >= late).sum())
    bad = CliRunner().invoke(app, ["export", runs["mapped"], "-o", str(path), "--since", "soon"])
    assert bad.exit_code == 1 and "--since" in bad.stderr


def test_export_json_equals_the_dataframe(runs, tmp_path):
    path = tmp_path / "failing.json"
    cli("export", runs["failing"], "-o", path)
    records = json.loads(path.read_text())
    expected = _expected(runs["failing"])
    assert [r["task_run_id"] for r in records] == expected["task_run_id"].tolist()
    assert list(records[0]) == list(expected.columns)
    back = pd.DataFrame(records)
    back["end_time"] = pd.to_datetime(back["end_time"], utc=True)
    back["duration"] = pd.to_timedelta(back["duration"])
    cols = ["task_run_id", "state_type", "state_message", "end_time", "duration",
            "upstream_task_run_ids", "run_count"]
    want = expected[cols].astype({"state_type": str})
    assert _normalise(back[cols]) == _normalise(want)
    stdout = cli("export", runs["failing"], "-o", "-", "--format", "json").stdout
    assert json.loads(stdout) == records


def test_export_bad_targets(runs, tmp_path, monkeypatch):
    txt = cli("export", runs["hello"], "-o", tmp_path / "x.txt", code=1)
    assert ".csv, *.parquet or *.json" in one_error_line(txt)
    missing = cli("export", runs["hello"], "-o", tmp_path / "no" / "x.csv", code=1)
    assert "does not exist" in one_error_line(missing)
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    no_arrow = cli("export", runs["hello"], "-o", tmp_path / "x.parquet", code=1)
    assert "pip install" in one_error_line(no_arrow) and "pyarrow" in no_arrow.stderr
    assert not list(tmp_path.iterdir())


def test_report_and_trace_never_leave_a_half_file(runs, tmp_path, monkeypatch):
    for command in ("report", "trace"):
        missing = cli(command, runs["hello"], "-o", tmp_path / "no" / "x.html", code=1)
        assert "does not exist" in one_error_line(missing)
    kept = tmp_path / "kept.trace.json"
    kept.write_text("the previous trace")

    def disk_full(self, path, **kwargs):
        Path(path).write_text('{"traceEvents": [')  # half written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FlowRunView, "to_trace", disk_full)
    full = cli("trace", runs["hello"], "-o", kept, code=1)
    assert "No space left on device" in one_error_line(full)
    assert kept.read_text() == "the previous trace"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.trace.json"]


# --------------------------------------------------------------------------- count


def test_count_matches_the_library(runs):
    assert int(cli("count").stdout) == FlowRunView.count()
    assert cli_json("count", "task-runs") == {"count": TaskRunView.count()}
    by_state = cli_json("count", "--by-state")
    assert by_state == FlowRunView.count_by_state()
    assert by_state["FAILED"] >= 2  # the failing and hostile samples
    task_states = cli_json("count", "task-runs", "--by-state", "--flow-run", runs["failing"])
    assert task_states == {"COMPLETED": 1, "FAILED": 1}
    mapped = cli("count", "task-runs", "--flow-run", runs["mapped"], "--state", "completed")
    assert int(mapped.stdout) == MAPPED_SIZE
    assert int(cli("count", "--flow", "nightly-etl").stdout) == FlowRunView.count(
        flow_name="nightly-etl")
    table = cli("--output", "table", "count", "--by-state").stdout
    assert "Failed" in table and "Completed" in table
    assert "Total" in table and str(sum(by_state.values())) in table
    tsv = dict(line.split("\t") for line in cli("count", "--by-state").stdout.splitlines())
    assert {k: int(v) for k, v in tsv.items()} == by_state


def test_count_bad_inputs(runs):
    assert "drop --state" in one_error_line(cli("count", "--by-state", "--state", "failed",
                                                code=1))
    assert "ISO 8601" in one_error_line(cli("count", "--since", "yesterday", code=1))
    assert CliRunner().invoke(app, ["count", "widgets"]).exit_code == 2


# --------------------------------------------------------------------------- bad inputs


def test_malformed_and_unknown_ids_exit_1_with_one_line(runs):
    malformed = cli("logs", "12", code=1)
    assert "No flow run has the id, id prefix or name '12'" in one_error_line(malformed)
    assert malformed.stdout == ""
    unknown = cli("flow-run", "inspect", "8e445d74-9ca6-425b-98e5-72754b7ea174", code=1)
    assert "No flow run with id 8e445d74-9ca6-425b-98e5-72754b7ea174" in one_error_line(unknown)
    not_a_name = cli("flow-run", "inspect", "not-a-run", code=1)
    assert "No flow run has the id, id prefix or name 'not-a-run'" in one_error_line(not_a_name)
    task = cli("task-run", "inspect", "8e445d74-9ca6-425b-98e5-72754b7ea174", code=1)
    assert "No task run with id" in one_error_line(task)


def test_unknown_state_exits_1(runs):
    result = cli("flow-run", "ls", "--state", "finished", code=1)
    line = one_error_line(result)
    assert "Unknown state type 'FINISHED'" in line and "COMPLETED" in line


def test_unreachable_server_exits_3_quickly_and_never_shows_the_key(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    started = time.monotonic()
    result = cli("--api-url", UNREACHABLE, "--api-key", SECRET, "flow-run", "ls", code=3)
    assert time.monotonic() - started < 15
    assert "Cannot reach the Prefect API at http://127.0.0.1:9/api" in one_error_line(result)
    debug = cli("--api-url", UNREACHABLE, "--api-key", SECRET, "--debug", "--retries", "0",
                "count", code=3)
    assert "Traceback" in debug.stderr  # --debug shows it ...
    for output in (result, debug):  # ... but the key is in no output at all
        assert SECRET not in output.stdout + output.stderr


def test_missing_url_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    line = one_error_line(cli("count", code=1))
    assert "No Prefect API URL is configured" in line and "--api-url" in line
    assert "must start with http" in one_error_line(cli("--api-url", "ftp://x", "count", code=1))


def test_subprocess_pipes_plain_output_and_errors(runs, prefect_server):
    env = prefect_server.env()
    inspect = run_module("--output", "json", "flow-run", "inspect", runs["hello"], env=env)
    assert inspect.returncode == 0, inspect.stderr
    assert json.loads(inspect.stdout)["parameters"] == {"name": "world"}
    listing = run_module("flow-run", "ls", "--flow", "hello-world", env=env)
    assert listing.returncode == 0
    assert "\x1b[" not in listing.stdout and "\x1b[" not in listing.stderr
    assert runs["hello"] in [line.split("\t")[0] for line in listing.stdout.splitlines()]
    env_key = {**env, "PREFECT_API_KEY": SECRET}
    for args in (["--api-url", UNREACHABLE, "--api-key", SECRET, "flow-run", "ls"],
                 ["--api-url", UNREACHABLE, "--debug", "logs", runs["hello"]]):
        started = time.monotonic()
        failed = run_module(*args, env=env_key)
        assert failed.returncode == 3, failed.stderr
        assert time.monotonic() - started < 20
        assert SECRET not in failed.stdout + failed.stderr
        assert failed.stderr.strip().splitlines()[-1].startswith("Error: Cannot reach")
    bad = run_module("flow-run", "inspect", "nope-nope", env=env)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- hostile data


def test_hostile_strings_reach_the_terminal_inert(runs):
    table = cli("--output", "table", "logs", runs["hostile"]).stdout
    assert "\u202e" not in table and "invoice\\u202etxt.exe" in table
    assert HOSTILE["script"] in table  # shown as text, not interpreted
    plain = cli("flow-run", "inspect", runs["hostile"]).stdout
    assert f"name\t{HOSTILE['img']}" in plain.splitlines()
    buffer = io.StringIO()
    Output("table", buffer).rows([Column("name", "NAME")],
                                 [{"name": "[bold red]x[/] \x1b[2J\tend"}])
    assert "[bold red]x[/] \\x1b[2J\\tend" in buffer.getvalue()
    assert "\x1b" not in buffer.getvalue()


# --------------------------------------------------------------------------- report


@pytest.mark.timeout(180)
def test_report_writes_the_html_report(runs, tmp_path):
    path = tmp_path / "report.html"
    result = cli("report", runs["failing"], "-o", path)
    assert "written to" in result.stderr
    html = path.read_text(encoding="utf-8")
    view = FlowRunView.from_flow_run_id(runs["failing"])
    assert view.name in html and "<html" in html.lower()
    assert os.path.getsize(path) > 1000


# --------------------------------------------------------------------------- naming runs


def test_every_command_takes_an_id_prefix_or_a_name(runs, tmp_path):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    for named in (view.name, runs["diamond"][:8], runs["diamond"][:13].upper()):
        listed = cli_json("task-run", "ls", named)
        assert {t["flow_run_id"] for t in listed} == {runs["diamond"]}, named
        assert cli_json("flow-run", "inspect", named)["flow_run_id"] == runs["diamond"]
        assert cli_json("logs", named) == cli_json("logs", runs["diamond"])
    cli("export", runs["diamond"][:8], "-o", tmp_path / "d.json")
    assert len(json.loads((tmp_path / "d.json").read_text())) == 4
    cli("export", view.name, "-o", tmp_path / "n.json")
    assert (tmp_path / "n.json").read_text() == (tmp_path / "d.json").read_text()
    table = cli("--output", "table", "task-run", "ls", runs["diamond"]).stdout.splitlines()[1:]
    shown = [line.split()[0] for line in table]  # the short ids, as a table shows them
    for task, short in zip(view.task_runs(), shown, strict=True):
        assert task.task_run_id.startswith(short) and len(short) < 36
        for named in (task.name, short):
            assert cli_json("task-run", "inspect", named)["task_run_id"] == task.task_run_id
    hello = FlowRunView.from_flow_run_id(runs["hello"]).get_task_run(task_slug="say_hello")
    by_name = cli_json("logs", runs["hello"][:6], "--task-run", hello.name)
    assert {e["task_run_id"] for e in by_name} == {hello.task_run_id}
    counted = cli("count", "task-runs", "--flow-run", runs["mapped"][:8])
    assert int(counted.stdout) == MAPPED_SIZE


def test_ambiguous_names_and_prefixes_exit_2_listing_the_candidates(prefect_server):
    first = prefect_server.run_flows("named_3")["named_3"]
    second = prefect_server.run_flows("named_3")["named_3"]
    wait_until_recorded(prefect_server.api_url, [first, second])
    expected = {t.task_run_id for run in (first, second)
                for t in FlowRunView.from_flow_run_id(run).task_runs() if t.name == "sq-0"}
    assert len(expected) == 2
    result = cli("task-run", "inspect", "sq-0", code=2)
    line = one_error_line(result)
    assert "The name 'sq-0' names 2 task runs" in line
    assert all(task_run_id in line for task_run_id in expected)
    ids = sorted(t.task_run_id for t in TaskRunView.query(limit=None))
    shared = max((os.path.commonprefix(pair) for pair in zip(ids, ids[1:])), key=len)
    if len(shared.replace("-", "")) >= 4:  # likely among ~500 ids, not certain
        line = one_error_line(cli("task-run", "inspect", shared, code=2))
        assert f"The id prefix {shared!r} names" in line


def test_a_prefix_is_found_by_binary_search_in_few_requests(runs, counting):
    from prefect_widgets.cli.app import State
    from prefect_widgets.cli.lookup import resolve

    client, transport = counting
    state = State(_client=client)
    total = FlowRunView.count()
    assert resolve(state, "flow run", runs["mapped"][:6]) == runs["mapped"]
    reads = [path for path in transport.paths if path.startswith("/api/flow_runs/")]
    assert len(reads) <= 2 + (total + 1).bit_length()
    with pytest.raises(NotFound):
        resolve(state, "flow run", "ffffffff-ffff")


# --------------------------------------------------------------------------- filters, times


def test_since_parser_and_the_same_filters_on_every_listing(runs):
    from prefect_widgets.cli.filters import parse_since

    now = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)
    assert parse_since("90m", now=now) == datetime(2026, 12, 1, 12, 30, tzinfo=timezone.utc)
    assert parse_since("2d", now=now) == datetime(2026, 11, 29, 14, 0, tzinfo=timezone.utc)
    assert parse_since("2026-12-01T10:00Z") == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    assert parse_since("2026-12-01") == datetime(2026, 12, 1, tzinfo=timezone.utc)
    for bad in ("yesterday", "1y", "-1h"):
        with pytest.raises(InvalidRequest, match="back from now"):
            parse_since(bad)
    everything = cli_json("flow-run", "ls", "--since", "1d", "--limit", "0")
    assert len(everything) == FlowRunView.count(start_time_after=parse_since("1d"))
    assert cli_json("flow-run", "ls", "--since", "2099-01-01") == []
    assert "back from now" in one_error_line(cli("flow-run", "ls", "--since", "soon", code=1))
    tagged = cli_json("flow-run", "ls", "--tag", "no-such-tag")
    assert tagged == []
    hostile = cli_json("task-run", "ls", runs["hostile"], "--tag", HOSTILE["script"])
    assert len(hostile) == 1
    assert cli_json("task-run", "ls", runs["hostile"], "--tag", "other") == []
    assert cli_json("task-run", "ls", runs["hello"], "--since", "2099-01-01") == []
    assert len(cli_json("task-run", "ls", runs["hello"], "--since", "1d")) == 2
    assert cli_json("logs", runs["hello"], "--since", "2099-01-01") == []
    all_lines = cli_json("logs", runs["hello"])
    assert cli_json("logs", runs["hello"], "--limit", "2") == all_lines[-2:]
    assert int(cli("count", "--since", "2099-01-01").stdout) == 0
    assert int(cli("count", "--since", "1d").stdout) == FlowRunView.count(
        start_time_after=parse_since("1d"))


def test_times_show_date_and_zone_utc_or_local(runs, monkeypatch):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    utc = view.start_time.astimezone(timezone.utc)
    table = cli("--output", "table", "flow-run", "ls", "--flow", "hello-world").stdout
    assert f"{utc:%Y-%m-%d %H:%M:%S} UTC" in table
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        local = cli("--output", "table", "flow-run", "ls", "--flow", "hello-world",
                    "--local").stdout
        shifted = utc.astimezone()
        assert f"{shifted:%Y-%m-%d %H:%M:%S} IST" in local
        inspect = cli("--output", "table", "flow-run", "inspect", runs["hello"], "--local").stdout
        assert f"started {shifted:%Y-%m-%d %H:%M:%S} IST" in inspect
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
