"""A flow's history (issue 21 item 3): the frame, its incremental refresh, what changed in a
run against its past, and the history chart; on the real server of `conftest.py`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from writer import writer

from prefect_widgets import FlowRunView
from prefect_widgets.analytics.history import (
    CHANGE_COLUMNS,
    compare_with_history_from_frames,
    task_trends,
)
from prefect_widgets.errors import ConfigurationError, InvalidRequest
from prefect_widgets.history import HISTORY_COLUMNS, FlowHistory
from prefect_widgets.history_chart import HistoryChart, chart_data, history_chart_html
from prefect_widgets.queries import query_flow_runs
from prefect_widgets.records import SPAN, TIME
from prefect_widgets.samples import wait_until_recorded
from prefect_widgets.views import FlowView

#: a flow whose `sleepy` task takes `slow` seconds and whose `fragile` task fails on demand;
#: run once per argument pair, oldest first; prints the flow-run ids as JSON
PROBE = r"""
import json, sys, time
from prefect import flow, task

@task
def extract():
    return 1

@task
def sleepy(seconds: float):
    time.sleep(seconds)
    return seconds

@task
def fragile(fail: bool):
    if fail:
        raise ValueError("fragile <b>broke</b>")
    return True

@flow(name=sys.argv[1])
def probe(slow: float, fail: bool):
    extract()
    sleepy(slow)
    fragile(fail)

ids = []
for slow, fail in json.loads(sys.argv[2]):
    state = probe(slow, fail, return_state=True)
    ids.append(str(state.state_details.flow_run_id))
