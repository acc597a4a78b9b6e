"""Task runs that never reached a final state (issue 20 item 4), on the real server: a flow run
that ended with task runs left Running or Pending (the server dropped their events) flags
them once the settle window has passed, and not before; the view, the repr, the report and
the CLI say so from one definition (`records.unfinished_mask`). Runs are made over the REST
API (the library itself never writes)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from test_html import assert_inert
from typer.testing import CliRunner
from writer import force_state, post, writer

from prefect_widgets import FlowRunView
from prefect_widgets.cli import app
from prefect_widgets.html import flow_run_html, flow_run_text
from prefect_widgets.options import display, option_context
from prefect_widgets.records import unfinished_mask, unfinished_text
from prefect_widgets.report import flow_run_report
from prefect_widgets.states import State

#: a task-run name that would run script if it were not escaped
HOSTILE = "<img src=x onerror=alert(1)>stuck"
NOTE = "never reached a final state"
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class Made:
    flow_run_id: str
    completed: list[str]
    running: str
    pending: str


def _make_run(api_url: str, *, completed: int = 2) -> Made:
    """A COMPLETED flow run whose task runs are `completed` Completed ones, one left Running
    (named `HOSTILE`) and one left Pending that never started, as when events are dropped."""
    with writer(api_url) as http:
        flow = post(http, "/flows/", {"name": f"unfinished-{uuid.uuid4().hex[:6]}"})
        run = post(http, "/flow_runs/", {"flow_id": flow["id"], "name": "dropped-events",
                                          "state": {"type": "RUNNING", "name": "Running"}})
        ids = []
        for i, name in enumerate([*(f"work-{i}" for i in range(completed)), HOSTILE, "waits"]):
            task = post(http, "/task_runs/", {
                "flow_run_id": run["id"], "task_key": "work", "dynamic_key": str(i),
                "name": name, "state": {"type": "PENDING", "name": "Pending"}})
            ids.append(task["id"])
        for task_id in ids[:-1]:
            force_state(http, "task", task_id, "RUNNING")
        for task_id in ids[:completed]:
            force_state(http, "task", task_id, "COMPLETED")
        force_state(http, "flow", run["id"], "COMPLETED")
    return Made(run["id"], ids[:completed], ids[completed], ids[completed + 1])


@pytest.fixture(scope="module")
def made(prefect_server) -> Made:
    return _make_run(prefect_server.api_url)


@pytest.fixture
def view(made) -> FlowRunView:
    return FlowRunView.from_flow_run_id(made.flow_run_id)


# ---------------------------------------------------------------- the model


def test_a_run_ended_longer_ago_than_the_window_flags_its_open_task_runs(view, made):
    assert view.state.type == "COMPLETED" and view.end_time is not None
    later = view.end_time + timedelta(seconds=display.settle_seconds + 1)
    found = view.unfinished_task_runs(now=later)
    assert [t.task_run_id for t in found] == [made.running, made.pending]  # run order
    assert [t.state.type for t in found] == ["RUNNING", "PENDING"]  # states kept as they are
    assert all(t.end_time is None for t in found)
    frame = view.to_dataframe()
    mask = unfinished_mask(frame["state_type"], view.state, view.end_time, now=later)
    assert sorted(frame.index[mask]) == sorted([made.running, made.pending])


def test_within_the_window_nothing_is_flagged(view):
    assert view.end_time is not None
    soon = view.end_time + timedelta(seconds=display.settle_seconds - 1)
    assert view.unfinished_task_runs(now=soon) == []
    assert view.unfinished_task_runs(now=view.end_time, settle=0) != []  # the window is the cause


def test_the_window_is_the_display_option(view):
    assert view.unfinished_task_runs() == []  # just ended: the server may still be writing
    with option_context("display.settle_seconds", 0):
        assert len(view.unfinished_task_runs()) == 2


def test_a_run_not_finished_flags_nothing(made):
    types = ["RUNNING", "PENDING"]
    running = State("RUNNING", "Running")
    assert not unfinished_mask(types, running, None, settle=0).any()
    done = State("COMPLETED", "Completed")
    assert not unfinished_mask(types, done, None, settle=0).any()  # no end, no final time


@pytest.mark.parametrize("value", [-1, float("nan"), "30", True])
def test_settle_seconds_is_checked(value):
    with pytest.raises(ValueError, match="settle_seconds"):
        display.settle_seconds = value
    assert display.settle_seconds == 30.0


# ---------------------------------------------------------------- the repr, the CLI


def test_the_repr_warns_and_marks_each_one(view):
    with option_context("display.settle_seconds", 0):
        html = str(flow_run_html(view))
        text = flow_run_text(view, view.task_runs())
    assert unfinished_text(2) in html
    assert '<div class="pw-error pw-unfinished-note" role="note">' in html  # themed colours
    assert html.count('class="pw-chip pw-unfinished"') == 2
    assert "&lt;img src=x onerror=alert(1)&gt;stuck" in html
    assert_inert(html)
    assert f"! {unfinished_text(2)}" in text
    slowest = html.split("Slowest task runs", 1)[1]
    assert "stuck" not in slowest  # an unfinished run's duration is unknown, not the slowest


def test_the_repr_within_the_window_says_nothing(view):
    html = str(flow_run_html(view))
    assert NOTE not in html and "pw-unfinished" not in html
    assert NOTE not in flow_run_text(view, view.task_runs())


def test_the_cli_notes_them(made, api_url):
    runner = CliRunner()
    with option_context("display.settle_seconds", 0):
        shown = runner.invoke(app, ["--output", "table", "flow-run", "inspect",
                                    made.flow_run_id], env={"COLUMNS": "200"})
        data = runner.invoke(app, ["--output", "json", "flow-run", "inspect", made.flow_run_id])
    assert shown.exit_code == 0, shown.output
    assert unfinished_text(2) in " ".join(shown.output.split())
    assert json.loads(data.output)["unfinished_task_run_count"] == 2
    later = runner.invoke(app, ["--output", "table", "flow-run", "inspect", made.flow_run_id],
                          env={"COLUMNS": "200"})
    assert later.exit_code == 0 and NOTE not in later.output  # still within the window


# ---------------------------------------------------------------- the report


def test_the_report_draws_them_to_the_runs_end(view, made, tmp_path):
    with option_context("display.settle_seconds", 0):
        text = flow_run_report(view, tmp_path / "unfinished.html")
    assert unfinished_text(2) in text
    assert text.count('class="pw-chip pw-unfinished"') == 2  # the all-task-runs table
    assert '<span class="pw-swatch pw-key-unfinished"></span>never finished' in text  # legend
    blob = json.loads(text.split('class="pw-report-data">', 1)[1].split("</script>", 1)[0])
    running = [t.task_run_id for t in view.task_runs()].index(made.running)
    assert blob["unfinished"] == [running, running + 1]
    bars = [blob["bars"][i:i + 7] for i in range(0, len(blob["bars"]), 7)]
    (bar,) = [b for b in bars if b[0] == running]
    assert view.end_time is not None
    assert blob["t0"] + bar[3] == pytest.approx(view.end_time.timestamp() * 1000, abs=1)
    assert "&lt;img src=x onerror=alert(1)&gt;stuck" in text


def test_the_report_within_the_window_flags_none(view, tmp_path):
    text = flow_run_report(view, tmp_path / "settling.html")
    body = text.split("<body", 1)[1].split("<script>", 1)[0]  # not the CSS, not report.js
    assert NOTE not in body and "pw-unfinished" not in body and "pw-key-unfinished" not in body
    blob = json.loads(text.split('class="pw-report-data">', 1)[1].split("</script>", 1)[0])
    assert blob["unfinished"] == []


@pytest.mark.browser
def test_the_report_marks_the_bar_and_its_tooltip_in_a_browser(prefect_server, browser,
                                                              tmp_path):
    from lab import offline_page

    made = _make_run(prefect_server.api_url, completed=0)  # the only bar is the open one
    path = tmp_path / "open.html"
    with option_context("display.settle_seconds", 0):
        flow_run_report(FlowRunView.from_flow_run_id(made.flow_run_id), path)
    for scheme in ("light", "dark"):
        page = offline_page(browser, path, scheme=scheme)
        try:
            canvas = page.locator(".pw-timeline canvas")
            page.wait_for_selector(".pw-timeline canvas[data-unfinished]", state="attached")
            assert canvas.get_attribute("data-unfinished") == "1"
            box = canvas.bounding_box()
            assert box is not None
            y = box["y"] + 4 + 9  # TOP + half of the one lane (18 px rows)
            for x in range(int(box["x"] + 170), int(box["x"] + box["width"]), 40):
                page.mouse.move(x, y)
                if page.locator(".pw-tip").is_visible():
                    break
            tip = page.locator(".pw-tip").inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("section.pw-report-section").screenshot(
                path=ARTIFACTS / f"report-unfinished-{scheme}.png")
            assert "never finished" in tip and "stuck" in tip
            assert page.errors == [] and page.requests == [path.as_uri()]
        finally:
            page.context.close()
