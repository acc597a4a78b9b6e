"""The report's timeline as data: one compact JSON blob that `resources/report.js` draws.

Each task run that started is one bar (or one per attempt when it was retried) on a lane of
its task; concurrent runs of a task get lanes of their own (greedy packing), so bars never
overlap. Times are integer milliseconds after the first start. The blob goes into the page
as `<script type="application/json">` with `<`, `>`, `&` and the JS line separators escaped,
so no value can end the element or reach a script as code.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from prefect_widgets.analytics import RETRY_STATE_NAMES
from prefect_widgets.gantt import pack_lanes
from prefect_widgets.html.markup import Markup, cut
from prefect_widgets.states import STATE_TYPES

if TYPE_CHECKING:
    from prefect_widgets.views import TaskRunView

__all__ = ["RETRIED", "NAME_WIDTH", "timeline_data", "json_script"]

#: colour key of attempts that failed and were retried
RETRIED = "RETRIED"
#: characters of a name kept in the blob (the table below holds the same cut)
NAME_WIDTH = 160

_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _ms(value: Any) -> float:
    """Epoch milliseconds of an aware datetime or Timestamp (NaN for None / NaT)."""
    if value is None or pd.isna(value):
        return float("nan")
    return pd.Timestamp(value).value / 1e6


def _segments(tasks: Sequence[TaskRunView], attempts: pd.DataFrame | None,
              until_ms: float) -> list[tuple[int, float, float, str, str, int]]:
    """(task index, start, end, colour key, state name, attempt) of every bar to draw."""
    retried: dict[str, list[Any]] = {}
    if attempts is not None and len(attempts):
        counts = attempts["task_run_id"].value_counts()
        several = set(counts.index[counts > 1])
        for row in attempts[attempts["task_run_id"].isin(several)].itertuples(index=False):
            retried.setdefault(str(row.task_run_id), []).append(row)
    out = []
    for i, task in enumerate(tasks):
        for row in retried.get(task.task_run_id, ()):
            start = _ms(row.start)
            if np.isnan(start):
                continue
            end = _ms(row.end)
            name = str(row.state_name)
            key = RETRIED if name in RETRY_STATE_NAMES else str(row.state_type)
            out.append((i, start, until_ms if np.isnan(end) else end, key, name,
                        int(row.attempt)))
        if task.task_run_id in retried or task.start_time is None:
            continue
        end = _ms(task.end_time)
        out.append((i, _ms(task.start_time), until_ms if np.isnan(end) else end,
                    task.state.type, task.state.name, 1))
    return out


def _lanes(tasks: Sequence[TaskRunView], segments: Sequence[tuple[Any, ...]]
           ) -> tuple[dict[int, int], list[list[Any]]]:
    """Each task run's lane, and the groups: [task name, first lane, lanes], in start order."""
    span: dict[int, list[float]] = {}
    for i, start, end, *_ in segments:
        lo_hi = span.setdefault(i, [start, end])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], start), max(lo_hi[1], end)
    by_task: dict[str, list[int]] = {}
    for i in sorted(span, key=lambda i: span[i][0]):
        by_task.setdefault(tasks[i].task_name, []).append(i)
    lane_of: dict[int, int] = {}
    groups: list[list[Any]] = []
    first = 0
    for name, members in by_task.items():
        packed = pack_lanes(np.array([span[i][0] for i in members]),
                            np.array([span[i][1] for i in members]))
        lane_of.update({i: first + int(lane) for i, lane in zip(members, packed)})
        count = int(packed.max()) + 1
        groups.append([cut(name, NAME_WIDTH), first, count])
        first += count
    return lane_of, groups


def timeline_data(tasks: Sequence[TaskRunView], attempts: pd.DataFrame | None,
                  critical: Collection[str], until: datetime,
                  unfinished: Collection[str] = frozenset()) -> dict[str, Any]:
    """The blob: `names` (one per task run, table order), `keys` / `labels` (colour keys and
    state names the bars index), `groups`, `lanes`, `bars` ([task, lane, start, end, key,
    label, attempt] flattened), `critical` and `unfinished` (task indexes: on the critical
    path; never reached a final state, their open bars ending at `until`), `t0` (epoch ms),
    `span` (ms)."""
    segments = _segments(tasks, attempts, _ms(until))
    lane_of, groups = _lanes(tasks, segments)
    t0 = min((s[1] for s in segments), default=0.0)
    t1 = max((s[2] for s in segments), default=t0)
    keys: dict[str, int] = {}
    labels: dict[str, int] = {}
    bars: list[int] = []
    for i, start, end, key, label, attempt in segments:
        bars += [i, lane_of[i], round(start - t0), round(max(end, start) - t0),
                 keys.setdefault(key if key in STATE_TYPES or key == RETRIED else "UNKNOWN",
                                 len(keys)),
                 labels.setdefault(cut(label, 40), len(labels)), attempt]
    critical_ids = set(critical)
    return {
        "t0": round(t0), "span": max(1, round(t1 - t0)),
        "names": [cut(t.name, NAME_WIDTH) for t in tasks],
        "keys": list(keys), "labels": list(labels), "groups": groups,
        "lanes": sum(g[2] for g in groups), "bars": bars,
        "critical": [i for i, t in enumerate(tasks) if t.task_run_id in critical_ids],
        "unfinished": [i for i, t in enumerate(tasks) if t.task_run_id in unfinished],
    }


def json_script(data: Any, css_class: str) -> Markup:
    """`data` as a `<script type="application/json">` element that no value can break out of."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).translate(_JSON_ESCAPES)
    # trusted: JSON whose <, > and & are escaped cannot close the element or open another
    return Markup('<script type="application/json" class="{}">').format(css_class) \
        + Markup(text) + Markup("</script>")
