"""Retry attempts, queued lead-ins and the critical path in the Gantt, the widget and reports.

Offline checks on synthetic frames first, then the real server's `retrying` run (a task
with retries=2 that fails twice, then succeeds) and `diamond` run (extract → slow_branch /
fast_branch → load), and a screenshot of the retrying run's figure in headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_gantt_report import NOW, timeline

from prefect_widgets import FlowRunView
from prefect_widgets._timeline_encoding import decode_timeline
from prefect_widgets.analytics import attempts_frame
from prefect_widgets.gantt import (
    CRITICAL_COLOR,
    MIN_WIDTH_FRACTION,
    QUEUED_COLOR,
    RETRIED,
    RETRIED_COLOR,
    RETRIED_LABEL,
    gantt_figure,
    plot_gantt,
)
from prefect_widgets.report import flow_run_report
from prefect_widgets.states import STATE_COLORS
from prefect_widgets.widget import FlowRunWidget

ARTIFACTS = Path(__file__).parent / "artifacts"
DIAMOND_PATH = ["extract", "slow_branch", "load"]


def traces(fig, pw: str) -> list:
    return [t for t in fig.data if t.meta and t.meta.get("pw") == pw]


def segs(trace) -> list[tuple[float, float, float]]:
    """(x0, x1, lane) of each segment of a line trace: x runs x0, x1, NaN (the gap), ..."""
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    assert len(x) % 3 == 0 and np.isnan(x[2::3]).all()  # every segment ends in a separator
    return [(x[i], x[i + 1], y[i]) for i in range(0, len(x), 3)]


def bar_segments(fig) -> list[tuple[float, float, float, str, str]]:
    return [(*s, t.meta["group"], t.line.color) for t in traces(fig, "bars") for s in segs(t)]


def ms(value) -> float:
    return pd.Timestamp(value).value / 1e6


def short(name: str) -> str:
    return name.rsplit("-", 1)[0]


def synthetic_attempts(frame: pd.DataFrame, task_id: str) -> pd.DataFrame:
    """An attempts frame: `task_id` tried three times (two failed) after 0.4 s queued."""
    row = frame.loc[task_id]
    t0 = row["start_time"]
    spans = [(0.0, 0.3, "SCHEDULED", "AwaitingRetry"), (0.5, 0.8, "SCHEDULED", "AwaitingRetry"),
             (1.0, 1.5, "COMPLETED", "Completed")]
    return pd.DataFrame({
        "task_run_id": [task_id] * 3, "name": [row["name"]] * 3,
        "task_name": [row["task_name"]] * 3, "attempt": pd.array([1, 2, 3], dtype="Int64"),
        "start": [t0 + pd.Timedelta(seconds=a) for a, *_ in spans],
        "end": [t0 + pd.Timedelta(seconds=b) for _, b, *_ in spans],
        "duration": [pd.Timedelta(seconds=b - a) for a, b, *_ in spans],
        "state_type": [s for *_, s, _ in spans], "state_name": [n for *_, n in spans],
        "message": [None] * 3,
        "queued": [pd.Timedelta(seconds=0.4), pd.NaT, pd.NaT],
        "retry_wait": [pd.NaT, pd.Timedelta(seconds=0.2), pd.Timedelta(seconds=0.2)],
    })


# --------------------------------------------------------------------------- offline


def test_attempt_segments_gaps_and_queued_lead_in_offline():
    frame = timeline(5)
    task_id = frame.index[0]
    fig = gantt_figure(frame, now=NOW, attempts=synthetic_attempts(frame, task_id))
    t0 = ms(frame.loc[task_id, "start_time"])
    (lane,) = {s[2] for s in bar_segments(fig) if s[0] == t0}
    ours = sorted(s for s in bar_segments(fig) if t0 <= s[0] < t0 + 1_500 and s[2] == lane)
    assert [(round(a - t0), round(b - t0)) for a, b, *_ in ours] == [(0, 300), (500, 800),
                                                                     (1000, 1500)]
    assert [g for *_, g, _ in ours] == [RETRIED, RETRIED, "COMPLETED"]
    assert [c for *_, c in ours] == [RETRIED_COLOR, RETRIED_COLOR, STATE_COLORS["COMPLETED"]]
    # nothing at all is drawn in the two gaps on that row
    drawn = [(a, b) for t in fig.data if t.meta["pw"] in ("bars", "queued")
             for a, b, y in segs(t) if y == ours[0][2]]
    for gap in ((t0 + 300, t0 + 500), (t0 + 800, t0 + 1000)):
        assert not [s for s in drawn if s[0] < gap[1] and s[1] > gap[0]], gap
    (queued,) = traces(fig, "queued")
    assert queued.line.color == QUEUED_COLOR
    assert [(round(a - t0), round(b - t0)) for a, b, _ in segs(queued)] == [(-400, 0)]
    assert queued.line.width < traces(fig, "bars")[0].line.width  # thinner than a bar
    legend = {t.name for t in fig.data if t.showlegend is not False}
    assert RETRIED_LABEL in legend and "queued (expected → actual start)" in legend
    hover = [s for t in traces(fig, "hover") for s in t.text if "attempt" in s]
    assert sorted(s.rsplit(" · ", 1)[1] for s in hover) == [f"attempt {k} of 3"
                                                            for k in (1, 2, 3)]


def test_queued_lead_in_never_reaches_over_an_earlier_bar():
    frame = timeline(3)
    starts = pd.to_datetime(["2026-11-01T12:00:00Z", "2026-11-01T12:00:02Z",
                             "2026-11-01T12:00:03Z"], utc=True)
    frame["start_time"] = starts
    frame["end_time"] = starts + pd.Timedelta(seconds=1)
    attempts = pd.concat([synthetic_attempts(frame, i).iloc[:1] for i in frame.index])
    attempts["start"] = frame["start_time"].to_numpy()
    attempts["end"] = frame["end_time"].to_numpy()
    attempts["queued"] = pd.to_timedelta([0, 5, 0.5], unit="s")  # the 2nd reaches back 5 s
    fig = gantt_figure(frame, now=NOW, attempts=attempts.reset_index(drop=True))
    (queued,) = traces(fig, "queued")
    t0 = ms(starts[0])
    # one lane: the 2nd lead-in is cut at the 1st bar's end, the 3rd has no room at all
    assert [(round(a - t0), round(b - t0)) for a, b, _ in segs(queued)] == [(1000, 2000)]


def test_zero_length_bars_keep_a_visible_width_and_critical_dims_the_rest():
    frame = timeline(200)
    zero = frame.index[10]
    frame.loc[zero, "end_time"] = frame.loc[zero, "start_time"]
    path = list(frame.index[[0, 10, 50]])
    fig = gantt_figure(frame, now=NOW, critical=path)
    span = max(b for a, b, *_ in bar_segments(fig)) - min(a for a, *_ in bar_segments(fig))
    start = ms(frame.loc[zero, "start_time"])
    (drawn,) = [s for s in bar_segments(fig) if s[0] == start and "rgba" not in s[4]]
    assert drawn[1] - drawn[0] >= MIN_WIDTH_FRACTION * span * 0.99  # drawn, though it lasted 0 s
    (outline,) = traces(fig, "critical")
    assert outline.line.color == CRITICAL_COLOR and outline.meta["steps"] == 3
    assert outline.line.width > traces(fig, "bars")[0].line.width
    full = [t for t in traces(fig, "bars") if t.meta.get("critical")]
    dimmed = [t for t in traces(fig, "bars") if t.meta.get("critical") is False]
    assert sum(t.meta["bars"] for t in full) == 3
    assert sum(t.meta["bars"] for t in dimmed) == 197
    assert all(t.line.color.startswith("rgba(") and t.line.color.endswith(", 0.3)")
               for t in dimmed)
    assert sorted(a for a, *_ in segs(outline)) == sorted(
        ms(frame.loc[i, "start_time"]) for i in path)
    assert len(fig.data) <= 10  # a few traces, never one per bar


def test_ten_thousand_bars_with_attempts_and_a_path_stay_a_few_traces():
    frame = timeline(10_000, failed=list(range(0, 10_000, 50)))
    retried = frame.index[::500]
    attempts = pd.concat([synthetic_attempts(frame, i) for i in retried], ignore_index=True)
    fig = gantt_figure(frame, now=NOW, attempts=attempts, critical=list(frame.index[:40:4]))
    assert len(fig.data) <= 20 and {t.type for t in fig.data} == {"scattergl"}
    assert sum(t.meta["bars"] for t in traces(fig, "bars")) == 10_000 + 2 * len(retried)
    assert len(fig.to_html(include_plotlyjs=False)) < 1_800_000


# --------------------------------------------------------------------------- real server


def test_retrying_run_draws_three_attempts_with_two_empty_gaps(runs, counting):
    client, transport = counting
    view = FlowRunView.from_flow_run_id(runs["retrying"], client=client)
    transport.paths.clear()
    fig = plot_gantt(view, attempts=True)
    # graph-v2, the task-run page(s), and one state history for the one retried task run
    assert [p for p in transport.paths if "task_run_states" in p] == ["/api/task_run_states/"]
    assert not [p for p in transport.paths if "task_runs/" in p and "filter" not in p
                and "count" not in p]
    truth = attempts_frame(view.to_dataframe(), client=client)
    flaky = truth[truth["task_name"] == "flaky_download"]
    drawn = sorted(bar_segments(fig))
    assert len(drawn) == 3 and len({s[2] for s in drawn}) == 1  # one row, three segments
    span = max(s[1] for s in drawn) - min(s[0] for s in drawn)
    for (x0, x1, *_), (_, attempt) in zip(drawn, flaky.iterrows()):
        assert x0 == pytest.approx(ms(attempt["start"]), abs=1)
        # the end, or a little later for a near-instant attempt (minimum visible width)
        widest = max(ms(attempt["end"]), x0 + MIN_WIDTH_FRACTION * span)
        assert ms(attempt["end"]) - 1 <= x1 <= widest + 1
    assert [(g, c) for *_, g, c in drawn] == [(RETRIED, RETRIED_COLOR)] * 2 + [
        ("COMPLETED", STATE_COLORS["COMPLETED"])]
    gaps = [(a[1], b[0]) for a, b in zip(drawn, drawn[1:])]
    assert len(gaps) == 2 and all(b - a >= 900 for a, b in gaps)  # retry_delay_seconds=1
    lane = drawn[0][2]
    on_lane = [(a, b) for t in fig.data if t.meta["pw"] in ("bars", "queued", "critical")
               for a, b, y in segs(t) if y == lane]
    for lo, hi in gaps:  # nothing drawn in a gap
        assert not [s for s in on_lane if s[0] < hi and s[1] > lo]
    hover = {s: t.hovertemplate for t in traces(fig, "hover") for s in t.text}
    assert [s.rsplit(" · ", 1)[1] for s in sorted(hover, key=lambda s: s[-6:])] == [
        "attempt 1 of 3", "attempt 2 of 3", "attempt 3 of 3"]
    assert sum("AwaitingRetry" in t for t in hover.values()) == 2
    assert all("retries: %{customdata[1]}" in t for t in hover.values())
    queued = flaky["queued"].iloc[0]
    lead = traces(fig, "queued")
    if queued > pd.Timedelta(0):  # the lead-in ends where the first attempt starts
        ((x0, x1, y),) = segs(lead[0])
        assert y == lane and x1 == pytest.approx(drawn[0][0], abs=1)
        assert x1 - x0 == pytest.approx(queued.total_seconds() * 1000, abs=1)
    else:
        assert lead == []
    # the default figure is unchanged: one bar for the task run
    assert len(bar_segments(view.plot_gantt())) == 1


def test_diamond_critical_path_highlights_extract_slow_branch_load(runs):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    frame = view.to_dataframe(columns="timeline")
    fig = plot_gantt(view, critical_path=True, attempts=True)
    by_start = {round(ms(row["start_time"])): short(row["name"]) for _, row in frame.iterrows()}
    (outline,) = traces(fig, "critical")
    assert [by_start[round(a)] for a, *_ in sorted(segs(outline))] == DIAMOND_PATH
    full = [by_start[round(a)] for t in traces(fig, "bars") if t.meta.get("critical")
            for a, *_ in segs(t)]
    dimmed = [by_start[round(a)] for t in traces(fig, "bars") if t.meta.get("critical") is False
              for a, *_ in segs(t)]
    assert sorted(full) == sorted(DIAMOND_PATH) and dimmed == ["fast_branch"]
    assert "critical path (3 task runs)" in {t.name for t in fig.data}


def test_widget_highlight_marks_exactly_the_critical_path(runs):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    widget = FlowRunWidget(view, critical_path=True)
    try:
        names = [short(n) for n in widget._frame["name"]]
        mask = decode_timeline(widget.timeline)["highlight"]
        assert mask is not None and len(mask) == len(names) == 4
        assert sorted(n for n, on in zip(names, mask) if on) == sorted(DIAMOND_PATH)
        widget.show_critical_path(False)
        assert widget.timeline["highlight"] is None
        widget.show_critical_path()
        again = decode_timeline(widget.timeline)["highlight"]
        assert again.tolist() == mask.tolist()
    finally:
        widget.close()
    plain = FlowRunWidget(view)
    try:
        assert plain.timeline["highlight"] is None  # off by default
    finally:
        plain.close()


def test_report_lists_the_critical_path_and_slowest_task_runs(runs, tmp_path):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    text = flow_run_report(view, tmp_path / "diamond.html")
    section = text.split("<h3>Critical path</h3>", 1)[1].split("<h3>Logs</h3>", 1)[0]
    rows = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert [next(n for n in ("extract", "slow_branch", "fast_branch", "load")
                 if f">{n}-" in r) for r in rows] == DIAMOND_PATH
    assert "wait before" in section and "3 task runs;" in section
    slowest = text.split("Slowest task runs", 1)[1].split("</table>", 1)[0]
    listed = [n for n in ("extract", "slow_branch", "fast_branch", "load") if f">{n}-" in slowest]
    assert slowest.index(">slow_branch-") < min(slowest.index(f">{n}-") for n in listed
                                                 if n != "slow_branch")
    assert len(listed) == 4  # fewer than five task runs: all of them


def test_repr_slowest_section_costs_no_extra_request(runs, counting):
    client, transport = counting
    view = FlowRunView.from_flow_run_id(runs["diamond"], client=client)
    transport.paths.clear()
    markup = view._repr_html_()
    assert "Slowest task runs" in markup and markup.count(">slow_branch-") == 2  # table + top
    assert not [p for p in transport.paths if "task_run_states" in p or "graph" in p]
    assert len([p for p in transport.paths if "task_runs" in p]) <= 2  # count + one page


@pytest.mark.browser
def test_retrying_and_critical_path_figures_in_chromium(runs, tmp_path, browser):
    from lab import offline_page

    view = FlowRunView.from_flow_run_id(runs["retrying"])
    fig = plot_gantt(view, attempts=True, critical_path=True, height=320)
    path = tmp_path / "attempts.html"
    fig.write_html(str(path), include_plotlyjs=True)
    diamond = plot_gantt(FlowRunView.from_flow_run_id(runs["diamond"]), attempts=True,
                         critical_path=True, group_by="task_name", height=360)
    diamond_path = tmp_path / "critical.html"
    diamond.write_html(str(diamond_path), include_plotlyjs=True)
    ARTIFACTS.mkdir(exist_ok=True)
    page = offline_page(browser, path, width=1000, height=360)
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", state="attached",
                               timeout=30_000)
        drawn = page.evaluate("""() => Array.from(
            document.querySelectorAll('.scatterlayer .trace .js-line'))
            .filter(p => (p.getAttribute('d') || '').length > 0)
            .map(p => (p.getAttribute('d').match(/M/g) || []).length)""")
        page.screenshot(path=str(ARTIFACTS / "attempts.png"))
    finally:
        page.context.close()
    critical = offline_page(browser, diamond_path, width=1000, height=400)
    try:
        critical.wait_for_selector(".js-plotly-plot .scatterlayer .trace", state="attached",
                                   timeout=30_000)
        critical.screenshot(path=str(ARTIFACTS / "critical-path.png"))
    finally:
        critical.context.close()
    assert page.errors + critical.errors == []
    assert sum(drawn) >= 3 + 3  # three attempt segments (plus their critical outline)
