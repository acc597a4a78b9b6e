"""One truth: every consumer shows the same derived fields for the same real runs.

For each derived field of `prefect_widgets.records` (task name, map index, retries, kind,
duration, run order), the views (`FlowRunView.task_runs()`, `get_all_task_runs()`), the
full and the timeline frames, the widget's columns, the CLI's JSON and the HTML report
must agree, on real runs of the on-demand samples (`prefect_widgets.samples.ON_DEMAND`).
Map indices equal the input position (read from the task run's name) wherever the runs of
the task were created in different milliseconds.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets._timeline_encoding import decode_timeline
from prefect_widgets.cli import app
from prefect_widgets.client import Client
from prefect_widgets.formatting import task_label
from prefect_widgets.samples import (
    LOAD_PATHS,
    NAMED_SIZES,
    ON_DEMAND,
    wait_until_recorded,
)
from prefect_widgets.widget import FlowRunWidget

#: the runs every agreement test covers: the on-demand samples, and the default subflow and
#: mapped (450 task runs: several pages) ones
SAMPLES = [*(f"named_{n}" for n in NAMED_SIZES), "load_files", "retried", "task_and_subflow",
           "subflow", "mapped"]


@pytest.fixture(scope="module")
def extra_runs(prefect_server) -> dict[str, str]:
    """The on-demand samples, run once for this module (and recorded in full)."""
    ids = prefect_server.run_flows(*ON_DEMAND)
    wait_until_recorded(prefect_server.api_url, list(ids.values()))
    return {**prefect_server.runs, **ids}


def cli_json(*args: str):
    result = CliRunner().invoke(app, ["--output", "json", *[str(a) for a in args]])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def position(name: str) -> int | None:
    """The input position a sample's task run name spells (`sq-7`, `load-beta.csv`)."""
    if (found := re.fullmatch(r"sq-(\d+)", name)):
        return int(found.group(1))
    if name.startswith("load-") and name[5:] in LOAD_PATHS:
        return LOAD_PATHS.index(name[5:])
    return None


def run_order_key(view: TaskRunView):
    """The run order of `prefect_widgets.records`: actual start, expected start, id."""
    far = datetime.max.replace(tzinfo=timezone.utc)
    return (view.start_time is None, view.start_time or far,
            view.expected_start_time or far, view.task_run_id)


def expected_rows(views: list[TaskRunView]) -> list[dict]:
    return [{
        "task_run_id": v.task_run_id, "name": v.name, "task_name": v.task_name,
        "map_index": v.map_index, "map_index_uncertain": v.map_index_uncertain,
        "mapped": v.mapped, "retries": v.retries, "kind": v.kind, "duration": v.duration,
        "child_flow_run_id": v.child_flow_run_id, "run_count": v.run_count,
    } for v in views]


def _na(value):
    return None if value is pd.NA or (not isinstance(value, (list, str)) and pd.isna(value)) \
        else value


