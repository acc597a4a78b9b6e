"""A flow's history: its runs over a time window as one typed frame, refreshed incrementally.

`FlowHistory` reads the flow's runs once (anchored paging, checked against `/count`) and
`refresh()` reads only what may have changed since. Prefect 3.8's flow-run filter has no
`updated` field (nor an `updated` sort), and a forced state change moves no time field, so
a refresh finds the runs a change must have touched: the flow's state-change events
(`POST /events/filter`, `prefect.flow-run.*` related to the flow) since the newest
`updated` already held, less `slack` (clocks that disagree, events persisted late); and,
by filters ANDed with the window, runs expected to start after that mark and runs in a
state that is not final. Of those rows only the ones that are new or carry a newer
`updated` are merged (by id). A count of the window's runs follows: when it differs from
the frame (runs deleted, or moved out of the window or the `states` filter), the window is
read again in full. A change with no state change (a tag edited on a finished run) is seen
only by that full read.

The window is on `expected_start_time`, which every run has (never-started runs too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import _ops
from ._parse import check_uuid
from .client import Client, Operation, get_client
from .dtypes import TEXT
from .errors import InvalidRequest
from .records import SPAN, STATE_DTYPE, TIME, flow_runs_frame, state_dtype
from .run_events import FLOW_RUN, flow_runs_in_events
from .seam import provided
from .states import FINISHED_TYPES, STATE_TYPES

if TYPE_CHECKING:
    import anywidget

__all__ = ["HISTORY_COLUMNS", "FlowHistory", "Refreshed", "flow_history", "history_frame"]

#: one row per flow run (index `flow_run_id`), oldest first
HISTORY_COLUMNS: dict[str, Any] = {
    "name": TEXT, "state_type": STATE_DTYPE, "state_name": "category",
    "start_time": TIME, "end_time": TIME, "duration": SPAN,
    "expected_start_time": TIME, "queued": SPAN, "deployment_id": TEXT, "tags": "object",
    "run_count": "int64", "created": TIME, "updated": TIME,
}
#: the default allowance for clocks of workers and server that disagree
SLACK = timedelta(minutes=5)


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The history frame of flow-run records: `records.flow_runs_frame`'s columns above,
    plus `queued` (start − expected start), ordered by start (expected start for runs not
    started), then id."""
    frame = flow_runs_frame(rows)
    frame["queued"] = (frame["start_time"] - frame["expected_start_time"]).astype(SPAN)
    return _ordered(frame[list(HISTORY_COLUMNS)])


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    when = frame["start_time"].fillna(frame["expected_start_time"])
    order = pd.DataFrame({"when": when, "id": frame.index}, index=frame.index)
    return frame.loc[order.sort_values(["when", "id"], na_position="last").index]


