"""`.to_dataframe()`: typed frames that agree with the server row for row and field by field."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from prefect_widgets import FlowRunView, InvalidRequest, TaskRunView
from prefect_widgets.dataframes import (
    FLOW_RUN_COLUMNS,
    TASK_RUN_COLUMNS,
    TIMELINE_COLUMNS,
    task_runs_frame,
)
from prefect_widgets.run_lists import FlowRunList
from prefect_widgets.samples import MAPPED_SIZE
from prefect_widgets.states import STATE_TYPES

SAMPLES = ["hello", "failing", "retrying", "mapped", "subflow", "persisted", "diamond", "hostile"]


def server_rows(api_url: str, flow_run_id: str) -> dict[str, dict]:
    rows, offset = {}, 0
    while True:
        page = httpx.post(f"{api_url}/task_runs/filter", json={
            "flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200, "offset": offset}).json()
        rows.update((r["id"], r) for r in page)
        offset += 200
        if len(page) < 200:
            return rows


def server_count(api_url: str, flow_run_id: str) -> int:
    return httpx.post(f"{api_url}/task_runs/count",
                      json={"flow_runs": {"id": {"any_": [flow_run_id]}}}).json()


@pytest.mark.parametrize("sample", SAMPLES)
def test_row_count_equals_server_count(api_url, runs, sample):
    frame = FlowRunView.from_flow_run_id(runs[sample]).to_dataframe()
    assert len(frame) == server_count(api_url, runs[sample])
    assert frame.index.is_unique


def test_dtypes(runs):
    frame = FlowRunView.from_flow_run_id(runs["retrying"]).to_dataframe()
    assert list(frame.columns) == list(TASK_RUN_COLUMNS)
    assert frame.index.name == "task_run_id"
    for column in ("expected_start_time", "start_time", "end_time", "created", "updated"):
        assert str(frame[column].dtype) == "datetime64[ns, UTC]", column
    for column in ("duration", "total_run_time", "estimated_run_time"):
        assert str(frame[column].dtype) == "timedelta64[ns]", column
    assert isinstance(frame["state_type"].dtype, pd.CategoricalDtype)
    assert list(frame["state_type"].cat.categories) == list(STATE_TYPES)
    assert frame["state_type"].cat.ordered
    assert isinstance(frame["state_name"].dtype, pd.CategoricalDtype)
    assert str(frame["run_count"].dtype) == "int64"
    assert str(frame["map_index"].dtype) == "Int64"
    assert str(frame["retries"].dtype) == "int64"  # retries that happened
    assert str(frame["max_retries"].dtype) == "Int64"  # the configured limit
    assert frame["retries"].tolist() == [2] and frame["max_retries"].tolist() == [2]
    assert str(frame["kind"].dtype) == "category"
    assert str(frame["map_index_uncertain"].dtype) == "bool"
    assert str(frame["retry_delay"].dtype) == "float64"
    assert frame["tags"].map(type).eq(list).all()
    assert frame["upstream_task_run_ids"].map(type).eq(list).all()
    row = frame.iloc[0]
    assert row["run_count"] == 3 and row["retries"] == 2 and row["retry_delay"] == 1.0
    assert row["state_type"] == "COMPLETED"


def test_values_agree_with_raw_json(api_url, runs):
    raw = server_rows(api_url, runs["hello"]) | server_rows(api_url, runs["failing"])
    frame = pd.concat([FlowRunView.from_flow_run_id(runs[s]).to_dataframe()
                       for s in ("hello", "failing")])
    assert set(frame.index) == set(raw)
    for task_id, row in frame.iterrows():
        src = raw[task_id]
        assert row["name"] == src["name"] and row["task_key"] == src["task_key"]
        assert row["flow_run_id"] == src["flow_run_id"]
        assert row["state_type"] == src["state_type"] and row["state_name"] == src["state_name"]
        assert row["start_time"] == pd.Timestamp(src["start_time"])
        assert row["end_time"] == pd.Timestamp(src["end_time"])
        assert row["expected_start_time"] == pd.Timestamp(src["expected_start_time"])
        assert row["total_run_time"].total_seconds() == pytest.approx(src["total_run_time"])
        assert row["duration"] == pd.Timestamp(src["end_time"]) - pd.Timestamp(src["start_time"])
        assert row["run_count"] == src["run_count"]
        assert row["tags"] == src["tags"]
        message = row["state_message"]
        assert ("" if pd.isna(message) else message) == (src["state"]["message"] or "")
    failed = frame[frame["state_type"] == "FAILED"]
    assert failed["state_message"].str.contains("Could not connect to warehouse").all()


def test_upstream_links_and_map_index(runs):
    frame = FlowRunView.from_flow_run_id(runs["hello"]).to_dataframe()
    cap = frame[frame["task_name"] == "capitalize"].index[0]
    hello = frame[frame["task_name"] == "say_hello"]
    assert hello["upstream_task_run_ids"].iloc[0] == [cap]
    mapped = FlowRunView.from_flow_run_id(runs["mapped"]).to_dataframe()
    assert sorted(mapped["map_index"]) == list(range(MAPPED_SIZE))
    sub = FlowRunView.from_flow_run_id(runs["subflow"]).to_dataframe()
    assert sub["child_flow_run_id"].notna().sum() == 1


def test_empty_frame_keeps_columns_and_dtypes():
    empty = task_runs_frame([])
    assert list(empty.columns) == list(TASK_RUN_COLUMNS)
    assert str(empty["start_time"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(empty["state_type"].dtype, pd.CategoricalDtype)


def test_parquet_round_trip(tmp_path, runs):
    frame = FlowRunView.from_flow_run_id(runs["diamond"]).to_dataframe()
    frame.to_parquet(tmp_path / "runs.parquet")
    back = pd.read_parquet(tmp_path / "runs.parquet")
    for column in ("start_time", "end_time", "duration", "run_count", "map_index"):
        assert back[column].dtype == frame[column].dtype, column
        # pandas 2 reads a text index back from Parquet as object: the values must still agree
        pd.testing.assert_series_equal(back[column], frame[column], check_names=False,
                                       check_index_type=False)
    assert list(back.index) == list(frame.index)
    assert isinstance(back["state_type"].dtype, pd.CategoricalDtype)
    assert list(back["tags"].map(list)) == list(frame["tags"])


def test_csv_round_trip_keeps_times(tmp_path, runs):
    frame = FlowRunView.from_flow_run_id(runs["hello"]).to_dataframe()
    frame.to_csv(tmp_path / "runs.csv")
    back = pd.read_csv(tmp_path / "runs.csv", index_col="task_run_id",
                       parse_dates=["start_time", "end_time"])
    assert (back["start_time"].dt.tz is not None)
    assert list(back["start_time"]) == list(frame["start_time"])


def test_columns_selection_and_validation(runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    assert list(view.to_dataframe(columns=["name", "state_type"]).columns) == ["name", "state_type"]
    with pytest.raises(InvalidRequest, match="Unknown column 'nope'"):
        view.to_dataframe(columns=["nope"])
    with pytest.raises(InvalidRequest, match="timeline"):
        view.to_dataframe(columns="everything")


def test_timeline_frame_from_graph_matches_full_frame(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    timeline = view.to_dataframe(columns="timeline")
    full = view.to_dataframe()
    assert list(timeline.columns) == list(TIMELINE_COLUMNS)
    assert set(timeline.index) == set(full.index)
    joined = timeline.join(full[["start_time", "end_time", "state_type"]].add_suffix("_full"))
    assert (joined["start_time"] == joined["start_time_full"]).all()
    assert (joined["end_time"] == joined["end_time_full"]).all()
    assert (joined["state_type"] == joined["state_type_full"]).all()
    assert timeline["start_time"].is_monotonic_increasing


def test_timeline_includes_subflow_runs(runs):
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    timeline = parent.to_dataframe(columns="timeline")
    child = parent.subflow_runs[0]
    row = timeline[timeline["child_flow_run_id"] == child.flow_run_id]
    assert len(row) == 1 and row.index[0] == child.parent_task_run_id  # a task-run id
    assert row["kind"].iloc[0] == "subflow-run"
    assert row["task_name"].iloc[0] == "child-report"


def test_flow_run_and_task_run_lists_to_dataframe(runs):
    flows = FlowRunView.query(flow_name="hello-world").to_dataframe()
    assert runs["hello"] in flows.index
    assert str(flows["start_time"].dtype) == "datetime64[ns, UTC]"
    assert flows.loc[runs["hello"], "parameters"] == {"name": "world"}
    tasks = TaskRunView.query(flow_run_id=runs["mapped"], limit=None).to_dataframe()
    assert len(tasks) == MAPPED_SIZE


def test_progress_bar_off_and_forced(runs, capsys):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    view.to_dataframe(progress=False)
    assert "task runs" not in capsys.readouterr().err
    view.get_latest().to_dataframe(progress=True)
    assert "task runs" in capsys.readouterr().err


def test_frames_lead_with_name_state_start_and_duration(runs):
    """Issue 18: the columns a reader looks at first come first; the index is the run id."""
    lead = ["name", "state_type", "start_time", "duration"]
    view = FlowRunView.from_flow_run_id(runs["hello"])
    tasks = view.to_dataframe()
    assert list(tasks.columns[:4]) == lead and tasks.index.name == "task_run_id"
    flows = FlowRunList([view]).to_dataframe()
    assert list(flows.columns[:4]) == lead and flows.index.name == "flow_run_id"
    assert list(task_runs_frame([]).columns[:4]) == lead == list(FLOW_RUN_COLUMNS)[:4]
