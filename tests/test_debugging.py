"""Debugging a failed run (issue 18): whole tracebacks, failures, state history, task inputs."""

from __future__ import annotations

import builtins
import traceback as python_traceback
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefect_widgets import Failure, FlowRunView, State, parse_traceback
from prefect_widgets.records import LogEntry, TaskInput
from prefect_widgets.state_history import STATE_HISTORY_COLUMNS, state_history
from prefect_widgets.tracebacks import (
    CAUSE,
    CONTEXT,
    exception_line_of,
    failure_of,
    frame_origin,
)

SITE = "/home/u/.venv/lib/python3.11/site-packages"

# ---------------------------------------------------------------- parsing tracebacks


def _raise_chained() -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        raise LookupError("no such region") from exc


def _formatted(function) -> str:
    try:
        function()
    except BaseException as exc:  # noqa: BLE001 - any exception's text is wanted
        return "".join(python_traceback.format_exception(exc))
    raise AssertionError("the function did not raise")


def test_a_real_chained_traceback_parses_into_sections():
    text = _formatted(_raise_chained)
    parsed = parse_traceback("Task run failed with exception: LookupError(...)\n" + text)
    assert parsed is not None
    assert [s.follows for s in parsed.sections] == [None, CAUSE]
    assert parsed.sections[0].exception_line == "KeyError: 'missing'"
    assert parsed.exception_line == "LookupError: no such region"
    assert parsed.exception_type == "LookupError"
    assert parsed.frames[-1].function == "_raise_chained"
    assert parsed.frames[-1].code == 'raise LookupError("no such region") from exc'
    assert all(f.file == __file__ for f in parsed.user_frames)
    frame = parsed.to_dataframe()
    assert list(frame.columns) == ["section", "file", "line", "function", "code", "origin"]
    assert frame["line"].notna().all()


def test_during_handling_multiline_message_and_carets():
    text = (
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/prefect/task_engine.py", line 10, in run\n'
        "    result = fn()\n"
        "             ^^^^\n"
        '  File "/work/etl/flows.py", line 3, in parse\n'
        "    int(row)\n"
        "ValueError: invalid literal\n"
        "\n" + CONTEXT + "\n\n"
        "Traceback (most recent call last):\n"
        '  File "/work/etl/flows.py", line 5, in parse\n'
        "    raise RuntimeError(msg)\n"
        "RuntimeError: first line\n"
        "second line of the message\n"
    )
    parsed = parse_traceback(text)
    assert parsed is not None
    assert [s.follows for s in parsed.sections] == [None, CONTEXT]
    first = parsed.sections[0]
    assert [f.origin for f in first.frames] == ["internal", "user"]
    assert first.frames[0].code == "result = fn()"
    assert parsed.exception_line == "RuntimeError: first line\nsecond line of the message"
    assert parsed.exception_type == "RuntimeError"
    assert [f.line for f in parsed.user_frames] == [3, 5]


def test_exception_groups_are_read_through_their_box():
    group_type = getattr(builtins, "ExceptionGroup", None)
    if group_type is None:
        pytest.skip("ExceptionGroup needs Python 3.11")

    def group() -> None:
        raise group_type("two", [ValueError("a"), TypeError("b")])
    parsed = parse_traceback(_formatted(group))
    assert parsed is not None
    assert any(f.function == "group" for f in parsed.user_frames)
    assert "ValueError: a" in "\n".join(s.exception_line for s in parsed.sections)


