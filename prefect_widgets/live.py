"""A live run's updates from the kernel's one event subscription (`event_hub`).

Prefect's client sends the whole task run with each of its state changes (the server writes
its task-run records from those same events, seconds later under load), so a
`prefect.task-run.*` event is turned here into the record the REST API will serve
(`task_record_from_event`) and a live view draws it at once. The stream is a hint: a view
still reconciles through the REST API, and `newest` keeps, per task run, the record whose
state is the latest, so a lagging REST read never moves a bar back.

`RunFeed` is one live view's subscription: it collects what arrived for its flow runs,
wakes the view, and says whether the stream is up (`status`) or the view must poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._parse import parse_datetime
from .client import Client
from .errors import BadResponse
from .event_hub import HubStatus, Item, shared_hub
from .event_stream import StreamEvent

__all__ = ["RunFeed", "FeedBatch", "task_record_from_event", "newest"]

_TASK_RUN, _FLOW_RUN = "prefect.task-run.", "prefect.flow-run."


def task_record_from_event(event: StreamEvent) -> dict[str, Any] | None:
    """The task-run record (as `POST /task_runs/filter` shapes it) that a task run's state
    event carries; None for other events and for events without a task run."""
    if not event.resource_id.startswith(_TASK_RUN):
        return None
    run, state = event.payload.get("task_run"), event.payload.get("validated_state")
    if not isinstance(run, dict) or not isinstance(state, dict) or not state.get("type"):
        return None
    task_run_id = event.resource_id[len(_TASK_RUN):]
    flow_run_id = next((r[len(_FLOW_RUN):] for r in event.related_ids
                        if r.startswith(_FLOW_RUN)), None)
    details = dict(state.get("state_details") or {})
    details.update(task_run_id=task_run_id, flow_run_id=flow_run_id)
    stamp = event.occurred.isoformat() if event.occurred else None
    return {**run, "id": task_run_id, "flow_run_id": flow_run_id,
            "state_type": state["type"], "state_name": state.get("name"),
            "state": {"type": state["type"], "name": state.get("name"),
                      "message": state.get("message"), "timestamp": stamp,
                      "state_details": details}}


def _state_time(record: dict[str, Any]) -> datetime | None:
    state = record.get("state")
    try:
        return parse_datetime(state.get("timestamp")) if isinstance(state, dict) else None
    except BadResponse:
        return None


def newest(held: dict[str, dict[str, Any]], records: Iterable[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """Merge `records` into `held` (by id), keeping per task run the one whose state is the
    latest (on a tie, the one read last: a REST record over the event it was written from).
    Returns the records that were taken."""
    taken = []
    for record in records:
        task_run_id = str(record["id"])
        old = held.get(task_run_id)
        if old is not None:
            new_time, old_time = _state_time(record), _state_time(old)
            if new_time is not None and old_time is not None and new_time < old_time:
                continue
        held[task_run_id] = record
        taken.append(record)
    return taken


@dataclass
class FeedBatch:
    """What arrived since the last `RunFeed.take()`: the run's task-run `records`, whether the
    flow run itself changed state, whether a watched subflow run (or one of its task runs)
    did, and whether the stream came back after a gap (catch up through the REST API before
    trusting it again)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    flow_run_changed: bool = False
    subflows_changed: bool = False
    resumed: bool = False


class RunFeed:
    """One live view's share of the kernel's event subscription: the events of `flow_run_id`
    (and of the flow runs added with `watch`, e.g. subflow runs) are kept for `take()`, and
    `wake()` is called on each (the view coalesces). `streaming` says whether the stream is
    up; otherwise the view polls. Close it when the view stops."""

    def __init__(self, client: Client, flow_run_id: str, wake: Callable[[], None]) -> None:
        self.flow_run_id = flow_run_id
        self._wake = wake
        self._lock = threading.Lock()
        self._batch = FeedBatch()
        self._watched = {flow_run_id}
        self._subscription = shared_hub(client).subscribe([flow_run_id], self._on_item,
                                                          self._on_status)

    def __repr__(self) -> str:
        return f"<RunFeed {self.flow_run_id} {self.status.state}>"

    @property
    def status(self) -> HubStatus:
        return self._subscription.status

    @property
    def streaming(self) -> bool:
        return self.status.state == "streaming"

    def watch(self, *flow_run_ids: str) -> None:
        """Also follow these flow runs (subflow runs found later)."""
        new = [i for i in flow_run_ids if i and i not in self._watched]
        if new:
            self._watched.update(new)
            self._subscription.watch(*new)

    def take(self) -> FeedBatch:
        """What arrived since the last call."""
        with self._lock:
            batch, self._batch = self._batch, FeedBatch()
        return batch

    def close(self) -> None:
        self._subscription.close()

    def _on_item(self, item: Item) -> None:
        if not isinstance(item, StreamEvent):
            return
        record = task_record_from_event(item)
        with self._lock:
            if record is not None and record["flow_run_id"] == self.flow_run_id:
                self._batch.records.append(record)
            elif item.resource_id == _FLOW_RUN + self.flow_run_id:
                self._batch.flow_run_changed = True
            else:  # the hub routes only the watched runs' events: a subflow run's
                self._batch.subflows_changed = True
        self._wake()

    def _on_status(self, status: HubStatus) -> None:
        if status.resumed:
            with self._lock:
                self._batch.resumed = True
        self._wake()
