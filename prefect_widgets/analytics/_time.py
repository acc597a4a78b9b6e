"""Shared time and frame helpers of the analytics: epoch nanoseconds, open-ended spans.

Datetimes become int64 epoch nanoseconds (`_ns`, `_ns_scalar`, NaT as `_NAT`) for vector
math, and back to `datetime64[ns, UTC]` / `timedelta64[ns]` columns (`_times`, `_spans`).
`_run_until` / `_open_ended` close running task runs at the run's end (or now); `_frame_of`,
`_require` and `_empty` take, check and build the task-run frames every analysis reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefect_widgets.errors import InvalidRequest
from prefect_widgets.records import SPAN, TIME
from prefect_widgets.rundata import RunData

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

_NAT = np.iinfo(np.int64).min


def _frame_of(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(getattr(source, "data", None), RunData):
        return source.data.tasks()
    raise InvalidRequest(f"Expected a FlowRunView or a task-run DataFrame, got "
                         f"{type(source).__name__}.")


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidRequest(f"{what} needs the task-run frame columns {', '.join(missing)} "
                             "(from FlowRunView.to_dataframe()).")


def _ns(values: Any) -> np.ndarray:
    """Epoch nanoseconds (int64, NaT as int64 min) of datetimes, tz-aware or UTC-naive."""
    series = pd.Series(pd.to_datetime(pd.Series(values), utc=True)).dt.as_unit("ns")
    return np.asarray(series.array.asi8, dtype="int64")


def _ns_scalar(value: Any) -> int:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


def _times(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(ns, dtype="int64"), utc=True)).astype(TIME)


def _spans(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_timedelta(np.asarray(ns, dtype="int64"), unit="ns")).astype(SPAN)


def _now_ns() -> int:
    return _ns_scalar(datetime.now(timezone.utc))


def _run_until(flow_run: FlowRunView) -> int:
    """Where open task runs stop counting: the run's end, or now while it runs."""
    if flow_run.end_time is not None and flow_run.state.is_finished():
        return _ns_scalar(flow_run.end_time)
    return _now_ns()


def _open_ended(start: np.ndarray, end: np.ndarray, until: int) -> np.ndarray:
    """End times with running task runs (started, no end) closed at `until` (never before start)."""
    open_ = (start != _NAT) & (end == _NAT)
    return np.where(open_, np.maximum(start, until), end)



def _empty(columns: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})

