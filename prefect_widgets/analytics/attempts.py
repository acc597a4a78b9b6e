"""Task-run attempts: split state histories into attempts, one row per attempt.

`split_attempts` cuts one state history at its Running states; `attempts_from_frame`
builds the attempt frame (`ATTEMPT_COLUMNS`) from a task-run frame plus the histories of
retried task runs; `attempts_frame` reads those histories (one request per retried task
run, once per snapshot) through the view's `RunData`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefect_widgets.dtypes import TEXT
from prefect_widgets.records import SPAN, STATE_DTYPE, TIME, state_dtype, states_from_json
from prefect_widgets.rundata import RunData
from prefect_widgets.states import State

from ._time import _NAT, _empty, _frame_of, _ns, _ns_scalar, _require, _spans, _times

if TYPE_CHECKING:
    from prefect_widgets.client import Client
    from prefect_widgets.views import FlowRunView

RETRY_STATE_NAMES = frozenset({"Retrying", "AwaitingRetry"})

ATTEMPT_COLUMNS = {
    "task_run_id": TEXT, "name": TEXT, "task_name": TEXT, "attempt": "Int64",
    "start": TIME, "end": TIME, "duration": SPAN, "state_type": STATE_DTYPE,
    "state_name": "category", "message": TEXT, "queued": SPAN, "retry_wait": SPAN,
}



def split_attempts(states: Sequence[State | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Split one task run's state history (`State`s or JSON rows, any order) into attempts.

    Each Running state opens an attempt; the next non-Running state (Completed, Failed,
    AwaitingRetry, ...) closes it and is its outcome. A Running right after another Running
    (a lost event) closes the previous attempt with that state. An attempt still open has
    no end and the Running state as its outcome. Returns dicts with `start`, `end` (aware
    datetimes or None), `state_type`, `state_name`, `message`.
    """
    history = [s if isinstance(s, State) else states_from_json([s])[0] for s in states]
    attempts: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    dated = sorted(((s.timestamp, s) for s in history if s.timestamp is not None),
                   key=lambda pair: pair[0])
    for stamp, state in dated:
        type_ = state.type
        outcome = {"end": stamp, "state_type": type_, "state_name": state.name,
                   "message": state.message}
        if current is not None:
            current.update(outcome)
            current = None
        if type_ == "RUNNING":
            current = {"start": stamp, **outcome, "end": None}
            attempts.append(current)
    return attempts


def _needs_history(frame: pd.DataFrame) -> pd.Series:
    names = frame["state_name"].astype("object")
    return (frame["run_count"] > 1) | names.isin(RETRY_STATE_NAMES)


