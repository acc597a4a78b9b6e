"""Run analytics against the real test server, plus pure functions on synthetic frames."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from prefect_widgets import BadResponse, FlowRunView, FlowView, PrefectWidgetsError
from prefect_widgets.analytics import (
    DependencyCycle,
    attempts_frame,
    compare_runs,
    concurrency_from_frame,
    critical_path_from_frame,
    plot_concurrency,
    plot_run_durations,
    runs_summary,
    split_attempts,
    task_stats_from_frame,
)
from prefect_widgets.dataframes import task_runs_frame
from prefect_widgets.samples import MAPPED_SIZE, wait_until_recorded

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else (T0 + timedelta(seconds=seconds)).isoformat()


def _row(task_id: str, start: float | None, end: float | None, ups=(), name=None,
         state="COMPLETED", run_count=1) -> dict:
    key = name or task_id
    return {"id": task_id, "name": f"{key}-0", "task_key": f"{key}-abc", "flow_run_id": "f",
            "state_type": state, "state_name": state.title(), "run_count": run_count,
            "expected_start_time": _iso(start), "start_time": _iso(start), "end_time": _iso(end),
            "task_inputs": {"wait_for": [{"input_type": "task_run", "id": u} for u in ups]}}


# --------------------------------------------------------------------------- attempts


def test_retrying_task_shows_three_attempts_with_two_gaps(runs, counting):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["retrying"], client=client)
    frame = run.to_dataframe()
    transport.paths.clear()
    attempts = attempts_frame(run)
    # one state-history request for the one retried task run, nothing per row
    assert [p for p in transport.paths if "task_run_states" in p] == ["/api/task_run_states/"]
    assert len(transport.paths) == 1 + sum("task_runs/" in p for p in transport.paths)
    flaky = attempts[attempts["task_name"] == "flaky_download"]
    assert flaky["attempt"].tolist() == [1, 2, 3]
    assert flaky["state_name"].astype(str).tolist() == ["AwaitingRetry", "AwaitingRetry",
                                                        "Completed"]
    assert flaky["state_type"].astype(str).tolist()[-1] == "COMPLETED"
    gaps = flaky["retry_wait"].dropna()
    assert len(gaps) == 2 and (gaps >= pd.Timedelta(seconds=0.9)).all()  # retry_delay_seconds=1
    assert flaky["queued"].notna().tolist() == [True, False, False]
    assert (flaky["start"].diff().dropna() > pd.Timedelta(0)).all()
    assert (flaky["end"] >= flaky["start"]).all()
    assert flaky["start"].iloc[0] == frame["start_time"].iloc[0]
    assert str(attempts["start"].dtype) == "datetime64[ns, UTC]"
    assert str(attempts["duration"].dtype) == "timedelta64[ns]"
    assert str(attempts["attempt"].dtype) == "Int64"
    assert isinstance(attempts["state_type"].dtype, pd.CategoricalDtype)


def test_attempts_of_a_run_without_retries_need_no_extra_request(runs, counting):
    client, transport = counting
    run = FlowRunView.from_flow_run_id(runs["mapped"], client=client)
    transport.paths.clear()
    attempts = run.attempts_dataframe()
    assert not any("task_run_states" in p for p in transport.paths)
    assert len(attempts) == MAPPED_SIZE
    assert (attempts["attempt"] == 1).all() and attempts["retry_wait"].isna().all()
    assert (attempts["queued"] >= pd.Timedelta(0)).all()


def test_split_attempts_keeps_an_open_attempt_open():
    rows = [{"timestamp": _iso(2), "type": "RUNNING", "name": "Retrying"},
            {"timestamp": _iso(0), "type": "PENDING", "name": "Pending"},
            {"timestamp": _iso(0.5), "type": "RUNNING", "name": "Running"},
            {"timestamp": _iso(1), "type": "SCHEDULED", "name": "AwaitingRetry",
             "message": "boom"}]
    attempts = split_attempts(rows)
    assert [a["state_name"] for a in attempts] == ["AwaitingRetry", "Retrying"]
    assert attempts[0]["message"] == "boom"
    assert attempts[1]["end"] is None


# --------------------------------------------------------------------------- critical path


def test_diamond_critical_path_follows_the_slow_branch(runs):
    run = FlowRunView.from_flow_run_id(runs["diamond"])
    path = run.critical_path()
    names = [n.rsplit("-", 1)[0] for n in path["name"]]
    assert names == ["extract", "slow_branch", "load"]
    seconds = path["duration"].dt.total_seconds().tolist()
    assert 0.18 <= seconds[0] < 0.9 and 0.9 <= seconds[1] < 2.0 and 0.25 <= seconds[2] < 1.2
    waits = path["wait_before"]
    assert waits.notna().all() and (waits >= pd.Timedelta(0)).all()
    assert (waits.iloc[1:] < pd.Timedelta(seconds=1)).all()
    assert list(path.columns[:3]) == ["task_run_id", "name", "task_name"]
    frame = run.to_dataframe()
    assert path["task_run_id"].iloc[-1] == frame["end_time"].idxmax()


def test_mapped_run_has_no_dependencies_so_the_path_is_the_longest_task(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    frame = run.to_dataframe()
    assert not any(len(u) for u in frame["upstream_task_run_ids"])
    path = run.critical_path()
    assert len(path) == 1
    assert path["task_run_id"].iloc[0] == frame["duration"].idxmax()
    assert path["duration"].iloc[0] == frame["duration"].max()


def test_cycle_from_synthetic_json_raises_a_clear_error_quickly():
    rows = [_row(f"t{i}", i, i + 1, ups=[f"t{i - 1}"] if i else []) for i in range(5000)]
    rows += [_row("a", 1, 2, ups=["c"]), _row("b", 2, 3, ups=["a"]), _row("c", 3, 4, ups=["b"])]
    frame = task_runs_frame(rows)
    began = time.perf_counter()
    with pytest.raises(DependencyCycle) as caught:
        critical_path_from_frame(frame)
    assert time.perf_counter() - began < 1.0
    assert isinstance(caught.value, BadResponse) and isinstance(caught.value, PrefectWidgetsError)
    assert sorted(caught.value.task_run_ids) == ["a", "b", "c"]
    assert "cycle" in str(caught.value) and "a-0" in str(caught.value)
    with pytest.raises(DependencyCycle):
        critical_path_from_frame(task_runs_frame([_row("s", 0, 1, ups=["s"])]))


def test_critical_path_on_synthetic_dag_matches_brute_force():
    rng = random.Random(7)
    rows = []
    for i in range(60):
        ups = rng.sample([f"n{j}" for j in range(i)], k=min(i, rng.randint(0, 3)))
        start = i * 0.5
        rows.append(_row(f"n{i}", start, start + rng.uniform(0.1, 3.0), ups=ups))
    frame = task_runs_frame(rows)
    path = critical_path_from_frame(frame)
    weight = {i: d.total_seconds() for i, d in frame["duration"].items()}
    ups = dict(frame["upstream_task_run_ids"].items())
    memo: dict[str, float] = {}

    def longest(node: str) -> float:
        if node not in memo:
            memo[node] = weight[node] + max((longest(u) for u in ups[node]), default=0.0)
        return memo[node]

    sink = frame["end_time"].idxmax()
    assert path["task_run_id"].iloc[-1] == sink
    assert path["duration"].dt.total_seconds().sum() == pytest.approx(longest(sink))
    for before, after in zip(path["task_run_id"], path["task_run_id"].iloc[1:]):
        assert before in ups[after]


def test_running_task_counts_until_given_time():
    frame = task_runs_frame([_row("a", 0, 1), _row("b", 1, None, ups=["a"], state="RUNNING")])
    path = critical_path_from_frame(frame, until=T0 + timedelta(seconds=11))
    assert path["task_run_id"].tolist() == ["a", "b"]
    assert path["end"].isna().tolist() == [False, True]
    assert path["duration"].iloc[1] == pd.Timedelta(seconds=10)


def test_critical_path_of_10k_tasks_takes_under_a_second():
    rng = np.random.default_rng(3)
    n = 10_000
    starts = np.sort(rng.uniform(0, 3600, n))
    rows = []
    for i in range(n):
        k = int(min(i, rng.integers(0, 4)))
        ups = [f"n{j}" for j in rng.choice(max(i, 1), size=k, replace=False)] if k else []
        rows.append(_row(f"n{i}", float(starts[i]), float(starts[i] + rng.uniform(1, 60)),
                         ups=ups, name=f"task{i % 50}"))
    frame = task_runs_frame(rows)
    began = time.perf_counter()
    path = critical_path_from_frame(frame)
    assert time.perf_counter() - began < 1.0
    assert len(path) >= 1 and path["task_run_id"].iloc[-1] == frame["end_time"].idxmax()


# --------------------------------------------------------------------------- stats


@pytest.mark.parametrize("sample", ["mapped", "diamond", "failing", "retrying"])
def test_task_stats_equal_pandas_statistics_of_the_frame(runs, sample):
    run = FlowRunView.from_flow_run_id(runs[sample])
    frame = run.to_dataframe()
    stats = run.task_stats()
    groups = frame.groupby("task_name")
    assert sorted(stats.index) == sorted(groups.groups)
    for name, group in groups:
        row = stats.loc[name]
        assert row["count"] == len(group)
        for state, n in group["state_type"].astype(str).value_counts().items():
            assert row[state.lower()] == n
        assert row["retries"] == int((group["run_count"] - 1).clip(lower=0).sum())
        durations = group["duration"]
        for column, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            assert abs(row[column] - durations.quantile(q)) <= pd.Timedelta(microseconds=1)
        assert row["min"] == durations.min() and row["max"] == durations.max()
        assert row["total"] == durations.sum()
        assert row["share"] == pytest.approx(durations.sum() / run.duration)
    if sample == "retrying":
        assert stats.loc["flaky_download", "retries"] == 2


def test_concurrency_rises_and_returns_to_zero(runs):
    run = FlowRunView.from_flow_run_id(runs["mapped"])
    steps = run.concurrency()
    assert steps["running"].max() >= 1 and steps["running"].iloc[-1] == 0
    assert (steps["running"] >= 0).all() and steps["time"].is_monotonic_increasing
    frame = run.to_dataframe()
    for moment, running in zip(steps["time"].iloc[::37], steps["running"].iloc[::37]):
        expected = ((frame["start_time"] <= moment) & (frame["end_time"] > moment)).sum()
        assert running == expected
    figure = plot_concurrency(run, series=steps)
    assert figure.data[0].line.shape == "hv" and len(figure.data[0].x) == len(steps)


def test_concurrency_nets_simultaneous_events_and_closes_running_tasks():
    frame = task_runs_frame([_row("a", 0, 2), _row("b", 2, 3),
                             _row("c", 1, None, state="RUNNING")])
    steps = concurrency_from_frame(frame, until=T0 + timedelta(seconds=5))
    assert steps["running"].tolist() == [1, 2, 2, 1, 0]
    assert steps["time"].iloc[-1] == pd.Timestamp(T0 + timedelta(seconds=5))


def test_task_stats_from_empty_frame():
    stats = task_stats_from_frame(task_runs_frame([]))
    assert stats.empty and "p90" in stats.columns


# --------------------------------------------------------------------------- across runs


@pytest.fixture(scope="module")
def second_hello(prefect_server) -> str:
    run_id = prefect_server.run_flows("hello")["hello"]
    wait_until_recorded(prefect_server.api_url, [run_id])
    return run_id


def test_compare_two_hello_runs(runs, second_hello):
    a = FlowRunView.from_flow_run_id(runs["hello"])
    b = FlowRunView.from_flow_run_id(second_hello)
    compared = compare_runs(a, b)
    assert sorted(compared.index) == ["capitalize", "say_hello"]
    assert (compared["count_a"] == 1).all() and (compared["count_b"] == 1).all()
    expected = compared["total_b"] - compared["total_a"]
    assert (compared["delta"] == expected).all()
    assert compared["ratio"].tolist() == pytest.approx(
        (compared["total_b"] / compared["total_a"]).tolist())
    assert compared["delta"].is_monotonic_decreasing


def test_runs_summary_and_duration_plot(runs, second_hello, counting):
    client, transport = counting
    hello_runs = FlowView.from_flow_id(
        FlowRunView.from_flow_run_id(runs["hello"]).flow_id, client=client).runs()
    transport.paths.clear()
    summary = hello_runs.summary()
    assert transport.paths.count("/api/task_runs/count") == len(hello_runs) >= 2
    assert set(summary.index) >= {runs["hello"], second_hello}
    assert (summary["task_runs"] == 2).all()
    assert summary["start_time"].is_monotonic_increasing
    assert (summary["duration"] > pd.Timedelta(0)).all()

    transport.paths.clear()
    figure = hello_runs.plot_durations()
    assert transport.paths == []
    names = [trace.name for trace in figure.data]
    assert names == ["p90", "p50", "runs", "failed"]
    assert len(figure.data[2].x) == len(hello_runs) and len(figure.data[3].x) == 0


def test_duration_plot_marks_failures(runs):
    failing = FlowRunView.from_flow_run_id(runs["failing"])
    hello = FlowRunView.from_flow_run_id(runs["hello"])
    summary = runs_summary([hello, failing])
    assert summary.loc[runs["failing"], "state_type"] == "FAILED"
    assert summary.loc[runs["failing"], "task_runs"] == 2
    figure = plot_run_durations([hello, failing], summary=summary)
    failed = figure.data[3]
    assert failed.marker.symbol == "x" and len(failed.x) == 1
