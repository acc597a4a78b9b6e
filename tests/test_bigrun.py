"""The big-run builder (benchmarks/bigrun.py) makes what it claims, read back through the library."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from prefect_widgets import FlowRunView

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bigrun import TASK_KEYS, build_run

N = 300


@pytest.fixture(scope="module")
def big(api_url: str):
    began = time.monotonic()
    made = build_run(api_url, N, seed=7, failed_fraction=0.1, timeout=60)
    assert time.monotonic() - began < 30
    return made


def test_counts_match_the_server(api_url: str, big) -> None:
    assert big.n == N and sum(big.states.values()) == N
    assert big.states["FAILED"] > 0 and big.states["COMPLETED"] > 0
    assert set(big.states) == {"COMPLETED", "FAILED"}
    assert 0 < big.linked < N and len(big.task_keys) > 1
    body = {"flow_runs": {"id": {"any_": [big.flow_run_id]}}}
    with httpx.Client(base_url=api_url) as client:
        assert client.post("/task_runs/count", json=body).json() == N
        failed = {**body, "task_runs": {"state": {"type": {"any_": ["FAILED"]}}}}
        assert client.post("/task_runs/count", json=failed).json() == big.states["FAILED"]
        flow_run = client.get(f"/flow_runs/{big.flow_run_id}").json()
    assert flow_run["state_type"] == "FAILED"  # any failed task fails the run


def test_dataframe_has_every_task_run_with_its_state(big) -> None:
    frame = FlowRunView.from_flow_run_id(big.flow_run_id).to_dataframe(progress=False)
    assert len(frame) == N and frame.index.is_unique
    assert frame["state_type"].value_counts()[["COMPLETED", "FAILED"]].to_dict() == \
        {"COMPLETED": big.states["COMPLETED"], "FAILED": big.states["FAILED"]}
    assert frame["task_key"].value_counts().to_dict() == dict(big.task_keys)
    assert set(frame["task_name"]) <= set(TASK_KEYS)
    # realistic times: set from the events, an hour ago, seconds long, never negative
    assert frame["start_time"].notna().all() and frame["end_time"].notna().all()
    assert (frame["duration"] > pd.Timedelta(0)).all()
    assert frame["duration"].median() > pd.Timedelta(milliseconds=100)
    assert frame["start_time"].min() < pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=30)
    assert frame.loc[frame["state_type"] == "FAILED", "state_message"].str.contains(
        "bad row").all()
    # upstream links point at task runs of the same run that ended before the start
    linked = frame[frame["upstream_task_run_ids"].map(len) > 0]
    assert len(linked) == big.linked
    ends = frame["end_time"]
    for _, row in linked.iterrows():
        assert all(ends[up] <= row["start_time"] for up in row["upstream_task_run_ids"])


def test_timeline_frame_matches(big) -> None:
    frame = FlowRunView.from_flow_run_id(big.flow_run_id).to_dataframe(columns="timeline")
    assert len(frame) == N
    assert frame["state_type"].value_counts()["FAILED"] == big.states["FAILED"]
