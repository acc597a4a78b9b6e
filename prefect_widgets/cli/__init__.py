"""The `prefect-widgets` command line: look up, export and report on Prefect runs.

Every command is a thin layer over the library (`FlowRunView`, `TaskRunView`, queries,
logs, DataFrames). Output: a table on a terminal, tab-separated lines when piped, or
`--output csv|json`. Exit codes: 0 ok, 1 not found or bad input, 2 usage or an ambiguous
run, 3 server unreachable, auth refused or server failing. Errors are one line on stderr; `--debug`
adds the traceback. The API key is never printed.

The CLI is the top layer: it may import anything in `prefect_widgets`, nothing there
imports it. Modules, one concern each:

- `app`: the typer app, global options, per-invocation state, errors → exit codes
- `lookup`: finding flow runs, flow names and a run's task runs
- `rows`: runs as records and listing columns
- `output`: tables, tsv, csv, json; terminal-safe text; compact cells
- `debugging`: what `inspect` shows of a failed run (errors, state histories, artifacts)
- `flow_runs`, `task_runs`, `logs`, `export` (export, report), `count`, `demo`: the commands

The command modules register their commands on `app` when imported, here, in the order
the help lists them.
"""

from __future__ import annotations

from .app import EXIT_INPUT, EXIT_OK, EXIT_SERVER, EXIT_USAGE, app

# Importing a command module registers its commands; the order here is the help's order.
# isort: off
from . import flow_runs, task_runs  # noqa: F401  (the command groups)
from . import logs, export, count, demo  # noqa: F401
from . import sync as _sync  # noqa: F401  (prefect-widgets sync)
from . import cache  # noqa: F401
# isort: on

__all__ = ["app", "main", "EXIT_OK", "EXIT_INPUT", "EXIT_USAGE", "EXIT_SERVER"]


def main() -> None:
    app(prog_name="prefect-widgets")