@dataclass(frozen=True)
class Refreshed:
    """What one `FlowHistory.refresh()` did: runs `added` and `changed` (ids), whether the
    window was read again in full (`reloaded`), and how many rows the server sent."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    reloaded: bool
    rows_read: int


def _strings(value: Any, what: str) -> list[str]:
    values = [value] if isinstance(value, str) else \
        list(value) if isinstance(value, Iterable) else []
    if not values or not all(isinstance(v, str) for v in values):
        raise InvalidRequest(f"{what} takes a string or a non-empty list of strings.")
    return values


def _iso(value: Any, what: str) -> str:
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"{what} must be an ISO 8601 time, got {value!r}.") from None
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise InvalidRequest(f"{what} must be a timezone-aware datetime or ISO 8601 time with "
                             "a zone (e.g. datetime.now(timezone.utc)).")
    return when.isoformat()


def _filter(flow_id: str, since: Any, until: Any, deployment: Any, tags: Any, states: Any
            ) -> dict[str, Any]:
    """The `/flow_runs/filter` body of the window (checked before any request)."""
    runs: dict[str, Any] = {}
    window = {key: _iso(value, name) for key, value, name in
              (("after_", since, "since"), ("before_", until, "until")) if value is not None}
    if window:
        runs["expected_start_time"] = window
    if deployment is not None:
        runs["deployment_id"] = {"any_": [check_uuid(d, "deployment") for d in
                                          _strings(deployment, "deployment")]}
    if tags is not None:
        runs["tags"] = {"all_": _strings(tags, "tags")}
    if states is not None:
        types = [t.upper() for t in _strings(states, "states")]
        unknown = [t for t in types if t not in STATE_TYPES]
        if unknown:
            raise InvalidRequest(f"Unknown state type {unknown[0]!r}; valid: "
                                 f"{', '.join(STATE_TYPES)}.")
        runs["state"] = {"type": {"any_": types}}
    return {"flows": {"id": {"any_": [flow_id]}}, "flow_runs": runs}


class FlowHistory:
    """A flow's runs in a window (`frame`), kept current by `refresh()`.

    `since`/`until` bound the runs' expected start (aware datetimes or ISO strings);
    `deployment` (ids), `tags` (all of them) and `states` (state types) narrow it.
    """

    def __init__(self, flow_id: str, *, since: datetime | str | None = None,
                 until: datetime | str | None = None, deployment: str | Iterable[str] | None
                 = None, tags: str | Iterable[str] | None = None,
                 states: str | Iterable[str] | None = None, client: Client | None = None,
                 slack: timedelta = SLACK) -> None:
        if not isinstance(slack, timedelta) or slack < timedelta(0):
            raise InvalidRequest("slack must be a non-negative timedelta.")
        self.flow_id = check_uuid(flow_id, "flow_id")
        self._body = _filter(self.flow_id, since, until, deployment, tags, states)
        self.client = get_client(client)
        self.slack = slack
        self.frame = self._read_all()

    def _read_all(self) -> pd.DataFrame:
        listing = self.client.run(_ops.export("/flow_runs/filter", {**self._body,
                                              "sort": "ID_DESC"},
                                              count_path="/flow_runs/count"))
        self._rows_read = len(listing.rows)
        return history_frame(listing.rows)

    def _since(self, mark: str) -> list[dict[str, Any]]:
        """Rows a change after `mark` must have touched (one small filter per way)."""
        runs = self._body.get("flow_runs", {})
        window = runs.get("expected_start_time", {})
        after = mark if "after_" not in window else \
            max(pd.Timestamp(mark), pd.Timestamp(window["after_"])).isoformat()
        state = runs.get("state", {})
        arms = [{"expected_start_time": {**window, "after_": after}},
                {"state": {**state, "type": {**state.get("type", {}),
                                             "not_any_": sorted(FINISHED_TYPES)}}}]
        changed = sorted(self.client.run(_state_changes(self.flow_id, mark)))
        arms += [{"id": {"any_": changed[i:i + _ops.PAGE_SIZE]}}
                 for i in range(0, len(changed), _ops.PAGE_SIZE)]
        rows: dict[str, dict[str, Any]] = {}
        for arm in arms:
            body = {**self._body, "flow_runs": {**runs, **arm}, "sort": "ID_DESC"}
            for row in self.client.run(_ops.export("/flow_runs/filter", body)).rows:
                rows.setdefault(row["id"], row)
        return list(rows.values())

    def refresh(self) -> Refreshed:
        """Read the runs that are new or changed since the last read and merge them by id."""
        frame = self.frame
        newest = frame["updated"].max() if len(frame) else None
        if newest is None or pd.isna(newest):
            self.frame = self._read_all()
            return Refreshed(tuple(self.frame.index), (), True, self._rows_read)
        rows = self._since((newest - self.slack).isoformat())
        fresh = history_frame(rows)
        known = fresh.index.isin(frame.index)
        held = frame["updated"].reindex(fresh.index)
        newer = ~known | (fresh["updated"] > held).to_numpy()
        fresh = fresh[newer]
        added = tuple(fresh.index[~fresh.index.isin(frame.index)])
        changed = tuple(fresh.index[fresh.index.isin(frame.index)])
        merged = pd.concat([frame.drop(index=list(changed)), fresh]) if len(fresh) else frame
        counted = self.client.run(_ops.count("/flow_runs/count", self._body))
        if counted != len(merged):
            self.frame = self._read_all()
            return Refreshed(added, changed, True, len(rows) + self._rows_read)
        self.frame = _ordered(merged.astype({
            **HISTORY_COLUMNS, "state_type": state_dtype(merged["state_type"].astype(str))}))
        return Refreshed(added, changed, False, len(rows))

    def to_dataframe(self) -> pd.DataFrame:
        """A copy of the frame."""
        return self.frame.copy()

    def chart(self, **kwargs: Any) -> anywidget.AnyWidget:
        """The history chart (`history_chart.HistoryChart`) of the frame."""
        return provided("HistoryChart")(self.frame, client=self.client, **kwargs)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"FlowHistory(flow_id={self.flow_id!r}, runs={len(self.frame)})"


def _state_changes(flow_id: str, since: str) -> Operation[set[str]]:
    """Ids of the flow's runs with a state-change event at or after `since`."""
    no_events_api = ("The server has no /events/filter endpoint (404): refreshing a history "
                     "needs Prefect's events API; build a new FlowHistory instead.")
    return flow_runs_in_events(since, [FLOW_RUN], related_to=f"prefect.flow.{flow_id}",
                               not_found=no_events_api)


def flow_history(flow_id: str, *, client: Client | None = None, **window: Any) -> FlowHistory:
    """`FlowView.history(...)`: the flow's runs over a window (see `FlowHistory`)."""
    return FlowHistory(flow_id, client=client, **window)

