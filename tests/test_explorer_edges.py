"""Dependency edges (issue 19, item 2): the inferred call-order rule, the critical path over
it, the edge columns of the wire format (whole timeline and live patches), and the widget's
edge options, on synthetic frames and on the real server's sample runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from prefect_widgets import FlowRunView
from prefect_widgets._timeline_encoding import (
    EDGE_CRITICAL,
    EDGE_INFERRED,
    decode_patch,
    decode_timeline,
    encode_patch,
    encode_timeline,
)
from prefect_widgets.analytics.dependencies import (
    dependency_edges,
    dependency_edges_from_frame,
    inferred_upstreams_from_frame,
)
from prefect_widgets.analytics.paths import critical_path, critical_path_from_frame
from prefect_widgets.dataframes import task_runs_frame
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.widget import FlowRunWidget

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else (T0 + timedelta(seconds=seconds)).isoformat()


def _row(task_id: str, start: float | None, end: float | None, ups=(), flow="f") -> dict:
    return {"id": task_id, "name": f"{task_id}-0", "task_key": f"{task_id}-abc",
            "flow_run_id": flow, "state_type": "COMPLETED", "state_name": "Completed",
            "run_count": 1, "expected_start_time": _iso(start), "start_time": _iso(start),
            "end_time": _iso(end),
            "task_inputs": {"wait_for": [{"input_type": "task_run", "id": u} for u in ups]}}


def _inferred(rows: list[dict]) -> dict[str, str | None]:
    return inferred_upstreams_from_frame(task_runs_frame(rows)).to_dict()


# --------------------------------------------------------------------------- the rule


def test_a_sequential_chain_infers_each_previous_call():
    rows = [_row(f"s{i:02d}", i, i + 0.9) for i in range(12)]
    assert _inferred(rows) == {"s00": None, **{f"s{i:02d}": f"s{i - 1:02d}" for i in range(1, 12)}}


def test_runs_started_while_another_ran_infer_nothing():
    """A pool: b and c start while a still runs; d starts while c runs. Nothing inferred,
    except e, which starts after everything ended: it follows the one that ended last."""
    rows = [_row("a", 0, 3), _row("b", 1, 2), _row("c", 2.5, 4), _row("d", 3.5, 5),
            _row("e", 6, 7)]
    assert _inferred(rows) == {"a": None, "b": None, "c": None, "d": None, "e": "d"}


def test_recorded_upstreams_win_and_ids_outside_the_frame_do_not_count():
    rows = [_row("a", 0, 1), _row("b", 2, 3, ups=["a"]), _row("c", 4, 5, ups=["elsewhere"])]
    assert _inferred(rows) == {"a": None, "b": None, "c": "b"}
    edges = dependency_edges_from_frame(task_runs_frame(rows), inferred=True)
    assert edges.values.tolist() == [["a", "b", False], ["b", "c", True]]
    assert dependency_edges_from_frame(task_runs_frame(rows)).values.tolist() == [
        ["a", "b", False]]


def test_zero_length_runs_at_one_instant_chain_by_row_and_never_cycle():
    rows = [_row("a", 0, 1), _row("b", 1, 1), _row("c", 1, 1), _row("d", 1, 2)]
    inferred = _inferred(rows)
    assert inferred == {"a": None, "b": "a", "c": "b", "d": "c"}
    path = critical_path_from_frame(task_runs_frame(rows), inferred=True)  # no DependencyCycle
    assert path["task_run_id"].tolist() == ["a", "b", "c", "d"]


def test_inference_stays_inside_each_flow_run():
    rows = [_row("a", 0, 1, flow="f"), _row("x", 2, 3, flow="g"), _row("b", 4, 5, flow="f")]
    assert _inferred(rows) == {"a": None, "x": None, "b": "a"}


def test_never_started_and_open_runs():
    rows = [_row("a", 0, 1), _row("b", 2, None), _row("c", None, None), _row("d", 3, 4)]
    # b is running when d starts: d infers nothing; c never started
    assert _inferred(rows) == {"a": None, "b": "a", "c": None, "d": None}


def test_critical_path_with_inferred_edges_says_so():
    frame = task_runs_frame([_row(f"s{i:02d}", i, i + 0.9) for i in range(12)])
    assert len(critical_path_from_frame(frame)) == 1  # no recorded edges: the longest run
    assert "inferred" not in critical_path_from_frame(frame).columns
    path = critical_path_from_frame(frame, inferred=True)
    assert len(path) == 12
    assert path["inferred"].tolist() == [False] + [True] * 11
    mixed = task_runs_frame([_row("a", 0, 1), _row("b", 2, 3, ups=["a"]), _row("c", 4, 5)])
    assert critical_path(mixed, inferred=True)["inferred"].tolist() == [False, False, True]


# --------------------------------------------------------------------------- the wire


def _wire(n: int) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    return pd.DataFrame({
        "task_key": ["t"] * n, "map_index": np.arange(n), "state_type": ["COMPLETED"] * n,
        "start_time": [start + pd.Timedelta(seconds=i) for i in range(n)],
        "end_time": [start + pd.Timedelta(seconds=i + 0.5) for i in range(n)],
        "run_count": [1] * n})


def test_edges_round_trip_sorted_by_downstream_row():
    edges = ([1, 0, 2], [2, 1, 3], [EDGE_INFERRED, 0, EDGE_INFERRED | EDGE_CRITICAL])
    tl = encode_timeline(_wire(4), edges=edges)
    assert tl["edge_count"] == 3
    assert bytes(tl["edge_in"]) == bytes([0, 1, 1, 1])  # one upstream each for rows 1..3
    assert bytes(tl["edge_up"]) == bytes([0, 2, 2])  # 0, +1, +1 zigzagged
    back = decode_timeline(tl)
    assert back["edge_from"].tolist() == [0, 1, 2] and back["edge_to"].tolist() == [1, 2, 3]
    assert back["edge_flags"].tolist() == [0, 1, 3]
    wide = encode_timeline(_wire(300), edges=([0, 299], [299, 0], [0, 0]))
    assert "edge_flags" not in wide  # every flag 0: no column
    back = decode_timeline(wide)
    assert back["edge_from"].tolist() == [299, 0] and back["edge_to"].tolist() == [0, 299]
    assert back["edge_flags"].tolist() == [0, 0]
    assert "edge_count" not in encode_timeline(_wire(4))
    assert decode_timeline(encode_timeline(_wire(4)))["edge_count"] == 0


def test_bad_edges_are_refused():
    with pytest.raises(ValueError, match="one entry per edge"):
        encode_timeline(_wire(3), edges=([0, 1], [1], [0, 0]))
    with pytest.raises(IndexError):
        encode_timeline(_wire(3), edges=([-1], [1], [0]))
    with pytest.raises(IndexError, match="< 3"):
        encode_timeline(_wire(3), edges=([0], [3], [0]))


def test_patch_edges_add_and_replace_round_trip():
    rows = _wire(3).iloc[1:].copy()
    rows.insert(0, "index", [1, 2])
    msg, buffers = encode_patch(1, rows, edges=([0, 1], [1, 2], [0, EDGE_INFERRED]))
    assert msg["edges"] == {"mode": "add", "count": 2}
    assert len(buffers) == 7 + 3
    back = decode_patch(msg, buffers)
    assert back["edges_mode"] == "add" and back["index"].tolist() == [1, 2]
    assert back["edge_from"].tolist() == [0, 1] and back["edge_flags"].tolist() == [0, 1]
    with_kind = rows.assign(kind=[0, 1])
    msg, buffers = encode_patch(1, with_kind, edges=([0], [2], [0]), replace_edges=True)
    back = decode_patch(msg, buffers)
    assert msg["edges"]["mode"] == "replace" and back["kind"].tolist() == [0, 1]
    assert back["edge_to"].tolist() == [2]
    msg, buffers = encode_patch(1, rows)
    assert "edges" not in msg and decode_patch(msg, buffers)["edges_mode"] is None


# --------------------------------------------------------------------------- the server


def test_diamond_records_its_four_edges_and_infers_none(runs):
    run = FlowRunView.from_flow_run_id(runs["diamond"])
    names = run.to_dataframe()["name"].map(lambda n: n.rsplit("-", 1)[0]).to_dict()
    edges = dependency_edges(run, inferred=True)
    pairs = sorted((names[u], names[d]) for u, d in zip(edges["upstream_task_run_id"],
                                                         edges["task_run_id"]))
    assert pairs == [("extract", "fast_branch"), ("extract", "slow_branch"),
                     ("fast_branch", "load"), ("slow_branch", "load")]
    assert not edges["inferred"].any()


def _pipeline(run: FlowRunView) -> tuple[list[str], set[str]]:
    """The sequential sample's task runs in start order, and those that record an upstream.

    The stages pass no data, yet Prefect 3.8 sometimes records one: it tracks results by
    `id()` of the returned object, and a stage's fresh label string can reuse the address
    of an earlier stage's result (seen: stage 7's `label` input naming stage 3)."""
    frame = run.to_dataframe()
    order = frame.sort_values("start_time").index.tolist()
    return order, {i for i, ups in frame["upstream_task_run_ids"].items() if len(ups)}


def test_sequential_pipeline_gets_its_call_order_as_inferred_edges(runs):
    run = FlowRunView.from_flow_run_id(runs["slow"])
    order, recorded = _pipeline(run)
    assert len(order) == 12 and len(recorded) <= 2
    edges = dependency_edges(run, inferred=True)
    inferred = edges[edges["inferred"]]
    assert list(zip(inferred["upstream_task_run_id"], inferred["task_run_id"])) == [
        (a, b) for a, b in zip(order, order[1:]) if b not in recorded]
    assert len(dependency_edges(run)) == len(edges) - len(inferred)
    path = critical_path(run, inferred=True)
    steps = path["task_run_id"].tolist()
    assert steps[0] == order[0] and steps[-1] == order[-1]
    assert steps == sorted(steps, key=order.index)  # along the call order
    pairs = set(zip(edges["upstream_task_run_id"], edges["task_run_id"]))
    assert all(pair in pairs for pair in zip(steps, steps[1:]))
    inferred_pairs = set(zip(inferred["upstream_task_run_id"], inferred["task_run_id"]))
    assert path["inferred"].tolist() == [False] + [p in inferred_pairs
                                                   for p in zip(steps, steps[1:])]
    # a recorded (even a false) edge k→m replaces m's inferred one, so the path may skip k+1..m-1
    assert len(path) >= len(critical_path(run))
    if not recorded:
        assert len(path) == 12 > len(critical_path(run))
    pd.testing.assert_frame_equal(run.critical_path(inferred=True), path)  # the view says the same


def test_widget_sends_recorded_edges_and_obeys_the_edge_options(runs):
    diamond = FlowRunWidget(runs["diamond"], live=False)
    tl = decode_timeline(diamond.timeline)
    assert diamond.timeline["edge_mode"] == "auto" and tl["edge_count"] == 4
    ids = list(diamond._frame.index)
    for up, down in zip(tl["edge_from"], tl["edge_to"]):
        assert ids[up] in diamond._frame["upstream_task_run_ids"].iloc[down]
    assert not tl["edge_flags"].any()
    diamond.show_critical_path()
    flags = decode_timeline(diamond.timeline)["edge_flags"]
    assert (flags == EDGE_CRITICAL).sum() == 2  # extract → slow_branch → load
    diamond.show_edges("off")
    assert "edge_count" not in diamond.timeline and diamond.timeline["edge_mode"] == "off"
    diamond.show_edges("selection")
    assert diamond.timeline["edge_mode"] == "selection"
    with pytest.raises(InvalidRequest, match="not an edge mode"):
        diamond.show_edges("everything")
    with pytest.raises(InvalidRequest):
        FlowRunWidget(runs["diamond"], live=False, edges="some")


def test_widget_inferred_edges_are_flagged_and_follow_the_critical_path(runs):
    slow = FlowRunWidget(runs["slow"], live=False, critical_path=True)
    _, recorded = _pipeline(slow.flow_run)
    assert decode_timeline(slow.timeline)["edge_count"] == len(recorded)
    slow.show_inferred_edges()
    tl = decode_timeline(slow.timeline)
    assert tl["edge_count"] == 11  # every stage but the first has one upstream
    assert ((tl["edge_flags"] & EDGE_INFERRED) > 0).sum() == 11 - len(recorded)
    steps = len(critical_path(slow.flow_run, inferred=True))
    assert int(np.frombuffer(slow.timeline["highlight"], dtype="u1").sum()) == steps
    assert ((tl["edge_flags"] & EDGE_CRITICAL) > 0).sum() == steps - 1
    slow.show_inferred_edges(False)
    assert decode_timeline(slow.timeline)["edge_count"] == len(recorded)


def test_live_patches_bring_the_edges_of_new_rows(runs):
    """A widget that saw half the pipeline gets the rest as patches; their edges, applied,
    are the edges a fresh widget sends."""
    from prefect_widgets.records import task_runs_frame as frame_of
    from prefect_widgets.records import timeline_from_tasks
    from prefect_widgets.widget import _encodable

    fresh = FlowRunWidget(runs["slow"], live=False, inferred_edges=True)
    expected = decode_timeline(fresh.timeline)
    fresh_ids = list(fresh._frame.index)
    want = {(fresh_ids[u], fresh_ids[d], f) for u, d, f in
            zip(expected["edge_from"], expected["edge_to"], expected["edge_flags"])}
    widget = FlowRunWidget(runs["slow"], live=False, inferred_edges=True)
    rows = sorted(widget.flow_run.data.task_rows(), key=lambda r: r["start_time"])
    with widget._lock:
        widget._records = {r["id"]: r for r in rows[:6]}
        widget._frame = timeline_from_tasks(frame_of(rows[:6]))
        widget._wire = _encodable(widget._frame)
        widget._rows = {i: n for n, i in enumerate(widget._frame.index)}
        widget._encode()
    first = decode_timeline(widget.timeline)
    ids = list(widget._frame.index)
    have = {(ids[u], ids[d], f) for u, d, f in
            zip(first["edge_from"], first["edge_to"], first["edge_flags"])}
    assert len(have) == 5
    sent = []
    widget.send = lambda msg, buffers=None: sent.append((msg, buffers))
    widget._merge(rows[6:9])
    widget._merge(rows[9:])
    assert len(sent) == 2
    for msg, buffers in sent:
        patch = decode_patch(msg, buffers)
        assert patch["edges_mode"] == "add"
        ids = list(widget._rows)
        have |= {(ids[u], ids[d], f) for u, d, f in
                 zip(patch["edge_from"], patch["edge_to"], patch["edge_flags"])}
    assert have == want and len(want) == 11  # recorded and inferred


def test_live_merges_recompute_only_the_edges_of_changed_rows(runs, monkeypatch):
    """Without inferred edges a poll recomputes only the recorded edges of the rows it
    touched (never the whole run's `edge_rows`): a downstream held before its upstreams gets
    their edges when they arrive ("add"); a record that loses an upstream resends all the
    edges ("replace"); the critical path's flag follows."""
    import prefect_widgets.analytics.dependencies as dependencies
    from prefect_widgets.records import task_runs_frame as frame_of
    from prefect_widgets.records import timeline_from_tasks
    from prefect_widgets.widget import _encodable

    widget = FlowRunWidget(runs["diamond"], live=False, critical_path=True)
    records = {str(r["id"]): r for r in widget.flow_run.data.task_rows()}
    name = {i: r["name"].rsplit("-", 1)[0] for i, r in records.items()}
    by_name = {v: records[k] for k, v in name.items()}
    critical = set(widget._critical_steps)  # extract → slow_branch → load
    with widget._lock:  # a widget that has seen only `load` so far
        widget._records = {str(by_name["load"]["id"]): by_name["load"]}
        widget._frame = timeline_from_tasks(frame_of([by_name["load"]]))
        widget._wire = _encodable(widget._frame)
        widget._rows = {i: n for n, i in enumerate(widget._frame.index)}
        widget._encode()
    assert decode_timeline(widget.timeline)["edge_count"] == 0
    sent = []
    widget.send = lambda msg, buffers=None: sent.append(decode_patch(msg, buffers))

    def everything(*_, **__):
        raise AssertionError("a live merge without inferred edges recomputed every edge")

    monkeypatch.setattr(dependencies, "edge_rows", everything)

    def pairs(patch):
        ids = list(widget._rows)
        return {(name[ids[u]], name[ids[d]], int(f)) for u, d, f in
                zip(patch["edge_from"], patch["edge_to"], patch["edge_flags"])}

    widget._merge([by_name["fast_branch"], by_name["slow_branch"]])
    assert sent[-1]["edges_mode"] == "add"
    on_path = EDGE_CRITICAL if {str(by_name["slow_branch"]["id"]),
                                str(by_name["load"]["id"])} <= critical else 0
    assert pairs(sent[-1]) == {("fast_branch", "load", 0), ("slow_branch", "load", on_path)}
    widget._merge([by_name["extract"]])
    assert sent[-1]["edges_mode"] == "add"
    assert {(u, d) for u, d, _ in pairs(sent[-1])} == {("extract", "fast_branch"),
                                                      ("extract", "slow_branch")}
    widget._merge([by_name["extract"]])  # nothing changed: no patch
    assert len(sent) == 2
    slow = str(by_name["slow_branch"]["id"])
    load = dict(by_name["load"], task_inputs={
        k: [i for i in v if i.get("id") != slow] for k, v in by_name["load"]["task_inputs"].items()})
    widget._merge([load])
    assert sent[-1]["edges_mode"] == "replace"
    assert {(u, d) for u, d, _ in pairs(sent[-1])} == {
        ("extract", "fast_branch"), ("extract", "slow_branch"), ("fast_branch", "load")}
