"""The live widget's Python side against the real server: traits, live diffs, threads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets._timeline_encoding import STATE_TYPES, decode_patch, decode_timeline
from prefect_widgets.samples import MAPPED_SIZE
from prefect_widgets.widget import FlowRunWidget


def test_finished_run_traits(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    widget = FlowRunWidget(view)
    assert not widget.is_polling
    decoded = decode_timeline(widget.timeline)
    assert widget.timeline["n"] == MAPPED_SIZE
    assert set(decoded["state"].tolist()) == {STATE_TYPES.index("COMPLETED")}
    assert widget.timeline["keys"] == ["square"]
    assert not np.isnan(decoded["start"]).any()
    assert (decoded["end"] >= decoded["start"]).all()
    assert widget.header["counts"] == {"COMPLETED": MAPPED_SIZE}
    assert widget.header["state_type"] == "COMPLETED"
    assert widget.header["flow_name"] == "mapped-squares"
    assert widget.header["ui_url"].endswith(f"/runs/flow-run/{view.flow_run_id}")
    raw = sum(len(widget.timeline[k]) for k in ("start", "end", "state", "key", "map_index",
                                                 "run_count"))
    assert raw / MAPPED_SIZE <= 15  # bytes per task run on the wire


def test_selection_maps_to_task_run_view(runs):
    widget = FlowRunWidget(runs["hello"])
    assert widget.selected_task_run is None
    widget.selected_index = 0
    selected = widget.selected_task_run
    assert isinstance(selected, TaskRunView)
    assert selected.task_run_id == widget._frame.index[0]
    widget._on_message(widget, {"type": "details", "index": 0}, [])
    assert widget.details["index"] == 0 and widget.details["problems"] == []
    fields = dict(widget.details["fields"])
    assert fields["Task run id"] == selected.task_run_id
    assert fields["Name"] == selected.name


def test_mimebundle_has_static_fallback(runs):
    widget = FlowRunWidget(runs["hello"], live=False)
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("FlowRunView(")
    assert "pw-" in data["text/html"]


def test_live_widget_follows_a_running_flow_to_completion(prefect_server):
    before = {r.flow_run_id for r in FlowRunView.query(flow_name="slow-pipeline", limit=None)}
    thread = threading.Thread(target=prefect_server.run_flows, args=("slow",))
    thread.start()
    try:
        run = None
        for _ in range(150):
            found = FlowRunView.query(flow_name="slow-pipeline", limit=None)
            run = next((r for r in found if r.flow_run_id not in before), None)
            if run is not None and run.state.is_running():
                break
            time.sleep(0.2)
        assert run is not None
        patches = []
        widget = FlowRunWidget(run, live=True, interval=0.5)
        original_send = widget.send
        widget.send = lambda msg, buffers=None: (patches.append((msg, buffers)),
                                                 original_send(msg, buffers))
        assert widget.is_polling
        deadline = time.monotonic() + 90
        while widget.is_polling and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        thread.join()
    assert not widget.is_polling
    assert widget.header["state_type"] == "COMPLETED"
    assert widget.header["live"] is False
    assert patches, "live mode sent no patches"
    first = decode_patch(*patches[0])
    assert len(first["index"]) >= 1
    server_counts = TaskRunView.count_by_state(flow_run_id=run.flow_run_id)
    # the server records task runs from events: wait until it agrees with itself, then compare
    assert widget.header["counts"] == server_counts
    assert widget.timeline["n"] == sum(server_counts.values())
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-live"]


def test_close_stops_polling(runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    widget = FlowRunWidget(view, live=True)
    assert not widget.is_polling  # finished runs never poll
    widget.close()
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-live"]


@pytest.fixture(autouse=True)
def _no_stray_threads():
    yield
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-live"]


def test_attempts_cut_the_idle_time_between_retries(runs):
    from prefect_widgets.analytics import attempts_frame

    view = FlowRunView.from_flow_run_id(runs["retrying"])
    widget = FlowRunWidget(view, live=False)
    assert "gaps" not in widget.timeline
    widget.show_attempts()
    gaps = widget.timeline["gaps"]
    assert gaps["n"] == 2  # three attempts, two gaps
    rows = np.frombuffer(bytes(gaps["row"]), dtype="<i4")
    start = np.frombuffer(bytes(gaps["start"]), dtype="<f4")
    end = np.frombuffer(bytes(gaps["end"]), dtype="<f4")
    assert set(rows.tolist()) == {0}
    assert ((end - start) >= 900).all()  # retry_delay_seconds=1
    decoded = decode_timeline(widget.timeline)
    assert (start >= decoded["start"][0]).all() and (end <= decoded["end"][0] + 1).all()
    attempts = attempts_frame(view)
    t0 = widget.timeline["t0"]
    expected = sorted(a.timestamp() * 1000 - t0 for a in attempts["end"].iloc[:-1])
    assert np.allclose(sorted(start.tolist()), expected, atol=1)
    widget.show_attempts(False)
    assert "gaps" not in widget.timeline


def _apply_patch(state: dict, msg: dict, buffers: list) -> None:
    """What the browser does with a patch (js/src/patch.ts), on decoded columns."""
    patch = decode_patch(msg, buffers)
    n = patch["n"]
    for name, fill in (("start", np.nan), ("end", np.nan), ("state", 0), ("key", -1),
                       ("map_index", -1), ("run_count", 0)):
        column = np.asarray(state[name], dtype=np.float64)
        if len(column) < n:
            column = np.concatenate([column, np.full(n - len(column), fill)])
        if name in ("start", "end"):  # offsets from the patch's t0
            column[: state["n"]] += state["t0"] - patch["t0"]
        column[patch["index"]] = patch[name]
        state[name] = column
    state.update(n=n, t0=patch["t0"], keys=patch["keys"])


def _labels(state: dict) -> list[str]:
    return [state["keys"][int(k)] + (f"[{int(m)}]" if m >= 0 else "")
            for k, m in zip(state["key"][: state["n"]], state["map_index"][: state["n"]])]


def test_single_runs_are_not_mapped_and_mapped_runs_are_numbered(runs):
    hello = decode_timeline(FlowRunWidget(runs["hello"], live=False).timeline)
    assert hello["map_index"].tolist() == [-1, -1]  # the browser shows no "[0]"
    widget = FlowRunWidget(runs["mapped"], live=False)
    mapped = decode_timeline(widget.timeline)
    expected = widget.flow_run.data.timeline()["map_index"].astype(int).tolist()
    assert mapped["map_index"].tolist() == expected
    assert sorted(expected) == list(range(MAPPED_SIZE))
    assert widget.header["task_runs"] == MAPPED_SIZE and widget.header["subflow_runs"] == 0


def test_details_show_the_retries_in_the_state_history(runs):
    widget = FlowRunWidget(runs["retrying"], live=False)
    assert decode_timeline(widget.timeline)["run_count"].tolist() == [3]  # the row's retries
    widget._on_message(widget, {"type": "details", "index": 0}, [])
    states = widget.details["states"]
    assert [s["name"] for s in states].count("Retrying") == 2
    assert states[-1]["type"] == "COMPLETED" and states[-1]["duration_ms"] is None
    assert all(s["duration_ms"] >= 0 for s in states[:-1])
    assert widget.details["failure"] is None
    labels = [label for label, _ in widget.details["fields"]]
    assert len(labels) == len(set(labels))  # each field once
    assert not {"State", "Start", "End", "Duration", "Retries"} & set(labels)  # the row has them


def test_subflow_rows_are_first_class(runs):
    widget = FlowRunWidget(runs["subflow"], live=False)
    frame = widget.flow_run.data.timeline()
    subflows = frame[frame["kind"].astype(str) == "subflow-run"]
    assert len(subflows) >= 1
    assert widget.header["subflow_runs"] == len(subflows)
    assert widget.header["task_runs"] == len(frame) - len(subflows)
    index = widget._rows[subflows.index[0]]
    decoded = decode_timeline(widget.timeline)
    assert decoded["kind"].tolist() == [int(i in set(subflows.index)) for i in widget._frame.index]
    assert widget.timeline["keys"][decoded["key"][index]] == subflows["task_name"].iloc[0]
    child = subflows["child_flow_run_id"].iloc[0]
    widget._on_message(widget, {"type": "details", "index": index}, [])
    assert widget.details["problems"] == []
    fields = dict(widget.details["fields"])
    assert fields["Flow run id"] == child and fields["Task run id"] == subflows.index[0]
    widget.selected_index = index
    assert isinstance(widget.selected_flow_run, FlowRunView)
    assert widget.selected_flow_run.flow_run_id == child
    assert widget.selected_task_run.task_run_id == subflows.index[0]  # the parent task run
    hello = FlowRunWidget(runs["hello"], live=False)
    hello.selected_index = 0
    assert hello.selected_flow_run is None
    assert isinstance(hello.selected_task_run, TaskRunView)


def test_live_rows_are_numbered_like_a_fresh_widget_and_resync_is_whole(runs):
    """Rows arriving while live get the map indices a fresh widget gives them (earlier
    rows are renumbered too), and a resync re-sets the trait to every row."""
    from prefect_widgets.records import task_runs_frame, timeline_from_tasks
    from prefect_widgets.widget import _encodable

    fresh = FlowRunWidget(runs["mapped"], live=False)
    rows = list(fresh.flow_run.data.task_rows())
    widget = FlowRunWidget(runs["mapped"], live=False)
    # pretend the widget first saw a third of the runs (the newest ones: numbering shifts)
    rows.sort(key=lambda r: r["id"])
    first, rest = rows[300:], rows[:300]
    with widget._lock:
        widget._records = {r["id"]: r for r in first}
        widget._frame = timeline_from_tasks(task_runs_frame(first))
        widget._wire = _encodable(widget._frame)
        widget._rows = {i: n for n, i in enumerate(widget._frame.index)}
        widget._encode()
    state = decode_timeline(widget.timeline)
    assert state["n"] == 150 and sorted(state["map_index"].tolist()) == list(range(150))
    sent = []
    widget.send = lambda msg, buffers=None: sent.append((msg, buffers))
    widget._on_message(widget, {"type": "resync"}, [])  # trait current: nothing to do
    assert not sent
    trait_before = widget.timeline
    for at in range(0, 300, 100):
        widget._merge(rest[at:at + 100])
    assert len(sent) == 3 and all(m["type"] == "patch" for m, _ in sent)
    first_patch = decode_patch(*sent[0])
    assert (first_patch["index"] < 150).any()  # earlier rows were renumbered, not only new
    for msg, buffers in sent:
        _apply_patch(state, msg, buffers)
    expected = decode_timeline(fresh.timeline)
    by_id = dict(zip(fresh._frame.index, _labels(expected)))
    assert state["n"] == MAPPED_SIZE
    assert _labels(state) == [by_id[i] for i in widget._frame.index]
    assert widget.timeline is trait_before and not widget._trait_current
    widget._on_message(widget, {"type": "resync"}, [])
    whole = decode_timeline(widget.timeline)
    assert widget._trait_current and whole["n"] == MAPPED_SIZE
    assert _labels(whole) == _labels(state)
    assert sorted(_labels(whole)) == sorted(by_id.values())


def test_graph_nodes_map_to_rows(runs):
    """A "flow-run" graph node is the row of its parent task run; an unknown one is a new
    subflow run; unknown task-run nodes are fetched."""
    import pandas as pd

    widget = FlowRunWidget(runs["subflow"], live=False)
    nodes = widget._graph()
    assert (nodes["kind"] == "flow-run").any()
    wanted, new_subflow = widget._stale_ids(nodes)
    assert wanted == [] and not new_subflow  # nothing changed
    changed = nodes.copy()
    changed["state_type"] = pd.Categorical(["RUNNING"] * len(nodes),
                                           categories=nodes["state_type"].cat.categories)
    wanted, _ = widget._stale_ids(changed)
    child = changed.index[changed["kind"] == "flow-run"][0]
    parent = widget._frame.index[widget._frame["child_flow_run_id"] == child][0]
    assert parent in wanted
    other = changed.rename(index={child: "00000000-0000-7000-8000-000000000000"})
    assert widget._stale_ids(other)[1]  # an unknown subflow run


# --------------------------------------------------------------------------- details (issue 18)

#: (sample, the user's function that raised, the final exception line)
FAILING = [
    ("task_error", "check_row", "ValueError: boom: row 'x' is not a number"),
    ("subflow_error", "lookup_region", "LookupError: unknown region 'mars'"),
    ("retries_error", "always_refused", "ConnectionError: attempt 3: the warehouse refused"),
    ("crash", "pull_plug", "Abort: the process was told to stop"),
]


def _failed_row_details(widget: FlowRunWidget) -> dict:
    """The details of the first failed or crashed row, as the browser's click asks them."""
    states = widget._frame["state_type"].astype(str).tolist()
    index = next(i for i, s in enumerate(states) if s in ("FAILED", "CRASHED"))
    widget._on_message(widget, {"type": "details", "index": index}, [])
    assert widget.details["index"] == index
    return widget.details


