"""Older Prefect servers for the server-version matrix (issue 22), each in its own cached venv.

`server_venv(version)` builds (once) a venv with that Prefect release and the pins it needs to
start here, under `$PREFECT_WIDGETS_TEST_CACHE/servers/<version>` (default
`~/.cache/prefect-widgets-tests`); a `.ready` marker holding the requirements is written last,
so a half-built or differently pinned venv is rebuilt. `matrix_server(version, home)` starts it
like the conftest server (private `PREFECT_HOME`, SQLite, free port) and runs
`tests/matrix_flows.py` (one flow run) with that venv's own python.
`build_server_venvs(versions)` builds several venvs side by side (pip waits on downloads
and unpacking more than on a core): the three cold builds added ~50 s to the first setup here
(measured once, under load). Servers start one at a time: `VersionedServer.start`
points `PATH` (process-wide) at its venv while `LocalServer.start` finds `prefect`.
Measured under load (2 cores, load ~5): a version's setup (server start, the flow run, its
records settling) took 33-112 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from prefect_widgets.samples import wait_until_recorded
from prefect_widgets.server import LocalServer

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PREFECT_WIDGETS_TEST_CACHE",
                            Path.home() / ".cache" / "prefect-widgets-tests"))

#: what each server needs to start on this machine (measured, field notes "Older servers")
VERSIONS: dict[str, tuple[str, ...]] = {
    "3.0.0": ("prefect==3.0.0", "pydantic==2.9.2", "fastapi<0.132"),
    "3.4.25": ("prefect==3.4.25", "fastapi<0.132", "importlib_metadata"),
    "2.20.27": ("prefect==2.20.27",),
}


def build_venv(venv: Path, requirements: tuple[str, ...], *, timeout: float = 1500) -> Path:
    """`venv` with `requirements` installed, rebuilt unless its `.ready` marker matches."""
    marker = venv / ".ready"
    wanted = "\n".join([sys.version, *requirements])
    if marker.exists() and marker.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                          "install", "-q", *requirements],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{out.stderr[-3000:]}")
    marker.write_text(wanted)
    return venv


#: how many runs the matrix flows' mapped task makes (named `square-<input>`)
MAPPED = 30
#: the main suite's server: the project's own venv (the `test` extra pins it)
MAIN_VERSION = "3.8.8"


def server_venv(version: str) -> Path:
    """The venv whose `prefect` is `version` (built on first use)."""
    if version == MAIN_VERSION:
        return Path(sys.prefix)
    return build_venv(CACHE / "servers" / version, VERSIONS[version])


def build_server_venvs(versions: Iterable[str]) -> None:
    """Build the venvs of `versions` side by side: on a cold cache pip waits on downloads."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(server_venv, versions))


class VersionedServer(LocalServer):
    """`LocalServer` whose `prefect` (server and flows) comes from `venv`."""

    def __init__(self, venv: Path, home: Path) -> None:
        super().__init__(home=home, startup_timeout=180)
        self.venv = venv

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("VIRTUAL_ENV", None)
        return env

    def start(self) -> VersionedServer:
        with mock.patch.dict(os.environ, PATH=self.env()["PATH"]):
            super().start()
        return self

    def run_flow(self) -> str:
        """Run `matrix_flows.py` with this venv's python; its flow run id."""
        out = subprocess.run([str(self.venv / "bin" / "python"), str(HERE / "matrix_flows.py"),
                              str(MAPPED)],
                             env=self.env(), capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"matrix_flows.py failed:\n{out.stderr[-4000:]}")
        return str(json.loads(out.stdout.strip().splitlines()[-1])["run"])


@contextmanager
def matrix_server(version: str, home: Path) -> Iterator[tuple[VersionedServer, str]]:
    """A started, populated server of `version`: (server, the matrix flow's run id)."""
    server = VersionedServer(server_venv(version), home)
    server.start()
    try:
        run = server.run_flow()
        wait_until_recorded(server.api_url, [run])
        yield server, run
    finally:
        server.stop()


if __name__ == "__main__":  # build every venv ahead of a test run: python tests/server_matrix.py
    for name in sys.argv[1:] or VERSIONS:
        print(name, server_venv(name), flush=True)
