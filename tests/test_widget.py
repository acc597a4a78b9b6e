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
    sent = []
    widget.send = lambda msg, buffers=None: sent.append(msg)  # capture the reply
    widget._on_message(widget, {"type": "details", "index": 0}, [])
    assert sent[0]["fields"]["id"] == selected.task_run_id
    assert sent[0]["fields"]["name"] == selected.name


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
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-poll"]


def test_close_stops_polling(runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    widget = FlowRunWidget(view, live=True)
    assert not widget.is_polling  # finished runs never poll
    widget.close()
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-poll"]


@pytest.fixture(autouse=True)
def _no_stray_threads():
    yield
    assert not [t for t in threading.enumerate() if t.name == "prefect-widgets-poll"]


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
