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

from .errors import InvalidRequest, PrefectWidgetsError
from .states import STATE_COLORS, STATE_TYPES

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .views import FlowRunView

__all__ = ["plot_gantt", "gantt_figure", "pack_lanes", "WEBGL_THRESHOLD"]

WEBGL_THRESHOLD = 1000
COLOR_BY = ("state", "task_name")
GROUP_BY = (None, "task_name", "state")
QUALITATIVE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
               "#ff9da6", "#9d755d", "#bab0ac")
NOT_STARTED = "not started"
#: colour group of attempts that failed and were retried (outcome AwaitingRetry / Retrying)
RETRIED = "RETRIED"
RETRIED_LABEL = "Failed attempt (retried)"
RETRIED_COLOR = "#f87171"
#: the thin lead-in before a bar: expected start → first actual start
QUEUED_COLOR = "rgba(148, 163, 184, 0.8)"
#: outline of the critical path's bars, and the opacity of the other bars then
CRITICAL_COLOR = "#db2777"
DIM_ALPHA = 0.3
MIN_WIDTH_FRACTION = 0.004


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


def _rgba(color: str, alpha: float) -> str:
    value = color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _group_order(present: set[str]) -> list[str]:
    order: list[str] = []
    for state in STATE_TYPES:
        order.append(state)
        if state == "CRASHED":
            order.append(RETRIED)
    return [g for g in order if g in present]


def _critical_rows(ids: np.ndarray, critical: Any) -> np.ndarray:
    """A boolean mask over the frame's rows of the task runs on the critical path."""
    if critical is None:
        return np.zeros(len(ids), dtype=bool)
    if isinstance(critical, pd.DataFrame):
        critical = critical["task_run_id"] if "task_run_id" in critical else critical.index
    wanted = {str(i) for i in critical}
    return np.fromiter((i in wanted for i in ids), dtype=bool, count=len(ids))


