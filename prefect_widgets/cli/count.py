"""`prefect-widgets count [flow-runs|task-runs]`: count runs on the server, optionally per
state type."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from prefect_widgets.errors import InvalidRequest

from .app import OutputOpt, StateOpt, app, command, current_state, parse_states
from .filters import FlowOpt, SinceOpt, TagOpt, parse_since
from .lookup import resolve
from .output import Column, state_text

CountKind = Literal["flow-runs", "task-runs"]


@command(app, "count")
def count(
    kind: Annotated[CountKind, typer.Argument(
        case_sensitive=False, metavar="[flow-runs|task-runs]",
        help="What to count.")] = "flow-runs",
    by_state: Annotated[bool, typer.Option(
        "--by-state", metavar="", help="One count per state type (zero counts left out).")
    ] = False,
    flow: FlowOpt = None,
    state_types: StateOpt = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="Only runs with exactly this name.")] = None,
    tags: TagOpt = None,
    flow_run: Annotated[str | None, typer.Option(
        "--flow-run", metavar="FLOW_RUN",
        help="With task-runs: the task runs of this flow run (an id, a unique id prefix or a "
             "run name).")] = None,
    since: SinceOpt = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME",
        help="Only runs started before TIME (the forms of --since).")] = None,
    output: OutputOpt = None,
) -> None:
    """Count flow runs or task runs on the server, optionally per state type."""
    from prefect_widgets.views import FlowRunView, TaskRunView

    state = current_state()
    kind = kind.lower()  # type: ignore[assignment]
    filters: dict[str, Any] = {
        "flow_name": flow, "state_type": parse_states(state_types), "name": name, "tags": tags,
        "start_time_after": parse_since(since),
        "start_time_before": parse_since(until, "--until"),
    }
    if flow_run is not None:
        if kind != "task-runs":
            raise InvalidRequest("--flow-run only applies to `count task-runs`.")
        filters["flow_run_id"] = resolve(state, "flow run", flow_run)
    filters = {k: v for k, v in filters.items() if v is not None}
    view = TaskRunView if kind == "task-runs" else FlowRunView
    out = state.out(output)
    if not by_state:
        total = view.count(client=state.client(), **filters)
        if out.format == "json":
            out.json({"count": total})
        elif out.format == "csv":
            out.file.write(f"count\n{total}\n")
        else:
            out.file.write(f"{total}\n")
        return
    if "state_type" in filters:
        raise InvalidRequest("--by-state counts every state type; drop --state.")
    counts = view.count_by_state(client=state.client(), **filters)
    if out.format == "json":
        out.json(counts)
        return
    records: list[dict[str, Any]] = [{"state": k, "count": v} for k, v in counts.items()]
    if out.is_table:
        records.append({"state": "TOTAL", "count": sum(counts.values())})
        out.rows([Column("state", "STATE", table=lambda s: state_text(s) if s != "TOTAL"
                         else "Total"),
                  Column("count", "COUNT", justify="right")], records,
                 empty="Nothing to count.")
        return
    out.rows([Column("state", "STATE"), Column("count", "COUNT")], records)
