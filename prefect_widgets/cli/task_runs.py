"""`prefect-widgets task-run ls|inspect`: list the task runs of a flow run, show one task
run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.text import Text

from prefect_widgets.errors import AmbiguousTaskRun, InvalidRequest, NotFound
from prefect_widgets.formatting import human_duration

from .app import (
    Group,
    OutputOpt,
    State,
    StateOpt,
    TimesOpt,
    WideOpt,
    app,
    command,
    flow_run_arg,
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
from .filters import SinceOpt, TagOpt, keeps, limit_opt, parse_since
from .lookup import flow_run, flow_run_by_id, snapshot_task_runs, task_run
from .output import Column, detail_table, iso, note, seconds, state_line
from .rows import print_runs, task_run_record

if TYPE_CHECKING:
    from prefect_widgets.views import TaskRunView

TaskRunSort = Literal["RUN_ORDER", "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC",
                      "NAME_ASC", "NAME_DESC", "END_TIME_DESC", "ID_DESC",
                      "NEXT_SCHEDULED_START_TIME_ASC"]

task_run_app = typer.Typer(cls=Group, help="List and inspect the task runs of a flow run.",
                           no_args_is_help=True)
app.add_typer(task_run_app, name="task-run")


def _in_flow_run(state: State, task: TaskRunView) -> TaskRunView:
    """The task run as its flow run lists it (with the listing's map_index), if it is there."""
    if task.flow_run_id is None:
        return task
    try:
        run = flow_run_by_id(state, task.flow_run_id)
    except NotFound:
        return task
    for listed in snapshot_task_runs(run):
        if listed.task_run_id == task.task_run_id:
            return listed
    return task  # created after the listing was read


def _kept(views: list[TaskRunView], types: list[str] | None, tags: list[str] | None,
          after: datetime | None) -> list[TaskRunView]:
    """The task runs that pass `--state`, `--tag` and `--since` (`filters.keeps`)."""
    import pandas as pd

    frame = pd.DataFrame({"state_type": [v.state.type for v in views],
                          "tags": [list(v.tags) for v in views],
                          "start_time": [v.start_time for v in views]})
    return [view for view, kept in zip(views, keeps(frame, types, tags, after)) if kept]


def _sorted_task_runs(views: list[TaskRunView], sort: str) -> list[TaskRunView]:
    """`--sort` applied to the listing (which is in run order; ties keep run order)."""
    if sort == "RUN_ORDER":
        return list(views)

    def by_time(value: Any, descending: bool) -> Callable[[TaskRunView], Any]:
        def key(view: TaskRunView) -> Any:
            when = value(view)
            stamp = when.timestamp() if when is not None else 0.0
            return (when is None, -stamp if descending else stamp)
        return key

    if sort == "EXPECTED_START_TIME_ASC":
        return sorted(views, key=by_time(lambda v: v.expected_start_time, False))
    if sort == "EXPECTED_START_TIME_DESC":
        return sorted(views, key=by_time(lambda v: v.expected_start_time, True))
    if sort in ("NAME_ASC", "NAME_DESC"):
        return sorted(views, key=lambda v: v.name, reverse=sort == "NAME_DESC")
    if sort == "END_TIME_DESC":
        return sorted(views, key=by_time(lambda v: v.end_time, True))
    if sort == "ID_DESC":
        return sorted(views, key=lambda v: v.task_run_id, reverse=True)
    if sort == "NEXT_SCHEDULED_START_TIME_ASC":
        scheduled = [v for v in views if v.state.type == "SCHEDULED"]
        rest = [v for v in views if v.state.type != "SCHEDULED"]
        return sorted(scheduled, key=by_time(lambda v: v.expected_start_time, False)) + rest
    raise InvalidRequest(f"Unknown sort order {sort!r}.")


@command(task_run_app, "ls")
def task_run_ls(
    flow_run_id: Annotated[str, flow_run_arg("The flow run whose task runs to list.")],
    state_types: StateOpt = None,
    sort: Annotated[TaskRunSort, typer.Option(
        "--sort", case_sensitive=False, metavar="ORDER",
        help="Order of the rows: RUN_ORDER (by actual start, then expected start; the order "
             "of FlowRunView.task_runs() and to_dataframe()), EXPECTED_START_TIME_ASC, "
             "EXPECTED_START_TIME_DESC, NAME_ASC, NAME_DESC, END_TIME_DESC, ID_DESC or "
             "NEXT_SCHEDULED_START_TIME_ASC (scheduled runs first; any case).",
    )] = "RUN_ORDER",
    tags: TagOpt = None,
    since: SinceOpt = None,
    limit: Annotated[int, limit_opt("task runs")] = 100,
    wide: WideOpt = False,
    utc: TimesOpt = True,
    output: OutputOpt = None,
) -> None:
    """List the task runs of a flow run, subflow runs included, in run order by default.

    TASK is the task's name, with \\[k] (the map index) for a task that ran more than once, or \\[~k] when runs were created in the same millisecond and k is a guess. RETRIES are retries that happened. Subflow runs have the kind "subflow-run" in json output.

    The whole run is read once; --state, --tag, --since, --sort and --limit apply to that listing.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    state = view_options(utc=utc, wide=wide)
    run = flow_run(state, flow_run_id)  # an unknown run is an error, not an empty list
    types = parse_states(state_types)
    after = parse_since(since)
    tasks = _kept(snapshot_task_runs(run), types, tags, after)
    total = len(tasks)
    tasks = _sorted_task_runs(tasks, sort.upper())[:limit_or_none(limit)]
    records = [task_run_record(t) for t in tasks]
    out = state.out(output)
    print_runs(out, records, id_key="task_run_id", names=[
        Column("task_label", "TASK", max_width=30, min_width=6, middle=True),  # keeps [k]
        Column("name", "NAME", max_width=40, min_width=8, middle=True, priority=True),
    ], extra=[Column("retries", "RETRIES", justify="right", whole=True)],
        empty="No task runs match.")
    if out.is_table and limit and total > len(records):
        note(f"Showing {len(records)} of {total} task runs; use --limit 0 to see all.")


@command(task_run_app, "inspect")
def task_run_inspect(
    run_id: Annotated[str, typer.Argument(
        metavar="TASK_RUN|FLOW_RUN", show_default=False,
        help="The task run (an id, a unique id prefix or a task run name); with --slug, its "
             "flow run (an id, a unique id prefix or a run name).")],
    slug: Annotated[str | None, typer.Option(
        "--slug", metavar="NAME",
        help="Find the task run in flow run FLOW_RUN by task run name (say_hello-4a1), task "
             "key or task name.")] = None,
    map_index: Annotated[int | None, typer.Option(
        "--map-index", min=0, metavar="K",
        help="With --slug: the K-th run of a mapped or repeated task (0-based; the "
             "map_index of `task-run ls`).")] = None,
    full: Annotated[bool, typer.Option(
        "--full", metavar="",
        help="Show every frame of the traceback, Prefect's internal ones too.")] = False,
    utc: TimesOpt = True,
    output: OutputOpt = None,
) -> None:
    """Show one task run: its state, timings, map index, retries, inputs, state history, error and artifacts.

    The map index is numbered as `task-run ls` numbers it; retries are those that happened, with the configured limit (max_retries). The error shows the user's frames and the final exception line, Prefect's internal frames folded unless --full.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    state = view_options(utc=utc)
    if slug is None:
        if map_index is not None:
            raise InvalidRequest("--map-index only works with --slug.")
        task = _in_flow_run(state, task_run(state, run_id))
    else:
        if not slug:
            raise InvalidRequest("--slug must be a non-empty string.")
        try:
            run = flow_run(state, run_id)
            snapshot_task_runs(run)  # read with the CLI's progress policy
            task = run.get_task_run(task_slug=slug, map_index=map_index)
        except AmbiguousTaskRun as exc:
            message = str(exc).replace("pass map_index= or", "pass --map-index K or")
            raise AmbiguousTaskRun(message, exc.candidates) from None
    history = task.state_history
    failure, artifacts = task.error, task.artifacts
    record = {
        **task_run_record(task),
        "expected_start_time": iso(task.expected_start_time),
        "total_run_time": seconds(task.total_run_time),
        "upstream_task_run_ids": task.upstream_task_run_ids,
        "states": history_records(history),
        "error": failure_record(failure) if failure is not None else None,
        "artifacts": [artifact_record(a) for a in artifacts],
    }
    out = state.out(output)
    if out.format == "json":
        out.json(record)
        return
    if not out.is_table:
        out.pairs([(k, v) for k, v in record.items()
                   if k not in ("states", "error", "artifacts")]
                  + [(f"state.{i}", f"{s['timestamp']} {s['name']} ({s['duration']} s)"
                      + (f": {s['message']}" if s["message"] else ""))
                     for i, s in enumerate(record["states"])]
                  + (failure_pairs(failure) if failure is not None else [])
                  + [(f"artifact.{a['key'] or a['artifact_id']}",
                      f"{a['kind']}: {a['description'] or ''}: {a['detail']}")
                     for a in record["artifacts"]])
        return
    limit = record["max_retries"]
    rows: list[tuple[str, Any]] = [
        ("Task run", f"{task.name}  ({task.task_run_id})"),
        ("Flow run", task.flow_run_id or "-"),
        ("State", state_line(task.state.type, task.state.name, task.state.message)),
        ("Timings", f"started {shown_time(task.start_time)}, ended {shown_time(task.end_time)}, "
                    f"took {human_duration(task.duration)}"),
        ("Attempts", f"{task.run_count} ({task.retries} "
                     f"{'retry' if task.retries == 1 else 'retries'}"
                     + (f"; up to {limit} allowed)" if limit is not None else ")")),
    ]
    if task.map_index is not None:
        rows.append(("Task", record["task_label"]))
        rows.append(("Map index", f"{task.map_index}" + (" (a guess: created in the same "
                                                          "millisecond as another run)"
                                                          if task.map_index_uncertain else "")))
    if task.kind == "subflow-run":
        rows.append(("Subflow run", task.child_flow_run_id or "-"))
    if task.tags:
        rows.append(("Tags", ", ".join(task.tags)))
    if task.upstream_task_run_ids:
        rows.append(("Upstream", "\n".join(task.upstream_task_run_ids)))
    rows.append(("History", history_text(history) if len(history) else "-"))
    out.print(detail_table(rows))
    if failure is not None:
        out.print(Text("\nError:", style="bold"))
        out.print(failure_text(failure, full=full))
    if len(artifacts):
        out.print(Text(f"\nArtifacts ({len(artifacts)}):", style="bold"))
        out.print(artifacts_table(artifacts))
