"""`FlowRunView.to_trace`: real runs as Chrome Trace Event / Perfetto JSON, checked against a
JSON Schema of the Trace Event Format's JSON Object Format and the invariants Perfetto's
importer relies on (no partially overlapping slices on a track, every flow start ends).

Perfetto's trace processor cannot run here (the `perfetto` wheel installs, but fetches its
`trace_processor_shell` binary from Google's storage at first use, which this machine cannot
reach), so the file is checked structurally.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from prefect_widgets import FlowRunView
from prefect_widgets.cli import app
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.trace import flow_run_trace

_COMMON = {"name": {"type": "string"}, "cat": {"type": "string"},
           "pid": {"type": "integer"}, "tid": {"type": "integer"},
           "ts": {"type": "number", "minimum": 0}, "args": {"type": "object"}}

#: The JSON Object Format of the Trace Event Format (the event kinds the writer uses:
#: complete, flow and metadata events), after Google's "Trace Event Format" document.
TRACE_EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["traceEvents"],
    "properties": {
        "traceEvents": {"type": "array", "items": {"$ref": "#/$defs/event"}},
        "displayTimeUnit": {"enum": ["ms", "ns"]},
        "otherData": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "$defs": {
        "event": {
            "type": "object",
            "required": ["ph"],
            "oneOf": [{"$ref": "#/$defs/complete"}, {"$ref": "#/$defs/flow"},
                      {"$ref": "#/$defs/metadata"}],
        },
        "complete": {
            "properties": {**_COMMON, "ph": {"const": "X"},
                           "dur": {"type": "number", "minimum": 0}},
            "required": ["ph", "name", "pid", "tid", "ts", "dur"],
            "additionalProperties": False,
        },
        "flow": {
            "properties": {**_COMMON, "ph": {"enum": ["s", "t", "f"]},
                           "id": {"type": ["integer", "string"]}, "bp": {"const": "e"}},
            "required": ["ph", "name", "cat", "id", "pid", "tid", "ts"],
            "additionalProperties": False,
        },
        "metadata": {
            "properties": {
                **_COMMON, "ph": {"const": "M"},
                "name": {"enum": ["process_name", "process_labels", "process_sort_index",
                                  "thread_name", "thread_sort_index"]},
            },
            "required": ["ph", "name", "pid", "args"],
            "additionalProperties": False,
            "allOf": [
                {"if": {"properties": {"name": {"pattern": "_name$"}}},
                 "then": {"properties": {"args": {"required": ["name"], "properties": {
                     "name": {"type": "string"}}}}}},
                {"if": {"properties": {"name": {"pattern": "_sort_index$"}}},
                 "then": {"properties": {"args": {"required": ["sort_index"], "properties": {
                     "sort_index": {"type": "integer"}}}}}},
                {"if": {"properties": {"name": {"pattern": "^thread_"}}},
                 "then": {"required": ["tid"]}},
            ],
        },
    },
}


def check_trace(trace: dict[str, Any]) -> None:
    """The schema, then what Perfetto's JSON importer needs beyond it."""
    jsonschema.Draft202012Validator.check_schema(TRACE_EVENT_SCHEMA)
    jsonschema.validate(trace, TRACE_EVENT_SCHEMA, cls=jsonschema.Draft202012Validator)
    events = trace["traceEvents"]
    slices: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for e in (e for e in events if e["ph"] == "X"):
        slices[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for track, spans in slices.items():  # nested or apart, never partly overlapping
        open_: list[int] = []
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            while open_ and open_[-1] <= start:
                open_.pop()
            assert not open_ or end <= open_[-1], f"slices overlap on track {track}"
            open_.append(end)
    named = {(e["pid"], e.get("tid")) for e in events if e["ph"] == "M"
             and e["name"] in ("process_name", "thread_name")}
    for pid, tid in slices:
        assert (pid, None) in named and (pid, tid) in named, f"track {pid}/{tid} unnamed"
    ends: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for e in (e for e in events if e["ph"] in "sf"):
        ends[e["id"]].append(e)
        inside = [s for s in slices[e["pid"], e["tid"]] if s[0] <= e["ts"] <= s[1]]
        assert inside, f"flow event {e} is bound to no slice"
    for flow_id, pair in ends.items():
        assert sorted(e["ph"] for e in pair) == ["f", "s"], f"flow {flow_id}: {pair}"
        assert pair[0]["cat"] == pair[1]["cat"] and pair[0]["name"] == pair[1]["name"]
        assert all(e.get("bp") == "e" for e in pair if e["ph"] == "f")
    json.dumps(trace, allow_nan=False)


def _slices(trace: dict[str, Any], cat: str | None = None) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and cat in (None, e["cat"])]


