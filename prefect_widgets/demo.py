"""`prefect-widgets demo`: sample flows on a throwaway server, then the report you'd look at.

`--lab` then opens JupyterLab on a writable copy of the notebooks, which ship inside the
package (`prefect_widgets/notebooks/` in a wheel, `notebooks/` in a source checkout).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from .errors import ConfigurationError, ServerUnreachable
from .formatting import plural, run_counts_text

__all__ = ["run_demo", "connect_or_start", "copy_notebooks", "notebooks_source"]

DEMO_EXTRA_HINT = "pip install 'prefect-widgets[demo]'"


def _require_demo_extra(*modules: str) -> None:
    from importlib.util import find_spec

    missing = [name for name in ("prefect", *modules) if find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"The demo needs {' and '.join(missing)} (the `demo` extra): {DEMO_EXTRA_HINT}")


def notebooks_source() -> Path:
    """The shipped notebooks: inside the package (a wheel) or beside it (a source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "notebooks", here.parent / "notebooks"):
        if any(candidate.glob("*.ipynb")):
            return candidate
    raise ConfigurationError(
        f"The notebooks are missing from this install ({here}): reinstall with {DEMO_EXTRA_HINT}")


def copy_notebooks(destination: str | Path) -> list[Path]:
    """Copy the shipped notebooks into `destination` (created if needed); files already there
    are kept, so your edits survive. Returns the notebooks in `destination`."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    copies = []
    for notebook in sorted(notebooks_source().glob("*.ipynb")):
        copy = destination / notebook.name
        if not copy.exists():
            shutil.copyfile(notebook, copy)
        copies.append(copy)
    return copies


def run_demo(api_url: str | None = None, output: str | Path = "demo-report.html",
             lab: bool = False, notebooks_dir: str | Path | None = None,
             open_browser: bool = True, echo: Callable[[str], object] = print,
             samples: Sequence[str] = ()) -> Path:
    """Run the sample flows (`samples`, default all of them) against `api_url` (or a throwaway
    local server) and write a report; with `lab`, then serve JupyterLab on a copy of the
    notebooks until Ctrl-C."""
    from .samples import DEMO, run_in_subprocess, wait_until_recorded
    from .server import LocalServer

    unknown = sorted(set(samples) - set(DEMO))
    if unknown:
        raise ConfigurationError(f"No sample flow named {', '.join(map(repr, unknown))}. "
                                 f"The samples are: {', '.join(DEMO)}.")
    chosen = list(dict.fromkeys(samples)) or DEMO
    _require_demo_extra(*(["jupyterlab"] if lab else []))
    api_url = api_url or os.environ.get("PREFECT_API_URL")
    throwaway = not api_url
    with ExitStack() as stack:
        if api_url:
            env = {**os.environ, "PREFECT_API_URL": api_url}
        else:
            echo("Starting a throwaway Prefect server (SQLite in a temp dir, ~20 s)...")
            started = time.monotonic()
            server = stack.enter_context(LocalServer())
            api_url, env = server.api_url, server.env()
            echo(f"  ready at {api_url} in {time.monotonic() - started:.0f} s")
        echo(f"Running {plural(len(chosen), 'sample flow')}"
             f"{' (~1 min)' if chosen == DEMO else ''}: {', '.join(chosen)}...")
        started = time.monotonic()
        runs = run_in_subprocess(chosen, env)
        echo(f"  done in {time.monotonic() - started:.0f} s; waiting for the server to record "
             "every task run...")
        wait_until_recorded(api_url, list(runs.values()))
        path = _report(api_url, runs, Path(output), echo).resolve()
        if lab:
            _lab(env, api_url, notebooks_dir, open_browser, echo)
    if throwaway:
        echo("Stopped the throwaway Prefect server.")
    echo(f"Next: open {path.as_uri()} in a browser"
         + ("." if lab else ", or run `prefect-widgets demo --lab` to explore the runs in "
            "JupyterLab notebooks."))
    return path


def _report(api_url: str, runs: dict[str, str], output: Path,
            echo: Callable[[str], object]) -> Path:
    from .client import Client
    from .views import FlowRunView

    with Client(api_url) as client:
        views = {name: FlowRunView.from_flow_run_id(i, client=client) for name, i in runs.items()}
        width = max(map(len, views))
        for name, view in views.items():
            tasks = view.task_runs(progress=False)  # read once: the report reuses them
            subflows = sum(t.kind == "subflow-run" for t in tasks)
            echo(f"  {name:<{width}} {view.name:<28} {view.state!r}  "
                 f"{run_counts_text(len(tasks) - subflows, subflows)}")
        from .report import write_report

        path = write_report(list(views.values()), output)
    echo(f"Report written to {path.resolve()}")
    return path


def _lab(env: dict[str, str], api_url: str, notebooks_dir: str | Path | None, open_browser: bool,
         echo: Callable[[str], object]) -> None:
    """Serve JupyterLab on a copy of the notebooks until Ctrl-C or until it exits."""
    from .server import free_port

    root = Path(notebooks_dir or tempfile.mkdtemp(prefix="prefect-widgets-notebooks-"))
    copy_notebooks(root)
    port, token = free_port(), secrets.token_hex(24)
    command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root otherwise
    if not open_browser:
        command.append("--no-browser")
    log_path = root / ".jupyterlab.log"  # a dot file: JupyterLab's file browser hides it
    echo(f"Starting JupyterLab on a copy of the notebooks in {root} (~10 s)...")
    with open(log_path, "wb") as log:
        lab = subprocess.Popen(command, env={**env, "PREFECT_API_URL": api_url}, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_lab(lab, f"http://127.0.0.1:{port}/api/status", token, log_path)
        echo(f"JupyterLab is serving the notebooks at http://127.0.0.1:{port}/lab?token={token}")
        echo("Open that URL, start with 01_quickstart.ipynb; Ctrl-C stops JupyterLab and the "
             "server.")
        lab.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop(lab)
    echo(f"Stopped JupyterLab (its log: {log_path}). Your notebook copies stay in {root}.")


def _wait_for_lab(lab: subprocess.Popen[bytes], status_url: str, token: str, log_path: Path,
                  timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines() or [""]
            raise ServerUnreachable(f"JupyterLab exited at start (code {lab.returncode}): "
                                    f"{lines[-1][-200:]} (see {log_path}).")
        try:
            if httpx.get(status_url, params={"token": token}, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise ServerUnreachable(f"JupyterLab did not answer in {timeout:.0f} s; see {log_path}.")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def connect_or_start(samples: bool = True, echo: Callable[[str], object] = print) -> str:
    """The API URL for notebooks: `PREFECT_API_URL` if set, else a throwaway local server
    (stopped when the kernel exits) with the sample flows run into it."""
    import atexit

    from .samples import DEMO, run_in_subprocess, wait_until_recorded
    from .server import LocalServer
    from .settings import configure

    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    _require_demo_extra()
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
