"""`prefect-widgets logs [--follow]`: print a flow run's logs, or follow them (with its
state changes) until the run finishes. Each line names its task run ("parse_rows-a1b"),
or the flow run for the flow's own lines."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from prefect_widgets.errors import InvalidRequest

from .app import OutputOpt, TimesOpt, app, command, flow_run_arg, shown_time, view_options
from .filters import limit_opt, parse_since
from .lookup import flow_run, resolve
from .output import LEVEL_STYLES, Output, clean, iso, note

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView

#: the tsv/csv columns of a log line
LOG_COLUMNS = ("timestamp", "level_name", "logger", "task_run_id", "task_run_name",
               "task_name", "message")
#: characters of the task-run column of a table line
_RUN_WIDTH = 24


def _log_record(entry: Any) -> dict[str, Any]:
    return {"timestamp": iso(entry.timestamp), "level": entry.level,
            "level_name": entry.level_name, "logger": entry.logger,
            "flow_run_id": entry.flow_run_id, "task_run_id": entry.task_run_id,
            "task_run_name": entry.task_run_name, "task_name": entry.task_name,
            "message": entry.message}


def _run_label(entry: Any, flow_run_name: str) -> Text:
    """The task run that wrote the line (its name, else its id), or the flow run, padded
    to `_RUN_WIDTH` (a longer name is cut with "…")."""
    if entry.task_run_id:
        label, style = entry.task_run_name or entry.task_run_id, "cyan"
    else:
        label, style = flow_run_name or "flow run", "dim"
    label = clean(label, multiline=False)
    if len(label) > _RUN_WIDTH:
        label = label[:_RUN_WIDTH - 1] + "…"
    return Text(f"{label:<{_RUN_WIDTH}}", style=style)


def _print_log(out: Output, entry: Any, *, stream: bool, flow_run_name: str = "") -> None:
    if out.format == "json":
        if stream:
            out.json_line(_log_record(entry))
        return
    if out.format in ("tsv", "csv"):
        record = _log_record(entry)
        out.plain_row([record[k] for k in LOG_COLUMNS])
        out.file.flush()
        return
    line = Text(f"{shown_time(entry.timestamp)} ", style="dim")
    line.append(f"{clean(entry.level_name, multiline=False):<8}",
                style=LEVEL_STYLES.get(entry.level_name, ""))
    line.append(" ")
    line.append_text(_run_label(entry, flow_run_name))
    line.append(" ")
    line.append(clean(entry.message))
    out.print(line)


@command(app, "logs")
def logs(
    flow_run_id: Annotated[str, flow_run_arg("The flow run whose logs to show.")],
    level: Annotated[str | None, typer.Option(
        "--level", "-l", metavar="LEVEL",
        help="Minimum level: DEBUG, INFO, WARNING, ERROR, CRITICAL (or a number).")] = None,
    task_run: Annotated[str | None, typer.Option(
        "--task-run", metavar="TASK_RUN",
        help="Only the logs of this task run: an id, a unique id prefix or a name.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME",
        help="Only lines written at or after TIME: back from now (30m, 1h, 2d, 1w) or an ISO "
             "8601 time (UTC when no zone is given).")] = None,
    limit: Annotated[int, limit_opt("lines, the newest (not with --follow)")] = 0,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", metavar="",
        help="Keep printing new lines and state changes until the run finishes.")] = False,
    poll_interval: Annotated[float, typer.Option(
        "--poll-interval", min=0.2, metavar="SECONDS",
        help="With --follow: seconds between polls (backs off to 5x when nothing arrives).",
    )] = 2.0,
    utc: TimesOpt = True,
    output: OutputOpt = None,
) -> None:
    """Print a flow run's logs, oldest first, each line with the task run that wrote it (or the flow run).

    JSON output is a list, or one object per line with --follow. The tsv and csv columns are timestamp, level, logger, task_run_id, task_run_name, task_name and message.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    from prefect_widgets.logs import _level_number, watch_flow_run

    state = view_options(utc=utc)
    if follow and limit:
        raise InvalidRequest("--limit does not apply to --follow; use --since to start later.")
    after = parse_since(since)
    level_value: int | str | None = level
    if level is not None and level.strip().isdigit():
        level_value = int(level)
    minimum = _level_number(level_value.upper() if isinstance(level_value, str)
                            else level_value)
    run = flow_run(state, flow_run_id)
    if task_run is not None:
        task_run = resolve(state, "task run", task_run)
    out = state.out(output)
    if out.format == "csv":
        out.plain_row(LOG_COLUMNS)
    if not follow:
        entries = list(run.get_logs(level=minimum, task_run_id=task_run, since=after,
                                    end_time=None))
        entries = entries[-limit:] if limit else entries
        if out.format == "json":
            out.json([_log_record(e) for e in entries])
            return
        for entry in entries:
            _print_log(out, entry, stream=False, flow_run_name=run.name)
        if out.is_table and not len(entries):
            note("No log lines match.")
        return
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
        if after is not None and entry.timestamp < after:
            continue
        _print_log(out, entry, stream=True, flow_run_name=run.name)
    if run.end_time is None or (datetime.now(timezone.utc) - run.end_time).total_seconds() < 15:
        _drain_late_logs(out, run, seen, minimum, task_run)


def _drain_late_logs(out: Output, run: FlowRunView, seen: set[str | None],
                     minimum: int | None, task_run: str | None, grace: float = 4.0) -> None:
    """Print log lines that reach the server after the run's final state.

    A flow process ships its last log batch after reporting its final state, so the
    final poll of `watch_flow_run` can miss up to a couple of seconds of lines. Poll a
    little longer, stopping once a poll brings nothing new after a quiet second.
    """
    deadline = time.monotonic() + grace
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        fresh = [e for e in run.get_logs(level=minimum, task_run_id=task_run, end_time=None)
                 if e.id not in seen]
        for entry in fresh:
            seen.add(entry.id)
            _print_log(out, entry, stream=True, flow_run_name=run.name)
        if fresh:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.5:
            return
