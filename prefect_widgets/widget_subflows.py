"""Subflow runs expanded inline in the widget's timeline (issue 19, item 3).

A subflow row (the task run standing for a subflow run) expands into its child flow run's
task runs, read once through the child's own run data (`FlowRunView.data`: the same snapshot
the details panel reads for that row) and drawn nested under it. On the wire the rows of
expanded children follow the flow run's own rows, each with its `parent` row
(`_timeline_encoding.encode_nesting`); subflows inside a child expand the same way. While the
widget is live, children that are not finished are read again on each poll (`refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import InvalidRequest
from .states import FINISHED_TYPES
from .views import FlowRunView

__all__ = ["ChildRun", "Nested", "Subflows", "nest"]


@dataclass
class ChildRun:
    """An expanded subflow's child flow run: its snapshot, timeline frame and records."""

    view: FlowRunView
    frame: pd.DataFrame
    records: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, view: FlowRunView) -> ChildRun:
        """The child's task runs, read through its run data (once per snapshot)."""
        rows = view.data.task_rows(progress=False)
        return cls(view, view.data.timeline(progress=False), {str(r["id"]): r for r in rows})

    @property
    def is_open(self) -> bool:
        """Whether the child run or one of its task runs may still change."""
        if not self.view.state.is_finished():
            return True
        return bool(len(self.frame)) and not self.frame["state_type"].astype(str).isin(
            FINISHED_TYPES).all()


@dataclass
class Nested:
    """Every row the timeline shows: the flow run's own rows, then each expanded child's."""

    frame: pd.DataFrame
    #: each row's subflow row (-1: one of the flow run's own task runs)
    parent: list[int]
    #: the subflow rows shown expanded
    expanded: list[int]
    #: (first row, child run) of each expanded child's rows, in row order
    blocks: list[tuple[int, ChildRun]] = field(default_factory=list)

    def locate(self, row: int) -> tuple[int, ChildRun] | None:
        """(first row of its block, child run) of a nested row; None for the run's own rows."""
        for base, child in self.blocks:
            if base <= row < base + len(child.frame):
                return base, child
        return None


def nest(top: pd.DataFrame, expanded: Iterable[str], children: dict[str, ChildRun]) -> Nested:
    """The rows of `top` followed by the rows of every expanded subflow whose child run is
    held (`children`, by the subflow row's task run id), breadth first, nested ones too."""
    wanted = {str(i) for i in expanded}
    frames, parent, open_rows = [top], [-1] * len(top), []
    blocks: list[tuple[int, ChildRun]] = []
    queue, at, n = [(0, top)], 0, len(top)
    while at < len(queue):
        base, frame = queue[at]
        at += 1
        for local, task_id in enumerate(frame.index.astype(str)):
            child = children.get(task_id)
            if task_id not in wanted or child is None:
                continue
            open_rows.append(base + local)
            if not len(child.frame):
                continue
            blocks.append((n, child))
            frames.append(child.frame)
            parent += [base + local] * len(child.frame)
            queue.append((n, child.frame))
            n += len(child.frame)
    combined = pd.concat(frames) if len(frames) > 1 else top
    return Nested(combined, parent, open_rows, blocks)


def subflow_of(frame: pd.DataFrame, row: int) -> str | None:
    """The child flow run id of row `row` when it stands for a subflow run, else None."""
    if "child_flow_run_id" not in frame or not 0 <= row < len(frame):
        return None
    child = frame["child_flow_run_id"].iloc[row]
    return str(child) if isinstance(child, str) and child else None


class Subflows:
    """The child runs of the subflows expanded so far, by their subflow row's task run id."""

    def __init__(self) -> None:
        self.children: dict[str, ChildRun] = {}

    def ensure(self, top: pd.DataFrame, expanded: Iterable[str], parent: FlowRunView) -> bool:
        """Read the child run of every expanded subflow reachable from `top` that is not held
        yet (a child's own subflows included); whether one was read."""
        wanted = [str(i) for i in expanded]
        read = False
        while True:
            nested = nest(top, wanted, self.children)
            missing: list[tuple[str, str]] = []
            for row, task_id in enumerate(nested.frame.index.astype(str)):
                child_id = subflow_of(nested.frame, row)
                if task_id in wanted and task_id not in self.children and child_id:
                    missing.append((task_id, child_id))
            if not missing:
                return read
            for task_id, child_id in missing:
                self.children[task_id] = ChildRun.read(_subflow_view(parent, child_id))
                read = True

    def refresh(self, expanded: Iterable[str]) -> bool:
        """Read again the expanded children that may still change; whether one did."""
        changed = False
        for task_id in [str(i) for i in expanded]:
            child = self.children.get(task_id)
            if child is None or not child.is_open:
                continue
            fresh = ChildRun.read(child.view.get_latest())
            if not _same_rows(fresh.frame, child.frame) \
                    or fresh.view.state.type != child.view.state.type:
                changed = True
            self.children[task_id] = fresh
        return changed


def _subflow_view(parent: FlowRunView, child_flow_run_id: str) -> FlowRunView:
    """The subflow run's view, held by the parent's snapshot under the key the details
    panel reads it by (`widget_details.run_details`): read once for both."""
    def load() -> FlowRunView:
        return FlowRunView.from_flow_run_id(child_flow_run_id, client=parent.client)
    return parent.data.once(f"subflow_view:{child_flow_run_id}", load)


def _same_rows(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    columns = ["state_type", "start_time", "end_time", "run_count"]
    if len(a) != len(b) or list(a.index) != list(b.index):
        return False
    return bool(a[columns].astype(object).fillna("").equals(b[columns].astype(object).fillna("")))


def subflow_row_id(rows: pd.DataFrame, subflow: int | str) -> str:
    """The task run id of the subflow row named by row index, task run id or the subflow's
    flow run id; `InvalidRequest` saying what to pass for anything else."""
    if isinstance(subflow, str):
        children = rows["child_flow_run_id"].astype(object) if len(rows) else []
        hits = [i for i, (task_id, child) in enumerate(zip(rows.index, children))
                if subflow in (str(task_id), child)]
        index = hits[0] if hits else -1
    else:
        index = int(subflow)
    if not 0 <= index < len(rows):
        raise InvalidRequest(f"No row {subflow!r} in this timeline: pass a row index "
                             f"(0-{len(rows) - 1}), a task run id or a subflow's flow run id.")
    if subflow_of(rows, index) is None:
        raise InvalidRequest(
            f"Row {index} ({rows['task_name'].iloc[index]}) is a task run, not a subflow "
            "run: expand a row whose label starts with \u2937.")
    return str(rows.index[index])
