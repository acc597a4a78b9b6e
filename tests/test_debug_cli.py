"""Debugging a failed run from the command line (issue 18): `inspect` shows the failing task
runs' errors (user frames, final exception line, internal frames folded), state histories
with durations and artifacts; `logs` names each line's task run. Real failed sample runs."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from prefect_widgets import FlowRunView
from prefect_widgets.cli import app

#: (sample, the user's function that raised, the final exception line)
FAILING = [
    ("task_error", "check_row", "ValueError: boom: row 'x' is not a number"),
    ("subflow_error", "lookup_region", "LookupError: unknown region 'mars'"),
    ("retries_error", "always_refused", "ConnectionError: attempt 3: the warehouse refused"),
    ("crash", "pull_plug", "Abort: the process was told to stop"),
]


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


@pytest.mark.parametrize(("sample", "function", "line"), FAILING, ids=[f[0] for f in FAILING])
def test_flow_run_inspect_shows_the_user_frame_and_final_line(debug_runs, sample, function,
                                                              line):
    failure = FlowRunView.from_flow_run_id(debug_runs[sample]).failures()[0]
    table = cli("--output", "table", "flow-run", "inspect", debug_runs[sample])
    errors = table.split("Errors (1):", 1)[1]
    assert f"in {function}" in errors and "samples.py" in errors
    assert line in errors
    assert failure.run_name in errors  # the failing task run, by name
    assert "internal frames (--full to show)" in errors
    assert "site-packages/prefect/" not in errors  # Prefect's own frames folded
    assert "States:" in errors and failure.state_name in errors.split("States:", 1)[1]
    full = cli("--output", "table", "flow-run", "inspect", debug_runs[sample], "--full")
    assert "site-packages/prefect/" in full.split("Errors (1):", 1)[1]
    assert "(--full to show)" not in full
    data = json.loads(cli("--output", "json", "flow-run", "inspect", debug_runs[sample]))
    error = data["errors"][0]
    assert error["exception_line"].endswith(line)
    assert error["task_run_id"] == failure.task_run_id
    assert any(f["function"] == function and f["origin"] == "user" for f in error["frames"])
    assert any(f["origin"] == "internal" for f in error["frames"])


def test_inspect_shows_retries_in_the_failed_task_runs_state_history(debug_runs):
    table = cli("--output", "table", "flow-run", "inspect", debug_runs["retries_error"])
    errors = table.split("Errors (1):", 1)[1]
    assert errors.count("Retrying") == 2 and "States:" in errors
    data = json.loads(cli("--output", "json", "flow-run", "inspect",
                          debug_runs["retries_error"]))
    assert [s["type"] for s in data["states"]][-1] == "FAILED"
    assert data["states"][-1]["duration"] is None  # a finished run stays in its last state
    assert all(s["duration"] >= 0 for s in data["states"][:-1])
    plain = cli("flow-run", "inspect", debug_runs["retries_error"]).splitlines()
    key = f"error.{data['errors'][0]['task_run_id']}"
    assert any(row.startswith(key + "\t") and row.endswith("the warehouse refused")
               for row in plain)
    assert any(row.startswith(f"{key}.frame.") and "always_refused" in row for row in plain)


def test_task_run_inspect_shows_its_error_history_and_durations(debug_runs):
    task = FlowRunView.from_flow_run_id(debug_runs["task_error"]).get_task_run("parse_rows")
    table = cli("--output", "table", "task-run", "inspect", task.task_run_id)
    error = table.split("Error:", 1)[1]
    assert "in check_row" in error and "ValueError: boom: row 'x' is not a number" in error
    assert "internal frames (--full to show)" in error
    data = json.loads(cli("--output", "json", "task-run", "inspect", task.task_run_id))
    assert data["error"]["exception_type"] == "ValueError"
    assert [s["type"] for s in data["states"]] == [s.type for s in task.states]
    assert data["states"][0]["duration"] is not None and data["artifacts"] == []


def test_inspect_lists_the_artifacts_with_table_sizes(debug_runs):
    run = debug_runs["artifacts"]
    table = cli("--output", "table", "flow-run", "inspect", run)
    listed = table.split("Artifacts (6):", 1)[1]
    for key in ("summary", "rows-by-region", "rows-by-column", "docs-link", "progress",
                "pixel"):
        assert key in listed
    assert listed.count("2 rows × 2 columns") == 2
    assert "dict of lists" in listed and "42.0%" in listed
    assert "https://docs.prefect.io/" in listed
    data = json.loads(cli("--output", "json", "flow-run", "inspect", run))
    kinds = {a["key"]: a["kind"] for a in data["artifacts"]}
    assert kinds == {"summary": "markdown", "rows-by-region": "table",
                     "rows-by-column": "table", "docs-link": "link", "progress": "progress",
                     "pixel": "image"}
    task = FlowRunView.from_flow_run_id(run).get_task_run("report_artifacts")
    by_task = json.loads(cli("--output", "json", "task-run", "inspect", task.task_run_id))
    assert {a["key"] for a in by_task["artifacts"]} == set(kinds)


def test_logs_name_each_lines_task_run(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    task = run.get_task_run("parse_rows")
    table = cli("--output", "table", "logs", debug_runs["task_error"])
    parsing = next(line for line in table.splitlines() if "parsing 3 rows" in line)
    assert task.name in parsing
    flow_lines = [line for line in table.splitlines() if "Beginning flow run" in line]
    assert flow_lines and run.name in flow_lines[0] and task.name not in flow_lines[0]
    lines = list(csv.reader(io.StringIO(cli("--output", "csv", "logs",
                                            debug_runs["task_error"]))))
    assert lines[0] == ["timestamp", "level_name", "logger", "task_run_id", "task_run_name",
                        "task_name", "message"]
    parsed = next(row for row in lines if row[-1] == "parsing 3 rows")
    assert parsed[3:6] == [task.task_run_id, task.name, "parse_rows"]
    tsv = [line.split("\t") for line in cli("logs", debug_runs["task_error"]).splitlines()]
    assert all(len(line) == 7 for line in tsv)
    as_json = json.loads(cli("--output", "json", "logs", debug_runs["task_error"]))
    parsed_json = next(e for e in as_json if e["message"] == "parsing 3 rows")
    assert (parsed_json["task_run_name"], parsed_json["task_name"]) == (task.name, "parse_rows")


def test_logs_level_filter_keeps_the_traceback_line_of_the_task_run(debug_runs):
    task = FlowRunView.from_flow_run_id(debug_runs["task_error"]).get_task_run("parse_rows")
    errors = json.loads(cli("--output", "json", "logs", debug_runs["task_error"],
                            "--level", "ERROR"))
    assert errors and {e["level_name"] for e in errors} <= {"ERROR", "CRITICAL"}
    tracebacks = [e for e in errors if "Traceback (most recent call last)" in e["message"]]
    assert tracebacks and tracebacks[0]["task_run_name"] == task.name
    assert "check_row" in tracebacks[0]["message"]
    table = cli("--output", "table", "logs", debug_runs["task_error"], "--level", "error")
    assert "parsing 3 rows" not in table and task.name in table
    assert "ValueError: boom: row 'x' is not a number" in table
