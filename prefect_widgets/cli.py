"""The `prefect-widgets` command line: look up, export and report on Prefect runs.

Every command is a thin layer over the library (`FlowRunView`, `TaskRunView`, queries,
logs, DataFrames). Output: a table on a terminal, tab-separated lines when piped, or
`--output csv|json`. Exit codes: 0 ok, 1 not found or bad input, 2 usage, 3 server
unreachable, auth refused or server failing. Errors are one line on stderr; `--debug`
adds the traceback. The API key is never printed.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, TypeVar

import typer

from ._version import __version__
from .errors import (
    AmbiguousTaskRun,
    BadResponse,
    ConfigurationError,
    InvalidRequest,
    NotFound,
    PrefectWidgetsError,
    ResultNotAvailable,
    ServerError,
    ServerUnreachable,
    Unauthorized,
    WatchTimeout,
)

if TYPE_CHECKING:
    from .client import Client
    from .views import FlowRunView, TaskRunView

__all__ = ["app", "main", "EXIT_OK", "EXIT_INPUT", "EXIT_USAGE", "EXIT_SERVER"]

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_SERVER = 0, 1, 2, 3
_INPUT_ERRORS = (NotFound, InvalidRequest, AmbiguousTaskRun, ConfigurationError,
                 ResultNotAvailable, WatchTimeout)
_SERVER_ERRORS = (ServerUnreachable, Unauthorized, ServerError, BadResponse)

STATE_HELP = ("State type; repeat or comma-separate for several: SCHEDULED, PENDING, RUNNING, "
              "PAUSED, CANCELLING, COMPLETED, FAILED, CANCELLED, CRASHED (any case).")
TaskRunSort = Literal["RUN_ORDER", "EXPECTED_START_TIME_ASC", "EXPECTED_START_TIME_DESC",
                      "NAME_ASC", "NAME_DESC", "END_TIME_DESC", "ID_DESC",
                      "NEXT_SCHEDULED_START_TIME_ASC"]
OutputFormat = Literal["table", "tsv", "csv", "json"]
ExportFormat = Literal["csv", "parquet", "json"]

app = typer.Typer(
    help="Look up, export and report on Prefect runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
flow_run_app = typer.Typer(help="List and inspect flow runs.", no_args_is_help=True)
task_run_app = typer.Typer(help="List and inspect the task runs of a flow run.",
                           no_args_is_help=True)
app.add_typer(flow_run_app, name="flow-run")
app.add_typer(task_run_app, name="task-run")


# --------------------------------------------------------------------------- shared state


@dataclass
class _State:
    """What the global options decided, shared by every command of one invocation."""

    output: str | None = None
    debug: bool = False
    retries: int = 2
    timeout: float = 30.0
    secrets: tuple[str, ...] = ()
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from .client import Client, RetryPolicy

            self._client = Client(timeout=self.timeout,
                                  retry=RetryPolicy(max_retries=self.retries, max_total=30.0))
            self.secrets = tuple({*self.secrets, *self._client.settings.secrets})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def out(self, override: str | None = None):
        from ._cli_output import Output

        fmt = override or self.output
        if fmt is None:
            fmt = "table" if sys.stdout.isatty() else "tsv"
        return Output(fmt.lower())

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


_current: ContextVar[_State | None] = ContextVar("prefect_widgets_cli_state", default=None)


def _state() -> _State:
    """This invocation's options (set by the `options` callback, which always runs first)."""
    state = _current.get()
    if state is None:
        state = _State()
        _current.set(state)
    return state