def _lead_ins(lanes: np.ndarray, lo: np.ndarray, hi: np.ndarray, drawn: np.ndarray,
              rows: np.ndarray, lead_start: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queued lead-ins (lead_start → lo) of `rows`, clipped so that none reaches back over
    an earlier bar (of the `drawn` rows) in its lane: the lane stays readable and the gaps
    between attempts stay empty."""
    order = drawn[np.lexsort((lo[drawn], lanes[drawn]))]
    previous_end = np.full(len(lo), -np.inf)
    current_lane, running = None, -np.inf
    for i in order.tolist():
        if lanes[i] != current_lane:
            current_lane, running = lanes[i], -np.inf
        previous_end[i] = running
        running = max(running, hi[i])
    x0 = np.maximum(lead_start, previous_end)
    keep = np.zeros(len(lo), dtype=bool)
    keep[rows] = True
    keep &= np.isfinite(lead_start) & (x0 < lo)
    shown = np.flatnonzero(keep)
    return shown, x0[shown], lo[shown]


def gantt_figure(frame: pd.DataFrame, *, color_by: str = "state", group_by: str | None = None,
                 run_counts: dict[str, int] | None = None, now: pd.Timestamp | None = None,
                 title: str | None = None, webgl: bool | None = None,
                 height: int | None = None, attempts: pd.DataFrame | None = None,
                 critical: Any = None) -> go.Figure:
    """The Gantt figure of a timeline frame (index task_run_id; name, task_name, kind,
    state_type, start_time, end_time). `run_counts` maps ids to run counts (for retries).

    `attempts` (an `analytics.attempts_frame`): task runs with several attempts are drawn
    as one segment per attempt, coloured by its outcome (attempts that failed and were
    retried: "Failed attempt (retried)"), with nothing in the gaps; the first attempts'
    `queued` lead-ins (expected → actual start) are a thin light segment before the bar.
    `critical` (an `analytics.critical_path` frame, or task run ids): those bars get an
    outline and full colour, every other bar is dimmed.
    Trace `meta`: `pw` is "bars" (`bars` = segments), "hover", "queued", "critical" or
    "not-started". Bars shorter than 0.4% of the time axis are drawn at that width.
    """
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

    retries = np.array([run_counts.get(i, 0) - 1 if i in run_counts else np.nan for i in ids],
                       dtype="float64")
    retries = np.maximum(retries, 0, where=~np.isnan(retries), out=retries)
    text = np.array([("subflow run " if kinds[i] == "subflow-run" else "") + _esc(names[i])
                     + (" (no end time)" if open_ended[i] and states[i] != "RUNNING" else "")
                     for i in range(n)], dtype=object)
    group_of = states if color_by == "state" else task_names

    # segments: one per started row, or one per attempt of a task run tried several times
    seg_row = np.flatnonzero(started)
    seg_start, seg_end = start[seg_row], end[seg_row]
    seg_group = group_of[seg_row].astype(object)
    seg_label = np.array([s.title() + (" (to now)" if s == "RUNNING" else "")
                          for s in states[seg_row]], dtype=object)
    seg_text = text[seg_row]
    queued = np.full(n, np.nan)
    if attempts is not None and len(attempts) and n:
        a_pos = pd.Index(ids).get_indexer(attempts["task_run_id"].astype(str).to_numpy())
        valid = a_pos >= 0
        valid[valid] &= started[a_pos[valid]]
        number = attempts["attempt"].to_numpy(dtype="float64", na_value=np.nan)
        wait = attempts["queued"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        first = valid & (number == 1)
        queued[a_pos[first]] = wait[first]
        tries = np.bincount(a_pos[valid], minlength=n)
        multi = np.zeros(len(attempts), dtype=bool)
        multi[valid] = tries[a_pos[valid]] > 1
        if multi.any():
            keep = tries[seg_row] <= 1
            rows = a_pos[multi]
            a_start = _ms(attempts["start"][multi])
            a_end = _ms(attempts["end"][multi])
            a_end = np.where(np.isnan(a_end), end[rows], a_end)  # still open: to now
            a_type = attempts["state_type"][multi].astype(str).to_numpy()
            a_name = attempts["state_name"][multi].astype(str).to_numpy()
            a_number = number[multi].astype("int64")
            of = tries[rows]
            if color_by == "state":
                failed_try = (a_number < of) & (a_type != "COMPLETED")
                a_group = np.where(failed_try, RETRIED, a_type).astype(object)
            else:
                a_group = task_names[rows].astype(object)
            a_label = np.array([_esc(name) + (" (to now)" if t == "RUNNING" and np.isnan(e)
                                              else "")
                                for name, t, e in zip(a_name, a_type,
                                                      _ms(attempts["end"][multi]))],
                               dtype=object)
            a_text = np.array([f"{text[r]} · attempt {k} of {m}"
                               for r, k, m in zip(rows, a_number, of)], dtype=object)
            seg_row = np.concatenate([seg_row[keep], rows])
            seg_start = np.concatenate([seg_start[keep], a_start])
            seg_end = np.concatenate([seg_end[keep], a_end])
            seg_group = np.concatenate([seg_group[keep], a_group])
            seg_label = np.concatenate([seg_label[keep], a_label])
            seg_text = np.concatenate([seg_text[keep], a_text])
            unknown = np.isnan(retries) & (tries > 1)
            retries[unknown] = tries[unknown] - 1
    seg_first = np.ones(len(seg_row), dtype=bool)  # carries the row's queued time in hover
    if len(seg_row):
        first_of_row = np.lexsort((seg_start, seg_row))
        earliest = first_of_row[np.r_[True, np.diff(seg_row[first_of_row]) != 0]]
        seg_first[:] = False
        seg_first[earliest] = True

    # a zero-length bar stays visible: at least 0.4% of the time axis wide
    if len(seg_row):
        span = float(np.nanmax(seg_end) - np.nanmin(seg_start))
        min_width = span * MIN_WIDTH_FRACTION if span > 0 else 1.0
        seg_draw = np.maximum(seg_end, seg_start + min_width)
    else:
        seg_draw = seg_end.copy()
    row_hi = end.copy()
    np.fmax.at(row_hi, seg_row, seg_draw)
    row_lo = start.copy()
    np.fmin.at(row_lo, seg_row, seg_start)

    # rows
    if group_by is None:
        lanes = np.full(n, -1, dtype=np.int64)
        lanes[started] = pack_lanes(row_lo[started], row_hi[started])
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
        groups = _group_order(set(seg_group.tolist()))
        colors = {s: STATE_COLORS.get(s, RETRIED_COLOR) for s in groups}
        label = {s: RETRIED_LABEL if s == RETRIED else s.title() for s in groups}
    else:
        groups = list(dict.fromkeys(task_names))
        colors = {g: QUALITATIVE[i % len(QUALITATIVE)] for i, g in enumerate(groups)}
        label = {g: _esc(g) for g in groups}

    use_gl = webgl if webgl is not None else int(started.sum()) > WEBGL_THRESHOLD
    Scatter = go.Scattergl if use_gl else go.Scatter
    rows_shown = n_rows + (1 if (~started).any() else 0)
    height = height or int(min(900, max(260, 120 + 18 * rows_shown)))
    width_px = float(max(1.0, min(14.0, 0.75 * (height - 110) / max(1, rows_shown))))
    lane_dtype = "int16" if n_rows < 32_000 else "int32"
    seconds = (seg_end - seg_start) / 1000.0
    seg_retries = retries[seg_row]
    seg_queued = np.where(seg_first, queued[seg_row], np.nan)
    on_path = _critical_rows(ids, critical)[seg_row] if n else np.zeros(0, dtype=bool)
    highlight = bool(on_path.any())

    def segment_xy(members: np.ndarray, x0: np.ndarray | None = None,
                   x1: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        xs = np.empty(3 * len(members))
        xs[0::3] = seg_start[members] if x0 is None else x0
        xs[1::3] = seg_draw[members] if x1 is None else x1
        xs[2::3] = np.nan  # the NaN x makes the gap
        return xs, np.repeat(lanes[seg_row[members]].astype(lane_dtype), 3)

    def hover_trace(members: np.ndarray, state_label: str, g: str, with_queued: bool) -> Any:
        known = not np.isnan(seg_retries[members]).any()
        template = (f"<b>%{{text}}</b><br>{state_label}<br>duration: %{{customdata[0]:.2f}} s"
                    + ("<br>retries: %{customdata[1]}" if known else "")
                    + ("<br>queued: %{customdata[2]:.2f} s" if with_queued else "")
                    + "<extra></extra>")
        data = np.column_stack([seconds[members], np.nan_to_num(seg_retries[members]),
                                np.nan_to_num(seg_queued[members])])
        return Scatter(
            x=(seg_start[members] + seg_draw[members]) / 2,
            y=lanes[seg_row[members]].astype(lane_dtype),
            mode="markers", name=label[g], legendgroup=str(g), showlegend=False,
            marker={"color": colors[g], "size": max(4.0, width_px), "opacity": 0},
            text=seg_text[members].tolist(), customdata=data.astype("float32"),
            hovertemplate=template, meta={"pw": "hover", "group": str(g)})

    def bar_traces(members: np.ndarray, g: str, rank: int, dimmed: bool, legend: bool,
                   ) -> list[Any]:
        xs, ys = segment_xy(members)
        color = _rgba(colors[g], DIM_ALPHA) if dimmed else colors[g]
        meta = {"pw": "bars", "group": str(g), "bars": len(members)}
        if highlight:
            meta["critical"] = not dimmed
        out = [Scatter(
            x=xs, y=ys, mode="lines", name=label[g], legendgroup=str(g), showlegend=legend,
            legendrank=rank, line={"color": color, "width": width_px}, hoverinfo="skip",
            connectgaps=False, meta=meta)]
        # hover markers, split so the template can name the state (and known retries/queue)
        keys = [(seg_label[i], not np.isnan(seg_retries[i]), not np.isnan(seg_queued[i]))
                for i in members]
        for key in dict.fromkeys(keys):
            part = members[np.fromiter((k == key for k in keys), dtype=bool,
                                       count=len(keys))]
            out.append(hover_trace(part, key[0], g, key[2]))
        return out

    traces: list[Any] = []
    lead = np.flatnonzero(np.isfinite(queued) & (queued > 0) & started)
    if len(lead):
        shown, x0, x1 = _lead_ins(lanes, row_lo, row_hi, np.flatnonzero(started), lead,
                                  row_lo - np.nan_to_num(queued) * 1000.0)
        if len(shown):
            xs = np.empty(3 * len(shown))
            xs[0::3], xs[1::3], xs[2::3] = x0, x1, np.nan
            traces.append(Scatter(
                x=xs, y=np.repeat(lanes[shown].astype(lane_dtype), 3), mode="lines",
                name="queued (expected → actual start)", legendgroup="queued",
                legendrank=2000, line={"color": QUEUED_COLOR,
                                       "width": max(1.0, round(width_px * 0.35, 2))},
                hoverinfo="skip", connectgaps=False, meta={"pw": "queued", "bars": len(shown)}))
    path_traces: list[Any] = []
    for rank, g in enumerate(groups, start=1):
        in_group = seg_group == g
        members = np.flatnonzero(in_group & ~on_path)
        on = np.flatnonzero(in_group & on_path)
        if len(members):
            traces += bar_traces(members, g, rank, dimmed=highlight, legend=not len(on))
        if len(on):
            path_traces += bar_traces(on, g, rank, dimmed=False, legend=True)
    if highlight:
        members = np.flatnonzero(on_path)
        xs, ys = segment_xy(members)
        steps = len(set(seg_row[members].tolist()))
        traces.append(Scatter(
            x=xs, y=ys, mode="lines", name=f"critical path ({steps} task run{'' if steps == 1 else 's'})",
            legendgroup="critical", legendrank=1000,
            line={"color": CRITICAL_COLOR, "width": width_px + 5}, hoverinfo="skip",
            connectgaps=False, meta={"pw": "critical", "bars": len(members), "steps": steps}))
        traces += path_traces
    waiting = np.flatnonzero(~started)
    if len(waiting):
        x0 = np.nanmin(start) if started.any() else now_ms
        x1 = max(now_ms, np.nanmax(end)) if started.any() else now_ms
        xs = np.linspace(x0, x1, len(waiting)) if len(waiting) > 1 else np.array([x0])
        traces.append(Scatter(
            x=xs, y=np.full(len(waiting), float(not_started_row)), mode="markers",
            name=f"{NOT_STARTED} ({len(waiting):,})", legendrank=3000,
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
        margin={"l": 10, "r": 10, "t": 80 if title else 40, "b": 40},
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={**yaxis, "autorange": "reversed", "zeroline": False,
               "title": {"text": "task" if group_by == "task_name" else (
                   "state" if group_by == "state" else "")}},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        template="plotly_white",
    )
    if not n:
        fig.add_annotation(text="No task runs", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5)
    return fig


ATTEMPT_SOURCE = ("expected_start_time", "state_name", "state_message", "run_count")


def plot_gantt(flow_run: FlowRunView | pd.DataFrame, color_by: str = "state",
               group_by: str | None = None, *, frame: pd.DataFrame | None = None,
               fetch_retries: bool = True, attempts: bool = False,
               critical_path: bool = False, **kwargs: Any) -> go.Figure:
    """One bar per task run (and subflow run) of `flow_run`, coloured by state.

    `group_by=None` packs bars into rows so concurrent runs never overlap;
    `group_by="task_name"` gives one row per task. Bars, retries and the critical path all
    come from the view's run data (one export per snapshot, shared with its other
    displays). A timeline or task-run DataFrame may be passed instead of a view.
    `fetch_retries` is ignored (kept for compatibility): retries come with the run data.

    `attempts=True` draws each attempt of a retried task run as its own segment and the
    queued lead-in before each bar; only task runs that ran more than once cost a request
    (their state history, once per snapshot). `critical_path=True` outlines the critical
    path and dims the rest. Other keywords go to `gantt_figure` (`now=`, `title=`,
    `webgl=`, `height=`).
    """
    from .analytics import _run_until, attempts_frame, critical_path_from_frame

    notes: list[str] = []
    view: FlowRunView | None = None
    if isinstance(flow_run, pd.DataFrame):
        frame = flow_run
    else:
        view = flow_run
        if frame is None:
            frame = view.data.timeline()
        kwargs.setdefault("title", f"{view.name} — {view.state.name}")
    counts = ({str(i): int(c) for i, c in zip(frame.index, frame["run_count"])}
              if "run_count" in frame.columns else None)
    if attempts and "attempts" not in kwargs and all(c in frame.columns for c in ATTEMPT_SOURCE):
        try:
            kwargs["attempts"] = attempts_frame(view if view is not None else frame)
        except PrefectWidgetsError as exc:
            notes.append(f"retry attempts unavailable: {exc}")
    if critical_path and "critical" not in kwargs:
        try:
            kwargs["critical"] = (critical_path_from_frame(frame) if view is None else
                                  critical_path_from_frame(frame, until=_run_until(view),
                                                           run_start=view.start_time))
        except (PrefectWidgetsError, InvalidRequest) as exc:
            notes.append(f"no critical path: {exc}")
    fig = gantt_figure(frame, color_by=color_by, group_by=group_by, run_counts=counts, **kwargs)
    for i, note in enumerate(notes):
        fig.add_annotation(text=_esc(_cut(note)), showarrow=False, xref="paper", yref="paper",
                           x=0, y=1, yshift=-4 - 16 * i, xanchor="left", yanchor="top",
                           font={"size": 11, "color": "#b91c1c"})
    return fig


def _cut(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