print(json.dumps(ids))
"""
#: four quick runs, then `sleepy` slows down (run 5) and `fragile` fails too (run 6)
PLAN = [(0.02, False)] * 4 + [(1.5, False), (1.5, True)]


@pytest.fixture(scope="module")
def probe(prefect_server) -> list[str]:
    name = f"history-probe-{uuid.uuid4().hex[:8]}"
    env = prefect_server.env() if hasattr(prefect_server, "env") else \
        {**os.environ, "PREFECT_API_URL": prefect_server.api_url}  # a lent server
    done = subprocess.run([sys.executable, "-c", PROBE, name, json.dumps(PLAN)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    wait_until_recorded(prefect_server.api_url, ids)
    return ids


def _made_runs(api_url: str, n: int) -> tuple[str, list[str]]:
    with writer(api_url) as http:
        flow = http.post("/flows/", json={"name": f"history-{uuid.uuid4().hex[:8]}"}).json()
        ids = [http.post("/flow_runs/", json={
            "flow_id": flow["id"], "name": f"run-{i}", "tags": ["history"],
            "state": {"type": "COMPLETED", "name": "Completed"}}).json()["id"]
            for i in range(n)]
    return flow["id"], ids


# ------------------------------------------------------------------ the frame


def test_history_frame_equals_query_flow_runs(probe, client) -> None:
    run = FlowRunView.from_flow_run_id(probe[0], client=client)
    history = FlowView.from_flow_id(run.flow_id, client=client).history()
    frame = history.frame
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert sorted(frame.index) == sorted(probe)
    assert list(frame.index) == probe  # oldest first
    listed = query_flow_runs(client, flow_id=run.flow_id, limit=None).to_dataframe()
    for column in HISTORY_COLUMNS:
        if column == "queued":
            continue
        pd.testing.assert_series_equal(frame[column], listed.loc[frame.index, column],
                                       check_categorical=False)
    assert frame["start_time"].dtype == TIME and frame["queued"].dtype == SPAN
    assert (frame["queued"] == frame["start_time"] - frame["expected_start_time"]).all()
    assert frame["state_type"].astype(str).tolist() == ["COMPLETED"] * 5 + ["FAILED"]


def test_history_window_and_filters(probe, client) -> None:
    run = FlowRunView.from_flow_run_id(probe[4], client=client)
    since = run.expected_start_time
    history = FlowHistory(run.flow_id, since=since, client=client)
    assert set(history.frame.index) == set(probe[4:])
    failed = FlowHistory(run.flow_id, states="failed", client=client)
    assert list(failed.frame.index) == [probe[5]]
    with pytest.raises(InvalidRequest, match="timezone-aware"):
        FlowHistory(run.flow_id, since=datetime(2026, 1, 1), client=client)
    with pytest.raises(InvalidRequest, match="Unknown state type"):
        FlowHistory(run.flow_id, states=["DONE"], client=client)


def test_refresh_picks_up_a_new_run_and_a_changed_run_and_nothing_else(api_url, client) -> None:
    flow_id, ids = _made_runs(api_url, 4)
    history = FlowHistory(flow_id, client=client)
    assert len(history) == 4
    quiet = history.refresh()
    assert (quiet.added, quiet.changed, quiet.reloaded) == ((), (), False)
    with writer(api_url) as http:
        new = http.post("/flow_runs/", json={"flow_id": flow_id, "name": "new", "state": {
            "type": "COMPLETED", "name": "Completed"}}).json()["id"]
        http.post(f"/flow_runs/{ids[1]}/set_state", json={
            "state": {"type": "FAILED", "name": "Failed"}, "force": True}).raise_for_status()
    added: set[str] = set()
    changed: set[str] = set()
    deadline = time.monotonic() + 30  # the forced state is seen through its (persisted) event
    while (new not in added or ids[1] not in changed) and time.monotonic() < deadline:
        step = history.refresh()
        assert not step.reloaded
        added.update(step.added)
        changed.update(step.changed)
        time.sleep(0.5)
    assert (added, changed) == ({new}, {ids[1]})
    assert history.frame.at[ids[1], "state_type"] == "FAILED"
    fresh = FlowHistory(flow_id, client=client).frame
    pd.testing.assert_frame_equal(history.frame, fresh.loc[history.frame.index],
                                  check_categorical=False)
    assert list(history.frame.index) == list(fresh.index)


def test_refresh_reads_the_window_again_when_a_run_is_deleted(api_url, client) -> None:
    flow_id, ids = _made_runs(api_url, 3)
    history = FlowHistory(flow_id, client=client)
    with writer(api_url) as http:
        http.delete(f"/flow_runs/{ids[0]}").raise_for_status()
    step = history.refresh()
    assert step.reloaded and sorted(history.frame.index) == sorted(ids[1:])


# ------------------------------------------------------------------ what changed


def test_changes_flag_a_slower_task_since_the_run_it_began_and_a_new_failure(probe,
                                                                            client) -> None:
    run = FlowRunView.from_flow_run_id(probe[5], client=client)
    changes = run.changes(baseline=50)
    assert list(changes.columns) == list(CHANGE_COLUMNS)
    assert changes.attrs["baseline_runs"] == 5
    assert changes.at["sleepy", "status"] == "regression"
    assert changes.at["sleepy", "regression"]
    assert changes.at["sleepy", "since_flow_run_id"] == probe[4]
    assert changes.at["sleepy", "delta"] > pd.Timedelta(seconds=1)
    assert changes.at["fragile", "status"] == "new failure"
    assert changes.at["fragile", "since_flow_run_id"] == probe[5]
    assert changes.at["extract", "status"] == "unchanged"
    assert list(changes.index[:2]) == ["fragile", "sleepy"]  # most urgent first
    html = changes._repr_html_()
    assert "regression" in html and "new failure" in html
    # a run before the slowdown: nothing flagged
    quiet = FlowRunView.from_flow_run_id(probe[3], client=client).changes(baseline=3)
    assert not quiet["regression"].any() and not quiet["new_failure"].any()


def test_task_trends_across_runs(probe, client) -> None:
    views = [FlowRunView.from_flow_run_id(i, client=client) for i in probe]
    trends = task_trends(views)
    sleepy = trends[trends["task_name"] == "sleepy"]
    assert sleepy["flow_run_id"].tolist() == probe
    seconds = sleepy["duration"].dt.total_seconds().to_numpy()
    assert (seconds[:4] < 1.0).all() and (seconds[4:] >= 1.4).all()
    fragile = trends[trends["task_name"] == "fragile"]
    assert fragile["failures"].tolist() == [0, 0, 0, 0, 0, 1]


def _synthetic(durations: dict[str, list[float]], failed: dict[str, list[bool]]
               ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A runs frame and task frame for the math: one task run per task and flow run."""
    n = len(next(iter(durations.values())))
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(n)]
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    runs = pd.DataFrame({"name": [f"run <{i}>" for i in range(n)],
                         "start_time": [t0 + pd.Timedelta(hours=i) for i in range(n)]},
                        index=pd.Index(ids, name="flow_run_id"))
    rows = [{"flow_run_id": ids[i], "task_name": name,
             "state_type": "FAILED" if failed.get(name, [False] * n)[i] else "COMPLETED",
             "duration": pd.Timedelta(seconds=values[i])}
            for name, values in durations.items() for i in range(n)]
    return runs, pd.DataFrame(rows), ids