def _fail(state: _State, exc: BaseException, code: int, prefix: str = "Error") -> None:
    message = " ".join(str(exc).split()) or type(exc).__name__
    if state.debug:
        sys.stderr.write(state.scrub("".join(traceback.format_exception(exc))))
    sys.stderr.write(state.scrub(f"{prefix}: {message}") + "\n")
    sys.stderr.flush()
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def _handles_errors(func: F) -> F:
    """Turn library errors into one stderr line and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = _state()
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except ConfigurationError as exc:
            hint = str(exc).replace("pass api_url=...", "pass --api-url URL")
            _fail(state, ConfigurationError(hint), EXIT_INPUT)
        except _INPUT_ERRORS as exc:
            _fail(state, exc, EXIT_INPUT)
        except _SERVER_ERRORS as exc:
            _fail(state, exc, EXIT_SERVER)
        except PrefectWidgetsError as exc:
            _fail(state, exc, EXIT_INPUT)
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `prefect-widgets ... | head`
            sys.stderr.close()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:  # noqa: BLE001 - one line, traceback with --debug
            detail = f"{type(exc).__name__}: {exc}. Run with --debug for the traceback."
            _fail(state, RuntimeError(detail), EXIT_INPUT, prefix="Error (unexpected)")
        finally:
            state.close()

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prefect-widgets {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    api_url: Annotated[Optional[str], typer.Option(
        "--api-url", metavar="URL",
        help="Prefect API URL, e.g. http://127.0.0.1:4200/api (default: PREFECT_API_URL, "
             "then the active Prefect profile).")] = None,
    api_key: Annotated[Optional[str], typer.Option(
        "--api-key", metavar="KEY", show_default=False,
        help="Prefect Cloud API key (default: PREFECT_API_KEY or the profile). Never printed.",
    )] = None,
    profile: Annotated[Optional[str], typer.Option(
        "--profile", metavar="NAME",
        help="Prefect profile from $PREFECT_HOME/profiles.toml to take settings from.")] = None,
    output: Annotated[Optional[OutputFormat], typer.Option(
        "--output", case_sensitive=False, metavar="FORMAT",
        help="Output format: table (default on a terminal), tsv (default when piped: "
             "tab-separated, no header), csv (with header) or json.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Print the full traceback with errors.")] = False,
    retries: Annotated[int, typer.Option(
        "--retries", min=0, max=20, metavar="N",
        help="Retries of a failed or refused request before giving up.")] = 2,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, metavar="SECONDS", help="Timeout of each HTTP request.")] = 30.0,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Look up, export and report on Prefect runs.

    Connection settings resolve like Prefect's own client: options, then PREFECT_API_URL /
    PREFECT_API_KEY, then the active profile. Exit codes: 0 ok, 1 not found or bad input,
    2 usage, 3 server unreachable or refusing.
    """
    from .settings import configure

    if api_url or api_key or profile:  # otherwise keep this process's configure()/env/profile
        configure(api_url=api_url, api_key=api_key, profile=profile)
    ctx.obj = state = _State(output=output, debug=debug, retries=retries, timeout=timeout,
                     secrets=tuple(s for s in (api_key,) if s))
    _current.set(state)


# --------------------------------------------------------------------------- helpers


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


def _states(values: list[str] | None) -> list[str] | None:
    """`--state failed --state crashed` or `--state failed,crashed` → upper-case types."""
    if not values:
        return None
    found = [part.strip().upper() for value in values for part in value.split(",")]
    found = [value for value in found if value]
    if not found:
        raise InvalidRequest("--state needs a state type such as FAILED.")
    from .states import STATE_TYPES

    bad = [value for value in found if value not in STATE_TYPES]
    if bad:
        raise InvalidRequest(f"Unknown state type {bad[0]!r}; use one of "
                             f"{', '.join(STATE_TYPES)}.")
    return found


def _limit(value: int) -> int | None:
    return None if value == 0 else value


def _flow_run(state: _State, id_or_name: str) -> FlowRunView:
    from .views import FlowRunView

    client = state.client()
    if _is_uuid(id_or_name):
        return FlowRunView.from_flow_run_id(id_or_name, client=client)
    try:
        return FlowRunView.from_flow_run_name(id_or_name, client=client)
    except NotFound:
        raise NotFound(f"{id_or_name!r} is not a flow run id (a UUID such as "
                       "8e445d74-9ca6-425b-98e5-72754b7ea174) and no flow run has that name. "
                       "List runs with `prefect-widgets flow-run ls`.") from None


def _flow_run_by_id(state: _State, flow_run_id: str) -> FlowRunView:
    from .views import FlowRunView

    return FlowRunView.from_flow_run_id(flow_run_id, client=state.client())


def _flow_names(state: _State, flow_ids: set[str]) -> dict[str, str]:
    from .views import FlowView

    names = {}
    for flow_id in flow_ids:
        try:
            names[flow_id] = FlowView.from_flow_id(flow_id, client=state.client()).name
        except NotFound:
            names[flow_id] = ""
    return names


def _interactive() -> bool:
    return sys.stderr.isatty()


def _note(message: str) -> None:
    """A hint for people, on stderr (never mixed into the data on stdout)."""
    sys.stderr.write(message + "\n")


# --------------------------------------------------------------------------- records


