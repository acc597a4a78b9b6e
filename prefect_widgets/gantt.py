"""A plotly Gantt chart of a flow run's task runs that stays usable at 10,000 bars.

`px.timeline` draws one SVG path per bar (a 10k-task run: ~5 MB of HTML, seconds to paint).
Here each colour is ONE line trace whose segments are the bars (x = start, end, gap, ...),
plus one invisible marker trace per colour at the bar midpoints that carries the hover
text. Above `WEBGL_THRESHOLD` bars the traces are WebGL (`Scattergl`, one canvas).
Data arrays are numpy, which plotly serialises as compact base64 typed arrays.

Bars come from the timeline frame (`flow_run.to_dataframe(columns="timeline")`, one
graph-v2 request): task runs and subflow runs, coloured by state with the repr palette.
Running (or end-less) bars extend to now; task runs that never started are drawn as open
markers on a separate "not started" row.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InvalidRequest
from .html import STATE_COLORS
from .states import STATE_TYPES

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .views import FlowRunView

__all__ = ["plot_gantt", "gantt_figure", "pack_lanes", "WEBGL_THRESHOLD"]

WEBGL_THRESHOLD = 1000
#: fetch full task-run records for the retries in the hover up to this many task runs
RETRIES_FETCH_LIMIT = 2000
COLOR_BY = ("state", "task_name")
GROUP_BY = (None, "task_name", "state")
QUALITATIVE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
               "#ff9da6", "#9d755d", "#bab0ac")
NOT_STARTED = "not started"


def pack_lanes(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Greedy interval packing: each bar goes to the lowest free row (bars in start order)."""
    lanes = np.zeros(len(start), dtype=np.int64)
    free: list[tuple[int, int]] = []  # (lane, ...) of lanes that are free now
    busy: list[tuple[float, int]] = []  # (end, lane) heap
    next_lane = 0
    for i in np.argsort(start, kind="stable"):
        while busy and busy[0][0] <= start[i]:
            _, lane = heapq.heappop(busy)
            heapq.heappush(free, (lane, lane))
        if free:
            lane = heapq.heappop(free)[0]
        else:
            lane, next_lane = next_lane, next_lane + 1
        lanes[i] = lane
        heapq.heappush(busy, (end[i], lane))
    return lanes


def _ms(series: pd.Series) -> np.ndarray:
    """UTC epoch milliseconds as float64 (NaN for NaT); any datetime unit."""
    values = pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")
    out = values.array.asi8.astype("float64") / 1e6
    out[values.isna().to_numpy()] = np.nan
    return out