def test_regression_threshold_is_robust_and_streaks_give_since() -> None:
    rng = np.random.default_rng(0)
    noisy = list(10 + rng.normal(0, 1, 40))
    runs, tasks, ids = _synthetic({
        "noisy": noisy + [11.5],                      # within its own spread
        "creeping": [5.0] * 36 + [9.0, 9.2, 9.1, 9.3, 9.0],  # slower for the last five
        "outlier": [2.0] * 20 + [30.0] + [2.0] * 19 + [2.1],  # one old spike: not now
        "faster": [8.0] * 40 + [2.0],
    }, {})
    changes = compare_with_history_from_frames(runs, tasks, ids[-1])
    assert changes.at["noisy", "status"] == "unchanged"
    assert changes.at["creeping", "status"] == "regression"
    assert changes.at["creeping", "since_flow_run_id"] == ids[36]
    assert changes.at["creeping", "since_flow_run_name"] == "run <36>"
    assert changes.at["outlier", "status"] == "unchanged"
    assert changes.at["faster", "status"] == "faster"
    assert changes.at["creeping", "baseline_runs"] == 40


def test_failing_tasks_new_tasks_and_tasks_not_run() -> None:
    runs, tasks, ids = _synthetic({"flaky": [1.0] * 6, "gone": [1.0] * 6},
                                  {"flaky": [False, True, False, False, True, True]})
    tasks = tasks[~((tasks["task_name"] == "gone") & (tasks["flow_run_id"] == ids[-1]))]
    extra = pd.DataFrame([{"flow_run_id": ids[-1], "task_name": "brand-new",
                           "state_type": "COMPLETED", "duration": pd.Timedelta(seconds=1)}])
    changes = compare_with_history_from_frames(runs, pd.concat([tasks, extra]), ids[-1])
    assert changes.at["flaky", "status"] == "failing"
    assert changes.at["flaky", "since_flow_run_id"] == ids[4]  # failed in run 4 and now
    assert changes.at["flaky", "baseline_failure_rate"] == pytest.approx(2 / 5)
    assert changes.at["brand-new", "status"] == "new task"
    assert changes.at["gone", "status"] == "not run"


def test_changes_html_escapes_names() -> None:
    runs, tasks, ids = _synthetic({"<script>alert(1)</script>": [1.0, 1.0, 9.0]}, {})
    changes = compare_with_history_from_frames(runs, tasks, ids[-1])
    html = changes._repr_html_()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "run &lt;2&gt;" in html and "regression" in html
    assert type(changes.head(1)) is pd.DataFrame  # operations give plain frames


# ------------------------------------------------------------------ the chart


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    start = pd.Series(t0 + pd.to_timedelta(np.sort(rng.uniform(0, 3e7, n)), unit="s"))
    duration = pd.Series(pd.to_timedelta(rng.lognormal(3, 1, n), unit="s"))
    states = rng.choice(["COMPLETED", "FAILED", "CRASHED"], n, p=[0.9, 0.08, 0.02])
    return pd.DataFrame({
        "start_time": start.astype(TIME).to_numpy(), "expected_start_time": start.to_numpy(),
        "duration": duration.astype(SPAN).to_numpy(), "state_type": pd.Categorical(states),
    }, index=pd.Index([str(uuid.UUID(int=i)) for i in range(n)], name="flow_run_id"))