def _flow_run_record(view: FlowRunView, flow_name: str | None = None) -> dict[str, Any]:
    from ._cli_output import iso, seconds

    return {
        "flow_run_id": view.flow_run_id, "name": view.name, "flow_id": view.flow_id,
        "flow_name": flow_name, "state_type": view.state.type, "state_name": view.state.name,
        "state_message": view.state.message, "start_time": iso(view.start_time),
        "end_time": iso(view.end_time), "duration": seconds(view.duration),
        "tags": list(view.tags), "parameters": view.parameters,
    }


def _task_run_record(view: TaskRunView) -> dict[str, Any]:
    """One task run as the CLI prints it; the derived fields (task_name, map_index, retries,
    kind, ...) are the view's, defined once in `prefect_widgets.records`."""
    from ._cli_output import iso, seconds
    from .formatting import task_label

    return {
        "task_run_id": view.task_run_id, "name": view.name, "task_name": view.task_name,
        "task_label": task_label(view.task_name, view.map_index, view.mapped,
                                 view.map_index_uncertain),
        "map_index": view.map_index, "map_index_uncertain": view.map_index_uncertain,
        "mapped": view.mapped, "kind": view.kind, "task_key": view.task_key,
        "flow_run_id": view.flow_run_id, "child_flow_run_id": view.child_flow_run_id,
        "state_type": view.state.type,
        "state_name": view.state.name, "state_message": view.state.message,
        "start_time": iso(view.start_time), "end_time": iso(view.end_time),
        "duration": seconds(view.duration), "run_count": view.run_count,
        "retries": view.retries, "max_retries": view.max_retries,
        "tags": list(view.tags),
    }


def _snapshot_task_runs(run: FlowRunView) -> list[TaskRunView]:
    """The task runs of the run's snapshot, in run order (`FlowRunView.task_runs()`)."""
    return run.task_runs(progress=None if _interactive() else False)


def _in_flow_run(state: _State, task: TaskRunView) -> TaskRunView:
    """The task run as its flow run lists it (with the listing's map_index), if it is there."""
    if task.flow_run_id is None:
        return task
    try:
        run = _flow_run_by_id(state, task.flow_run_id)
    except NotFound:
        return task
    for listed in _snapshot_task_runs(run):
        if listed.task_run_id == task.task_run_id:
            return listed
    return task  # created after the listing was read


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


def _time_cell(value: str | None) -> str:
    """Local time for a listing; the year only when it is not this year."""
    from datetime import datetime

    if not value:
        return "-"
    when = datetime.fromisoformat(value).astimezone()
    same_year = when.year == datetime.now().astimezone().year
    return when.strftime("%m-%d %H:%M:%S" if same_year else "%Y-%m-%d %H:%M")


def _duration_cell(value: float | None) -> str:
    from ._cli_output import human_duration

    return human_duration(value)


def _state_column(out: Any, records: list[dict[str, Any]]) -> Any:
    """The STATE column: a coloured badge in tables, the plain state type elsewhere."""
    from ._cli_output import Column

    if not out.is_table:
        return Column("state_type", "STATE")
    for record in records:
        record["_state"] = record
    return Column("_state", "STATE", table=_state_cell_from, min_width=9)


def _state_cell_from(record: dict[str, Any]) -> Any:
    from ._cli_output import state_text

    return state_text(record["state_type"], record["state_name"])


# --------------------------------------------------------------------------- flow-run


OutputOpt = Annotated[Optional[OutputFormat], typer.Option(
    "--output", case_sensitive=False, metavar="FORMAT",
    help="Output format (overrides the global --output): table, tsv, csv or json.")]


