"""The Gantt's plotly traces: colours, bars, hover markers, lead-ins, critical path.

Each colour is ONE line trace whose segments are the bars (x = start, end, NaN gap, ...)
plus invisible marker traces at the bar midpoints that carry the hover text; above
`WEBGL_THRESHOLD` bars the traces are WebGL (`Scattergl`). Trace `meta`: `pw` is "bars"
(`bars` = segments), "hover", "queued", "critical" or "not-started".
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from prefect_widgets.states import STATE_COLORS, STATE_TYPES, UNKNOWN_STATE_COLOR

from .lanes import Lanes
from .segments import RETRIED, Rows, Segments, critical_rows, lead_ins

__all__ = ["WEBGL_THRESHOLD", "COLOR_BY", "QUALITATIVE", "NOT_STARTED", "RETRIED_LABEL",
           "RETRIED_COLOR", "QUEUED_COLOR", "CRITICAL_COLOR", "DIM_ALPHA", "Palette",
           "palette", "timeline_traces"]

WEBGL_THRESHOLD = 1000
COLOR_BY = ("state", "task_name")
QUALITATIVE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
               "#ff9da6", "#9d755d", "#bab0ac")
NOT_STARTED = "not started"
RETRIED_LABEL = "Failed attempt (retried)"
RETRIED_COLOR = "#f87171"
#: the thin lead-in before a bar: expected start → first actual start
QUEUED_COLOR = "rgba(148, 163, 184, 0.8)"
#: outline of the critical path's bars, and the opacity of the other bars then
CRITICAL_COLOR = "#db2777"
DIM_ALPHA = 0.3


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
    # state types Prefect 3.8 does not define come last, in grey
    return [g for g in order if g in present] + sorted(present - set(order))


@dataclass
class Palette:
    """Colour groups in legend order, with their colours and (escaped) legend labels."""

    groups: list[str]
    colors: dict[str, str]
    labels: dict[str, str]


def palette(rows: Rows, segments: Segments, color_by: str) -> Palette:
    if color_by == "state":
        groups = _group_order(set(segments.group.tolist()))
        colors = {s: RETRIED_COLOR if s == RETRIED else STATE_COLORS.get(s, UNKNOWN_STATE_COLOR)
                  for s in groups}
        return Palette(groups, colors, {s: RETRIED_LABEL if s == RETRIED else escape(s.title())
                                        for s in groups})
    groups = list(dict.fromkeys(rows.task_names))
    return Palette(groups, {g: QUALITATIVE[i % len(QUALITATIVE)] for i, g in enumerate(groups)},
                   {g: escape(g) for g in groups})


def _gapped(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """x of a line trace drawing the segments x0 → x1: the NaN after each makes the gap."""
    xs = np.empty(3 * len(x0))
    xs[0::3], xs[1::3], xs[2::3] = x0, x1, np.nan
    return xs


class _Traces:
    """Builds the traces of one figure; holds what its bar and hover traces share."""

    def __init__(self, rows: Rows, segments: Segments, lanes: Lanes, colors: Palette,
                 webgl: bool, width_px: float, critical: Any) -> None:
        import plotly.graph_objects as go

        self.Scatter = go.Scattergl if webgl else go.Scatter
        self.rows, self.seg, self.lanes, self.pal = rows, segments, lanes, colors
        self.width_px = width_px
        seg = segments
        self.seconds = (seg.end - seg.start) / 1000.0
        self.retries = rows.retries[seg.row]
        self.queued = np.where(seg.first, rows.queued[seg.row], np.nan)
        self.on_path = (critical_rows(rows.ids, critical)[seg.row] if len(rows)
                        else np.zeros(0, dtype=bool))
        self.highlight = bool(self.on_path.any())

    def lane_y(self, rows: np.ndarray, repeat: int = 1) -> np.ndarray:
        return np.repeat(self.lanes.of_row[rows].astype(self.lanes.dtype), repeat)

    def hover(self, members: np.ndarray, state_label: str, g: str, with_queued: bool) -> Any:
        seg = self.seg
        known = not np.isnan(self.retries[members]).any()
        label = escape(state_label)
        template = (f"<b>%{{text}}</b><br>{label}<br>duration: %{{customdata[0]:.2f}} s"
                    + ("<br>retries: %{customdata[1]}" if known else "")
                    + ("<br>queued: %{customdata[2]:.2f} s" if with_queued else "")
                    + "<extra></extra>")
        data = np.column_stack([self.seconds[members], np.nan_to_num(self.retries[members]),
                                np.nan_to_num(self.queued[members])])
        return self.Scatter(
            x=(seg.start[members] + seg.draw[members]) / 2, y=self.lane_y(seg.row[members]),
            mode="markers", name=self.pal.labels[g], legendgroup=str(g), showlegend=False,
            marker={"color": self.pal.colors[g], "size": max(4.0, self.width_px), "opacity": 0},
            text=seg.text[members].tolist(), customdata=data.astype("float32"),
            hovertemplate=template, meta={"pw": "hover", "group": str(g)})

    def bars(self, members: np.ndarray, g: str, rank: int, dimmed: bool, legend: bool,
             ) -> list[Any]:
        seg, colors = self.seg, self.pal.colors
        color = _rgba(colors[g], DIM_ALPHA) if dimmed else colors[g]
        meta = {"pw": "bars", "group": str(g), "bars": len(members)}
        if self.highlight:
            meta["critical"] = not dimmed
        out = [self.Scatter(
            x=_gapped(seg.start[members], seg.draw[members]), y=self.lane_y(seg.row[members], 3),
            mode="lines", name=self.pal.labels[g], legendgroup=str(g), showlegend=legend,
            legendrank=rank, line={"color": color, "width": self.width_px}, hoverinfo="skip",
            connectgaps=False, meta=meta)]
        # hover markers, split so the template can name the state (and known retries/queue)
        keys = [(seg.label[i], not np.isnan(self.retries[i]), not np.isnan(self.queued[i]))
                for i in members]
        for key in dict.fromkeys(keys):
            part = members[np.fromiter((k == key for k in keys), dtype=bool,
                                       count=len(keys))]
            out.append(self.hover(part, key[0], g, key[2]))
        return out

    def lead_ins(self) -> list[Any]:
        rows, seg = self.rows, self.seg
        lead = np.flatnonzero(np.isfinite(rows.queued) & (rows.queued > 0) & rows.started)
        if not len(lead):
            return []
        shown, x0, x1 = lead_ins(self.lanes.of_row, seg.lo, seg.hi,
                                 np.flatnonzero(rows.started), lead,
                                 seg.lo - np.nan_to_num(rows.queued) * 1000.0)
        if not len(shown):
            return []
        return [self.Scatter(
            x=_gapped(x0, x1), y=self.lane_y(shown, 3), mode="lines",
            name="queued (expected → actual start)", legendgroup="queued",
            legendrank=2000, line={"color": QUEUED_COLOR,
                                   "width": max(1.0, round(self.width_px * 0.35, 2))},
            hoverinfo="skip", connectgaps=False, meta={"pw": "queued", "bars": len(shown)})]

    def groups_and_path(self) -> list[Any]:
        """The bars of each colour group; with a critical path, the dimmed rest first, then
        the path's outline and its bars in full colour on top."""
        seg, on_path = self.seg, self.on_path
        traces: list[Any] = []
        path_traces: list[Any] = []
        for rank, g in enumerate(self.pal.groups, start=1):
            in_group = seg.group == g
            members = np.flatnonzero(in_group & ~on_path)
            on = np.flatnonzero(in_group & on_path)
            if len(members):
                traces += self.bars(members, g, rank, dimmed=self.highlight,
                                    legend=not len(on))
            if len(on):
                path_traces += self.bars(on, g, rank, dimmed=False, legend=True)
        if not self.highlight:
            return traces
        members = np.flatnonzero(on_path)
        steps = len(set(seg.row[members].tolist()))
        traces.append(self.Scatter(
            x=_gapped(seg.start[members], seg.draw[members]), y=self.lane_y(seg.row[members], 3),
            mode="lines",
            name=f"critical path ({steps} task run{'' if steps == 1 else 's'})",
            legendgroup="critical", legendrank=1000,
            line={"color": CRITICAL_COLOR, "width": self.width_px + 5}, hoverinfo="skip",
            connectgaps=False, meta={"pw": "critical", "bars": len(members), "steps": steps}))
        return traces + path_traces

    def not_started(self, now_ms: float) -> list[Any]:
        """Open markers on a row of their own, spread over the run's time span."""
        rows = self.rows
        waiting = np.flatnonzero(~rows.started)
        if not len(waiting):
            return []
        x0 = np.nanmin(rows.start) if rows.started.any() else now_ms
        x1 = max(now_ms, np.nanmax(rows.end)) if rows.started.any() else now_ms
        xs = np.linspace(x0, x1, len(waiting)) if len(waiting) > 1 else np.array([x0])
        states = rows.states
        return [self.Scatter(
            x=xs, y=np.full(len(waiting), float(self.lanes.count)), mode="markers",
            name=f"{NOT_STARTED} ({len(waiting):,})", legendrank=3000,
            marker={"symbol": "circle-open", "size": 7,
                    "color": [STATE_COLORS.get(states[i], UNKNOWN_STATE_COLOR)
                              for i in waiting]},
            text=rows.text[waiting].tolist(),
            customdata=[escape(states[i].title()) for i in waiting],
            hovertemplate="<b>%{text}</b><br>%{customdata} · never started<extra></extra>",
            meta={"pw": "not-started", "bars": len(waiting)})]


def timeline_traces(rows: Rows, segments: Segments, lanes: Lanes, colors: Palette, *,
                    webgl: bool, width_px: float, critical: Any, now_ms: float) -> list[Any]:
    """All traces, bottom to top: queued lead-ins, bars (critical path on top), not started."""
    build = _Traces(rows, segments, lanes, colors, webgl, width_px, critical)
    return build.lead_ins() + build.groups_and_path() + build.not_started(now_ms)