def test_chart_data_columns_are_binary() -> None:
    frame = _frame(5)
    frame.iloc[2, frame.columns.get_loc("duration")] = pd.NaT
    data = chart_data(frame)
    assert data["n"] == 5
    assert all(isinstance(data[k], memoryview) for k in ("x", "y", "s", "ids"))
    ms = frame["start_time"].map(lambda t: t.value // 1_000_000).to_numpy()
    assert data["t0"] == ms.min()
    wide = np.frombuffer(data["x"], "<f8")  # the sample spans a year: float64 offsets
    assert (wide + data["t0"]).tolist() == ms.tolist()
    seconds = np.frombuffer(data["y"], "<f4")
    assert np.isnan(seconds[2])
    expected = frame["duration"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    np.testing.assert_allclose(seconds, expected, rtol=1e-7)
    codes = np.frombuffer(data["s"], "u1")
    assert [data["states"][c] for c in codes] == frame["state_type"].astype(str).tolist()
    assert bytes(data["ids"][16:32]) == uuid.UUID(frame.index[1]).bytes


def test_chart_data_costs_29_bytes_a_run_at_most() -> None:
    """Before the binary wire the columns cost 55 bytes a run as JSON (100,000 runs)."""
    for days, most in ((30, 25), (365, 29)):
        frame = _frame(1_000)
        frame["start_time"] = frame["start_time"].iloc[0] + (
            frame["start_time"] - frame["start_time"].iloc[0]) * (days * 86_400 / 3e7)
        data = chart_data(frame)
        size = sum(memoryview(data[k]).nbytes for k in ("x", "y", "s", "ids"))
        assert size == most * 1_000


def test_chart_widget_sends_its_columns_as_binary_buffers() -> None:
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(HistoryChart(_frame(10)).get_state())
    assert paths == [["data", "x"], ["data", "y"], ["data", "s"], ["data", "ids"]]
    assert [memoryview(b).nbytes for b in buffers] == [80, 40, 10, 160]
    assert set(state["data"]) == {"n", "t0", "states"}


def test_chart_data_refuses_an_index_of_other_ids() -> None:
    frame = _frame(3).rename(index={str(uuid.UUID(int=1)): "run-1"})
    with pytest.raises(InvalidRequest, match="indexed by flow-run ids"):
        chart_data(frame)


def test_js_history_fixture_is_up_to_date() -> None:
    """js/tests/fixtures/history.json feeds the JS decoder tests: it must match this encoder."""
    fixtures = Path(__file__).resolve().parents[1] / "js" / "tests" / "fixtures"
    spec = importlib.util.spec_from_file_location("make_history_fixture",
                                                  fixtures / "make_history_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((fixtures / "history.json").read_text())
    assert json.loads(json.dumps(module.build_fixture())) == committed, (
        "run `python js/tests/fixtures/make_history_fixture.py` and commit the result")


def test_standalone_chart_needs_the_built_bundle(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("prefect_widgets.history_chart._ESM_PATH", tmp_path / "history.js")
    with pytest.raises(ConfigurationError, match="npm run build"):
        history_chart_html(_frame(3))


def test_chart_widget_holds_the_frame(probe, client) -> None:
    run = FlowRunView.from_flow_run_id(probe[0], client=client)
    history = FlowHistory(run.flow_id, client=client)
    chart = history.chart()
    assert isinstance(chart, HistoryChart) and chart.data["n"] == 6
    assert chart.selected_run is None
    chart.selected_flow_run_id = probe[2]
    assert chart.selected_run is not None and chart.selected_run.name == probe[2]


def test_chart_paints_and_a_click_selects_a_run(browser, tmp_path) -> None:
    from lab import offline_page

    frame = _frame(2_000)
    path = tmp_path / "history.html"
    path.write_text(history_chart_html(frame, ui_url="http://ui.example/<x>"), "utf-8")
    page = offline_page(browser, path)
    try:
        page.wait_for_function("window.__chart", timeout=20_000)
        assert page.errors == []
        assert page.evaluate("window.__chart.el.dataset.runs") == "2000"
        box = page.locator("canvas").bounding_box()
        assert box is not None
        for fraction in np.linspace(0.1, 0.9, 17):  # click until a dot is hit
            page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.5)
            selected = page.evaluate("window.__chart.model.get('selected_flow_run_id')")
            if selected:
                break
        assert selected in set(frame.index)
        assert page.locator(".pw-history-info").inner_text().count(selected) == 1
        page.mouse.wheel(0, -300)
        page.mouse.move(box["x"] + 200, box["y"] + 100)
        page.mouse.down()
        page.mouse.move(box["x"] + 400, box["y"] + 100)
        page.mouse.up()
        assert page.errors == []
    finally:
        page.context.close()


def test_bad_windows_are_refused_before_any_request() -> None:
    with pytest.raises(InvalidRequest):
        FlowHistory("not-a-uuid")
    with pytest.raises(InvalidRequest):
        FlowHistory(str(uuid.uuid4()), tags=[])
    with pytest.raises(InvalidRequest, match="ISO 8601"):
        FlowHistory(str(uuid.uuid4()), until="yesterday")
    with pytest.raises(InvalidRequest):
        FlowHistory(str(uuid.uuid4()), slack=timedelta(seconds=-1))
