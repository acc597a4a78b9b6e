"""`FlowRunWidget`: a live anywidget timeline of a flow run's task runs.

The front end (`js/`, built into `static/`) draws a canvas Gantt. Task runs cross the
kernel/browser boundary as binary columns (`_timeline_encoding`). While the run is live, a
background thread follows it: the kernel's one event subscription (`live.RunFeed`) hands it
each task run's new state as Prefect publishes it, drawn within a frame, and every
`reconcile` seconds (at once after a gap in the stream) it catches up through the REST API —
`graph-v2?since=` names the nodes that changed, only those task-run records are read. When
the stream is unavailable it does that every `interval` seconds instead, and says so. Either
way it rebuilds the timeline from the records it holds (so map indices are numbered exactly
as a fresh widget would number them) and sends the changed rows as patches.

A view that renders (a second view, a page reload) asks for a resync: the `timeline` trait
is then re-encoded if patches were sent since it was last set.

Long module: the widget's sync protocol (whole timeline, patches, resync on render, details
on demand, following the stream, polling and settling) is one state machine around one frame
and one lock. The details panel's payload is built in `widget_details` from the rows and
records held here.
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

from ._timeline_encoding import encode_nesting, encode_patch, encode_tags, encode_timeline
from .errors import InvalidRequest, PrefectWidgetsError
from .formatting import shorten
from .live import FeedBatch, RunFeed, newest
from .options import display
from .records import task_runs_frame, timeline_from_tasks, unfinished_mask
from .rundata import graph_nodes_since, subflow_task_rows, task_rows_by_id
from .states import FINISHED_TYPES, STATE_TYPES
from .views import FlowRunView, TaskRunView
from .widget_details import run_details
from .widget_subflows import Nested, Subflows, nest, subflow_of, subflow_row_id

__all__ = ["FlowRunWidget"]

_STATIC = Path(__file__).parent / "static"
_live_widgets: weakref.WeakSet[FlowRunWidget] = weakref.WeakSet()
_FRAME = 0.04  # seconds to gather the stream's events into one update


def _ms(value: datetime | None) -> float | None:
    return value.timestamp() * 1000 if value is not None else None


#: Columns of the wire frame (what a patch carries), compared to find changed rows.
_WIRE = ("task_key", "map_index", "state_type", "start_time", "end_time", "run_count", "kind")


def _encodable(frame: pd.DataFrame) -> pd.DataFrame:
    """The wire rows of a whole timeline frame: task name, map index (-1 = not mapped: the
    task ran once in the flow run), state, times, run count, kind (1 = subflow run)."""
    names = [str(n) for n in frame["task_name"]]
    subflow = (frame["kind"].astype(str) == "subflow-run").to_numpy() \
        if "kind" in frame else np.zeros(len(frame), dtype=bool)
    if "mapped" in frame:  # records' rule: the task ran more than once in the flow run
        single = ~frame["mapped"].to_numpy(bool)
    else:
        sizes = pd.Series(names, dtype=object).map(pd.Series(names, dtype=object).value_counts())
        single = sizes.to_numpy() == 1 if len(names) else np.zeros(0, dtype=bool)
    map_index = pd.array(frame["map_index"], dtype="Int64").fillna(-1).to_numpy("int64")
    map_index[single] = -1
    return pd.DataFrame({
        "task_key": [shorten(name, display.max_text) for name in names],
        "map_index": map_index,
        "state_type": frame["state_type"].astype(str).to_numpy(object),
        "start_time": frame["start_time"], "end_time": frame["end_time"],
        "run_count": frame["run_count"].to_numpy("int64") if "run_count" in frame else 1,
        "kind": subflow.astype("uint8"),
    }, index=frame.index)


#: what `FlowRunWidget(edges=...)` accepts (see the class docstring)
EDGE_MODES = ("auto", "all", "selection", "off")


def _edge_mode(mode: str) -> str:
    if mode not in EDGE_MODES:
        raise InvalidRequest(f"edges={mode!r} is not an edge mode: use one of "
                             f"{', '.join(map(repr, EDGE_MODES))}.")
    return mode


#: edges by downstream row: {to row: {(from row, wire flags)}}
EdgeMap = dict[int, frozenset[tuple[int, int]]]


def _edge_map(edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> EdgeMap:
    by_row: dict[int, set[tuple[int, int]]] = {}
    if edges is not None:
        for up, down, flags in zip(*(column.tolist() for column in edges)):
            by_row.setdefault(down, set()).add((up, flags))
    return {down: frozenset(ups) for down, ups in by_row.items()}


def _edge_arrays(by_row: EdgeMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = sorted((up, down, flags) for down, ups in by_row.items() for up, flags in ups)
    up, down, flags = zip(*edges) if edges else ((), (), ())
    return (np.asarray(up, dtype=np.int64), np.asarray(down, dtype=np.int64),
            np.asarray(flags, dtype=np.uint8))


def _bounded(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with each string cut to `display.max_text` characters."""
    return {k: shorten(v, display.max_text) if isinstance(v, str) else v
            for k, v in fields.items()}