def _fmt_seconds(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _esc(value: Any) -> str:
    import html

    return html.escape(str(value), quote=True)


def gantt_figure(frame: pd.DataFrame, *, color_by: str = "state", group_by: str | None = None,
                 run_counts: dict[str, int] | None = None, now: pd.Timestamp | None = None,
                 title: str | None = None, webgl: bool | None = None,
                 height: int | None = None) -> go.Figure:
    """The Gantt figure of a timeline frame (index task_run_id; name, task_name, kind,
    state_type, start_time, end_time). `run_counts` maps ids to run counts (for retries)."""
    import plotly.graph_objects as go

    if color_by not in COLOR_BY:
        raise InvalidRequest(f"color_by must be one of {COLOR_BY}, got {color_by!r}.")
    if group_by not in GROUP_BY:
        raise InvalidRequest(f"group_by must be one of {GROUP_BY}, got {group_by!r}.")
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    now_ms = now.value / 1e6 if now.tzinfo else pd.Timestamp(now, tz="UTC").value / 1e6
    n = len(frame)
    names = frame["name"].astype(str).to_numpy() if n else np.array([], dtype=object)
    task_names = (frame["task_name"].astype(str).to_numpy() if "task_name" in frame
                  else names)
    states = frame["state_type"].astype(str).to_numpy() if n else np.array([], dtype=object)
    kinds = (frame["kind"].astype(str).to_numpy() if "kind" in frame
             else np.full(n, "task-run", dtype=object))
    start = _ms(frame["start_time"]) if n else np.array([], dtype="float64")
    end = _ms(frame["end_time"]) if n else np.array([], dtype="float64")
    started = ~np.isnan(start)
    open_ended = started & np.isnan(end)
    end = np.where(open_ended, np.maximum(now_ms, np.nan_to_num(start)), end)
    ids = frame.index.astype(str).to_numpy() if n else np.array([], dtype=object)
    run_counts = run_counts or {}

    # rows
    if group_by is None:
        lanes = np.full(n, -1, dtype=np.int64)
        lanes[started] = pack_lanes(start[started], end[started])
        n_rows = int(lanes.max()) + 1 if started.any() else 0
        row_labels = None
    else:
        keys = task_names if group_by == "task_name" else states
        order = list(dict.fromkeys(keys[np.argsort(np.where(started, start, np.inf),
                                                   kind="stable")]))
        position = {k: i for i, k in enumerate(order)}
        lanes = np.array([position[k] for k in keys], dtype=np.int64)
        n_rows = len(order)
        row_labels = [_esc(k) for k in order]
    not_started_row = n_rows

    # colours
    if color_by == "state":
        groups = [s for s in STATE_TYPES if (states == s).any()]
        group_of = states
        colors = {s: STATE_COLORS[s] for s in groups}
        label = {s: s.title() for s in groups}
    else:
        groups = list(dict.fromkeys(task_names))
        group_of = task_names
        colors = {g: QUALITATIVE[i % len(QUALITATIVE)] for i, g in enumerate(groups)}
        label = {g: _esc(g) for g in groups}

    use_gl = webgl if webgl is not None else int(started.sum()) > WEBGL_THRESHOLD
    Scatter = go.Scattergl if use_gl else go.Scatter
    rows_shown = n_rows + (1 if (~started).any() else 0)
    height = height or int(min(900, max(260, 120 + 18 * rows_shown)))
    width_px = float(max(1.0, min(14.0, 0.75 * (height - 110) / max(1, rows_shown))))

    retries = np.array([run_counts.get(i, 0) - 1 if i in run_counts else np.nan for i in ids],
                       dtype="float64")
    retries = np.maximum(retries, 0, where=~np.isnan(retries), out=retries)
    seconds = (end - start) / 1000.0
    text = np.array([("subflow run " if kinds[i] == "flow-run" else "") + _esc(names[i])
                     + (" (no end time)" if open_ended[i] and states[i] != "RUNNING" else "")
                     for i in range(n)], dtype=object)

    def hover_trace(members: np.ndarray, state_label: str, color: str, g: str) -> Any:
        known = not np.isnan(retries[members]).any()
        template = (f"<b>%{{text}}</b><br>{state_label}<br>duration: %{{customdata[0]:.2f}} s"
                    + ("<br>retries: %{customdata[1]}" if known else "") + "<extra></extra>")
        data = np.column_stack([seconds[members], np.nan_to_num(retries[members])])
        return Scatter(
            x=(start[members] + end[members]) / 2, y=lanes[members].astype(lane_dtype),
            mode="markers", name=label[g], legendgroup=str(g), showlegend=False,
            marker={"color": color, "size": max(4.0, width_px), "opacity": 0},
            text=text[members].tolist(), customdata=data.astype("float32"),
            hovertemplate=template, meta={"pw": "hover", "group": str(g)})

    lane_dtype = "int16" if n_rows < 32_000 else "int32"
    traces = []
    for g in groups:
        members = np.flatnonzero((group_of == g) & started)
        if not len(members):
            continue
        xs = np.empty(3 * len(members))
        xs[0::3], xs[1::3], xs[2::3] = start[members], end[members], np.nan
        ys = np.repeat(lanes[members].astype(lane_dtype), 3)  # the NaN x makes the gap
        traces.append(Scatter(
            x=xs, y=ys, mode="lines", name=label[g], legendgroup=str(g),
            line={"color": colors[g], "width": width_px}, hoverinfo="skip",
            connectgaps=False, meta={"pw": "bars", "group": str(g), "bars": len(members)}))
        # hover markers, split by state so the template can name it (and by known retries)
        for state in dict.fromkeys(states[members]):
            subset = members[states[members] == state]
            unknown = np.isnan(retries[subset])
            for part in (subset[~unknown], subset[unknown]):
                if len(part):
                    traces.append(hover_trace(part, str(state).title() + (
                        " (to now)" if state == "RUNNING" else ""), colors[g], g))
    waiting = np.flatnonzero(~started)
    if len(waiting):
        x0 = np.nanmin(start) if started.any() else now_ms
        x1 = max(now_ms, np.nanmax(end)) if started.any() else now_ms
        xs = np.linspace(x0, x1, len(waiting)) if len(waiting) > 1 else np.array([x0])
        traces.append(Scatter(
            x=xs, y=np.full(len(waiting), float(not_started_row)), mode="markers",
            name=f"{NOT_STARTED} ({len(waiting):,})",
            marker={"symbol": "circle-open", "size": 7,
                    "color": [STATE_COLORS.get(states[i], "#6b7280") for i in waiting]},
            text=text[waiting].tolist(),
            customdata=[states[i].title() for i in waiting],
            hovertemplate="<b>%{text}</b><br>%{customdata} · never started<extra></extra>",
            meta={"pw": "not-started", "bars": len(waiting)}))

    fig = go.Figure(traces)
    if row_labels is not None or len(waiting):
        tickvals = list(range(n_rows)) if row_labels is not None else []
        ticktext = list(row_labels or [])
        if len(waiting):
            tickvals.append(not_started_row)
            ticktext.append(NOT_STARTED)
        yaxis = {"tickvals": tickvals, "ticktext": ticktext, "showticklabels": True}
        if row_labels is None:
            yaxis["showgrid"] = False
    else:
        yaxis = {"showticklabels": False, "showgrid": False}
    fig.update_layout(
        title={"text": _esc(title)} if title else None, height=height,
        margin={"l": 10, "r": 10, "t": 50 if title else 20, "b": 40},
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={**yaxis, "autorange": "reversed", "zeroline": False,
               "title": {"text": "task" if group_by == "task_name" else (
                   "state" if group_by == "state" else "")}},
        hovermode="closest", legend={"orientation": "h", "y": -0.12 if height < 400 else -0.06},
        template="plotly_white",
    )
    if not n:
        fig.add_annotation(text="No task runs", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5)
    return fig


def _run_counts(flow_run: FlowRunView, size: int, fetch: bool) -> dict[str, int]:
    cached = dict(flow_run._cache.task_runs)
    cached.update({t.task_run_id: t for t in flow_run._cache.values.get("html_task_runs") or ()})
    if fetch and len(cached) < size <= RETRIES_FETCH_LIMIT:
        try:
            views = flow_run._cached("html_task_runs", flow_run.get_all_task_runs)
            cached.update({t.task_run_id: t for t in views})
        except Exception:  # the hover then says "retries: —"; the bars do not need it
            pass
    return {task_id: view.run_count for task_id, view in cached.items()}


def plot_gantt(flow_run: FlowRunView | pd.DataFrame, color_by: str = "state",
               group_by: str | None = None, *, frame: pd.DataFrame | None = None,
               fetch_retries: bool = True, **kwargs: Any) -> go.Figure:
    """One bar per task run (and subflow run) of `flow_run`, coloured by state.

    `group_by=None` packs bars into rows so concurrent runs never overlap;
    `group_by="task_name"` gives one row per task. Retries in the hover come from the
    view's cached task runs, fetched once for runs of up to 2,000 task runs
    (`fetch_retries=False` skips that). A timeline DataFrame may be passed instead of a view.
    Other keywords go to `gantt_figure` (`now=`, `title=`, `webgl=`, `height=`).
    """
    if isinstance(flow_run, pd.DataFrame):
        return gantt_figure(flow_run, color_by=color_by, group_by=group_by, **kwargs)
    if frame is None:
        frame = flow_run.to_dataframe(columns="timeline")
    counts = _run_counts(flow_run, len(frame), fetch_retries)
    kwargs.setdefault("title", f"{flow_run.name} — {flow_run.state.name}")
    return gantt_figure(frame, color_by=color_by, group_by=group_by, run_counts=counts, **kwargs)