@pytest.mark.parametrize(("path", "origin"), [
    (f"{SITE}/prefect/flow_engine.py", "internal"),
    (f"{SITE}/anyio/_backends/_asyncio.py", "internal"),
    (f"{SITE}/pydantic/main.py", "internal"),
    ("/usr/lib/python3.11/concurrent/futures/thread.py", "internal"),
    ("/usr/lib/python3.11/asyncio/runners.py", "internal"),
    ("<frozen importlib._bootstrap>", "internal"),
    (f"{SITE}/pandas/core/frame.py", "library"),
    ("/usr/lib/python3/dist-packages/requests/api.py", "library"),
    ("/work/etl/flows.py", "user"),
    ("<ipython-input-3-1a2b>", "user"),
    ("C:\\Python311\\Lib\\asyncio\\base_events.py", "internal"),
])
def test_frame_origin(path, origin):
    assert frame_origin(path) == origin


@pytest.mark.parametrize(("message", "line"), [
    ("Task run encountered an exception ValueError: boom: row 'x'", "ValueError: boom: row 'x'"),
    ("Flow run encountered an exception: LookupError: unknown region 'mars'",
     "LookupError: unknown region 'mars'"),
    ("Task run failed due to timeout: TimeoutError('attempt 3 timed out')",
     "TimeoutError: attempt 3 timed out"),
    ("Execution was interrupted by an unexpected exception: Abort: stop", "Abort: stop"),
    ("All states completed.", None),
    (None, None),
])
def test_exception_line_from_a_state_message(message, line):
    assert exception_line_of(message) == line


@given(st.text())
def test_parsing_arbitrary_text_never_raises(text):
    for candidate in (text, "Traceback (most recent call last):\n" + text):
        parsed = parse_traceback(candidate)
        if parsed is not None:
            repr(parsed)
            parsed.to_dataframe()


def test_no_failure_for_a_run_that_did_not_fail():
    assert failure_of(State("COMPLETED", "Completed"), [], flow_run_id=None) is None


def test_failure_repr_is_bounded_and_shows_control_characters():
    now = datetime.now(timezone.utc)
    text = ('Traceback (most recent call last):\n  File "/x/\x1b[2Jevil.py", line 1, in f\n'
            "    go()\nValueError: " + "\u202e" + "y" * 5000 + "\n")
    failure = failure_of(State("FAILED", "Failed", message="boom"),
                         [LogEntry(timestamp=now, level=40, message=text)], flow_run_id="f",
                         task_run_id="t", run_name="task-1")
    assert isinstance(failure, Failure)
    shown = repr(failure)
    assert "\x1b" not in shown and "\u202e" not in shown and len(shown) < 2000
    assert "\\x1b[2Jevil.py" in shown


# ---------------------------------------------------------------- failures of real runs


@pytest.mark.parametrize(("sample", "function", "line"), [
    ("task_error", "check_row", "ValueError: boom: row 'x' is not a number"),
    ("subflow_error", "lookup_region", "LookupError: unknown region 'mars'"),
    ("retries_error", "always_refused", "ConnectionError: attempt 3: the warehouse refused"),
    ("crash", "pull_plug", "Abort: the process was told to stop"),
])
def test_each_failing_sample_shows_the_user_frame_and_final_line(debug_runs, sample, function,
                                                                  line):
    run = FlowRunView.from_flow_run_id(debug_runs[sample])
    error = run.error
    assert error is not None and error.flow_run_id == run.flow_run_id
    assert error.exception_line is not None and error.exception_line.endswith(line)
    failures = run.failures()
    assert len(failures) == 1
    failure = failures[0]
    assert failure.task_run_id is not None
    assert failure.exception_line is not None and failure.exception_line.endswith(line)
    assert failure.user_frames and failure.user_frames[-1].function == function
    assert failure.user_frames[-1].file.endswith("samples.py")
    assert failure.traceback is not None
    assert any(not f.is_user for f in failure.traceback.frames)  # Prefect's own, kept apart
    shown = repr(failure)
    assert f"in {function}" in shown and line in shown
    assert failure.message and failure.state_type in ("FAILED", "CRASHED")


