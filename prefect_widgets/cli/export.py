"""`prefect-widgets export|report|trace`: write a flow run's task runs to CSV, Parquet or JSON,
a self-contained HTML report of the run, or the run as a Perfetto / Chrome trace."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from prefect_widgets.errors import ConfigurationError, InvalidRequest
from prefect_widgets.formatting import csv_cell, json_visible

from .app import (
    StateOpt,
    app,
    command,
    current_state,
    flow_run_arg,
    interactive,
    limit_or_none,
    parse_states,
)
from .filters import SinceOpt, TagOpt, keeps, limit_opt, parse_since
from .lookup import flow_run
from .output import note

ExportFormat = Literal["csv", "parquet", "json"]


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
    """Text cells as `csv_cell` makes them (terminal-safe, no spreadsheet formulas); lists
    and dicts as JSON text first, so a CSV cell holds one parseable value."""
    import pandas as pd

    frame = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name].dtype):
            frame[name] = pd.Series([_csv_value(v) for v in frame[name]], index=frame.index,
                                    dtype=object)
    return frame


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict, tuple)):
        return csv_cell(json.dumps(value, default=str, ensure_ascii=False))
    return csv_cell(value) if isinstance(value, str) else value


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


def _check_folder(target: Path) -> None:
    if not target.parent.is_dir():
        raise InvalidRequest(f"Cannot write {target}: the folder {target.parent} does not exist.")


def _write_file(target: Path, write: Callable[[Path], Any]) -> None:
    """`write(temp)`, then the temp file replaces `target`: never a half-written file."""
    try:
        with _atomic_target(target) as temp:
            write(temp)
    except OSError as exc:
        raise InvalidRequest(f"Cannot write {target}: {exc.strerror or exc}.") from None


@command(app, "export")
def export(
    flow_run_id: Annotated[str, flow_run_arg("The flow run whose task runs to export.")],
    output_file: Annotated[str, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Where to write: *.csv, *.parquet or *.json ('-' for stdout with --format "
             "csv|json).")],
    fmt: Annotated[ExportFormat | None, typer.Option(
        "--format", case_sensitive=False,
        help="File format, when the file name does not say.")] = None,
    state_types: StateOpt = None,
    tags: TagOpt = None,
    since: SinceOpt = None,
    limit: Annotated[int, limit_opt("task runs, in run order")] = 0,
) -> None:
    """Export every task run of a flow run to CSV, Parquet or JSON, one row each.

    --state, --tag, --since and --limit keep only some of them, as in `task-run ls`.

    The columns are those of `FlowRunView.to_dataframe()`, task_run_id first.

    CSV holds lists as JSON text and durations as pandas timedeltas, and is made for terminals and spreadsheets: control and bidi characters show as escapes (\\x1b, \\u202e) and a text cell starting with =, +, - or @ gets a leading '. JSON is a list of records (ISO times and durations), exact, with such characters as \\uXXXX escapes. Parquet keeps the raw data and the dtypes (a file, not for terminals) and needs pyarrow.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    from importlib.util import find_spec

    state = current_state()
    kind = _export_format(output_file, fmt)
    if kind == "parquet" and output_file == "-":
        raise InvalidRequest("Parquet is binary: write it to a file, not to stdout.")
    if kind == "parquet" and find_spec("pyarrow") is None:
        raise ConfigurationError("Writing Parquet needs pyarrow: pip install "
                                 "'prefect-widgets[parquet]' (or pip install pyarrow).")
    target = Path(output_file).expanduser()
    if output_file != "-":
        _check_folder(target)
    types, after = parse_states(state_types), parse_since(since)
    run = flow_run(state, flow_run_id)
    frame = run.to_dataframe(progress=None if interactive() else False)
    frame = frame[keeps(frame, types, tags, after)].head(limit_or_none(limit))
    table = frame.reset_index()

    def write(target: Any) -> None:
        if kind == "csv":
            _csv_ready(table).to_csv(target, index=False)
        elif kind == "json":
            text = table.to_json(orient="records", date_format="iso", date_unit="us",
                                 force_ascii=False, indent=None)
            if isinstance(target, Path):
                target.write_text(json_visible(text), encoding="utf-8")
            else:
                target.write(json_visible(text))
        else:
            table.to_parquet(target, index=False)

    if output_file == "-":
        write(sys.stdout)
        if kind == "json":
            sys.stdout.write("\n")
        return
    _write_file(target, write)
    note(f"Wrote {len(table)} task runs ({len(frame.columns) + 1} columns) of flow run "
         f"{run.name!r} to {target}")


@command(app, "report")
def report(
    flow_run_id: Annotated[str, flow_run_arg("The flow run to report on.")],
    output_file: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="HTML file to write (default: flow-run-<first 8 characters of the id>.html).",
    )] = None,
) -> None:
    """Write a self-contained HTML report of a flow run (`FlowRunView.to_html`)."""
    state = current_state()
    run = flow_run(state, flow_run_id)
    target = Path(output_file or f"flow-run-{run.flow_run_id[:8]}.html").expanduser()
    _check_folder(target)
    try:
        import prefect_widgets.report  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "prefect_widgets.report":
            raise
        raise ConfigurationError("HTML reports are not available in this installation of "
                                 "prefect-widgets (prefect_widgets.report is missing).") from None
    _write_file(target, run.to_html)
    note(f"Report of flow run {run.name!r} written to {target}")


@command(app, "trace")
def trace(
    flow_run_id: Annotated[str, flow_run_arg("The flow run to write as a trace.")],
    output_file: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="JSON file to write (default: flow-run-<first 8 characters of the id>.trace.json).",
    )] = None,
    subflows: Annotated[bool, typer.Option(
        "--subflows/--no-subflows", metavar="",
        help="Include subflow runs as processes of their own.")] = True,
) -> None:
    """Write a flow run as a Chrome Trace Event file that Perfetto and chrome://tracing open (`FlowRunView.to_trace`)."""  # noqa: E501 - rich wraps it
    state = current_state()
    run = flow_run(state, flow_run_id)
    target = Path(output_file or f"flow-run-{run.flow_run_id[:8]}.trace.json").expanduser()
    _check_folder(target)
    _write_file(target, lambda temp: run.to_trace(temp, subflows=subflows))
    note(f"Trace of flow run {run.name!r} written to {target}: open it at https://ui.perfetto.dev")