@flow_run_app.command("ls")
@_handles_errors
def flow_run_ls(
    flow: Annotated[Optional[str], typer.Option(
        "--flow", metavar="NAME", help="Only runs of the flow with this name.")] = None,
    state_types: Annotated[Optional[list[str]], typer.Option(
        "--state", metavar="TYPE", help=STATE_HELP)] = None,
    name: Annotated[Optional[str], typer.Option(
        "--name", metavar="NAME", help="Only runs with exactly this run name.")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=0, metavar="N", help="Show at most N runs (0: all).")] = 20,
    output: OutputOpt = None,
) -> None:
    """List flow runs, newest first."""
    from ._cli_output import Column
    from .views import FlowRunView

    state = _state()
    runs = FlowRunView.query(flow_name=flow, state_type=_states(state_types), name=name,
                             limit=_limit(limit), sort="START_TIME_DESC", client=state.client())
    names = _flow_names(state, {run.flow_id for run in runs})
    records = [_flow_run_record(run, names.get(run.flow_id)) for run in runs]
    out = state.out(output)
    state_column = _state_column(out, records)
    out.rows([
        Column("flow_run_id", "ID", min_width=36),
        Column("flow_name", "FLOW", max_width=30, min_width=8, wrap=True),
        Column("name", "NAME", max_width=30, min_width=8, wrap=True),
        state_column,
        Column("start_time", "STARTED", table=_time_cell, min_width=14),
        Column("duration", "DURATION", table=_duration_cell, justify="right"),
    ], records, empty="No flow runs match.")
    if out.is_table and limit and len(records) == limit:
        _note(f"Showing the newest {limit}; use --limit N (0 for all) to see more.")


def _state_line(state_type: str, name: str, message: str | None) -> Any:
    from rich.text import Text

    from ._cli_output import clean, state_text

    text = state_text(state_type, name)
    if message:
        text.append(": ")
        text.append(Text(clean(message)))
    return text