@pytest.mark.parametrize(("sample", "function", "line"), FAILING, ids=[f[0] for f in FAILING])
def test_details_of_a_failed_row_hold_the_user_frame_and_final_line(debug_runs, sample,
                                                                      function, line):
    import json

    widget = FlowRunWidget(debug_runs[sample], live=False)
    details = _failed_row_details(widget)
    assert details["problems"] == []
    failure = details["failure"]
    assert failure["state_type"] in ("FAILED", "CRASHED")
    assert failure["exception_line"].endswith(line)
    assert failure["sections"][-1]["exception"].endswith(line)
    items = [item for s in failure["sections"] for item in s["items"]]
    shown = [item["frame"] for item in items if "frame" in item]
    assert any(f"in {function}" in frame and "samples.py" in frame for frame in shown)
    folded = [item for item in items if "folded" in item]
    assert folded and all("site-packages/prefect/" not in f for f in shown)  # folded
    assert any("site-packages/prefect/" in item["text"] and "internal" in item["origins"]
               for item in folded)
    assert len(json.dumps(details)) < 100_000  # bounded


def test_details_of_a_retried_failure_show_its_state_history(debug_runs):
    details = _failed_row_details(FlowRunWidget(debug_runs["retries_error"], live=False))
    names = [s["name"] for s in details["states"]]
    assert names.count("Retrying") == 2 and details["states"][-1]["type"] == "FAILED"
    assert "the warehouse refused" in details["states"][-1]["message"]
    assert "Message" not in dict(details["fields"])  # the error block says it, once


def test_details_show_the_artifacts_as_sanitised_html(debug_runs):
    widget = FlowRunWidget(debug_runs["artifacts"], live=False)
    widget._on_message(widget, {"type": "details", "index": 0}, [])
    artifacts = {a["key"]: a for a in widget.details["artifacts"]}
    assert set(artifacts) == {"summary", "rows-by-region", "rows-by-column", "docs-link",
                              "progress", "pixel"}
    summary = artifacts["summary"]["html"]
    assert "<h1>Summary</h1>" in summary and 'rel="noopener noreferrer"' in summary
    assert '<img src="data:image/png;base64,' in summary
    assert "<td>eu</td>" in artifacts["rows-by-region"]["html"].replace(" ", "")
    assert "<progress" in artifacts["progress"]["html"]
    assert "https://docs.prefect.io/" in artifacts["docs-link"]["html"]