def _changed(fresh: pd.DataFrame, known: pd.DataFrame) -> np.ndarray:
    """Rows of `fresh` (wire frames) that are new or differ from `known`."""
    old = known.reindex(fresh.index)
    same = np.ones(len(fresh), dtype=bool)
    for column in _WIRE:
        a, b = fresh[column].astype(object), old[column].astype(object)
        same &= ((a == b) | (a.isna() & b.isna())).to_numpy(bool)
    return ~same


#: what `FlowRunWidget.row_layout` accepts: "auto" (rows grouped by task where every group's
#: label is readable, else packed), "grouped" (one labelled group of lanes per task name) or
#: "packed" (first fit over all task runs: the fewest rows, no label per row)
LAYOUT_MODES = ("auto", "grouped", "packed")


class FlowRunWidget(anywidget.AnyWidget):
    """A flow run's state, counts and task timeline; live until the run finishes.

    `selected_task_run` is the task run clicked in the timeline (a `TaskRunView`; for a
    subflow run, the parent task run standing for it); `selected_flow_run` is the subflow
    run clicked (a `FlowRunView`), else None. `critical_path=True` (or
    `show_critical_path()`) highlights the critical path.

    `edges`: which dependency edges the timeline draws (`EDGE_MODES`): "auto" (the whole
    run's when it has at most 500 edges, else the hovered or selected task run's), "all",
    "selection" or "off" (`show_edges()` changes it). `inferred_edges=True` (or
    `show_inferred_edges()`) adds the call order as inferred edges, drawn dashed
    (`analytics.dependencies`); the critical path then follows them too.

    `search`: the text of the search box above the timeline (`/` focuses it); task runs whose
    task name, state name or one of whose tags holds it, in any case, stay bright and the
    others are dimmed.

    Subflow runs are bracketed bars with ▸/▾: `expand_subflow(row or id)` (or a click on the
    subflow's label, or Right on the selected subflow) draws the child run's task runs nested
    under it, read once (`widget_subflows`); `collapse_subflow` hides them again.
    `expanded_subflows` lists the expanded ones (saved with the notebook).

    Live updates (see the module docstring): `stream=False` polls every `interval` seconds
    instead of following the event stream; `reconcile` is how often a streaming widget checks
    the REST API all the same; `settle` (default `display.settle_seconds`) how long it goes on
    after the run finished while task runs are still open: those still open then are flagged
    as never finished (`FlowRunView.unfinished_task_runs`). The header says whether it is
    following the stream or polling.
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    header = traitlets.Dict().tag(sync=True)
    timeline = traitlets.Dict().tag(sync=True)
    selected_index = traitlets.Int(-1).tag(sync=True)
    state_filter = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: the details panel of the row clicked last (`run_details`), set on the browser's ask
    details = traitlets.Dict().tag(sync=True)
    #: the shape of the synced state, saved with the notebook: a front end reads formats up
    #: to its own and says why it cannot read a newer one (js/README.md, "Saved notebooks");
    #: 3: dependency edges as varints (`edge_in`/`edge_up`, `_timeline_encoding`)
    format = traitlets.Int(3).tag(sync=True)
    #: the timeline's rows (`LAYOUT_MODES`); the picker above the timeline sets it too
    #: (not `layout`: ipywidgets' DOMWidget.layout is a Layout widget the front end resolves)
    row_layout = traitlets.Unicode("auto").tag(sync=True)
    #: the search box's text: runs whose task name, "name[map index]", state name or a tag holds it
    #: (any case) stay bright, the others are dimmed; "" = no search
    search = traitlets.Unicode("").tag(sync=True)
    #: task run ids of the subflow rows shown expanded (`expand_subflow`): their child runs'
    #: task runs are drawn nested under them; saved with the notebook
    expanded_subflows = traitlets.List(traitlets.Unicode()).tag(sync=True)

    @traitlets.validate("row_layout")
    def _layout_mode(self, proposal: dict[str, Any]) -> str:
        mode = proposal["value"]
        if mode not in LAYOUT_MODES:
            raise InvalidRequest(f"row_layout={mode!r} is not a row layout: use one of "
                                 f"{', '.join(map(repr, LAYOUT_MODES))}.")
        return str(mode)

    def __init__(self, flow_run: FlowRunView | str, live: bool = True,
                 interval: float = 2.0, settle: float | None = None,
                 critical_path: bool = False,
                 attempts: bool = False, edges: str = "auto", inferred_edges: bool = False,
                 stream: bool = True, reconcile: float = 10.0, **kwargs: Any) -> None:
        if isinstance(flow_run, str):
            flow_run = FlowRunView.from_flow_run_id(flow_run)
        elif live and not flow_run.state.is_finished() and flow_run.data.holds("task_rows"):
            flow_run = flow_run.get_latest()  # polling follows from now: start from now
        super().__init__(**kwargs)
        self.flow_run = flow_run
        self.interval = interval
        self.reconcile = reconcile
        self.settle = display.settle_seconds if settle is None else settle
        self._settled_by: float | None = None
        self._synced_at: datetime | None = None  # start of the last successful fetch
        self._lock = threading.RLock()  # the frame: polling thread vs comm messages
        self._rows: dict[str, int] = {}
        self._records: dict[str, dict[str, Any]] = {}  # task-run records, by id
        self._frame = pd.DataFrame()  # the timeline frame, in widget row order
        self._wire = pd.DataFrame()  # its wire rows (_encodable)
        self._trait_current = False  # `timeline` holds every row as the browser has it
        self._keys: list[str] = []
        self._t0: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # the feed's events, a stop: the live loop's turn
        self._thread: threading.Thread | None = None
        self._stream = stream
        self._feed: RunFeed | None = None
        self._subflows_moved = False  # a subflow run's event: refresh at `interval`, not later
        self._critical = critical_path
        self._critical_ids: list[str] | None = None  # of a finished run: computed once
        self._attempts = attempts
        self._gaps: list[tuple[str, Any, Any]] | None = None  # (task run id, gap start, end)
        self._edge_mode = _edge_mode(edges)
        self._inferred = inferred_edges
        self._edges_sent: EdgeMap = {}  # the edges the browser holds
        self._critical_steps: list[str] = []  # the critical path last computed, in order
        self._subflows = Subflows()  # child runs of subflows expanded inline
        self._nested = Nested(self._frame, [], [])  # every row on the wire (widget_subflows)
        self._load_all()
        self._ready = True
        self.on_msg(self._on_message)
        if live and not flow_run.state.is_finished():
            if stream:
                self._feed = RunFeed(flow_run.data.client, flow_run.flow_run_id,
                                     self._wake.set)
            self._thread = threading.Thread(target=self._follow, name="prefect-widgets-live",
                                            daemon=True)
            _live_widgets.add(self)
            self._thread.start()

    # ---- data

    def _graph(self, since: datetime | None = None) -> pd.DataFrame:
        return graph_nodes_since(self.flow_run.data.client, self.flow_run.flow_run_id, since)

    def _set_header(self, error: str | None = None) -> None:
        """The header trait; every string in it cut to `display.max_text` characters."""
        run = self.flow_run
        live = self._thread is not None and not self._stop.is_set() \
            and not run.state.is_finished()
        counts = self._frame["state_type"].astype(str).value_counts() if len(self._frame) else {}
        subflows = int((self._frame["kind"].astype(str) == "subflow-run").sum()) \
            if len(self._frame) else 0
        self.header = _bounded({
            "run_name": run.name, "flow_name": self._flow_name(), "state_type": run.state.type,
            "state_name": run.state.name, "state_message": run.state.message,
            "start_ms": _ms(run.start_time), "end_ms": _ms(run.end_time), "ui_url": run.ui_url,
            "counts": {str(k): int(v) for k, v in dict(counts).items()},
            "task_runs": len(self._frame) - subflows, "subflow_runs": subflows,
            "unfinished": int(unfinished_mask(self._frame["state_type"] if len(self._frame)
                                              else [], run.state, run.end_time,
                                              settle=self.settle).sum()),
            "live": live, **self._live_via(live), "error": error,
        })

    def _live_via(self, live: bool) -> dict[str, str]:
        """How the live widget learns of changes: the event stream, or polling and why."""
        if not live:
            return {"live_via": "", "live_reason": ""}
        if self._feed is None:
            return {"live_via": "polling", "live_reason": "stream=False"}
        status = self._feed.status
        if status.state == "streaming":
            return {"live_via": "stream", "live_reason": ""}
        return {"live_via": "polling", "live_reason": status.reason or (
            "connecting to the event stream" if status.state == "connecting"
            else f"the event stream is {status.state}")}

    def _flow_name(self) -> str:
        try:
            return self.flow_run.flow.name
        except PrefectWidgetsError:
            return ""

    def _load_all(self) -> None:
        """Read the snapshot's whole timeline (`flow_run.data`) and send it as the trait."""
        started = datetime.now(timezone.utc)
        data = self.flow_run.data
        rows = data.task_rows(progress=False)
        frame = data.timeline(progress=False)
        if self.expanded_subflows:
            self._subflows.ensure(frame, self.expanded_subflows, self.flow_run)
        with self._lock:
            selected = self._selected_id()
            self._synced_at = started
            self._records = {str(r["id"]): r for r in rows}
            self._frame = frame
            self._wire = _encodable(frame)
            self._rows = {task_id: i for i, task_id in enumerate(frame.index)}
            error = None
            try:
                self._encode()
            except PrefectWidgetsError as exc:  # e.g. a dependency cycle: show the run anyway
                self._critical = False
                self._encode()
                error = f"No critical path: {exc}"
            if selected is not None:  # the same task run stays selected when rows reorder
                self._reselect(selected)
            self._set_header(error)

    def _selected_id(self) -> str | None:
        rows = self._nested.frame
        if 0 <= self.selected_index < len(rows):
            return str(rows.index[self.selected_index])
        return None

    def _encode(self) -> None:
        """Set the `timeline` trait to every row (views replace what they hold)."""
        with self._lock:
            mask = self._critical_mask() if self._critical else None
            edges = self._edge_columns()
            nested = self._nested = nest(self._frame, self.expanded_subflows,
                                         self._subflows.children)
            wire, records = self._wire, self._records
            if nested.blocks:  # expanded subflows: their child runs' rows follow
                wire = pd.concat([wire, *(_encodable(c.frame) for _, c in nested.blocks)])
                records = {**records, **{k: v for _, c in nested.blocks
                                         for k, v in c.records.items()}}
                if mask is not None:
                    mask = np.concatenate([mask, np.zeros(len(wire) - len(mask), dtype=bool)])
            encoded = encode_timeline(wire, highlight=mask, edges=edges)
            encoded["edge_mode"] = self._edge_mode
            encoded.update(encode_tags([records.get(str(task_id), {}).get("tags")
                                        for task_id in nested.frame.index]))
            encoded.update(encode_nesting(nested.parent, nested.expanded))
            self._edges_sent = _edge_map(edges)
            self._keys, self._t0 = list(encoded["keys"]), encoded["t0"]
            if self._attempts:
                encoded["gaps"] = self._encoded_gaps(encoded["t0"])
            self.timeline = encoded
            self._trait_current = True

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
            "row": np.array([r for r, _, _ in known], dtype="<i4").data,
            "start": np.array([e.timestamp() * 1000 - t0 for _, e, _ in known],
                              dtype="<f4").data,
            "end": np.array([s.timestamp() * 1000 - t0 for _, _, s in known], dtype="<f4").data,
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
                                            until=_run_until(run), run_start=run.start_time,
                                            inferred=self._inferred)
            ids = path["task_run_id"].astype(str).tolist()  # in path order: its edges
            if run.state.is_finished():
                self._critical_ids = ids
        self._critical_steps = ids
        return self._frame.index.astype(str).isin(list(ids))

    def _edge_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The dependency edges as (from rows, to rows, wire flags), None when edges are
        off: recorded ones, inferred ones when asked, the critical path's flagged."""
        if self._edge_mode == "off" or not len(self._frame):
            return None
        from ._timeline_encoding import EDGE_CRITICAL, EDGE_INFERRED
        from .analytics.dependencies import edge_rows

        up, down, inferred = edge_rows(self._frame, inferred=self._inferred)
        flags = np.where(inferred, EDGE_INFERRED, 0).astype(np.uint8)
        pairs = self._critical_pairs()
        if pairs:
            on_path = [(u, d) in pairs for u, d in zip(up.tolist(), down.tolist())]
            flags |= np.where(on_path, EDGE_CRITICAL, 0).astype(np.uint8)
        return up, down, flags

    def _critical_pairs(self) -> set[tuple[int | None, int | None]]:
        """(from row, to row) of the critical path's steps, when it is shown."""
        steps = self._critical_steps if self._critical else []
        return {(self._rows.get(a), self._rows.get(b)) for a, b in zip(steps, steps[1:])}

    def _recorded_edges(self, down: int, critical: set[tuple[int | None, int | None]]
                        ) -> frozenset[tuple[int, int]]:
        """Row `down`'s recorded upstream edges, (from row, wire flags) (`edge_rows`'s
        rule: upstreams outside the frame left out)."""
        from ._timeline_encoding import EDGE_CRITICAL

        ups = self._frame["upstream_task_run_ids"].iloc[down]
        if not isinstance(ups, (list, tuple, np.ndarray)):
            return frozenset()
        rows = {self._rows.get(str(u)) for u in ups}
        return frozenset((up, EDGE_CRITICAL if (up, down) in critical else 0)
                         for up in rows if up is not None)

    def _edge_delta(self, touched: set[int]
                    ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, bool]:
        """The edges a patch carries: (the new ones, False), or (all of them, True) when one
        went away or changed its flags; (None, False) when none changed.

        `touched`: the only rows whose recorded upstreams can have changed (their record
        changed, or an upstream of theirs appeared); only their edges are recomputed, unless
        inferred edges are on (their rule reads every row's times): then all edges are."""
        known = self._edges_sent
        if self._inferred or self._edge_mode == "off":
            fresh = _edge_map(self._edge_columns())
            rows: set[int] = set(fresh) | set(known)
        else:
            fresh, rows, critical = dict(known), touched, self._critical_pairs()
            for down in touched:
                fresh[down] = self._recorded_edges(down, critical)
                if not fresh[down]:
                    del fresh[down]
        nothing: frozenset[tuple[int, int]] = frozenset()
        moved = [d for d in rows if fresh.get(d, nothing) != known.get(d, nothing)]
        self._edges_sent = fresh
        if not moved:
            return None, False
        if all(known.get(d, nothing) <= fresh.get(d, nothing) for d in moved):
            return _edge_arrays({d: fresh[d] - known.get(d, nothing) for d in moved}), False
        return _edge_arrays(fresh), True

    def show_edges(self, mode: str = "auto") -> None:
        """Which dependency edges the timeline draws: "auto", "all", "selection" or "off"
        (see the class docstring)."""
        self._edge_mode = _edge_mode(mode)
        self._encode()

    def show_inferred_edges(self, on: bool = True) -> None:
        """Add (or, `on=False`, remove) the call order as inferred edges, drawn dashed: for
        task runs that record no upstream, the task run that ended last before they started
        while nothing else ran (`analytics.dependencies`). The critical path follows them."""
        self._inferred = on
        self._critical_ids = None
        self._encode()

    def show_critical_path(self, on: bool = True) -> None:
        """Highlight the critical path's task runs in the timeline (the others are dimmed);
        `on=False` removes the highlight. While the run is going the path is computed now
        (one export of its task runs) and not followed by live updates: call again."""
        self._critical = on
        self._encode()

    def _stale_ids(self, nodes: pd.DataFrame) -> tuple[list[str], bool]:
        """From changed graph nodes: task runs whose records must be read again, and
        whether a subflow run unknown so far appeared (its parent task run is new).

        A "flow-run" node is a subflow run: its row is the task run whose
        `child_flow_run_id` is the node's id."""
        frame = self._frame
        by_child = {str(c): str(t) for t, c in zip(frame.index, frame["child_flow_run_id"])
                    if isinstance(c, str) and c} if len(frame) else {}
        subflow = (nodes["kind"] == "flow-run").to_numpy(bool)
        ids = [by_child.get(str(i), "") if sub else str(i)
               for i, sub in zip(nodes.index, subflow)]
        new_subflow = any(sub and not i for i, sub in zip(ids, subflow))
        known = frame.reindex(ids) if len(frame) else None
        wanted: list[str] = []
        if known is None:
            return [i for i in ids if i], new_subflow
        state = nodes["state_type"].astype(str).to_numpy(object)
        differs = (state != known["state_type"].astype(str).to_numpy(object)) | (state == "RUNNING")
        for column in ("start_time", "end_time"):  # task-run nodes: the record's own times
            a, b = nodes[column].astype(object).to_numpy(), known[column].astype(object).to_numpy()
            same = (a == b) | (pd.isna(a) & pd.isna(b))
            differs |= ~same & ~subflow
        ended = nodes["end_time"].notna().to_numpy() & known["end_time"].isna().to_numpy()
        differs |= ended  # a subflow run's parent task run ends with it
        for task_id, stale in zip(ids, differs):
            if task_id and (stale or task_id not in self._rows):
                wanted.append(task_id)
        return list(dict.fromkeys(wanted)), new_subflow

    def _merge(self, rows: list[dict[str, Any]]) -> None:
        """Merge task-run records, rebuild the timeline from all records held (map indices
        as a fresh widget numbers them) and send every row that changed as a patch."""
        rows = newest(self._records, rows)  # a lagging REST read never moves a bar back
        if not rows:
            return
        fresh = timeline_from_tasks(task_runs_frame(list(self._records.values())))
        order = list(self._rows) + [i for i in fresh.index if i not in self._rows]
        fresh = fresh.loc[order]
        wire = _encodable(fresh)
        changed = _changed(wire, self._wire)
        old_n = len(self._rows)
        for task_id in order[old_n:]:
            self._rows[task_id] = len(self._rows)
        self._frame, self._wire = fresh, wire
        # only these rows' recorded edges can change: merged records, and the downstreams
        # (already held) of task runs new here
        touched = {self._rows[str(row["id"])] for row in rows if str(row["id"]) in self._rows}
        touched.update(self._rows[d] for ups in fresh["downstream_task_run_ids"].iloc[old_n:]
                       for d in ups if d in self._rows)
        edges, replace_edges = self._edge_delta(touched)
        if not changed.any() and edges is None:
            return
        if self._nested.blocks:  # nested rows follow the run's own: new rows move them
            self._encode()
            return
        patch = wire[changed]
        patch.insert(0, "index", [self._rows[i] for i in patch.index])
        msg, buffers = encode_patch(old_n, patch, t0=self._t0, keys=self._keys, edges=edges,
                                    replace_edges=replace_edges)
        self._keys, self._t0 = list(msg["keys"]), msg["t0"]
        self._trait_current = False
        self.send(msg, buffers)

    def refresh(self) -> None:
        """Fetch what changed since the last refresh and update the widget.

        Once the flow run is finished, refreshing goes on briefly (`settle` seconds) until
        the server has recorded its task runs' final states, then stops for good.
        """
        # Relative to the last successful fetch, not to now: after an outage or a long
        # back-off, nodes that ended meanwhile must still come back.
        started = datetime.now(timezone.utc)
        self._subflows_moved = False
        margin = timedelta(seconds=max(5.0, 3 * self.interval))
        since = (self._synced_at or started) - margin
        latest = self.flow_run.get_latest()
        client = latest.data.client
        nodes = self._graph(since)
        with self._lock:
            wanted, new_subflow = self._stale_ids(nodes)
            if latest.state.is_finished():  # settling: re-read what is still open
                open_rows = ~self._frame["state_type"].astype(str).isin(FINISHED_TYPES) \
                    if len(self._frame) else pd.Series([], dtype=bool)
                wanted += [str(i) for i in self._frame.index[open_rows.to_numpy(bool)]]
        rows = task_rows_by_id(client, wanted) if wanted else []
        if new_subflow:
            rows += subflow_task_rows(client, latest.flow_run_id)
        children_changed = self._subflows.refresh(self.expanded_subflows)
        settled = gave_up = False
        with self._lock:
            self.flow_run = latest
            self._merge(rows)
            if children_changed:
                self._encode()
            self._synced_at = started
            if latest.state.is_finished():
                if self._settled_by is None:
                    self._settled_by = time.monotonic() + self.settle
                open_rows = ~self._frame["state_type"].astype(str).isin(FINISHED_TYPES)
                gave_up = time.monotonic() > self._settled_by
                settled = gave_up or not open_rows.any()
            held = len(self._frame)
        if settled and not gave_up:  # the stream runs ahead of the server's records
            settled = self._server_recorded(held)
        with self._lock:
            if settled:
                self._stop.set()
                self._load_all()  # the saved notebook keeps the final, complete picture
            self._set_header()

    def _server_recorded(self, rows: int) -> bool:
        """Whether the server holds `rows` task runs of the run, every one finished (it
        writes them from the same events the stream brought, seconds later under load)."""
        run, client = self.flow_run.flow_run_id, self.flow_run.data.client
        open_types = sorted(set(STATE_TYPES) - FINISHED_TYPES)
        return TaskRunView.count(flow_run_id=run, client=client) >= rows and \
            TaskRunView.count(flow_run_id=run, state_type=open_types, client=client) == 0

    def _apply(self, batch: FeedBatch) -> None:
        """Draw what the stream brought: task-run records, and the flow run read again when
        it changed state (subflow runs of new rows are followed too)."""
        latest = self.flow_run.get_latest() if batch.flow_run_changed else None
        self._subflows_moved |= batch.subflows_changed  # read at the pace of polling
        with self._lock:
            if latest is not None:
                self.flow_run = latest
            self._merge(batch.records)
            if self._feed is not None and len(self._frame):
                children = self._frame["child_flow_run_id"].dropna()
                self._feed.watch(*map(str, children))
            self._set_header(error=self.header.get("error"))  # a refresh's error stands

    def _follow(self) -> None:
        """The live loop: a full `refresh()` every `reconcile` seconds while the stream is up
        (at once after a gap in it), else every `interval` seconds (backing off after errors,
        settling once the run finished); between those, the stream's records are drawn as
        they arrive, gathered for one frame."""
        from .polling import Poll

        pace = Poll(self.interval, maximum=30.0, stop=self._stop)
        last = time.monotonic()  # the last full refresh: the widget was loaded just now
        try:
            while not self._stop.is_set():
                feed = self._feed
                streaming = feed is not None and feed.streaming \
                    and not self.flow_run.state.is_finished()
                due = last + (self.reconcile if streaming and not self._subflows_moved
                              else pace.delay)
                self._wake.wait(max(0.0, due - time.monotonic()))
                self._wake.clear()
                if streaming and time.monotonic() < due:
                    self._stop.wait(_FRAME)  # gather what else arrives meanwhile
                if self._stop.is_set():
                    break
                batch = feed.take() if feed is not None else FeedBatch()
                try:
                    if not batch.resumed and time.monotonic() < due:
                        self._apply(batch)  # events, or the stream's status changed
                        continue
                    with self._lock:  # the stream's news first: the REST API lags it
                        self._merge(batch.records)
                    self.refresh()
                    pace.succeeded()
                except PrefectWidgetsError as exc:
                    self._set_header(error=f"{exc} Retrying in {pace.failed():.0f} s.")
                last = time.monotonic()
        except Exception as exc:  # a closed comm or kernel shutdown ends live updates
            if not self._stop.is_set():
                self._set_header(error=f"Live updates stopped: {exc}")
        finally:
            self._stop.set()
            if self._feed is not None:
                self._feed.close()

    # ---- interaction

    def _selected_row(self) -> tuple[str, str | None] | None:
        """(task run id, child flow run id or None) of the selected row."""
        with self._lock:
            index = self.selected_index
            if index < 0 or index >= len(self._nested.frame):
                return None
            return self._row(index)

    def _row(self, index: int) -> tuple[str, str | None]:
        rows = self._nested.frame
        return str(rows.index[index]), subflow_of(rows, index)

    @property
    def selected_task_run(self) -> TaskRunView | None:
        """The task run selected in the timeline, fetched by id (for a subflow run: the
        parent task run that stands for it)."""
        row = self._selected_row()
        if row is None:
            return None
        return TaskRunView.from_task_run_id(row[0], client=self.flow_run.client)

    @property
    def selected_flow_run(self) -> FlowRunView | None:
        """The subflow run selected in the timeline (its own `FlowRunView`), else None."""
        row = self._selected_row()
        if row is None or row[1] is None:
            return None
        return FlowRunView.from_flow_run_id(row[1], client=self.flow_run.client)

    def _on_message(self, _: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("type")
        if kind == "resync":  # a view rendered: make sure the trait holds every row
            with self._lock:
                if not self._trait_current:
                    self._encode()
            return
        if kind == "subflow":  # the gutter or a key expanded or collapsed a subflow row
            try:
                (self.expand_subflow if content.get("expand") else self.collapse_subflow)(
                    int(content.get("index", -1)))
            except PrefectWidgetsError as exc:
                self._set_header(error=f"Could not expand the subflow: {exc}")
            return
        if kind != "details":
            return
        index = int(content.get("index", -1))
        with self._lock:
            nested = self._nested
            if not 0 <= index < len(nested.frame):
                return
            frame, wire, records = self._frame, self._wire, dict(self._records)
        block = nested.locate(index)
        if block is None:
            self.details = run_details(self.flow_run, frame, wire, records, index)
            return
        base, child = block
        details = run_details(child.view, child.frame, _encodable(child.frame), child.records,
                              index - base)
        for link in details["upstream"] + details["downstream"]:
            if link["index"] >= 0:  # rows of the child run sit `base` rows further on
                link["index"] += base
        self.details = {**details, "index": index}

    # ---- subflows expanded inline

    def expand_subflow(self, subflow: int | str) -> None:
        """Show a subflow run's task runs nested under its row, indented, with the child
        run's own task groups (read once; nested subflows expand the same way). `subflow`:
        the row index, the task run id standing for the subflow run, or its flow run id."""
        task_id = self._subflow_row(subflow)
        if task_id not in self.expanded_subflows:
            self.expanded_subflows = [*self.expanded_subflows, task_id]

    def collapse_subflow(self, subflow: int | str) -> None:
        """Hide a subflow run's nested task runs again (`expand_subflow` shows them)."""
        task_id = self._subflow_row(subflow)
        self.expanded_subflows = [i for i in self.expanded_subflows if i != task_id]

    def _subflow_row(self, subflow: int | str) -> str:
        with self._lock:
            return subflow_row_id(self._nested.frame, subflow)

    @traitlets.observe("expanded_subflows")
    def _expanded_changed(self, _: dict[str, Any]) -> None:
        if not getattr(self, "_ready", False):  # set in __init__: _load_all reads them
            return
        self._subflows.ensure(self._frame, self.expanded_subflows, self.flow_run)
        with self._lock:
            selected = self._selected_id()
            self._encode()
            if selected is not None:
                self._reselect(selected)

    def _reselect(self, task_run_id: str) -> None:
        """Keep the task run `task_run_id` selected after rows moved (-1 when not shown)."""
        rows = self._nested.frame.index.astype(str)
        hits = np.flatnonzero(rows == task_run_id)
        self.selected_index = int(hits[0]) if len(hits) else -1

    @property
    def is_polling(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop live updates and wait for the live thread to end (its event feed closed)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        self.stop()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        from .html import flow_run_html, plain_text

        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if isinstance(data, dict):
            try:
                data["text/html"] = flow_run_html(self.flow_run)
            except PrefectWidgetsError:
                pass
            data["text/plain"] = plain_text(self.flow_run)
        return bundle


def _same_time(a: Any, b: Any) -> bool:
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return bool(a == b)


def stop_all() -> None:
    """Stop every live widget's polling (called at interpreter exit)."""
    for widget in list(_live_widgets):
        widget.stop(timeout=2)


atexit.register(stop_all)
