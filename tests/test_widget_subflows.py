"""Subflows expanded inline in the widget (issue 19, item 3), against the real server.

One flow run made here holds a subflow whose child run has task runs of two tasks (one of
them mapped) and a subflow of its own: `outer` → `prepare`, `middle` (→ `mid_extract`,
`mid_map` ×3, `inner` → `inner_a`, `inner_b`), `finish`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from prefect_widgets import Client, FlowRunView
from prefect_widgets._timeline_encoding import decode_nesting, decode_tags, decode_timeline
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.widget import FlowRunWidget

NESTED_FLOWS = '''
import json, sys, time
from prefect import flow, tags, task

@task(tags=["nested"])
def step(label: str, seconds: float) -> str:
    time.sleep(seconds)
    return label

@flow(name="subflows-inner")
def inner(seconds: float) -> str:
    return step.with_options(name="inner_a")("a", seconds) + step.with_options(name="inner_b")(
        "b", seconds)

@flow(name="subflows-middle")
def middle(seconds: float) -> str:
    first = step.with_options(name="mid_extract")("m", seconds)
    mapped = step.with_options(name="mid_map").map([str(i) for i in range(3)], seconds)
    return first + "".join(f.result() for f in mapped) + inner(seconds)

@flow(name="subflows-outer")
def outer(seconds: float = 0.1) -> str:
    step.with_options(name="prepare")("p", 0.1)
    out = middle(seconds)
    step.with_options(name="finish")("f", 0.1)
    return out

if __name__ == "__main__":
    state = outer(float(sys.argv[1]), return_state=True)
    print(json.dumps({"run": str(state.state_details.flow_run_id)}))
'''

#: the subflow rows (a subflow's task run is named after its flow), the child run's task
#: runs, and its own subflow's
MIDDLE_ROW, INNER_ROW = "subflows-middle", "subflows-inner"
MIDDLE = {"mid_extract", "mid_map", INNER_ROW}
INNER = {"inner_a", "inner_b"}


def run_nested_flow(prefect_server, tmp: Path, seconds: float = 0.1) -> str:
    """Run `outer` in a fresh Python process (Prefect stays out of this one): its run id."""
    script = tmp / "nested_flows.py"
    script.write_text(NESTED_FLOWS)
    done = subprocess.run([sys.executable, str(script), str(seconds)], env=prefect_server.env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["run"]


def settled(api_url: str, run_id: str, timeout: float = 30) -> None:
    """Wait until the server has recorded every task run of the run and of its subflows
    (task runs are written from events, a few seconds late)."""
    deadline = time.monotonic() + timeout
    with Client(api_url) as client:
        while time.monotonic() < deadline:
            names: set[str] = set()
            runs = [run_id]
            while runs:  # the run, then its subflows' runs
                frame = FlowRunView.from_flow_run_id(runs.pop(), client=client).to_dataframe(
                    progress=False)
                names |= set(frame["task_name"].astype(str))
                runs += [str(c) for c in frame["child_flow_run_id"].dropna()]
            if {"prepare", MIDDLE_ROW, "finish"} | MIDDLE | INNER <= names:
                return
            time.sleep(0.3)
    raise AssertionError(f"{({'prepare', MIDDLE_ROW, 'finish'} | MIDDLE | INNER) - names} "
                         "never recorded")


@pytest.fixture(scope="module")
def nested_run(prefect_server, tmp_path_factory) -> str:
    run_id = run_nested_flow(prefect_server, tmp_path_factory.mktemp("nested"))
    settled(prefect_server.api_url, run_id)
    return run_id


def _labels(widget: FlowRunWidget) -> list[str]:
    decoded = decode_timeline(widget.timeline)
    return [decoded["keys"][k] for k in decoded["key"]]


def _row_of(widget: FlowRunWidget, name: str) -> int:
    return _labels(widget).index(name)


def test_expanding_appends_the_child_runs_rows_nested_under_the_subflow(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    top = widget.timeline["n"]
    assert "parent" not in widget.timeline  # nothing nested: the wire is unchanged
    middle = _row_of(widget, MIDDLE_ROW)
    assert decode_timeline(widget.timeline)["kind"][middle] == 1

    widget.expand_subflow(middle)

    decoded = decode_timeline(widget.timeline)
    parent, expanded = decode_nesting(widget.timeline)
    labels = _labels(widget)
    assert expanded == [middle]
    assert widget.expanded_subflows == [str(widget._frame.index[middle])]
    assert (parent[:top] == -1).all()
    nested = list(range(top, decoded["n"]))
    assert {labels[i] for i in nested} == MIDDLE
    assert (parent[top:] == middle).all()
    assert sorted(labels[i] for i in nested).count("mid_map") == 3
    maps = sorted(decoded["map_index"][i] for i in nested if labels[i] == "mid_map")
    assert maps == [0, 1, 2]  # the child run's own mapping
    inner = next(i for i in nested if labels[i] == INNER_ROW)
    assert decoded["kind"][inner] == 1  # a subflow inside the child: expandable too
    assert not np.isnan(decoded["start"][nested]).any()
    assert decode_tags(widget.timeline)[nested[0]] == ["nested"]


def test_nested_subflows_expand_recursively_and_collapse(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    middle = _row_of(widget, MIDDLE_ROW)
    widget.expand_subflow(middle)
    inner = _row_of(widget, INNER_ROW)
    widget.expand_subflow(inner)
    parent, expanded = decode_nesting(widget.timeline)
    labels = _labels(widget)
    deepest = [i for i, p in enumerate(parent) if p == inner]
    assert {labels[i] for i in deepest} == INNER
    assert expanded == [middle, inner]
    assert parent[inner] == middle  # two levels down

    widget.collapse_subflow(middle)  # the inner one stays listed, shown with its parent
    assert decode_nesting(widget.timeline)[1] == []
    assert widget.timeline["n"] == len(widget._frame)
    assert "parent" not in widget.timeline
    widget.expand_subflow(middle)
    assert {_labels(widget)[i] for i in decode_nesting(widget.timeline)[1]} == {MIDDLE_ROW,
                                                                                INNER_ROW}


def test_expanding_reads_the_child_once(nested_run, counting):
    client, transport = counting
    widget = FlowRunWidget(FlowRunView.from_flow_run_id(nested_run, client=client), live=False)
    middle = _row_of(widget, MIDDLE_ROW)
    transport.paths.clear()
    widget.expand_subflow(middle)
    first = list(transport.paths)
    assert first.count("/api/task_runs/filter") >= 1
    widget.collapse_subflow(middle)
    widget.expand_subflow(middle)
    widget._on_message(widget, {"type": "details", "index": middle}, [])  # the same snapshot
    assert [p for p in transport.paths[len(first):] if "task_runs" in p] == []


def test_child_rows_open_the_details_panel_of_their_own_task_run(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    widget.expand_subflow(_row_of(widget, MIDDLE_ROW))
    row = _row_of(widget, "mid_extract")
    assert row >= len(widget._frame)
    widget.selected_index = row
    task = widget.selected_task_run
    assert task is not None and task.task_name == "mid_extract"
    assert widget.selected_flow_run is None
    widget._on_message(widget, {"type": "details", "index": row}, [])
    details = widget.details
    assert details["index"] == row and details["problems"] == []
    assert dict(details["fields"])["Task run id"] == task.task_run_id
    inner = _row_of(widget, INNER_ROW)
    widget.selected_index = inner
    assert widget.selected_flow_run.flow.name == INNER_ROW


def test_the_browser_expands_and_collapses_by_message(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    middle = _row_of(widget, MIDDLE_ROW)
    widget._on_message(widget, {"type": "subflow", "index": middle, "expand": True}, [])
    assert decode_nesting(widget.timeline)[1] == [middle]
    widget._on_message(widget, {"type": "subflow", "index": middle, "expand": False}, [])
    assert widget.expanded_subflows == [] and "parent" not in widget.timeline
    widget._on_message(widget, {"type": "subflow", "index": 0 if middle else 1,
                                "expand": True}, [])  # not a subflow row: said, not raised
    assert "not a subflow run" in widget.header["error"]


def test_a_selected_nested_run_is_unselected_while_its_subflow_is_collapsed(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    middle = _row_of(widget, MIDDLE_ROW)
    widget.expand_subflow(middle)
    widget.expand_subflow(_row_of(widget, INNER_ROW))
    widget.selected_index = _row_of(widget, "inner_b")
    chosen = widget.selected_task_run.task_run_id
    widget.collapse_subflow(middle)
    assert widget.selected_index == -1  # hidden with its parent
    widget.expand_subflow(middle)
    widget.selected_index = _row_of(widget, "inner_b")
    assert widget.selected_task_run.task_run_id == chosen


def test_a_saved_expansion_is_restored(nested_run):
    first = FlowRunWidget(nested_run, live=False)
    first.expand_subflow(_row_of(first, MIDDLE_ROW))
    again = FlowRunWidget(nested_run, live=False, expanded_subflows=first.expanded_subflows)
    assert again.timeline["n"] == first.timeline["n"]
    assert decode_nesting(again.timeline)[1] == decode_nesting(first.timeline)[1]
    child_id = FlowRunView.from_flow_run_id(nested_run).to_dataframe(progress=False).set_index(
        "task_name").loc[MIDDLE_ROW, "child_flow_run_id"]
    by_flow_run = FlowRunWidget(nested_run, live=False)
    by_flow_run.expand_subflow(str(child_id))  # the subflow's own flow run id works too
    assert by_flow_run.expanded_subflows == first.expanded_subflows


def test_refusals_say_what_to_pass(nested_run):
    widget = FlowRunWidget(nested_run, live=False)
    with pytest.raises(InvalidRequest, match="not a subflow run"):
        widget.expand_subflow(_row_of(widget, "prepare"))
    with pytest.raises(InvalidRequest, match="No row 999"):
        widget.expand_subflow(999)
    with pytest.raises(InvalidRequest, match="task run id"):
        widget.collapse_subflow("no-such-id")


def test_a_live_child_keeps_updating_while_expanded(prefect_server, tmp_path):
    before = {r.flow_run_id for r in FlowRunView.query(flow_name="subflows-outer", limit=None)}
    thread = threading.Thread(target=run_nested_flow, args=(prefect_server, tmp_path, 1.0))
    thread.start()
    try:
        widget = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = [r for r in FlowRunView.query(flow_name="subflows-outer", limit=None)
                     if r.flow_run_id not in before]
            if found and MIDDLE_ROW in set(found[0].to_dataframe(progress=False)["task_name"]):
                widget = FlowRunWidget(found[0], live=True, interval=0.5)
                break
            time.sleep(0.3)
        assert widget is not None and widget.is_polling
        widget.expand_subflow(_row_of(widget, MIDDLE_ROW))
        decoded = decode_timeline(widget.timeline)
        first = [(_labels(widget)[i], decoded["state"][i])
                 for i in range(len(widget._frame), decoded["n"])]
        # the child is not done yet: a task run missing or one not completed
        assert {name for name, _ in first} != MIDDLE or {s for _, s in first} != {3}
        while widget.is_polling and time.monotonic() < deadline + 60:
            time.sleep(0.3)
        decoded = decode_timeline(widget.timeline)
        nested = range(len(widget._frame), decoded["n"])
        assert {_labels(widget)[i] for i in nested} == MIDDLE
        assert {decoded["state"][i] for i in nested} == {3}  # every one COMPLETED
    finally:
        thread.join(120)
