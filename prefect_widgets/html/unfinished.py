"""Task runs that never reached a final state (`records.unfinished_mask`), as the reprs and
the reports show them: a warning line with their count and a mark beside each one's state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prefect_widgets.records import unfinished_mask, unfinished_text

from .markup import EMPTY, Markup

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView, TaskRunView

__all__ = ["UNFINISHED_MARK", "unfinished_ids", "unfinished_note"]

#: beside the state badge of a task run that never reached a final state
UNFINISHED_MARK = Markup('<span class="pw-chip pw-unfinished" title="never reached a final '
                         'state; events may have been dropped">never finished</span>')


def unfinished_ids(view: FlowRunView, task_runs: Iterable[TaskRunView]) -> frozenset[str]:
    """The task runs that never reached a final state (`records.unfinished_mask`)."""
    runs = list(task_runs)
    mask = unfinished_mask([t.state.type for t in runs], view.state, view.end_time)
    return frozenset(t.task_run_id for t, flagged in zip(runs, mask) if flagged)


def unfinished_note(count: int) -> Markup:
    """The warning line "N task runs never reached a final state (...)"; nothing for 0."""
    return Markup('<div class="pw-error pw-unfinished-note" role="note">{}</div>').format(
        unfinished_text(count)) if count else EMPTY
