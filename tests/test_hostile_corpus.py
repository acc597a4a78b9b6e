"""Hostile input corpus (`tests/hostile.py`), offline: huge, bidi, lone-surrogate, markup and
terminal-escape strings stay bounded and inert in every repr and in the widget's saved state
(the live-server cases are in test_html.py, test_lab_browser.py, test_cli.py and
test_terminal_safety.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hostile import CORPUS, MEGABYTE, assert_terminal_safe

from prefect_widgets import FlowRunView, LogList, State, TaskRunView
from prefect_widgets.html import (
    PLAIN_TEXT_STRINGS,
    flow_run_html,
    flow_run_text,
    log_list_html,
    task_run_html,
    task_run_text,
)
from prefect_widgets.logs import LogEntry
from prefect_widgets.options import display
from prefect_widgets.samples import HOSTILE

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _state(kind: str, message: str) -> dict:
    return {"type": kind, "name": kind.title(), "message": message, "timestamp": _iso(5)}


def _task(i: int, text: str) -> TaskRunView:
    return TaskRunView.from_json({
        "id": f"00000000-0000-4000-8000-{i:012d}", "name": text, "task_key": f"{text}-abc",
        "dynamic_key": str(i), "flow_run_id": "11111111-1111-4111-8111-111111111111",
        "state": _state("FAILED", text), "tags": [text], "labels": {text: text},
        "start_time": _iso(i), "end_time": _iso(i + 1), "expected_start_time": _iso(i),
        "run_count": 1, "task_inputs": {text: []}, "empirical_policy": {"retries": 0},
    })


def _flow_run(text: str) -> FlowRunView:
    return FlowRunView.from_json({
        "id": "11111111-1111-4111-8111-111111111111", "name": text,
        "flow_id": "22222222-2222-4222-8222-222222222222", "state": _state("FAILED", text),
        "parameters": {text: text}, "tags": [text], "labels": {text: text},
        "start_time": _iso(0), "end_time": _iso(10), "run_count": 1,
    })


def _inert(html: str) -> None:
    lowered = html.lower()
    assert "<script>window" not in lowered
    assert "onerror=" not in lowered.replace("&quot;", '"').split("&lt;img")[0] or \
        "<img" not in lowered
    assert "<img" not in lowered
    assert 'href="javascript:' not in lowered


@pytest.mark.parametrize("key", sorted(CORPUS))
def test_reprs_stay_bounded_and_inert(key):
    text = CORPUS[key]
    run = _flow_run(text)
    tasks = [_task(i, text) for i in range(3)]
    html = flow_run_html(run, tasks, fetch=False)
    _inert(html)
    assert len(html) < 200_000, f"{key}: {len(html)} bytes"
    task_html = task_run_html(tasks[0])
    _inert(task_html)
    assert len(task_html) < 200_000
    logs = LogList([LogEntry(timestamp=T0, level=40, message=text, logger=text)])
    log_html = log_list_html(logs)
    _inert(log_html)
    assert len(log_html) < 200_000
    state_html = State(type="FAILED", name="Failed", message=text)._repr_html_()
    _inert(state_html)
    assert len(state_html) < 200_000
    for rendered in (html, task_html, log_html):
        rendered.encode("utf-8", errors="strict") if key != "surrogate" else \
            rendered.encode("utf-8", errors="surrogatepass")


def test_hostile_strings_appear_escaped():
    html = flow_run_html(_flow_run(HOSTILE["script"]), [_task(0, HOSTILE["img"])], fetch=False)
    assert "&lt;script&gt;" in html and "&lt;img" in html


def test_widget_state_is_bounded_and_never_holds_markup():
    import pandas as pd

    from prefect_widgets._timeline_encoding import encode_timeline

    frame = pd.DataFrame({
        "task_key": [MEGABYTE[:10_000], HOSTILE["script"]], "map_index": [0, 0],
        "state_type": ["FAILED", "COMPLETED"],
        "start_time": pd.to_datetime([_iso(0), _iso(1)], utc=True),
        "end_time": pd.to_datetime([_iso(1), _iso(2)], utc=True), "run_count": [1, 1],
    })
    encoded = encode_timeline(frame)
    assert HOSTILE["script"] in encoded["keys"]  # data, rendered with textContent only
    text = json.dumps({k: v for k, v in encoded.items() if isinstance(v, (list, str, int, float))})
    assert len(text) < 20_000


#: a text/plain part: `PLAIN_TEXT_STRINGS` strings of `display.max_text`, then the marker
PLAIN_BOUND = PLAIN_TEXT_STRINGS * display.max_text + 40


@pytest.mark.parametrize("key", sorted(CORPUS))
def test_text_plain_parts_are_terminal_safe_and_bounded(key):
    text = CORPUS[key] * (5 if key == "huge" else 1)  # "huge": a 5 MB string
    task = _task(0, text)
    logs = LogList([LogEntry(timestamp=T0, level=40, message=text, logger=text)] * 30)
    state = State(type="FAILED", name="Failed", message=text)
    for shown in (task, logs, state):
        plain = shown._repr_mimebundle_()["text/plain"]
        assert_terminal_safe(plain, what=f"{type(shown).__name__} text/plain")
        assert len(plain) <= PLAIN_BOUND, (type(shown).__name__, len(plain))
    for view in (task, _flow_run(text)):  # the reprs themselves: each string cut
        assert len(repr(view)) <= 3 * (display.max_text + 40) + 200
        assert_terminal_safe(repr(view), what="repr")
    for plain in (task_run_text(task), flow_run_text(_flow_run(text), [task])):
        assert_terminal_safe(plain, what="text fallback")
        assert len(plain) <= 20 * display.max_colwidth + 500
