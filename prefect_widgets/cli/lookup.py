"""Finding what a command is about: a flow run by id or name, flow names, the task runs of
a run's snapshot, read with the CLI's progress policy."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from prefect_widgets.errors import NotFound

from .app import State, interactive

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView, TaskRunView


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


def flow_run(state: State, id_or_name: str) -> FlowRunView:
    """A flow run by id, or the newest flow run with that name."""
    from prefect_widgets.views import FlowRunView

    client = state.client()
    if is_uuid(id_or_name):
        return FlowRunView.from_flow_run_id(id_or_name, client=client)
    try:
        return FlowRunView.from_flow_run_name(id_or_name, client=client)
    except NotFound:
        raise NotFound(f"{id_or_name!r} is not a flow run id (a UUID such as "
                       "8e445d74-9ca6-425b-98e5-72754b7ea174) and no flow run has that name. "
                       "List runs with `prefect-widgets flow-run ls`.") from None


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