def test_task_run_error_matches_the_failure_and_names_its_run(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    task = run.get_task_run("parse_rows")
    error = task.error
    assert error is not None
    assert (error.task_run_id, error.run_name, error.task_name) == \
        (task.task_run_id, task.name, "parse_rows")
    assert error.exception_type == "ValueError"
    assert error.message.startswith("Task run encountered an exception ValueError")
    assert error.exception_line == run.failures()[0].exception_line


def test_subflow_failure_points_at_the_task_run_inside_the_subflow(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["subflow_error"])
    failure = run.failures()[0]
    child = run.subflow_runs[0]
    assert failure.flow_run_id == child.flow_run_id != run.flow_run_id
    assert failure.task_name == "lookup_region"
    assert failure.traceback is not None
    assert [s.follows for s in failure.traceback.sections] == [None, CAUSE]
    assert failure.traceback.sections[0].exception_line == "KeyError: 'mars'"


def test_crash_is_crashed_with_the_user_frame(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["crash"])
    assert run.state.type == "CRASHED"
    failure = run.failures()[0]
    assert failure.state_type == "CRASHED"
    assert failure.exception_type is not None and failure.exception_type.endswith("Abort")


def test_runs_that_did_not_fail_have_no_error(runs, counting):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["hello"], client=client)
    before = len(transport.paths)
    assert run.error is None
    assert all(t.error is None for t in run.task_runs())
    assert run.failures() == []
    assert not [p for p in transport.paths[before:] if p.endswith("/logs/filter")]


# ---------------------------------------------------------------- state history


def test_state_history_durations_sum_to_the_run_span(debug_runs, runs):
    for flow_run_id in (debug_runs["task_error"], debug_runs["retries_error"], runs["hello"]):
        run = FlowRunView.from_flow_run_id(flow_run_id)
        history = run.state_history
        assert history.states == run.states  # Prefect 1's `.states` still works
        assert history[-1].end is None and history[-1].duration is None
        assert history.total == history[-1].start - history[0].start
        assert run.end_time is not None and run.start_time is not None
        running = [s for s in history if s.state.type == "RUNNING"]
        assert abs(sum((s.duration for s in running), timedelta(0))
                   - (run.end_time - run.start_time)) < timedelta(seconds=1)
        frame = history.to_dataframe()
        assert list(frame.columns) == list(STATE_HISTORY_COLUMNS)
        assert frame["duration"].sum() == history.total


def test_failed_task_state_history_carries_its_message_and_retries(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["retries_error"])
    task = run.get_task_run("always_refused")
    history = task.state_history
    assert [s.state.name for s in history].count("Retrying") == 2
    assert history[-1].state.type == "FAILED"
    assert "the warehouse refused" in (history[-1].message or "")
    assert "Failed: Task run encountered an exception ConnectionError" in repr(history)


def test_unfinished_history_lasts_until_now():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    states = [State("RUNNING", "Running", timestamp=start + timedelta(seconds=1)),
              State("PENDING", "Pending", timestamp=start)]
    history = state_history(states, now=start + timedelta(seconds=5))
    assert [s.state.type for s in history] == ["PENDING", "RUNNING"]
    assert [s.duration for s in history] == [timedelta(seconds=1), timedelta(seconds=4)]


# ---------------------------------------------------------------- task inputs


def test_task_inputs_link_upstream_runs_and_parameters(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    say_hello = run.get_task_run("say_hello")
    capitalize = run.get_task_run("capitalize")
    assert say_hello.inputs == {"name": (TaskInput("task_run", capitalize.task_run_id),)}
    assert [i.task_run_id for i in say_hello.inputs["name"]] == say_hello.upstream_task_run_ids
    assert all(i.kind in ("parameter", "constant") or i.task_run_id
               for sources in capitalize.inputs.values() for i in sources)
    diamond = FlowRunView.from_flow_run_id(runs["diamond"])
    load = diamond.get_task_run("load")
    assert {i.kind for i in load.inputs["wait_for"]} == {"task_run"}
    assert len(load.inputs["wait_for"]) == 2
