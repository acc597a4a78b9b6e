"""Issue 17, item 6: every output part is bounded, whatever the run holds.

A flow run with a 5 MB name and state message and a 500 KB parameter (the server's limit), two task runs with 5 MB names
and messages, and 5 MB log lines (written through the real server's REST API): every
display part (text/plain, text/html, text/markdown), the widget's header, timeline keys and
details, and the CLI's table output stay under the bounds below.
"""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner
from writer import post, writer

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.cli import app
from prefect_widgets.html import PLAIN_TEXT_STRINGS
from prefect_widgets.options import display, option_context
from prefect_widgets.run_lists import TaskRunList

HUGE = 5_000_000
#: the server refuses parameters over 512 KiB, serialised
BIG_PARAMETER = 500_000
#: a text/plain part: `PLAIN_TEXT_STRINGS` strings of `display.max_text` and the marker
PLAIN_BOUND = PLAIN_TEXT_STRINGS * display.max_text + 40
#: an HTML part (the issue measured 12–52 KB)
HTML_BOUND = 100_000
#: the widget's header: a dozen strings of `display.max_text` at most
HEADER_BOUND = 12 * (display.max_text + 40)
#: a CLI table: every cell cut to `display.max_text`
TABLE_BOUND = 30 * (display.max_text + 40)


@pytest.fixture(scope="module")
def huge_run(api_url):
    big = "N" * HUGE
    failed = {"type": "FAILED", "name": "Failed", "message": "M" * HUGE}
    with writer(api_url, timeout=120) as http:
        flow = post(http, "/flows/", {"name": f"huge-{uuid.uuid4().hex[:8]}"})
        run = post(http, "/flow_runs/", {"flow_id": flow["id"], "name": big,
                                           "parameters": {"p": "P" * BIG_PARAMETER}, "state": failed})
        tasks = [post(http, "/task_runs/", {
            "flow_run_id": run["id"], "task_key": f"{i}{big}", "dynamic_key": "0",
            "name": f"{i}{big}", "state": failed}) for i in range(2)]
        post(http, "/logs/", [{"name": "huge", "level": 40, "message": "L" * HUGE,
                                "timestamp": "2026-01-01T00:00:00+00:00",
                                "flow_run_id": run["id"], "task_run_id": t["id"]}
                               for t in tasks])
    return {"flow_run": run["id"], "flow": flow["name"], "task_runs": [t["id"] for t in tasks]}


def _assert_bounded(bundle: dict[str, str], what: str) -> None:
    assert len(bundle["text/plain"]) <= PLAIN_BOUND, (what, len(bundle["text/plain"]))
    assert len(bundle.get("text/html", "")) <= HTML_BOUND, (what, len(bundle["text/html"]))
    assert len(bundle.get("text/markdown", "")) <= 5_000, what


def test_every_display_part_is_bounded(huge_run):
    run = FlowRunView.from_flow_run_id(huge_run["flow_run"])
    assert len(run.name) == HUGE  # the data itself is whole
    with option_context("display.deadline", 60):
        _assert_bounded(run._repr_mimebundle_(), "FlowRunView")
    task = TaskRunView.from_task_run_id(huge_run["task_runs"][0])
    _assert_bounded(task._repr_mimebundle_(), "TaskRunView")
    logs = run.get_logs()
    assert len(logs) == 2
    _assert_bounded(logs._repr_mimebundle_(), "LogList")
    listing = FlowRunView.query(flow_name=huge_run["flow"])
    _assert_bounded(listing._repr_mimebundle_(), "FlowRunList")
    _assert_bounded(TaskRunList(run.task_runs())._repr_mimebundle_(), "TaskRunList")
    assert len(repr(run)) <= 2 * (display.max_text + 40) + 200
    assert repr(run).count("more characters)") == 2  # the name and the state, each cut


def test_the_widget_state_is_bounded(huge_run):
    from prefect_widgets.widget import FlowRunWidget

    widget = FlowRunWidget(huge_run["flow_run"], live=False)
    try:
        assert len(json.dumps(widget.header)) <= HEADER_BOUND
        keys = widget.timeline["keys"]
        assert len(keys) == 2 and all(len(k) <= display.max_text + 40 for k in keys)
        widget._on_message(widget, {"type": "details", "index": 0}, [])
        assert widget.details and len(json.dumps(widget.details)) <= HEADER_BOUND
        bundle = widget._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert len(data["text/plain"]) <= PLAIN_BOUND
        assert len(data["text/html"]) <= HTML_BOUND
    finally:
        widget.close()


@pytest.mark.parametrize("args", [["flow-run", "inspect"], ["task-run", "ls"],
                                  ["task-run", "ls", "--wide"], ["logs"]], ids=" ".join)
def test_cli_tables_are_bounded_and_say_what_they_cut(huge_run, args):
    result = CliRunner().invoke(app, ["--output", "table", *args, huge_run["flow_run"]],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) <= TABLE_BOUND, len(result.stdout)
    flat = result.stdout.replace("\n", "")
    if args == ["task-run", "ls"]:  # cells cut to the terminal's width, with an ellipsis
        assert "N…" in flat and "more characters)" not in flat
    else:  # whole cells: each value cut at display.max_text, saying how much is left out
        assert "more characters)" in flat
    flat = CliRunner().invoke(app, ["--output", "table", "task-run", "inspect",
                                    huge_run["task_runs"][0]], env={"COLUMNS": "200"})
    assert flat.exit_code == 0 and len(flat.stdout) <= TABLE_BOUND
