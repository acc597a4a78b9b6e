"""`prefect-widgets demo`: sample flows on a throwaway server, then the report you'd look at."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from .errors import ConfigurationError
from .formatting import run_counts_text

__all__ = ["run_demo"]


def _require_prefect() -> None:
    from importlib.util import find_spec

    if find_spec("prefect") is None:
        raise ConfigurationError(
            "The demo runs real Prefect flows: install them with "
            "`pip install 'prefect-widgets[demo]'` (or run ./dev demo).")


def run_demo(api_url: str | None = None, output: str | Path = "demo-report.html",
             lab: bool = False, echo=print) -> Path:
    """Run the sample flows against `api_url` (or a throwaway local server) and write a report."""
    from .samples import DEMO, run_in_subprocess, wait_until_recorded
    from .server import LocalServer

    _require_prefect()
    api_url = api_url or os.environ.get("PREFECT_API_URL")
    with ExitStack() as stack:
        if api_url:
            env = {**os.environ, "PREFECT_API_URL": api_url}
        else:
            echo("Starting a throwaway Prefect server (SQLite in a temp dir)...")
            server = stack.enter_context(LocalServer())
            api_url, env = server.api_url, server.env()
            echo(f"Prefect server ready at {api_url}")
        echo(f"Running {len(DEMO)} sample flows: {', '.join(DEMO)}...")
        runs = run_in_subprocess(DEMO, env)
        wait_until_recorded(api_url, list(runs.values()))
        path = _report(api_url, runs, Path(output), echo)
        if lab:
            _lab(env, api_url, echo)
        return path


def _report(api_url: str, runs: dict[str, str], output: Path, echo) -> Path:
    from .client import Client
    from .views import FlowRunView

    with Client(api_url) as client:
        views = {name: FlowRunView.from_flow_run_id(i, client=client) for name, i in runs.items()}
        for name, view in views.items():
            tasks = view.task_runs(progress=False)  # read once: the report reuses them
            subflows = sum(t.kind == "subflow-run" for t in tasks)
            echo(f"  {name:<10} {view.name:<28} {view.state!r}  "
                 f"{run_counts_text(len(tasks) - subflows, subflows)}")
        from .report import write_report

        path = write_report(list(views.values()), output)
    echo(f"Report written to {path.resolve()}")
    return path


def _lab(env: dict[str, str], api_url: str, echo) -> None:
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    echo(f"Opening JupyterLab on {notebooks} against {api_url} (Ctrl-C to stop)...")
    try:
        subprocess.run([sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={notebooks}"],
                       env={**env, "PREFECT_API_URL": api_url})
    except KeyboardInterrupt:
        pass


def connect_or_start(samples: bool = True, echo=print) -> str:
    """The API URL for notebooks: `PREFECT_API_URL` if set, else a throwaway local server
    (stopped when the kernel exits) with the sample flows run into it."""
    import atexit

    from .samples import DEMO, run_in_subprocess, wait_until_recorded
    from .server import LocalServer
    from .settings import configure

    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    _require_prefect()
    echo("No PREFECT_API_URL set: starting a throwaway local Prefect server...")
    server = LocalServer().start()
    atexit.register(server.stop)
    os.environ["PREFECT_API_URL"] = server.api_url
    configure(api_url=server.api_url)
    if samples:
        runs = run_in_subprocess(DEMO, server.env())
        wait_until_recorded(server.api_url, list(runs.values()))
    echo(f"Prefect server ready at {server.api_url}")
    return server.api_url