@flow_run_app.command("inspect")
@_handles_errors
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
    import json

    from rich.text import Text

    from ._cli_output import clean, detail_table, human_duration, iso, local_time, seconds
    from .formatting import run_counts_text
    from .states import STATE_TYPES

    state = _state()
    run = _flow_run(state, id_or_name)
    flow_name = _flow_names(state, {run.flow_id}).get(run.flow_id)
    views = _snapshot_task_runs(run)
    subflow_runs = sum(1 for t in views if t.kind == "subflow-run")
    by_state = {t: 0 for t in STATE_TYPES}
    for task in views:
        by_state[task.state.type] = by_state.get(task.state.type, 0) + 1
    counts = {k: v for k, v in by_state.items() if v}
    problems = [t for t in views if t.state.type in ("FAILED", "CRASHED")]
    failed = problems[:failed_limit]
    failed_total = len(problems)
    record = {
        **_flow_run_record(run, flow_name),
        "expected_start_time": iso(run.expected_start_time),
        "total_run_time": seconds(run.total_run_time), "run_count": run.run_count,
        "deployment_id": run.deployment_id, "parent_task_run_id": run.parent_task_run_id,
        "ui_url": run.ui_url, "task_run_count": len(views) - subflow_runs,
        "subflow_run_count": subflow_runs,
        "task_run_counts": counts,
        "failed_task_runs": [_task_run_record(t) for t in failed],
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
        count_text.append_text(_state_line(kind, f"{kind.title()} {number}", None))
    timings = (f"started {local_time(run.start_time)}, ended {local_time(run.end_time)}, "
               f"took {human_duration(run.duration)} (run time "
               f"{human_duration(run.total_run_time)}, {run.run_count} attempt"
               f"{'s' if run.run_count != 1 else ''})")
    rows: list[tuple[str, Any]] = [
        ("Flow run", f"{run.name}  ({run.flow_run_id})"),
        ("Flow", flow_name or run.flow_id),
        ("State", _state_line(run.state.type, run.state.name, run.state.message)),
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
        from rich.table import Table

        out.print(Text(f"\nFailed task runs ({failed_total}):", style="bold"))
        grid = Table.grid(padding=(0, 2), pad_edge=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for task in failed:
            label = Text(clean(task.name, multiline=False), style="bold")
            label.append(f"\n{task.task_run_id}", style="dim")
            grid.add_row(label, _state_line(task.state.type, task.state.name, task.state.message))
        out.print(grid)
        if failed_total > len(failed):
            out.print(Text(f"  … {failed_total - len(failed)} more "
                           f"(prefect-widgets task-run ls {run.flow_run_id} --state failed)",
                           style="dim"))
        out.print(Text(f"\nLogs: prefect-widgets logs {run.flow_run_id} --level error",
                       style="dim"))


# --------------------------------------------------------------------------- task-run


@task_run_app.command("ls")
@_handles_errors
def task_run_ls(
    flow_run_id: Annotated[str, typer.Argument(metavar="FLOW_RUN_ID",
                                               help="The flow run whose task runs to list.")],
    state_types: Annotated[Optional[list[str]], typer.Option(
        "--state", metavar="TYPE", help=STATE_HELP)] = None,
    sort: Annotated[TaskRunSort, typer.Option(
        "--sort", case_sensitive=False, metavar="ORDER",
        help="Order of the rows: RUN_ORDER (by actual start, then expected start; the order "
             "of FlowRunView.task_runs() and to_dataframe()), EXPECTED_START_TIME_ASC, "
             "EXPECTED_START_TIME_DESC, NAME_ASC, NAME_DESC, END_TIME_DESC, ID_DESC or "
             "NEXT_SCHEDULED_START_TIME_ASC (scheduled runs first; any case).",
    )] = "RUN_ORDER",
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=0, metavar="N", help="Show at most N task runs (0: all).")] = 100,
    output: OutputOpt = None,
) -> None:
    """List the task runs of a flow run (subflow runs included, kind "subflow-run"), in run
    order by default. TASK is the task's name, with [k] (the map index) for a task that ran
    more than once; [~k] when runs were created in the same millisecond and k is a guess.
    RETRIES are retries that happened. The whole run is read once; --state, --sort and
    --limit apply to that listing."""
    from ._cli_output import Column

    state = _state()
    run = _flow_run_by_id(state, flow_run_id)  # an unknown id is an error, not an empty list
    types = _states(state_types)
    tasks = _snapshot_task_runs(run)
    if types:
        tasks = [t for t in tasks if t.state.type in types]
    total = len(tasks)
    tasks = _sorted_task_runs(tasks, sort.upper())[:_limit(limit)]
    records = [_task_run_record(t) for t in tasks]
    out = state.out(output)
    state_column = _state_column(out, records)
    out.rows([
        Column("task_run_id", "ID", min_width=36),
        Column("task_label", "TASK", max_width=30, min_width=6, wrap=True),
        Column("name", "NAME", max_width=40, min_width=8, wrap=True),
        state_column,
        Column("start_time", "STARTED", table=_time_cell, min_width=14),
        Column("duration", "DURATION", table=_duration_cell, justify="right"),
        Column("retries", "RETRIES", justify="right"),
    ], records, empty="No task runs match.")
    if out.is_table and limit and total > len(records):
        _note(f"Showing {len(records)} of {total} task runs; use --limit 0 to see all.")


@task_run_app.command("inspect")
@_handles_errors
def task_run_inspect(
    run_id: Annotated[str, typer.Argument(
        metavar="TASK_RUN_ID|FLOW_RUN_ID",
        help="A task run id; or, with --slug, the id of its flow run.")],
    slug: Annotated[Optional[str], typer.Option(
        "--slug", metavar="NAME",
        help="Find the task run in flow run RUN_ID by task run name (say_hello-4a1), task key "
             "or task name.")] = None,
    map_index: Annotated[Optional[int], typer.Option(
        "--map-index", min=0, metavar="K",
        help="With --slug: the K-th run of a mapped or repeated task (0-based; the "
             "map_index of `task-run ls`).")] = None,
    output: OutputOpt = None,
) -> None:
    """Show one task run: state and message, timings, map index (as `task-run ls` numbers
    it), retries that happened and the configured limit (max_retries), inputs and state
    history."""
    from rich.text import Text

    from ._cli_output import detail_table, human_duration, iso, local_time, seconds
    from .views import TaskRunView

    state = _state()
    client = state.client()
    if slug is None:
        if map_index is not None:
            raise InvalidRequest("--map-index only works with --slug.")
        task = _in_flow_run(state, TaskRunView.from_task_run_id(run_id, client=client))
    else:
        if not slug:
            raise InvalidRequest("--slug must be a non-empty string.")
        try:
            run = _flow_run_by_id(state, run_id)
            _snapshot_task_runs(run)  # read with the CLI's progress policy
            task = run.get_task_run(task_slug=slug, map_index=map_index)
        except AmbiguousTaskRun as exc:
            message = str(exc).replace("pass map_index= or", "pass --map-index K or")
            raise AmbiguousTaskRun(message, exc.candidates) from None
    history = task.states
    record = {
        **_task_run_record(task),
        "expected_start_time": iso(task.expected_start_time),
        "total_run_time": seconds(task.total_run_time),
        "upstream_task_run_ids": task.upstream_task_run_ids,
        "states": [{"type": s.type, "name": s.name, "message": s.message,
                    "timestamp": iso(s.timestamp)} for s in history],
    }
    out = state.out(output)
    if out.format == "json":
        out.json(record)
        return
    if not out.is_table:
        out.pairs([(k, v) for k, v in record.items() if k != "states"]
                  + [(f"state.{i}", f"{s['timestamp']} {s['name']}"
                      + (f": {s['message']}" if s["message"] else ""))
                     for i, s in enumerate(record["states"])])
        return
    limit = record["max_retries"]
    rows: list[tuple[str, Any]] = [
        ("Task run", f"{task.name}  ({task.task_run_id})"),
        ("Flow run", task.flow_run_id or "-"),
        ("State", _state_line(task.state.type, task.state.name, task.state.message)),
        ("Timings", f"started {local_time(task.start_time)}, ended {local_time(task.end_time)}, "
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
    history_text = Text()
    for i, item in enumerate(history):
        if i:
            history_text.append("\n")
        history_text.append(f"{local_time(item.timestamp)}  ")
        history_text.append_text(_state_line(item.type, item.name, item.message))
    rows.append(("History", history_text if history else "-"))
    out.print(detail_table(rows))


# --------------------------------------------------------------------------- logs


def _log_record(entry: Any) -> dict[str, Any]:
    from ._cli_output import iso

    return {"timestamp": iso(entry.timestamp), "level": entry.level,
            "level_name": entry.level_name, "logger": entry.logger,
            "flow_run_id": entry.flow_run_id, "task_run_id": entry.task_run_id,
            "message": entry.message}


def _print_log(out: Any, entry: Any, *, stream: bool) -> None:
    from rich.text import Text

    from ._cli_output import LEVEL_STYLES, _plain, clean

    if out.format == "json":
        if stream:
            out.json_line(_log_record(entry))
        return
    if out.format in ("tsv", "csv"):
        record = _log_record(entry)
        values = [record[k] for k in ("timestamp", "level_name", "logger", "task_run_id",
                                      "message")]
        if out.format == "csv":
            import csv

            csv.writer(out.file, lineterminator="\n").writerow([_plain(v) for v in values])
        else:
            out.file.write("\t".join(clean(_plain(v), multiline=False) for v in values) + "\n")
        out.file.flush()
        return
    line = Text(f"{entry.timestamp.astimezone():%H:%M:%S} ", style="dim")
    line.append(f"{entry.level_name:<8}", style=LEVEL_STYLES.get(entry.level_name, ""))
    line.append(" ")
    line.append(clean(entry.message))
    out.print(line)


@app.command("logs")
@_handles_errors
def logs(
    flow_run_id: Annotated[str, typer.Argument(metavar="FLOW_RUN_ID",
                                               help="The flow run whose logs to show.")],
    level: Annotated[Optional[str], typer.Option(
        "--level", "-l", metavar="LEVEL",
        help="Minimum level: DEBUG, INFO, WARNING, ERROR, CRITICAL (or a number).")] = None,
    task_run: Annotated[Optional[str], typer.Option(
        "--task-run", metavar="ID", help="Only the logs of this task run.")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f",
        help="Keep printing new lines and state changes until the run finishes.")] = False,
    poll_interval: Annotated[float, typer.Option(
        "--poll-interval", min=0.2, metavar="SECONDS",
        help="With --follow: seconds between polls (backs off to 5x when nothing arrives).",
    )] = 2.0,
    output: OutputOpt = None,
) -> None:
    """Print a flow run's logs, oldest first. JSON output is a list, or one object per line
    with --follow; tsv/csv columns: timestamp, level, logger, task_run_id, message."""
    from .logs import _level_number, watch_flow_run

    state = _state()
    level_value: int | str | None = level
    if level is not None and level.strip().isdigit():
        level_value = int(level)
    minimum = _level_number(level_value.upper() if isinstance(level_value, str)
                            else level_value)
    run = _flow_run_by_id(state, flow_run_id)
    out = state.out(output)
    if out.format == "csv":
        import csv

        csv.writer(out.file, lineterminator="\n").writerow(
            ["timestamp", "level_name", "logger", "task_run_id", "message"])
    if not follow:
        entries = run.get_logs(level=minimum, task_run_id=task_run)
        if out.format == "json":
            out.json([_log_record(e) for e in entries])
            return
        for entry in entries:
            _print_log(out, entry, stream=False)
        if out.is_table and not len(entries):
            _note("No log lines match.")
        return
    if task_run is not None:
        from ._parse import check_uuid

        task_run = check_uuid(task_run, "--task-run")
    seen: set[str | None] = set()
    for entry in watch_flow_run(run.flow_run_id, client=state.client(),
                                poll_interval=poll_interval,
                                max_poll_interval=poll_interval * 5):
        seen.add(entry.id)
        is_state = entry.logger == "prefect_widgets.watch"
        if not is_state and minimum is not None and entry.level < minimum:
            continue
        if not is_state and task_run is not None and entry.task_run_id != task_run:
            continue
        _print_log(out, entry, stream=True)
    from datetime import datetime, timezone

    if run.end_time is None or (datetime.now(timezone.utc) - run.end_time).total_seconds() < 15:
        _drain_late_logs(out, run, seen, minimum, task_run)


def _drain_late_logs(out: Any, run: FlowRunView, seen: set[str | None], minimum: int | None,
                     task_run: str | None, grace: float = 4.0) -> None:
    """Print log lines that reach the server after the run's final state.

    A flow process ships its last log batch after reporting its final state, so the
    final poll of `watch_flow_run` can miss up to a couple of seconds of lines. Poll a
    little longer, stopping once a poll brings nothing new after a quiet second.
    """
    import time

    deadline = time.monotonic() + grace
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        fresh = [e for e in run.get_logs(level=minimum, task_run_id=task_run)
                 if e.id not in seen]
        for entry in fresh:
            seen.add(entry.id)
            _print_log(out, entry, stream=True)
        if fresh:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.5:
            return


# --------------------------------------------------------------------------- export, report


def _export_format(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt.lower()
    suffix = Path(path).suffix.lower()
    known = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}
    if suffix not in known:
        raise InvalidRequest(f"Cannot tell the export format from {path!r}: name the file "
                             "*.csv, *.parquet or *.json, or pass --format.")
    return known[suffix]


def _csv_ready(frame: Any) -> Any:
    """Lists and dicts as JSON text, so a CSV cell holds one parseable value."""
    import json

    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = [json.dumps(v, default=str, ensure_ascii=False)
                           if isinstance(v, (list, dict, tuple)) else v for v in frame[name]]
    return frame


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """A temp file next to `path`, moved over it only if writing succeeded."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        umask = os.umask(0)
        os.umask(umask)
        temp.chmod(0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@app.command("export")
@_handles_errors
def export(
    flow_run_id: Annotated[str, typer.Argument(metavar="FLOW_RUN_ID",
                                               help="The flow run whose task runs to export.")],
    output_file: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Where to write: *.csv, *.parquet or *.json ('-' for stdout with --format "
             "csv|json).")],
    fmt: Annotated[Optional[ExportFormat], typer.Option(
        "--format", case_sensitive=False,
        help="File format, when the file name does not say.")] = None,
) -> None:
    """Export every task run of a flow run, one row each, with the columns of
    `FlowRunView.to_dataframe()` (task_run_id first). CSV holds lists as JSON text and
    durations as pandas timedeltas; JSON is a list of records (ISO times and durations);
    Parquet keeps the dtypes and needs pyarrow."""
    from importlib.util import find_spec

    state = _state()
    kind = _export_format(output_file, fmt)
    if kind == "parquet" and output_file == "-":
        raise InvalidRequest("Parquet is binary: write it to a file, not to stdout.")
    if kind == "parquet" and find_spec("pyarrow") is None:
        raise ConfigurationError("Writing Parquet needs pyarrow: pip install "
                                 "'prefect-widgets[parquet]' (or pip install pyarrow).")
    target = Path(output_file).expanduser()
    if output_file != "-" and not target.parent.is_dir():
        raise InvalidRequest(f"Cannot write {target}: the folder {target.parent} does not exist.")
    run = _flow_run_by_id(state, flow_run_id)
    frame = run.to_dataframe(progress=None if _interactive() else False)
    table = frame.reset_index()

    def write(target: Any) -> None:
        if kind == "csv":
            _csv_ready(table).to_csv(target, index=False)
        elif kind == "json":
            table.to_json(target, orient="records", date_format="iso", date_unit="us",
                          force_ascii=False, indent=None)
        else:
            table.to_parquet(target, index=False)

    if output_file == "-":
        write(sys.stdout)
        if kind == "json":
            sys.stdout.write("\n")
        return
    try:
        with _atomic_target(target) as temp:
            write(temp)
    except OSError as exc:
        raise InvalidRequest(f"Cannot write {target}: {exc.strerror or exc}.") from None
    _note(f"Wrote {len(table)} task runs ({len(frame.columns) + 1} columns) of flow run "
          f"{run.name!r} to {target}")


@app.command("report")
@_handles_errors
def report(
    flow_run_id: Annotated[str, typer.Argument(metavar="FLOW_RUN_ID",
                                               help="The flow run to report on.")],
    output_file: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="FILE",
        help="HTML file to write (default: flow-run-<first 8 characters of the id>.html).",
    )] = None,
) -> None:
    """Write a self-contained HTML report of a flow run (`FlowRunView.to_html`)."""
    state = _state()
    run = _flow_run_by_id(state, flow_run_id)
    target = Path(output_file or f"flow-run-{run.flow_run_id[:8]}.html").expanduser()
    try:
        import prefect_widgets.report  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "prefect_widgets.report":
            raise
        raise ConfigurationError("HTML reports are not available in this installation of "
                                 "prefect-widgets (prefect_widgets.report is missing).") from None
    try:
        run.to_html(target)
    except OSError as exc:
        raise InvalidRequest(f"Cannot write {target}: {exc.strerror or exc}.") from None
    _note(f"Report of flow run {run.name!r} written to {target}")


# --------------------------------------------------------------------------- count


CountKind = Literal["flow-runs", "task-runs"]


@app.command("count")
@_handles_errors
def count(
    kind: Annotated[CountKind, typer.Argument(
        case_sensitive=False, metavar="[flow-runs|task-runs]",
        help="What to count.")] = "flow-runs",
    by_state: Annotated[bool, typer.Option(
        "--by-state", help="One count per state type (zero counts left out).")] = False,
    flow: Annotated[Optional[str], typer.Option(
        "--flow", metavar="NAME", help="Only runs of the flow with this name.")] = None,
    state_types: Annotated[Optional[list[str]], typer.Option(
        "--state", metavar="TYPE", help=STATE_HELP)] = None,
    name: Annotated[Optional[str], typer.Option(
        "--name", metavar="NAME", help="Only runs with exactly this name.")] = None,
    tags: Annotated[Optional[list[str]], typer.Option(
        "--tag", metavar="TAG", help="Only runs with this tag (repeat: all of them).")] = None,
    flow_run: Annotated[Optional[str], typer.Option(
        "--flow-run", metavar="ID", help="task-runs only: the task runs of this flow run.",
    )] = None,
    since: Annotated[Optional[str], typer.Option(
        "--since", metavar="TIME",
        help="Only runs started at or after this ISO 8601 time (e.g. 2026-11-01T00:00Z).",
    )] = None,
    until: Annotated[Optional[str], typer.Option(
        "--until", metavar="TIME", help="Only runs started before this ISO 8601 time.")] = None,
    output: OutputOpt = None,
) -> None:
    """Count flow runs or task runs on the server, optionally per state type."""
    from ._cli_output import Column
    from .views import FlowRunView, TaskRunView

    state = _state()
    kind = kind.lower()  # type: ignore[assignment]
    filters: dict[str, Any] = {
        "flow_name": flow, "state_type": _states(state_types), "name": name, "tags": tags,
        "start_time_after": since, "start_time_before": until,
    }
    if flow_run is not None:
        if kind != "task-runs":
            raise InvalidRequest("--flow-run only applies to `count task-runs`.")
        filters["flow_run_id"] = flow_run
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
        from ._cli_output import state_text

        records.append({"state": "TOTAL", "count": sum(counts.values())})
        out.rows([Column("state", "STATE", table=lambda s: state_text(s) if s != "TOTAL"
                         else "Total"),
                  Column("count", "COUNT", justify="right")], records,
                 empty="Nothing to count.")
        return
    out.rows([Column("state", "STATE"), Column("count", "COUNT")], records)


# --------------------------------------------------------------------------- demo


@app.command()
def demo(
    api_url: Optional[str] = typer.Option(None, help="Use this server instead of a throwaway one."),
    output: str = typer.Option("demo-report.html", "-o", "--output", help="Report file."),
    lab: bool = typer.Option(False, help="Open JupyterLab on the notebooks afterwards."),
) -> None:
    """Run sample flows on a throwaway local Prefect server and write a report."""
    from .demo import run_demo

    run_demo(api_url=api_url, output=output, lab=lab, echo=typer.echo)


def main() -> None:
    app(prog_name="prefect-widgets")
