"""`FlowRunWidget`: a live anywidget timeline of a flow run's task runs.

The front end (`js/`, built into `static/`) draws a canvas Gantt. Task runs cross the
kernel/browser boundary as binary columns (`_timeline_encoding`); while the run is live,
a background thread polls `graph-v2?since=` and sends only changed rows as patches.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from . import _ops
from ._timeline_encoding import encode_patch, encode_timeline
from .client import get_client
from .dataframes import graph_frame
from .errors import PrefectWidgetsError
from .states import FINISHED_TYPES
from .views import FlowRunView, TaskRunView

__all__ = ["FlowRunWidget"]

_STATIC = Path(__file__).parent / "static"
_live_widgets: weakref.WeakSet[FlowRunWidget] = weakref.WeakSet()


def _ms(value: datetime | None) -> float | None:
    return value.timestamp() * 1000 if value is not None else None


def _encodable(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "task_key": frame["task_name"], "map_index": frame["map_index"],
        "state_type": frame["state_type"].astype(str), "start_time": frame["start_time"],
        "end_time": frame["end_time"],
        "run_count": frame["run_count"] if "run_count" in frame else 1,
    }, index=frame.index)


class FlowRunWidget(anywidget.AnyWidget):
    """A flow run's state, counts and task timeline; live until the run finishes.

    `selected_task_run` is the task run clicked in the timeline (a `TaskRunView`).
    `critical_path=True` (or `show_critical_path()`) highlights the critical path.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    header = traitlets.Dict().tag(sync=True)
    timeline = traitlets.Dict().tag(sync=True)
    selected_index = traitlets.Int(-1).tag(sync=True)
    state_filter = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, flow_run: FlowRunView | str, live: bool = True,
                 interval: float = 2.0, settle: float = 15.0, critical_path: bool = False,
                 attempts: bool = False, **kwargs: Any) -> None:
        if isinstance(flow_run, str):
            flow_run = FlowRunView.from_flow_run_id(flow_run)
        super().__init__(**kwargs)
        self.flow_run = flow_run
        self.interval = interval
        self.settle = settle
        self._settled_by: float | None = None
        self._synced_at: datetime | None = None  # start of the last successful fetch
        self._rows: dict[str, int] = {}
        self._frame = pd.DataFrame()
        self._keys: list[str] = []
        self._t0: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._critical = critical_path
        self._critical_ids: set[str] | None = None  # of a finished run: computed once
        self._attempts = attempts
        self._gaps: list[tuple[str, Any, Any]] | None = None  # (task run id, gap start, end)
        self._load_all()
        self.on_msg(self._on_message)
        if live and not flow_run.state.is_finished():
            self._thread = threading.Thread(target=self._poll, name="prefect-widgets-poll",
                                            daemon=True)
            _live_widgets.add(self)
            self._thread.start()

    # ---- data

    def _graph(self, since: datetime | None = None) -> pd.DataFrame:
        params = {"since": since.isoformat()} if since else None
        graph = get_client(self.flow_run.client).run(_ops.get(
            f"/flow_runs/{self.flow_run.flow_run_id}/graph-v2",
            f"Flow run {self.flow_run.flow_run_id} not found.", params))
        return graph_frame(graph)

    def _timeline_frame(self) -> pd.DataFrame:
        return self.flow_run.to_dataframe(columns="timeline", progress=False)

    def _set_header(self, error: str | None = None) -> None:
        run = self.flow_run
        counts = self._frame["state_type"].astype(str).value_counts() if len(self._frame) else {}
        self.header = {
            "run_name": run.name, "flow_name": self._flow_name(), "state_type": run.state.type,
            "state_name": run.state.name, "state_message": run.state.message,
            "start_ms": _ms(run.start_time), "end_ms": _ms(run.end_time), "ui_url": run.ui_url,
            "counts": {str(k): int(v) for k, v in dict(counts).items()},
            "live": self._thread is not None and not self._stop.is_set()
            and not run.state.is_finished(),
            "error": error,
        }

    def _flow_name(self) -> str:
        try:
            return self.flow_run.flow.name
        except PrefectWidgetsError:
            return ""

    def _load_all(self) -> None:
        started = datetime.now(timezone.utc)
        frame = self._timeline_frame()
        self._synced_at = started
        self._frame = frame
        self._rows = {task_id: i for i, task_id in enumerate(frame.index)}
        error = None
        try:
            self._encode()
        except PrefectWidgetsError as exc:  # e.g. a dependency cycle: show the run anyway
            self._critical = False
            self._encode()
            error = f"No critical path: {exc}"
        self._set_header(error)

    def _encode(self) -> None:
        mask = self._critical_mask() if self._critical else None
        encoded = encode_timeline(_encodable(self._frame), highlight=mask)
        self._keys, self._t0 = list(encoded["keys"]), encoded["t0"]
        if self._attempts:
            encoded["gaps"] = self._encoded_gaps(encoded["t0"])
        self.timeline = encoded

    def _encoded_gaps(self, t0: float) -> dict[str, Any]:
        """The idle time between a retried task run's attempts, as binary columns:
        `row` (int32 timeline row), `start`/`end` (float32 ms offsets from t0)."""
        from .analytics import attempts_frame

        if self._gaps is None:
            attempts = attempts_frame(self.flow_run).sort_values(["task_run_id", "attempt"])
            gaps = []
            for task_id, group in attempts.groupby("task_run_id", sort=False):
                ends, starts = group["end"].iloc[:-1], group["start"].iloc[1:]
                gaps += [(str(task_id), e, s) for e, s in zip(ends, starts)
                         if pd.notna(e) and pd.notna(s) and s > e]
            self._gaps = gaps
        known = [(self._rows[t], e, s) for t, e, s in self._gaps if t in self._rows]
        return {
            "n": len(known),
            "row": memoryview(np.array([r for r, _, _ in known], dtype="<i4")),
            "start": memoryview(np.array([e.timestamp() * 1000 - t0 for _, e, _ in known],
                                         dtype="<f4")),
            "end": memoryview(np.array([s.timestamp() * 1000 - t0 for _, _, s in known],
                                       dtype="<f4")),
        }

    def show_attempts(self, on: bool = True) -> None:
        """Cut the idle time between attempts out of retried task runs' bars (their state
        histories are read once, only for task runs that ran more than once)."""
        self._attempts = on
        self._encode()

    def _critical_mask(self) -> Any:
        """Rows on the critical path, from the full task-run frame (one paged export):
        kept for a finished run, computed afresh each time while the run is going."""
        from .analytics import _run_until, critical_path_from_frame

        ids = self._critical_ids
        if ids is None:
            run = self.flow_run
            path = critical_path_from_frame(self.flow_run.to_dataframe(progress=False),
                                            until=_run_until(run), run_start=run.start_time)
            ids = set(path["task_run_id"].astype(str))
            if run.state.is_finished():
                self._critical_ids = ids
        return self._frame.index.astype(str).isin(list(ids))

    def show_critical_path(self, on: bool = True) -> None:
        """Highlight the critical path's task runs in the timeline (the others are dimmed);
        `on=False` removes the highlight. While the run is going the path is computed now
        (one export of its task runs) and not followed by live updates: call again."""
        self._critical = on
        self._encode()

    def _apply(self, changed: pd.DataFrame) -> None:
        """Merge changed/new rows into the frame and send them to the browser as a patch."""
        if changed.empty:
            return
        old_n = len(self._rows)
        fresh = changed[~changed.index.isin(self._rows)]
        for task_id in fresh.index:
            self._rows[task_id] = len(self._rows)
        self._frame = pd.concat([self._frame.drop(index=changed.index, errors="ignore"), changed])
        self._frame = self._frame.loc[sorted(self._rows, key=self._rows.get)]
        rows = _encodable(changed)
        rows.insert(0, "index", [self._rows[i] for i in changed.index])
        msg, buffers = encode_patch(old_n, rows, t0=self._t0, keys=self._keys)
        self._keys, self._t0 = list(msg["keys"]), msg["t0"]
        self.send(msg, buffers)

    def refresh(self) -> None:
        """Fetch what changed since the last refresh and update the widget.

        Once the flow run is finished, refreshing goes on briefly (`settle` seconds) until
        the server has recorded its task runs' final states, then stops for good.
        """
        # Relative to the last successful fetch, not to now: after an outage or a long
        # back-off, nodes that ended meanwhile must still come back.
        started = datetime.now(timezone.utc)
        margin = timedelta(seconds=max(5.0, 3 * self.interval))
        since = (self._synced_at or started) - margin
        self.flow_run = self.flow_run.get_latest()
        self._apply(self._graph(since))
        self._synced_at = started
        if self.flow_run.state.is_finished():
            if self._settled_by is None:
                self._settled_by = time.monotonic() + self.settle
            open_rows = ~self._frame["state_type"].astype(str).isin(FINISHED_TYPES)
            if not open_rows.any() or time.monotonic() > self._settled_by:
                self._stop.set()
                self._load_all()  # the saved notebook keeps the final, complete picture
        self._set_header()

    def _poll(self) -> None:
        delay = self.interval
        while not self._stop.wait(delay):
            try:
                self.refresh()
                delay = self.interval
            except PrefectWidgetsError as exc:
                delay = min(30.0, delay * 2)
                self._set_header(error=f"{exc} Retrying in {delay:.0f} s.")
            except Exception as exc:  # a closed comm or kernel shutdown ends polling
                if self._stop.is_set():
                    break
                self._set_header(error=f"Live updates stopped: {exc}")
                break
        self._stop.set()

    # ---- interaction

    @property
    def selected_task_run(self) -> TaskRunView | None:
        """The task run selected in the timeline, fetched by id."""
        if self.selected_index < 0 or self.selected_index >= len(self._frame):
            return None
        task_id = self._frame.index[self.selected_index]
        return TaskRunView.from_task_run_id(task_id, client=self.flow_run.client)

    def _on_message(self, _: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        if content.get("type") != "details":
            return
        index = int(content.get("index", -1))
        if not 0 <= index < len(self._frame):
            return
        task_id = self._frame.index[index]
        fields: dict[str, Any] = {"id": task_id}
        try:
            task = TaskRunView.from_task_run_id(task_id, client=self.flow_run.client)
            fields.update(name=task.name, state=task.state.name,
                          message=task.state.message or "", run_count=task.run_count,
                          start=str(task.start_time or ""), end=str(task.end_time or ""),
                          duration=str(task.duration or ""), tags=", ".join(task.tags))
        except PrefectWidgetsError as exc:
            fields["error"] = str(exc)
        self.send({"type": "details", "index": index, "fields": fields})

    @property
    def is_polling(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop live updates and wait for the polling thread to end."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        self.stop()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        from .html import flow_run_html

        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            try:
                data["text/html"] = flow_run_html(self.flow_run)
            except PrefectWidgetsError:
                pass
            data["text/plain"] = repr(self.flow_run)
        return bundle


def stop_all() -> None:
    """Stop every live widget's polling (called at interpreter exit)."""
    for widget in list(_live_widgets):
        widget.stop(timeout=2)


atexit.register(stop_all)
