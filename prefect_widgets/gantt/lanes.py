"""Which row of the Gantt each bar sits on: packed lanes, or one row per task or state.

`pack_lanes` puts concurrent bars on different rows (greedy interval packing);
`assign_lanes` applies `group_by` (None: packed; "task_name" / "state": one row per
value, in order of first start).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from html import escape

import numpy as np

from .segments import Rows, Segments

__all__ = ["GROUP_BY", "Lanes", "pack_lanes", "assign_lanes"]

GROUP_BY = (None, "task_name", "state")


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


@dataclass
class Lanes:
    """`of_row`: the lane of each frame row (-1: packed and never started); `count`: lanes
    of bars; `labels`: the (escaped) row labels when grouped, else None."""

    of_row: np.ndarray
    count: int
    labels: list[str] | None

    @property
    def dtype(self) -> str:
        return "int16" if self.count < 32_000 else "int32"


def assign_lanes(rows: Rows, segments: Segments, group_by: str | None) -> Lanes:
    started = rows.started
    if group_by is None:
        lanes = np.full(len(rows), -1, dtype=np.int64)
        lanes[started] = pack_lanes(segments.lo[started], segments.hi[started])
        return Lanes(lanes, int(lanes.max()) + 1 if started.any() else 0, None)
    keys = rows.task_names if group_by == "task_name" else rows.states
    order = list(dict.fromkeys(keys[np.argsort(np.where(started, rows.start, np.inf),
                                               kind="stable")]))
    position = {k: i for i, k in enumerate(order)}
    lanes = np.array([position[k] for k in keys], dtype=np.int64)
    return Lanes(lanes, len(order), [escape(k) for k in order])
