"""What the Gantt draws, as numbers: one segment per started row or per attempt.

Pure numpy/pandas, no plotly: each row of a timeline frame becomes one segment (a bar),
or one per attempt when the task run was tried several times; bars too short to see get
a minimum drawn width; the queued lead-ins (expected → actual start) are clipped so that
none reaches back over an earlier bar of its lane. Times are UTC epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RETRIED", "MIN_WIDTH_FRACTION", "Rows", "Segments", "epoch_ms", "frame_rows",
           "frame_segments", "lead_ins", "critical_rows"]

#: colour group of attempts that failed and were retried (outcome AwaitingRetry / Retrying)
RETRIED = "RETRIED"
MIN_WIDTH_FRACTION = 0.004


def epoch_ms(series: pd.Series) -> np.ndarray:
    """UTC epoch milliseconds as float64 (NaN for NaT); any datetime unit."""
    values = pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")
    out = values.array.asi8.astype("float64") / 1e6
    out[values.isna().to_numpy()] = np.nan
    return out


@dataclass
class Rows:
    """The timeline frame's rows as arrays. Open-ended bars of started rows end at now;
    `retries` is NaN where unknown, `queued` (seconds) NaN where no attempt says."""

    ids: np.ndarray
    task_names: np.ndarray
    states: np.ndarray
    start: np.ndarray
    end: np.ndarray
    started: np.ndarray
    retries: np.ndarray
    text: np.ndarray
    queued: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def frame_rows(frame: pd.DataFrame, now_ms: float, run_counts: dict[str, int] | None) -> Rows:
    n = len(frame)
    names = frame["name"].astype(str).to_numpy() if n else np.array([], dtype=object)
    task_names = (frame["task_name"].astype(str).to_numpy() if "task_name" in frame
                  else names)
    states = frame["state_type"].astype(str).to_numpy() if n else np.array([], dtype=object)
    kinds = (frame["kind"].astype(str).to_numpy() if "kind" in frame
             else np.full(n, "task-run", dtype=object))
    start = epoch_ms(frame["start_time"]) if n else np.array([], dtype="float64")
    end = epoch_ms(frame["end_time"]) if n else np.array([], dtype="float64")
    started = ~np.isnan(start)
    open_ended = started & np.isnan(end)
    end = np.where(open_ended, np.maximum(now_ms, np.nan_to_num(start)), end)
    ids = frame.index.astype(str).to_numpy() if n else np.array([], dtype=object)
    run_counts = run_counts or {}
    retries = np.array([run_counts.get(i, 0) - 1 if i in run_counts else np.nan for i in ids],
                       dtype="float64")
    retries = np.maximum(retries, 0, where=~np.isnan(retries), out=retries)
    text = np.array([("subflow run " if kinds[i] == "subflow-run" else "") + escape(names[i])
                     + (" (no end time)" if open_ended[i] and states[i] != "RUNNING" else "")
                     for i in range(n)], dtype=object)
    return Rows(ids=ids, task_names=task_names, states=states, start=start, end=end,
                started=started, retries=retries, text=text, queued=np.full(n, np.nan))


@dataclass
class Segments:
    """One entry per drawn segment: `row` (its frame row), `start`/`end` (as it ran),
    `draw` (drawn end, at least the minimum width), colour `group`, hover `label` (the
    state) and `text`; `first` marks each row's earliest segment (it carries the queued
    time). `lo`/`hi` are per frame row: the span its segments cover as drawn."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    draw: np.ndarray
    group: np.ndarray
    label: np.ndarray
    text: np.ndarray
    first: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _attempt_segments(rows: Rows, attempts: pd.DataFrame, by_state: bool,
                      ) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """Fill `rows.queued` (and unknown retries) from the attempts, and return the rows to
    keep as one segment plus the columns of the attempt segments (None: no row has several
    attempts)."""
    n = len(rows)
    a_pos = pd.Index(rows.ids).get_indexer(attempts["task_run_id"].astype(str).to_numpy())
    valid = a_pos >= 0
    valid[valid] &= rows.started[a_pos[valid]]
    number = attempts["attempt"].to_numpy(dtype="float64", na_value=np.nan)
    wait = attempts["queued"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    first = valid & (number == 1)
    rows.queued[a_pos[first]] = wait[first]
    tries = np.bincount(a_pos[valid], minlength=n)
    multi = np.zeros(len(attempts), dtype=bool)
    multi[valid] = tries[a_pos[valid]] > 1
    if not multi.any():
        return None
    at = a_pos[multi]
    a_start = epoch_ms(attempts["start"][multi])
    a_end_raw = epoch_ms(attempts["end"][multi])
    a_end = np.where(np.isnan(a_end_raw), rows.end[at], a_end_raw)  # still open: to now
    a_type = attempts["state_type"][multi].astype(str).to_numpy()
    a_name = attempts["state_name"][multi].astype(str).to_numpy()
    a_number = number[multi].astype("int64")
    of = tries[at]
    if by_state:
        failed_try = (a_number < of) & (a_type != "COMPLETED")
        a_group = np.where(failed_try, RETRIED, a_type).astype(object)
    else:
        a_group = rows.task_names[at].astype(object)
    a_label = np.array([escape(name) + (" (to now)" if t == "RUNNING" and np.isnan(e) else "")
                        for name, t, e in zip(a_name, a_type, a_end_raw,
                                                          strict=True)], dtype=object)
    a_text = np.array([f"{rows.text[r]} · attempt {k} of {m}"
                       for r, k, m in zip(at, a_number, of, strict=True)], dtype=object)
    unknown = np.isnan(rows.retries) & (tries > 1)
    rows.retries[unknown] = tries[unknown] - 1
    return tries, [at, a_start, a_end, a_group, a_label, a_text]


def frame_segments(rows: Rows, group_of: np.ndarray, attempts: pd.DataFrame | None,
                   by_state: bool) -> Segments:
    """The segments of `rows`: colour groups from `group_of` (per row), attempts (an
    `analytics.attempts_frame`) split the rows tried several times."""
    seg_row = np.flatnonzero(rows.started)
    columns = [seg_row, rows.start[seg_row], rows.end[seg_row],
               group_of[seg_row].astype(object),
               np.array([s.title() + (" (to now)" if s == "RUNNING" else "")
                         for s in rows.states[seg_row]], dtype=object),
               rows.text[seg_row]]
    split = (_attempt_segments(rows, attempts, by_state)
             if attempts is not None and len(attempts) and len(rows) else None)
    if split is not None:
        tries, extra = split
        keep = tries[seg_row] <= 1
        columns = [np.concatenate([c[keep], e]) for c, e in zip(columns, extra, strict=True)]
    seg_row, seg_start, seg_end, group, label, text = columns
    first = np.ones(len(seg_row), dtype=bool)
    if len(seg_row):
        first_of_row = np.lexsort((seg_start, seg_row))
        earliest = first_of_row[np.r_[True, np.diff(seg_row[first_of_row]) != 0]]
        first[:] = False
        first[earliest] = True
    # a zero-length bar stays visible: at least 0.4% of the time axis wide
    if len(seg_row):
        span = float(np.nanmax(seg_end) - np.nanmin(seg_start))
        min_width = span * MIN_WIDTH_FRACTION if span > 0 else 1.0
        draw = np.maximum(seg_end, seg_start + min_width)
    else:
        draw = seg_end.copy()
    hi = rows.end.copy()
    np.fmax.at(hi, seg_row, draw)
    lo = rows.start.copy()
    np.fmin.at(lo, seg_row, seg_start)
    return Segments(row=seg_row, start=seg_start, end=seg_end, draw=draw, group=group,
                    label=label, text=text, first=first, lo=lo, hi=hi)


def lead_ins(lanes: np.ndarray, lo: np.ndarray, hi: np.ndarray, drawn: np.ndarray,
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


def critical_rows(ids: np.ndarray, critical: Any) -> np.ndarray:
    """A boolean mask over the frame's rows of the task runs on the critical path."""
    if critical is None:
        return np.zeros(len(ids), dtype=bool)
    if isinstance(critical, pd.DataFrame):
        critical = critical["task_run_id"] if "task_run_id" in critical else critical.index
    wanted = {str(i) for i in critical}
    return np.fromiter((i in wanted for i in ids), dtype=bool, count=len(ids))
