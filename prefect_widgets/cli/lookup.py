"""Finding what a command is about: a run named by id, id prefix or name; flow names; the
task runs of a run's snapshot, read with the CLI's progress policy.

A run is named on the command line in one of three ways, tried in this order:

- a full id (a UUID): read directly, one request;
- a unique id prefix, 4 or more hex characters (hyphens optional, as the tables' short ids
  show them): the server's filters match ids only whole (`id.any_`), so the prefix is found
  by binary search over all runs sorted by id (`ID_DESC`, one row per request at a moving
  `offset`; the id order is the order of the canonical text on SQLite and PostgreSQL
  alike), then one page of `MAX_CANDIDATES + 1` rows is read where the prefix would start
  and checked exactly, client-side. Cost: one count, ⌈log2(N + 1)⌉ one-row reads and one
  small page: 17 small requests for 10,000 runs;
- a run name (exact): a name filter, `MAX_CANDIDATES + 1` rows.

Text that is both hex and a name is taken as an id prefix when one matches. Two or more
matches raise `AmbiguousRun` (exit code 2) listing the candidates.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from prefect_widgets import _ops
from prefect_widgets.errors import AmbiguousRun, NotFound

from .app import State, interactive, shown_time

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView, TaskRunView

#: candidates listed when a name or prefix names several runs
MAX_CANDIDATES = 10
#: the shortest id prefix accepted (shorter ones match too many runs to be useful)
MIN_PREFIX = 4
_HEX_PREFIX = re.compile(r"[0-9a-fA-F-]+")
_KINDS = {"flow run": ("/flow_runs/filter", "/flow_runs/count", "flow_runs"),
          "task run": ("/task_runs/filter", "/task_runs/count", "task_runs")}


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


def id_prefix(text: str) -> str | None:
    """`text` as the start of a canonical id (lower case, hyphens where a UUID has them),
    or None when it cannot be one (not hex, or under `MIN_PREFIX` hex digits)."""
    text = text.strip()
    digits = text.replace("-", "").lower()
    if not _HEX_PREFIX.fullmatch(text) or not MIN_PREFIX <= len(digits) < 32:
        return None
    return _canonical(digits)


def _canonical(digits: str) -> str:
    cuts = (8, 12, 16, 20)
    parts = [digits[a:b] for a, b in zip((0, *cuts), (*cuts, 32), strict=True)]
    return "-".join(part for part in parts if part)


def _id_at(state: State, path: str, offset: int) -> str | None:
    rows = state.client().run(_ops.filter_page(path, {"sort": "ID_DESC", "limit": 1,
                                                      "offset": offset}))
    return str(rows[0]["id"]) if rows else None


def _rows_with_prefix(state: State, kind: str, prefix: str) -> list[dict[str, Any]]:
    """The runs of `kind` whose id starts with `prefix`, by binary search (module docstring)."""
    path, count_path, _ = _KINDS[kind]
    highest = _canonical(prefix.replace("-", "").ljust(32, "f"))
    low, high = 0, state.client().run(_ops.count(count_path, {}))
    while low < high:  # the first offset (ids descending) whose id is <= highest
        middle = (low + high) // 2
        found = _id_at(state, path, middle)
        if found is None or found.lower() <= highest:
            high = middle
        else:
            low = middle + 1
    page = state.client().run(_ops.filter_page(path, {
        "sort": "ID_DESC", "limit": MAX_CANDIDATES + 1, "offset": low}))
    return [row for row in page if str(row.get("id", "")).lower().startswith(prefix)]


def _rows_named(state: State, kind: str, name: str) -> list[dict[str, Any]]:
    path, _, key = _KINDS[kind]
    return state.client().run(_ops.filter_page(path, {
        key: {"name": {"any_": [name]}}, "sort": "EXPECTED_START_TIME_DESC",
        "limit": MAX_CANDIDATES + 1}))


def resolve(state: State, kind: str, text: str) -> str:
    """The id of the one run of `kind` ("flow run" or "task run") that `text` names: an id,
    a unique id prefix or a name. `NotFound` when none, `AmbiguousRun` when several."""
    text = text.strip()
    if is_uuid(text):
        return str(uuid.UUID(text))
    prefix = id_prefix(text)
    rows = _rows_with_prefix(state, kind, prefix) if prefix else []
    what = "id prefix"
    if not rows:
        rows, what = _rows_named(state, kind, text), "name"
    if len(rows) == 1:
        return str(rows[0]["id"])
    if not rows:
        command = "flow-run ls" if kind == "flow run" else "task-run ls FLOW_RUN"
        raise NotFound(f"No {kind} has the id, id prefix or name {text!r} (an id prefix needs "
                       f"{MIN_PREFIX} or more hex characters). List them with "
                       f"`prefect-widgets {command}`.")
    shown = [f"{row['id']} {row.get('name', '')} ({shown_time(row.get('start_time'))})"
             for row in rows[:MAX_CANDIDATES]]
    count = f"{len(rows)}" if len(rows) <= MAX_CANDIDATES else f"more than {MAX_CANDIDATES}"
    raise AmbiguousRun(f"The {what} {text!r} names {count} {kind}s: {'; '.join(shown)}. "
                       "Pass more of the id, or the full id.",
                       [str(row["id"]) for row in rows])


def flow_run(state: State, text: str) -> FlowRunView:
    """The flow run named by `text` (`resolve`)."""
    from prefect_widgets.views import FlowRunView

    return FlowRunView.from_flow_run_id(resolve(state, "flow run", text), client=state.client())


def task_run(state: State, text: str) -> TaskRunView:
    """The task run named by `text` (`resolve`)."""
    from prefect_widgets.views import TaskRunView

    return TaskRunView.from_task_run_id(resolve(state, "task run", text), client=state.client())


def flow_run_by_id(state: State, flow_run_id: str) -> FlowRunView:
    from prefect_widgets.views import FlowRunView

    return FlowRunView.from_flow_run_id(flow_run_id, client=state.client())


def flow_names(state: State, flow_ids: set[str]) -> dict[str, str]:
    """Flow id → flow name ("" for a flow that is gone)."""
    from prefect_widgets.views import FlowView

    names = {}
    for flow_id in flow_ids:
        try:
            names[flow_id] = FlowView.from_flow_id(flow_id, client=state.client()).name
        except NotFound:
            names[flow_id] = ""
    return names


def snapshot_task_runs(run: FlowRunView) -> list[TaskRunView]:
    """The task runs of the run's snapshot, in run order (`FlowRunView.task_runs()`)."""
    return run.task_runs(progress=None if interactive() else False)