def attempts_from_frame(frame: pd.DataFrame,
                        histories: Mapping[str, Sequence[State | Mapping[str, Any]]] | None
                        = None) -> pd.DataFrame:
    """One row per attempt: task runs in `histories` (id → state JSON rows) are split with
    `split_attempts`; every other started task run is one attempt taken from its frame row.

    `queued` is the lead-in of the first attempt (expected start → first Running);
    `retry_wait` is the gap before each later attempt (previous end → this start).
    """
    _require(frame, ("name", "task_name", "expected_start_time", "start_time", "end_time",
                     "state_type", "state_name", "state_message"), "attempts_frame()")
    histories = histories or {}
    index = frame.index.astype(str)
    ids = np.asarray(index.tolist(), dtype=object)
    start = _ns(frame["start_time"])
    end = _ns(frame["end_time"])
    expected = _ns(frame["expected_start_time"])
    in_history = np.asarray(index.isin(list(histories)), dtype=bool)
    single = (~in_history) & (start != _NAT)
    pos = np.flatnonzero(single)

    def lead(first_start: np.ndarray, exp: np.ndarray) -> np.ndarray:
        ok = (first_start != _NAT) & (exp != _NAT)
        return np.where(ok, first_start - exp, _NAT)

    parts = {
        "_pos": pos, "task_run_id": ids[pos].tolist(),
        "name": frame["name"].to_numpy(dtype=object)[pos],
        "task_name": frame["task_name"].to_numpy(dtype=object)[pos],
        "attempt": np.ones(len(pos), dtype="int64"),
        "start": start[pos], "end": end[pos],
        "state_type": frame["state_type"].astype("object").to_numpy()[pos],
        "state_name": frame["state_name"].astype("object").to_numpy()[pos],
        "message": frame["state_message"].to_numpy(dtype=object)[pos],
        "queued": lead(start[pos], expected[pos]),
        "retry_wait": np.full(len(pos), _NAT, dtype="int64"),
    }
    rows: dict[str, list[Any]] = {key: list(value) for key, value in parts.items()}
    for index in np.flatnonzero(in_history):
        task_id = ids[index]
        attempts = split_attempts(histories[task_id])
        if not attempts and start[index] == _NAT:
            continue
        if not attempts:  # history lost (dropped events): fall back to the frame row
            attempts = [{"start": frame["start_time"].iloc[index],
                         "end": frame["end_time"].iloc[index],
                         "state_type": str(frame["state_type"].iloc[index]),
                         "state_name": str(frame["state_name"].iloc[index]),
                         "message": frame["state_message"].iloc[index]}]
        previous_end = _NAT
        for number, attempt in enumerate(attempts, start=1):
            a_start = _ns_scalar(attempt["start"])
            a_end = _NAT if attempt["end"] is None or pd.isna(attempt["end"]) else \
                _ns_scalar(attempt["end"])
            rows["_pos"].append(index)
            rows["task_run_id"].append(task_id)
            rows["name"].append(frame["name"].iloc[index])
            rows["task_name"].append(frame["task_name"].iloc[index])
            rows["attempt"].append(number)
            rows["start"].append(a_start)
            rows["end"].append(a_end)
            rows["state_type"].append(attempt["state_type"])
            rows["state_name"].append(attempt["state_name"])
            rows["message"].append(attempt["message"])
            exp = expected[index]
            rows["queued"].append(a_start - exp if number == 1 and exp != _NAT else _NAT)
            rows["retry_wait"].append(a_start - previous_end if number > 1 and
                                      previous_end != _NAT else _NAT)
            previous_end = a_end
    if not rows["_pos"]:
        return _empty(ATTEMPT_COLUMNS)
    start_ns = np.asarray(rows["start"], dtype="int64")
    end_ns = np.asarray(rows["end"], dtype="int64")
    duration = np.where((start_ns != _NAT) & (end_ns != _NAT), end_ns - start_ns, _NAT)
    dtype = state_dtype(rows["state_type"])  # unknown types keep a category of their own
    out = pd.DataFrame({
        "task_run_id": rows["task_run_id"], "name": rows["name"],
        "task_name": rows["task_name"], "attempt": pd.array(rows["attempt"], dtype="Int64"),
        "start": _times(start_ns), "end": _times(end_ns), "duration": _spans(duration),
        "state_type": pd.Categorical(rows["state_type"], dtype=dtype),
        "state_name": pd.Categorical(rows["state_name"]), "message": rows["message"],
        "queued": _spans(np.asarray(rows["queued"], dtype="int64")),
        "retry_wait": _spans(np.asarray(rows["retry_wait"], dtype="int64")),
    })
    order = np.lexsort((np.asarray(rows["attempt"]), np.asarray(rows["_pos"])))
    return out.iloc[order].reset_index(drop=True).astype({**ATTEMPT_COLUMNS, "state_type": dtype})


def attempts_frame(flow_run: FlowRunView | pd.DataFrame, *, client: Client | None = None,
                   max_workers: int = 4) -> pd.DataFrame:
    """One row per task-run attempt of a run (`FlowRunView.attempts_dataframe()`).

    Retried task runs get their state history read (one request each, `max_workers` in
    flight, once per snapshot); all others come from the task-run frame with no request.
    A frame needs `client=` (or the default client) for the histories.
    """
    frame = _frame_of(flow_run)
    ids = frame.index[_needs_history(frame).to_numpy()].astype(str).tolist()
    data = getattr(flow_run, "data", None)
    if not isinstance(data, RunData):
        data = RunData("", client)
    return attempts_from_frame(frame, data.histories(ids, max_workers))