def frame_rows(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for task_id, row in frame.iterrows():
        duration = _na(row["duration"])
        rows.append({
            "task_run_id": task_id, "name": row["name"], "task_name": row["task_name"],
            "map_index": int(row["map_index"]), "mapped": bool(row["mapped"]),
            "map_index_uncertain": bool(row["map_index_uncertain"]),
            "retries": int(row["retries"]), "kind": str(row["kind"]),
            "duration": None if duration is None else duration.to_pytimedelta(),
            "child_flow_run_id": _na(row["child_flow_run_id"]),
            "run_count": int(row["run_count"]),
        })
    return rows


def _cells(row_html: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row_html, flags=re.DOTALL)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def html_task_rows(document: str) -> list[list[str]]:
    """The rows of the report's table of every task run."""
    start = document.index('<table class="pw-table pw-all-tasks">')
    body = document[start:document.index("</table>", start)]
    rows = re.findall(r"<tr id=[^>]*>(.*?)</tr>", body, flags=re.DOTALL)
    return [_cells(r) for r in rows if "<td" in r]


# --------------------------------------------------------------------------- agreement


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sample", SAMPLES)
def test_every_consumer_agrees_on_the_derived_fields(extra_runs, sample):
    run = FlowRunView.from_flow_run_id(extra_runs[sample])
    views = run.task_runs()
    expected = expected_rows(views)
    ids = [r["task_run_id"] for r in expected]
    assert views, f"{sample}: no task runs"

    # run order, as defined once
    assert views == sorted(views, key=run_order_key)

    # a fresh listing (`get_all_task_runs`) is the same
    assert expected_rows(run.get_all_task_runs()) == expected

    # the full frame and the timeline frame
    full = run.to_dataframe()
    assert frame_rows(full) == expected
    timeline = run.to_dataframe(columns="timeline")
    assert list(timeline.index) == ids
    for column in ("task_name", "map_index", "map_index_uncertain", "mapped", "retries",
                   "kind", "duration", "run_count", "name"):
        assert timeline[column].tolist() == full[column].tolist(), column

    # the CLI's JSON listing
    listed = cli_json("task-run", "ls", run.flow_run_id, "--limit", "0")
    assert [r["task_run_id"] for r in listed] == ids
    for record, want in zip(listed, expected):
        for key in ("name", "task_name", "map_index", "map_index_uncertain", "mapped",
                    "retries", "kind", "child_flow_run_id", "run_count"):
            assert record[key] == want[key], (key, record, want)
        assert record["duration"] == pytest.approx(want["duration"].total_seconds(), abs=1e-6)
        assert record["task_label"] == task_label(want["task_name"], want["map_index"],
                                                  want["mapped"], want["map_index_uncertain"])
    assert [r["max_retries"] for r in listed] == [_na(v) for v in full["max_retries"].tolist()]

    # the widget's columns: keys[key] is the task name, map_index -1 for a single run
    widget = FlowRunWidget(run, live=False)
    decoded = decode_timeline(widget.timeline)
    assert decoded["n"] == len(expected)
    assert [decoded["keys"][k] for k in decoded["key"]] == [r["task_name"] for r in expected]
    assert decoded["map_index"].tolist() == [r["map_index"] if r["mapped"] else -1
                                             for r in expected]
    assert decoded["run_count"].tolist() == [r["run_count"] for r in expected]
    if "kind" in decoded:  # 1 = the row stands for a subflow run
        assert decoded["kind"].tolist() == [int(r["kind"] == "subflow-run") for r in expected]
    widths = (decoded["end"] - decoded["start"]).astype("float64")
    want_ms = np.array([r["duration"].total_seconds() * 1000 for r in expected])
    assert np.allclose(widths, want_ms, atol=2.0), (widths, want_ms)

    # the HTML report: the task table's rows, in run order, with the same retries
    rows = html_task_rows(run.to_html())
    assert len(rows) == len(expected)  # every task run, no head/tail
    for cells, want in zip(rows, expected):
        assert want["name"] in cells[1], (cells, want)
        assert cells[2] == task_label(want["task_name"], want["map_index"], want["mapped"],
                                      want["map_index_uncertain"])
        assert int(cells[5]) == want["retries"]


@pytest.mark.parametrize("sample", ["named_3", "named_40", "load_files"])
def test_map_index_is_the_input_position_where_it_is_certain(extra_runs, sample):
    views = FlowRunView.from_flow_run_id(extra_runs[sample]).task_runs()
    size = len(LOAD_PATHS) if sample == "load_files" else int(sample.split("_")[1])
    assert len(views) == size
    assert {v.task_name for v in views} == {"load_file" if sample == "load_files"
                                            else "named_square"}
    assert all(v.mapped for v in views)
    assert sorted(v.map_index for v in views) == list(range(size))
    certain = [v for v in views if not v.map_index_uncertain]
    if size > 10:  # a few children may all share one millisecond on a fast machine
        assert certain, f"{sample}: every run was created in the same millisecond as another"
    for view in certain:
        assert view.map_index == position(view.name), view.name
    # uncertain ones are only ever shuffled among runs created in the same millisecond
    for view in views:
        if view.map_index_uncertain:
            assert position(view.name) in {v.map_index for v in views if v.map_index_uncertain}


def test_retries_are_retries_that_happened(extra_runs):
    run = FlowRunView.from_flow_run_id(extra_runs["retried"])
    by_name = {v.task_name: v for v in run.task_runs()}
    assert {k: v.retries for k, v in by_name.items()} == {
        "prepare": 0, "twice_flaky": 2, "once_flaky": 1}
    listed = {r["task_name"]: r for r in cli_json("task-run", "ls", run.flow_run_id)}
    assert {k: (r["retries"], r["max_retries"]) for k, r in listed.items()} == {
        "prepare": (0, 0), "twice_flaky": (2, 2), "once_flaky": (1, 1)}
    inspected = cli_json("task-run", "inspect", by_name["twice_flaky"].task_run_id)
    assert (inspected["retries"], inspected["max_retries"], inspected["run_count"]) == (2, 2, 3)
    stats = run.task_stats()
    assert stats is not None


def test_task_and_subflow_are_counted_apart(extra_runs):
    run = FlowRunView.from_flow_run_id(extra_runs["task_and_subflow"])
    kinds = Counter(v.kind for v in run.task_runs())
    assert kinds == {"task-run": 1, "subflow-run": 1}
    subflow = next(v for v in run.task_runs() if v.kind == "subflow-run")
    assert subflow.child_flow_run_id
    assert FlowRunView.from_flow_run_id(subflow.child_flow_run_id).parent_task_run_id == \
        subflow.task_run_id
    data = cli_json("flow-run", "inspect", run.flow_run_id)
    assert (data["task_run_count"], data["subflow_run_count"]) == (1, 1)
    assert sum(data["task_run_counts"].values()) == 2
    result = CliRunner().invoke(app, ["--output", "table", "flow-run", "inspect",
                                      run.flow_run_id])
    assert "1 task run · 1 subflow run" in result.stdout
    assert "1 task run · 1 subflow run" in run.to_html()


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_listed_view_equals_the_run_fetched_by_id(extra_runs, sample):
    run = FlowRunView.from_flow_run_id(extra_runs[sample])
    for listed in run.task_runs():
        fetched = TaskRunView.from_task_run_id(listed.task_run_id)
        assert fetched == listed
        for field in ("task_name", "retries", "kind", "child_flow_run_id", "duration",
                      "upstream_task_run_ids"):
            assert getattr(fetched, field) == getattr(listed, field), field
    # the CLI's inspect numbers a task run as its flow run's listing does
    for listed in run.task_runs()[:5]:
        inspected = cli_json("task-run", "inspect", listed.task_run_id)
        assert (inspected["map_index"], inspected["map_index_uncertain"],
                inspected["mapped"]) == (listed.map_index, listed.map_index_uncertain,
                                         listed.mapped)


def test_inspect_by_slug_and_map_index_is_the_listing(extra_runs):
    run = FlowRunView.from_flow_run_id(extra_runs["named_40"])
    for listed in run.task_runs()[::7]:
        found = cli_json("task-run", "inspect", run.flow_run_id, "--slug", "named_square",
                         "--map-index", listed.map_index)
        assert found["task_run_id"] == listed.task_run_id
    load = FlowRunView.from_flow_run_id(extra_runs["load_files"]).task_runs()
    gamma = next(t for t in load if t.name == "load-gamma.csv")
    found = cli_json("task-run", "inspect", load[0].flow_run_id, "--slug", "load-gamma.csv")
    assert (found["name"], found["map_index"]) == ("load-gamma.csv", gamma.map_index)
    if not gamma.map_index_uncertain:  # created in a millisecond of its own: its input position
        assert gamma.map_index == 2


# --------------------------------------------------------------------------- requests


def _paths(transport, api_url: str) -> Counter:
    prefix = api_url.split("://", 1)[1].split("/", 1)[1]
    prefix = "/" + prefix.rstrip("/")
    return Counter(p.removeprefix(prefix) for p in transport.paths)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sample", ["retried", "mapped", "task_and_subflow"])
def test_one_snapshot_shown_every_way_reads_each_resource_once(extra_runs, counting, api_url,
                                                               sample):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(extra_runs[sample], client=client)
    transport.paths.clear()
    run._repr_html_()
    run.to_dataframe()
    run.plot_gantt()
    run.critical_path()
    run.task_stats()
    run.to_html()
    run.widget(live=False)
    views = run.task_runs()
    retried = sum(1 for v in views if v.run_count > 1)
    pages = len(views) // 200 + 1
    # the run's own states and artifacts (state history, artifact sections): once each
    expected = Counter({"/task_runs/filter": pages, "/task_runs/count": 1,
                        f"/flows/{run.flow_id}": 1, "/flow_run_states/": 1,
                        "/artifacts/count": 1, "/artifacts/filter": 1})
    if retried:
        expected["/task_run_states/"] = retried
    seen = _paths(transport, api_url)
    assert seen.pop("/csrf-token", 0) <= 1  # the client's, once, before its first POST
    with Client(api_url) as other:  # the log, read once: one request per page of it
        lines = len(FlowRunView.from_flow_run_id(run.flow_run_id, client=other).get_logs())
    assert 1 <= seen.pop("/logs/filter") <= lines // 150 + 1
    assert seen == expected
