"""`prefect-widgets flow-run ls|inspect`: list flow runs, show one flow run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from prefect_widgets.formatting import human_duration, run_counts_text, visible
from prefect_widgets.records import unfinished_text

from .app import (
    Group,
    OutputOpt,
    StateOpt,
    TimesOpt,
    WideOpt,
    app,
    command,
    current_state,
    limit_or_none,
    parse_states,
    shown_time,
    view_options,
)
from .debugging import (
    artifact_record,
    artifacts_table,
    failure_pairs,
    failure_record,
    failure_text,
    history_records,
    history_text,
)
from .filters import FlowOpt, SinceOpt, TagOpt, limit_opt, parse_since
from .lookup import flow_names, flow_run, snapshot_task_runs
from .output import Column, detail_table, iso, note, seconds, state_line
from .rows import flow_run_record, print_runs, task_run_record

if TYPE_CHECKING:
    from prefect_widgets.state_history import StateHistory
    from prefect_widgets.tracebacks import Failure
    from prefect_widgets.views import TaskRunView

flow_run_app = typer.Typer(cls=Group, help="List and inspect flow runs.", no_args_is_help=True)
app.add_typer(flow_run_app, name="flow-run")


@command(flow_run_app, "ls")
def flow_run_ls(
    flow: FlowOpt = None,
    state_types: StateOpt = None,
    tags: TagOpt = None,
    since: SinceOpt = None,
    name: Annotated[str | None, typer.Option(
        "--name", metavar="NAME", help="Only runs with exactly this run name.")] = None,
    limit: Annotated[int, limit_opt("runs")] = 20,
    wide: WideOpt = False,
    utc: TimesOpt = True,
    output: OutputOpt = None,
) -> None:
    """List flow runs, newest first."""
    from prefect_widgets.views import FlowRunView

    state = view_options(utc=utc, wide=wide)
    runs = FlowRunView.query(flow_name=flow, state_type=parse_states(state_types), name=name,
                             tags=tags, start_time_after=parse_since(since),
                             limit=limit_or_none(limit), sort="START_TIME_DESC",
                             client=state.client())
    names = flow_names(state, {run.flow_id for run in runs})
    records = [flow_run_record(run, names.get(run.flow_id)) for run in runs]
    out = state.out(output)
    print_runs(out, records, id_key="flow_run_id", names=[
        Column("flow_name", "FLOW", max_width=30, min_width=8),
        Column("name", "NAME", max_width=30, min_width=8, middle=True, priority=True),
    ], empty="No flow runs match.")
    if out.is_table and limit and len(records) == limit:
        note(f"Showing the newest {limit}; use --limit N (0 for all) to see more.")


@command(flow_run_app, "inspect")
def flow_run_inspect(
    id_or_name: Annotated[str, typer.Argument(
        metavar="FLOW_RUN", show_default=False,
        help="The flow run: an id, a unique id prefix or a run name.")],
    failed_limit: Annotated[int, typer.Option(
        "--failed-limit", min=0, metavar="N",
        help="Show at most N failed or crashed task runs.")] = 20,
    full: Annotated[bool, typer.Option(
        "--full", metavar="",
        help="Show every frame of the tracebacks, Prefect's internal ones too.")] = False,
    utc: TimesOpt = True,
    output: OutputOpt = None,
) -> None:
    """Show a flow run: its state, timings, parameters, task runs, state history, errors and artifacts.

    Task runs and subflow runs are counted apart and by state; the state history shows the time spent in each state. The errors of the failed task runs (subflows' included) show the user's frames and the final exception line, Prefect's internal frames folded unless --full.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    from prefect_widgets.states import STATE_TYPES

    state = view_options(utc=utc)
    run = flow_run(state, id_or_name)
    flow_name = flow_names(state, {run.flow_id}).get(run.flow_id)
    views = snapshot_task_runs(run)
    subflow_runs = sum(1 for t in views if t.kind == "subflow-run")
    by_state = {t: 0 for t in STATE_TYPES}
    for task in views:
        by_state[task.state.type] = by_state.get(task.state.type, 0) + 1
    counts = {k: v for k, v in by_state.items() if v}
    unfinished = len(run.unfinished_task_runs())
    problems = [t for t in views if t.state.type in ("FAILED", "CRASHED")]
    failures = run.failures() if problems or run.state.type in ("FAILED", "CRASHED") else []
    failed = failures[:failed_limit]
    failed_total = len(failures)
    by_id = {t.task_run_id: t for t in views}
    history, artifacts = run.state_history, run.artifacts
    record = {
        **flow_run_record(run, flow_name),
        "expected_start_time": iso(run.expected_start_time),
        "total_run_time": seconds(run.total_run_time), "run_count": run.run_count,
        "deployment_id": run.deployment_id, "parent_task_run_id": run.parent_task_run_id,
        "ui_url": run.ui_url, "task_run_count": len(views) - subflow_runs,
        "subflow_run_count": subflow_runs,
        "task_run_counts": counts, "unfinished_task_run_count": unfinished,
        "failed_task_runs": [task_run_record(t) for t in problems[:failed_limit]],
        "errors": [failure_record(f) for f in failed],
        "states": history_records(history),
        "artifacts": [artifact_record(a) for a in artifacts],
    }
    out = state.out(output)
    if out.format == "json":
        out.json(record)
        return
    if not out.is_table:
        nested = ("failed_task_runs", "errors", "states", "artifacts")
        items = [(k, v) for k, v in record.items() if k not in nested] + [
            (f"failed_task_run.{t['task_run_id']}",
             f"{t['name']}: {t['state_name']}: {t['state_message'] or ''}")
            for t in record["failed_task_runs"]]
        items += [pair for f in failed for pair in failure_pairs(f)]
        items += [(f"state.{i}", f"{s['timestamp']} {s['name']} ({s['duration']} s)"
                   + (f": {s['message']}" if s["message"] else ""))
                  for i, s in enumerate(record["states"])]
        items += [(f"artifact.{a['key'] or a['artifact_id']}",
                   f"{a['kind']}: {a['description'] or ''}: {a['detail']}")
                  for a in record["artifacts"]]
        out.pairs(items)
        return
    count_text = Text(run_counts_text(len(views) - subflow_runs, subflow_runs))
    for kind, number in counts.items():
        count_text.append("  ")
        count_text.append_text(state_line(kind, f"{kind.title()} {number}", None))
    timings = (f"started {shown_time(run.start_time)}, ended {shown_time(run.end_time)}, "
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
    if unfinished:
        rows.append(("", Text(visible(unfinished_text(unfinished)), style="yellow")))
    rows.append(("States", history_text(history) if len(history) else "-"))
    if run.ui_url:
        rows.append(("UI", run.ui_url))
    out.print(detail_table(rows))
    if failed:
        out.print(Text(f"\nErrors ({failed_total}):", style="bold"))
        for failure in failed:
            out.print(failure_text(failure, full=full, history=_history_of(failure, by_id)))
        if failed_total > len(failed):
            out.print(Text(f"  … {failed_total - len(failed)} more "
                           f"(prefect-widgets task-run ls {run.flow_run_id} --state failed)",
                           style="dim"))
    if len(artifacts):
        out.print(Text(f"\nArtifacts ({len(artifacts)}):", style="bold"))
        out.print(artifacts_table(artifacts))
    if failed:
        out.print(Text(f"\nLogs: prefect-widgets logs {run.flow_run_id} --level error",
                       style="dim"))


def _history_of(failure: Failure, by_id: dict[str, TaskRunView]) -> StateHistory | None:
    """The state history of a failed task run: from the snapshot's views, or read (a task
    run inside a subflow run); None for a flow run's own failure."""
    if failure.task_run_id is None:
        return None
    task = by_id.get(failure.task_run_id)
    if task is None:
        from prefect_widgets.views import TaskRunView

        task = TaskRunView.from_task_run_id(failure.task_run_id, client=current_state().client())
    return task.state_history