def _track_names(trace: dict[str, Any], pid: int = 1) -> dict[int, str]:
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid}


def _flows(trace: dict[str, Any], cat: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    by_id: dict[Any, dict[str, dict[str, Any]]] = defaultdict(dict)
    for e in trace["traceEvents"]:
        if e["ph"] in "sf" and e["cat"] == cat:
            by_id[e["id"]][e["ph"]] = e
    return [(pair["s"], pair["f"]) for pair in by_id.values()]


def _slice_at(trace: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in _slices(trace) if (s["pid"], s["tid"]) == (event["pid"], event["tid"])
                and s["ts"] <= event["ts"] <= s["ts"] + s["dur"])


@pytest.mark.parametrize("sample", ["hello", "failing", "retrying", "mapped", "subflow",
                                    "diamond", "slow"])
def test_every_sample_run_is_a_valid_trace(runs, sample):
    trace = flow_run_trace(FlowRunView.from_flow_run_id(runs[sample]))
    check_trace(trace)
    assert trace["displayTimeUnit"] == "ms"
    assert min(e["ts"] for e in trace["traceEvents"] if "ts" in e) == 0


def test_to_trace_writes_a_file_the_checks_accept(runs, tmp_path):
    run = FlowRunView.from_flow_run_id(runs["diamond"])
    written = run.to_trace(tmp_path / "out" / "diamond.json")
    assert written == tmp_path / "out" / "diamond.json"
    trace = json.loads(written.read_text(encoding="utf-8"))
    check_trace(trace)
    tasks = _slices(trace, "task_run")
    assert {s["args"]["task_run_id"] for s in tasks} == {t.task_run_id for t in run.task_runs()}
    assert all(s["args"]["state_type"] == "COMPLETED" and s["args"]["flow_run_id"] ==
               run.flow_run_id for s in tasks)
    [flow] = _slices(trace, "flow_run")
    assert flow["tid"] == 0 and flow["args"]["flow_run_id"] == run.flow_run_id


def test_the_cli_writes_the_same_trace_by_run_name(runs, tmp_path):
    run = FlowRunView.from_flow_run_id(runs["subflow"])
    result = CliRunner().invoke(app, ["trace", run.name, "-o", str(tmp_path / "t.json"),
                                      "--no-subflows"])
    assert result.exit_code == 0, result.output
    assert "ui.perfetto.dev" in result.stderr
    written = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    check_trace(written)
    assert written == flow_run_trace(run, subflows=False)
    assert {e["pid"] for e in written["traceEvents"]} == {1}  # no subflow process


def test_tracks_follow_task_names_in_order_of_first_start(runs):
    trace = flow_run_trace(FlowRunView.from_flow_run_id(runs["diamond"]))
    names = _track_names(trace)
    assert names[0] == "flow run"
    assert [names[t] for t in sorted(names) if t][0] == "extract"
    assert [names[t] for t in sorted(names) if t][-1] == "load"
    for s in _slices(trace, "task_run"):
        assert names[s["tid"]] == s["args"]["task_name"]


def test_dependencies_are_flow_arrows_from_upstream_to_dependant(runs):
    run = FlowRunView.from_flow_run_id(runs["diamond"])
    trace = flow_run_trace(run)
    arrows = {(_slice_at(trace, s)["args"]["task_name"], _slice_at(trace, f)["args"]["task_name"])
              for s, f in _flows(trace, "dependency")}
    expected = {(t.task_name, up.task_name) for t in run.task_runs()
                for up in run.task_runs() if up.task_run_id in t.upstream_task_run_ids}
    assert arrows == {(b, a) for a, b in expected}
    assert ("extract", "slow_branch") in arrows and ("fast_branch", "load") in arrows
    assert len({s["id"] for s, _ in _flows(trace, "dependency")}) == len(arrows)


def test_mapped_runs_take_lanes_of_their_task_and_never_overlap(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    trace = flow_run_trace(run)
    squares = [s for s in _slices(trace, "task_run") if s["args"]["task_name"] == "square"]
    assert len(squares) == sum(t.task_name == "square" for t in run.task_runs())
    names = _track_names(trace)
    lanes = sorted({s["tid"] for s in squares})
    assert names[lanes[0]] == "square"
    assert [names[t] for t in lanes[1:]] == [f"square · lane {i}" for i in
                                             range(2, len(lanes) + 1)]
    assert lanes == list(range(lanes[0], lanes[0] + len(lanes)))
    assert {s["args"]["map_index"] for s in squares} == set(range(len(squares)))


def test_retries_are_separate_slices_on_one_track(runs):
    run = FlowRunView.from_flow_run_id(runs["retrying"])
    trace = flow_run_trace(run)
    [task] = run.task_runs()
    tries = sorted((s for s in _slices(trace, "task_run")), key=lambda s: s["ts"])
    assert len(tries) == task.run_count == 3
    assert [s["args"]["attempt"] for s in tries] == [1, 2, 3]
    assert {s["args"]["attempts"] for s in tries} == {3}
    assert len({s["tid"] for s in tries}) == 1
    assert [s["name"] for s in tries] == [f"{task.name} (attempt {i})" for i in (1, 2, 3)]
    assert [s["args"]["state_name"] for s in tries][-1] == "Completed"
    assert all(s["args"]["state_name"] in ("AwaitingRetry", "Retrying") for s in tries[:-1])
    for earlier, later in zip(tries, tries[1:]):
        assert earlier["ts"] + earlier["dur"] <= later["ts"]


def test_failed_runs_carry_state_and_message_in_args(runs):
    trace = flow_run_trace(FlowRunView.from_flow_run_id(runs["failing"]))
    failed = [s for s in _slices(trace) if s["args"]["state_type"] == "FAILED"]
    assert {s["cat"] for s in failed} == {"task_run", "flow_run"}
    assert all(s["args"]["message"] for s in failed)


def test_subflows_are_processes_of_their_own_joined_by_an_arrow(runs):
    run = FlowRunView.from_flow_run_id(runs["subflow"])
    trace = flow_run_trace(run)
    processes = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"]
                 if e["ph"] == "M" and e["name"] == "process_name"}
    [child_id] = [t.child_flow_run_id for t in run.task_runs() if t.child_flow_run_id]
    child = FlowRunView.from_flow_run_id(child_id)
    assert processes == {1: f"parent-with-subflow / {run.name}",
                         2: f"subflow child-report / {child.name}"}
    [(start, end)] = _flows(trace, "subflow")
    assert _slice_at(trace, start)["args"]["child_flow_run_id"] == child_id
    assert _slice_at(trace, start)["cat"] == "subflow_run"
    assert _slice_at(trace, end)["args"]["flow_run_id"] == child_id and end["tid"] == 0
    alone = flow_run_trace(run, subflows=False)
    check_trace(alone)
    assert {e["pid"] for e in alone["traceEvents"]} == {1}
    assert not _flows(alone, "subflow")


def test_to_trace_refuses_what_is_not_a_path(runs):
    run = FlowRunView.from_flow_run_id(runs["hello"])
    with pytest.raises(InvalidRequest, match="file path"):
        run.to_trace(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="FlowRunView"):
        flow_run_trace("not a run")  # type: ignore[arg-type]


def test_the_schema_refuses_what_viewers_cannot_load():
    bad = [
        {"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0, "dur": -1}]},
        {"traceEvents": [{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0}]},
        {"traceEvents": [{"ph": "M", "name": "thread_name", "pid": 1, "args": {"name": "x"}}]},
        {"traceEvents": [], "displayTimeUnit": "s"},
    ]
    for trace in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(trace, TRACE_EVENT_SCHEMA)
    apart = {"traceEvents": [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "p"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "t"}},
        {"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0, "dur": 10},
        {"ph": "X", "name": "b", "pid": 1, "tid": 1, "ts": 5, "dur": 10}]}
    with pytest.raises(AssertionError, match="overlap"):
        check_trace(apart)
    dangling = {"traceEvents": [*apart["traceEvents"][:3],
                                {"ph": "s", "name": "d", "cat": "d", "id": 1, "pid": 1,
                                 "tid": 1, "ts": 2}]}
    with pytest.raises(AssertionError, match="flow 1"):
        check_trace(dangling)


def test_a_file_written_twice_is_the_same(runs, tmp_path: Path):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    first = run.to_trace(tmp_path / "a.json").read_text(encoding="utf-8")
    second = run.to_trace(tmp_path / "b.json").read_text(encoding="utf-8")
    assert first == second
    assert Counter(e["ph"] for e in json.loads(first)["traceEvents"])["X"] > 1
