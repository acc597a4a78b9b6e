"""The Gantt figure, offline at 10k bars and against the server's runs (the HTML report's
tests are in test_report.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_html import T0, task_json

from prefect_widgets import FlowRunView, InvalidRequest, TaskRunView
from prefect_widgets.gantt import WEBGL_THRESHOLD, gantt_figure, pack_lanes
from prefect_widgets.records import task_runs_frame, timeline_from_tasks
from prefect_widgets.samples import HOSTILE, MAPPED_SIZE
from prefect_widgets.states import STATE_COLORS

NOW = pd.Timestamp(T0) + pd.Timedelta(hours=1)


def timeline(n: int, **states: list[int]) -> pd.DataFrame:
    """A timeline frame built from task-run JSON (the >10k-node path of the real code)."""
    rows = [task_json(i, "00000000-0000-0000-0000-000000000000", failed_every=0)
            for i in range(n)]
    for state, indexes in states.items():
        for i in indexes:
            rows[i]["state"] = {"type": state.upper(), "name": state.title()}
            rows[i]["state_type"], rows[i]["state_name"] = state.upper(), state.title()
            if state.upper() in ("RUNNING", "PENDING", "SCHEDULED"):
                rows[i]["end_time"] = None
            if state.upper() in ("PENDING", "SCHEDULED"):
                rows[i]["start_time"] = None
    return timeline_from_tasks(task_runs_frame(rows))


def bars(fig) -> int:
    return sum(t.meta["bars"] for t in fig.data if t.meta and t.meta.get("pw") == "bars")


def hover_points(fig) -> int:
    return sum(len(t.x) for t in fig.data if t.meta and t.meta.get("pw") == "hover")


def segments(fig, group: str) -> list[tuple[float, float, float]]:
    out = []
    for t in fig.data:
        if t.meta and t.meta.get("pw") == "bars" and t.meta["group"] == group:
            x, y = np.asarray(t.x, dtype=float), np.asarray(t.y, dtype=float)
            out += [(x[i], x[i + 1], y[i]) for i in range(0, len(x), 3)]
    return out


# --------------------------------------------------------------------------- offline


def test_ten_thousand_bars_are_a_few_webgl_traces():
    frame = timeline(10_000, failed=list(range(0, 10_000, 50)))
    fig = gantt_figure(frame, now=NOW)
    assert bars(fig) == 10_000 and hover_points(fig) == 10_000
    assert {t.type for t in fig.data} == {"scattergl"}  # one canvas, no SVG node per bar
    assert len(fig.data) <= 4 and not fig.layout.shapes
    by_state = {t.meta["group"]: t.meta["bars"] for t in fig.data if t.meta["pw"] == "bars"}
    assert by_state == {"COMPLETED": 9_800, "FAILED": 200}
    colours = {t.meta["group"]: t.line.color for t in fig.data if t.meta["pw"] == "bars"}
    assert colours == {"COMPLETED": STATE_COLORS["COMPLETED"], "FAILED": STATE_COLORS["FAILED"]}
    html = fig.to_html(include_plotlyjs=False)
    assert len(html) < 1_500_000


def test_small_runs_use_svg_and_webgl_can_be_forced():
    frame = timeline(WEBGL_THRESHOLD)
    assert {t.type for t in gantt_figure(frame, now=NOW).data} == {"scatter"}
    assert {t.type for t in gantt_figure(frame, now=NOW, webgl=True).data} == {"scattergl"}


def test_packed_rows_never_overlap_and_match_concurrency():
    frame = timeline(400)
    fig = gantt_figure(frame, now=NOW)
    by_lane: dict[float, list[tuple[float, float]]] = {}
    for start, end, lane in segments(fig, "COMPLETED"):
        by_lane.setdefault(lane, []).append((start, end))
    for spans in by_lane.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    # each task lasts 1.5 s and one starts every 0.05 s: 30 run at once
    assert len(by_lane) == 30
    lanes = pack_lanes(np.array([0.0, 0, 1, 2]), np.array([1.0, 3, 2, 3]))
    assert lanes.tolist() == [0, 1, 0, 0]


def test_running_extends_to_now_and_unstarted_are_marked():
    frame = timeline(20, running=[18], pending=[19], scheduled=[17])
    fig = gantt_figure(frame, now=NOW)
    (start, end, _), = segments(fig, "RUNNING")
    assert end == NOW.value / 1e6 and start < end
    waiting = [t for t in fig.data if t.meta and t.meta.get("pw") == "not-started"]
    assert len(waiting) == 1 and waiting[0].meta["bars"] == 2
    assert waiting[0].marker.symbol == "circle-open" and "not started (2)" in waiting[0].name
    assert "not started" in fig.layout.yaxis.ticktext
    assert bars(fig) == 18
    running_hover = [t for t in fig.data if t.meta and t.meta.get("pw") == "hover"
                     and t.meta["group"] == "RUNNING"]
    assert "Running (to now)" in running_hover[0].hovertemplate


def test_group_by_task_name_and_colour_by_task_name():
    frame = timeline(30)
    frame.loc[frame.index[:10], "task_name"] = "extract"
    frame.loc[frame.index[10:], "task_name"] = "load"
    fig = gantt_figure(frame, group_by="task_name", now=NOW)
    assert list(fig.layout.yaxis.ticktext) == ["extract", "load"]
    lanes = {lane for *_, lane in segments(fig, "COMPLETED")}
    assert lanes == {0.0, 1.0}
    fig = gantt_figure(frame, color_by="task_name", now=NOW)
    assert sorted(t.meta["group"] for t in fig.data if t.meta["pw"] == "bars") == ["extract",
                                                                                   "load"]
    with pytest.raises(InvalidRequest):
        gantt_figure(frame, color_by="colour")
    with pytest.raises(InvalidRequest):
        gantt_figure(frame, group_by="flow")


def test_hostile_names_are_escaped_in_hover_text():
    rows = [task_json(i, "00000000-0000-0000-0000-000000000000", hostile=True) for i in range(3)]
    fig = gantt_figure(timeline_from_tasks(task_runs_frame(rows)), now=NOW, title=HOSTILE["script"])
    texts = [s for t in fig.data if t.meta.get("pw") == "hover" for s in t.text]
    assert texts and all(s.startswith("&lt;img src=x onerror=&quot;") for s in texts)
    assert fig.layout.title.text.startswith("&lt;script&gt;")
    html = fig.to_html(include_plotlyjs=False, full_html=False)
    assert "<script>window" not in html and "<img src=x" not in html


def test_empty_run_gives_an_annotated_figure():
    fig = gantt_figure(timeline(0), now=NOW)
    assert not fig.data and fig.layout.annotations[0].text == "No task runs"


# --------------------------------------------------------------------------- real server


def test_mapped_run_has_one_bar_per_task_run(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    fig = view.plot_gantt()
    total = TaskRunView.count(flow_run_id=view.flow_run_id)
    by_state = TaskRunView.count_by_state(flow_run_id=view.flow_run_id)
    assert total == MAPPED_SIZE == bars(fig) == hover_points(fig)
    assert {t.meta["group"]: t.meta["bars"] for t in fig.data
            if t.meta["pw"] == "bars"} == by_state
    assert all(t.type == "scatter" for t in fig.data)  # 450 < WEBGL_THRESHOLD
    # retries in the hover: the run's task runs were fetched once (450 <= 2,000)
    assert all("retries: %{customdata[1]}" in t.hovertemplate for t in fig.data
               if t.meta["pw"] == "hover")
    assert view.name in fig.layout.title.text
    grouped = view.plot_gantt(group_by="task_name")
    assert list(grouped.layout.yaxis.ticktext) == ["square"]


def test_retries_and_subflow_bars(runs):
    retrying = FlowRunView.from_flow_run_id(runs["retrying"])
    fig = retrying.plot_gantt()
    (hover,) = [t for t in fig.data if t.meta["pw"] == "hover"]
    assert hover.text[0].startswith("flaky_download") and float(hover.customdata[0][1]) == 2.0
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    fig = parent.plot_gantt()
    texts = [s for t in fig.data if t.meta["pw"] == "hover" for s in t.text]
    assert any(s.startswith("subflow run ") for s in texts), texts
    assert bars(fig) == len(parent.to_dataframe(columns="timeline"))
    diamond = FlowRunView.from_flow_run_id(runs["diamond"]).plot_gantt(group_by="task_name")
    assert set(diamond.layout.yaxis.ticktext) == {"extract", "slow_branch", "fast_branch",
                                                  "load"}
