"""`prefect-widgets flow-run ls|inspect`: list flow runs, show one flow run."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from prefect_widgets.formatting import human_duration, local_time, run_counts_text

from .app import OutputOpt, StateOpt, app, command, current_state, limit_or_none, parse_states
from .lookup import flow_names, flow_run, snapshot_task_runs
from .output import Column, clean, detail_table, iso, note, seconds, state_line
from .rows import flow_run_record, print_runs, task_run_record

flow_run_app = typer.Typer(help="List and inspect flow runs.", no_args_is_help=True)
app.add_typer(flow_run_app, name="flow-run")


@command(flow_run_app, "ls")
def flow_run_ls(
    flow: Annotated[str | None, typer.Option(
        "--flow", metavar="NAME", help="Only runs of the flow with this name.")] = None,
    state_types: StateOpt = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="Only runs with exactly this run name.")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=0, metavar="N", help="Show at most N runs (0: all).")] = 20,
    output: OutputOpt = None,
) -> None:
    """List flow runs, newest first."""
    from prefect_widgets.views import FlowRunView

    state = current_state()
    runs = FlowRunView.query(flow_name=flow, state_type=parse_states(state_types), name=name,
                             limit=limit_or_none(limit), sort="START_TIME_DESC",
                             client=state.client())
    names = flow_names(state, {run.flow_id for run in runs})
    records = [flow_run_record(run, names.get(run.flow_id)) for run in runs]
    out = state.out(output)
    print_runs(out, records, id_key="flow_run_id", names=[
        Column("flow_name", "FLOW", max_width=30, min_width=8, wrap=True),
        Column("name", "NAME", max_width=30, min_width=8, wrap=True),
    ], empty="No flow runs match.")
    if out.is_table and limit and len(records) == limit:
        note(f"Showing the newest {limit}; use --limit N (0 for all) to see more.")


@command(flow_run_app, "inspect")
def flow_run_inspect(
    id_or_name: Annotated[str, typer.Argument(
        metavar="ID_OR_NAME", help="Flow run id, or a flow run name (the newest run with it).",
        show_default=False)],
    failed_limit: Annotated[int, typer.Option(
        "--failed-limit", min=0, metavar="N",
        help="Show at most N failed or crashed task runs.")] = 20,
    output: OutputOpt = None,
) -> None:
    """Show a flow run: state and message, timings, parameters, its task runs and subflow
    runs counted apart and by state, and the failed task runs with their messages."""
    from prefect_widgets.states import STATE_TYPES

    state = current_state()
    run = flow_run(state, id_or_name)
    flow_name = flow_names(state, {run.flow_id}).get(run.flow_id)
    views = snapshot_task_runs(run)
    subflow_runs = sum(1 for t in views if t.kind == "subflow-run")
    by_state = {t: 0 for t in STATE_TYPES}
    for task in views:
        by_state[task.state.type] = by_state.get(task.state.type, 0) + 1
    counts = {k: v for k, v in by_state.items() if v}
    problems = [t for t in views if t.state.type in ("FAILED", "CRASHED")]
    failed = problems[:failed_limit]
    failed_total = len(problems)
    record = {
        **flow_run_record(run, flow_name),
        "expected_start_time": iso(run.expected_start_time),
        "total_run_time": seconds(run.total_run_time), "run_count": run.run_count,
        "deployment_id": run.deployment_id, "parent_task_run_id": run.parent_task_run_id,
        "ui_url": run.ui_url, "task_run_count": len(views) - subflow_runs,
        "subflow_run_count": subflow_runs,
        "task_run_counts": counts,
        "failed_task_runs": [task_run_record(t) for t in failed],
    }
    out = state.out(output)
    if out.format == "json":
        out.json(record)
        return
    if not out.is_table:
        flat = {k: v for k, v in record.items() if k != "failed_task_runs"}
        items = list(flat.items()) + [
            (f"failed_task_run.{t['task_run_id']}",
             f"{t['name']}: {t['state_name']}: {t['state_message'] or ''}")
            for t in record["failed_task_runs"]]
        out.pairs(items)
        return
    count_text = Text(run_counts_text(len(views) - subflow_runs, subflow_runs))
    for kind, number in counts.items():
        count_text.append("  ")
        count_text.append_text(state_line(kind, f"{kind.title()} {number}", None))
    timings = (f"started {local_time(run.start_time)}, ended {local_time(run.end_time)}, "
               f"took {human_duration(run.duration)} (run time "
               f"{human_duration(run.total_run_time)}, {run.run_count} attempt"
               f"{'s' if run.run_count != 1 else ''})")
    rows: list[tuple[str, Any]] = [
        ("Flow run", f"{run.name}  ({run.flow_run_id})"),
        ("Flow", flow_name or run.flow_id),
        ("State", state_line(run.state.type, run.state.name, run.state.message)),
        ("Timings", timings),
        ("Parameters", json.dumps(run.parameters, ensure_ascii=False, default=str)
         if run.parameters else "-"),
    ]
    if run.tags:
        rows.append(("Tags", ", ".join(run.tags)))
    if run.parent_task_run_id:
        rows.append(("Subflow of", f"task run {run.parent_task_run_id}"))
    rows.append(("Task runs", count_text))
    if run.ui_url:
        rows.append(("UI", run.ui_url))
    out.print(detail_table(rows))
    if failed:
        out.print(Text(f"\nFailed task runs ({failed_total}):", style="bold"))
        grid = Table.grid(padding=(0, 2), pad_edge=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for task in failed:
            label = Text(clean(task.name, multiline=False), style="bold")
            label.append(f"\n{task.task_run_id}", style="dim")
            grid.add_row(label, state_line(task.state.type, task.state.name, task.state.message))
        out.print(grid)
        if failed_total > len(failed):
            out.print(Text(f"  … {failed_total - len(failed)} more "
                           f"(prefect-widgets task-run ls {run.flow_run_id} --state failed)",
                           style="dim"))
        out.print(Text(f"\nLogs: prefect-widgets logs {run.flow_run_id} --level error",
                       style="dim"))
