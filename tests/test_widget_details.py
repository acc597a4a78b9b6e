"""The widget's details panel payload (issue 19, item 4) against the real server: every part
present when the run has the data and absent otherwise, links to upstream and downstream
rows, bounded text, and each part read once per snapshot (requests counted on a real
transport)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.records import LogEntry
from prefect_widgets.samples import HOSTILE
from prefect_widgets.widget import FlowRunWidget
from prefect_widgets.widget_details import _LOG_BUDGET, _logs_payload


def _widget(flow_run_id: str, client=None) -> FlowRunWidget:
    return FlowRunWidget(FlowRunView.from_flow_run_id(flow_run_id, client=client), live=False)


def _row(widget: FlowRunWidget, task_name: str) -> int:
    names = list(widget._frame["task_name"].astype(str))
    return names.index(task_name)


def _details(widget: FlowRunWidget, index: int) -> dict:
    widget._on_message(widget, {"type": "details", "index": index}, [])
    assert widget.details["index"] == index
    return widget.details


def _labels(details: dict) -> list[str]:
    return [label for label, _ in details["fields"]]


def test_a_failed_task_runs_details_cost_three_requests_then_none(debug_runs, counting):
    client, transport = counting
    run_id = debug_runs["task_error"]
    widget = _widget(run_id, client)
    try:
        index = _row(widget, "parse_rows")
        task_id = str(widget._frame.index[index])
        # before: a view per click, each part read apart (the task run, its logs, its states,
        # its artifacts counted and listed)
        transport.paths.clear()
        task = TaskRunView.from_task_run_id(task_id, client=client)
        assert task.error is not None and task.state_history and not task.artifacts
        before = len(transport.paths)
        assert before >= 4

        transport.paths.clear()
        details = _details(widget, index)
        assert sorted(transport.paths) == ["/api/artifacts/filter", "/api/logs/filter",
                                           "/api/task_run_states/"]
        transport.paths.clear()
        assert _details(widget, index) == details  # opened again: nothing read
        assert transport.paths == []
    finally:
        widget.close()

    assert details["problems"] == []
    failure = details["failure"]
    assert failure["exception_line"] == "ValueError: boom: row 'x' is not a number"
    assert failure["where"] == ""
    assert "in check_row" in failure["text"] and failure["text"].startswith("Traceback")
    logs = details["logs"]
    assert ("INFO", "parsing 3 rows") in [(line["level"], line["message"]) for line in logs]
    error = [line for line in logs if line["level"] == "ERROR"]
    assert any(line["message"].startswith("Task run failed with exception")
               and "Traceback (most recent call last)" in line["message"] for line in error)
    assert [s["name"] for s in details["states"]] == ["Pending", "Running", "Failed"]
    assert details["ui_url"].endswith(f"/runs/task-run/{task_id}")
    labels = _labels(details)
    assert labels == ["Name", "Task run id"]  # no message (the error shows it), no policy
    assert details["result"] is None and details["artifacts"] == []
    assert details["upstream"] == [] and details["downstream"] == []
    assert details["inputs"] == [["rows", "constant"]]


def test_details_take_what_the_flow_runs_repr_already_read(debug_runs, counting):
    client, transport = counting
    view = FlowRunView.from_flow_run_id(debug_runs["artifacts"], client=client)
    view.artifacts  # as the repr and the report read them  # noqa: B018
    widget = FlowRunWidget(view, live=False)
    try:
        transport.paths.clear()
        details = _details(widget, _row(widget, "report_artifacts"))
        assert "/api/artifacts/filter" not in transport.paths
        assert sorted(transport.paths) == ["/api/logs/filter", "/api/task_run_states/"]
    finally:
        widget.close()
    assert [a["key"] for a in details["artifacts"]] == [
        "summary", "rows-by-region", "rows-by-column", "docs-link", "progress", "pixel"]
    assert details["failure"] is None


def test_upstream_and_downstream_name_the_rows_to_select(runs):
    widget = _widget(runs["diamond"])
    try:
        load = _details(widget, _row(widget, "load"))
        upstream = {link["label"]: link for link in load["upstream"]}
        assert set(upstream) == {"slow_branch", "fast_branch"}
        assert all(link["via"] == "wait_for" and link["state_type"] == "COMPLETED"
                   for link in upstream.values())
        assert load["downstream"] == []
        # clicking a link selects its row: the Python side follows `selected_index`
        widget.selected_index = upstream["slow_branch"]["index"]
        assert widget.selected_task_run.task_name == "slow_branch"
        extract = _details(widget, _row(widget, "extract"))
        assert {link["label"] for link in extract["downstream"]} == {"slow_branch",
                                                                     "fast_branch"}
        assert extract["upstream"] == []
        assert dict(extract["fields"])["Tags"] == "fast"
        assert extract["inputs"] == [["label", "constant"], ["seconds", "constant"]]
    finally:
        widget.close()


def test_a_persisted_result_is_previewed_where_it_can_be_loaded(runs, prefect_server,
                                                                 monkeypatch):
    widget = _widget(runs["persisted"])
    try:
        index = _row(widget, "compute_summary")
        elsewhere = _details(widget, index)["result"]  # PREFECT_HOME is not the runs'
        assert "outside the result storage folder" in elsewhere["note"]
        assert "text" not in elsewhere
        assert _details(widget, _row(widget, "ephemeral"))["result"] is None  # none kept
    finally:
        widget.close()
    monkeypatch.setenv("PREFECT_HOME", str(prefect_server.home))
    widget = _widget(runs["persisted"])
    try:
        result = _details(widget, _row(widget, "compute_summary"))["result"]
        assert result == {"text": json.dumps({"rows": 3, "ok": True}, indent=2)}
    finally:
        widget.close()


def test_the_retry_policy_is_shown_only_for_tasks_that_have_one(runs, debug_runs):
    for run_id, expected in [(runs["retrying"], "up to 2 retries, 1.0s apart"),
                             (debug_runs["retries_error"], "up to 2 retries")]:
        widget = _widget(run_id)
        try:
            details = _details(widget, 0)
        finally:
            widget.close()
        assert dict(details["fields"])["Retry policy"] == expected
        assert [s["name"] for s in details["states"]].count("Retrying") == 2
    widget = _widget(runs["hello"])
    try:
        assert "Retry policy" not in _labels(_details(widget, 0))
    finally:
        widget.close()


def test_a_subflow_rows_details_summarise_the_child_run(debug_runs):
    widget = _widget(debug_runs["subflow_error"])
    try:
        index = list(widget._frame["kind"].astype(str)).index("subflow-run")
        details = _details(widget, index)
    finally:
        widget.close()
    fields = dict(details["fields"])
    child = fields["Flow run id"]
    assert fields["Task runs"] == "1 Failed"
    assert list(fields) == ["Name", "Task run id", "Subflow run", "Flow run id", "Task runs"]
    assert details["failure"]["where"].startswith("in lookup_region-")
    assert details["failure"]["exception_line"] == "LookupError: unknown region 'mars'"
    assert details["ui_url"].endswith(f"/runs/flow-run/{child}")
    assert any("lookup_region" in line["message"] or "mars" in line["message"]
               for line in details["logs"])
    assert details["result"] is None
    assert details["inputs"] == [["code", "constant"]]  # the subflow's parameter


def test_hostile_text_arrives_as_visible_text(runs):
    widget = _widget(runs["hostile"])
    try:
        details = _details(widget, 0)
    finally:
        widget.close()
    assert dict(details["fields"])["Name"] == HOSTILE["img"]  # the browser sets it as text
    tags = dict(details["fields"])["Tags"]
    assert sorted(tags.split(", ")) == sorted([HOSTILE["script"], HOSTILE["emoji"]])
    assert [line["message"] for line in details["logs"] if line["level"] == "WARNING"] == [
        HOSTILE["url"]]
    text = json.dumps(details, ensure_ascii=False)
    assert "\u202e" not in text and "\x1b" not in text


def test_log_lines_fit_one_budget_newest_first():
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    entries = [LogEntry(timestamp=when, level=20, message=f"{i:03d} " + "x" * 5_000)
               for i in range(100)]
    entries.append(LogEntry(timestamp=when, level=40, message="Traceback\n" + "y" * 50_000))
    shown, dropped = _logs_payload(entries)
    assert sum(len(line["message"]) for line in shown) <= _LOG_BUDGET
    assert shown[-1]["level"] == "ERROR" and len(shown[-1]["message"]) < 11_000
    assert shown[0]["message"].startswith(f"{100 - len(shown) + 1:03d} ")  # the newest kept
    assert dropped == len(entries) - len(shown) > 0
    assert all(len(line["message"]) < 2_100 for line in shown[:-1])


@pytest.mark.parametrize("bad", [{"x": [{"input_type": "task_run"}]}, {"x": ["not an object"]}])
def test_malformed_inputs_are_a_problem_not_a_crash(runs, bad):
    widget = _widget(runs["hello"])
    try:
        task_id = str(widget._frame.index[0])
        widget._records[task_id] = {**widget._records[task_id], "task_inputs": bad}
        details = _details(widget, 0)
    finally:
        widget.close()
    if bad["x"] == ["not an object"]:
        assert any("Could not read the inputs" in p for p in details["problems"])
    assert details["upstream"] == []
