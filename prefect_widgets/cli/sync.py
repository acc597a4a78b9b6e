"""`prefect-widgets sync DEST`: the server's history as a date-partitioned Parquet dataset,
brought up to date incrementally (`prefect_widgets.sync.sync_history`)."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import OutputOpt, app, command, current_state, interactive
from .filters import parse_since
from .output import note


@command(app, "sync")
def sync(
    dest: Annotated[str, typer.Argument(
        metavar="DEST", show_default=False,
        help="The dataset's folder (created if missing; a later sync updates it).")],
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME",
        help="Only flow runs started at or after TIME: back from now (30d, 1w) or an ISO 8601 "
             "time (2026-12-01; UTC when no zone is given). Fixed by the first sync of DEST.",
    )] = None,
    flows: Annotated[list[str] | None, typer.Option(
        "--flow", metavar="NAME",
        help="Only runs of the flow with this name; repeat for several. Fixed by the first "
             "sync of DEST.")] = None,
    logs: Annotated[bool, typer.Option(
        "--logs", metavar="", help="Also write the runs' log lines (table logs).")] = False,
    output: OutputOpt = None,
) -> None:
    """Write the server's history to DEST as Parquet by date, or bring DEST up to date.

    Flow runs, task runs and (with --logs) logs land in DEST/<table>/date=2026-12-01/part-0.parquet. A later sync adds the new rows, replaces the changed ones and rewrites only the dates they fall in.

    DuckDB, Polars, Spark and Dask read the folders as they are, e.g. duckdb -c "select state_type, count(*) from 'DEST/flow_runs/*/*.parquet' group by all".

    DEST/_sync_state.json keeps the high-water marks and a hash of the server's URL, never credentials; a DEST of another server is refused.
    """  # noqa: E501 - one line per paragraph: rich wraps it to the terminal
    from prefect_widgets.sync import sync_history

    state = current_state()
    summary = sync_history(dest, since=parse_since(since), flows=flows or None, logs=logs,
                           client=state.client(), progress=None if interactive() else False)
    out = state.out(output)
    if out.format == "json":
        out.json({"dest": str(summary.dest), "first": summary.first, "tables": {
            name: {"added": c.added, "replaced": c.replaced,
                   "partitions": sorted(c.partitions)}
            for name, c in summary.tables.items()}})
        return
    note(str(summary))
