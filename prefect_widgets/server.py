"""A throwaway local Prefect server (SQLite in a temp `PREFECT_HOME`) for demos and tests.

`database_url` points it at another database instead (e.g. PostgreSQL through
`postgresql+asyncpg://user@host:port/db`).

Needs the `demo` extra (Prefect itself), started as a subprocess: this module never
imports `prefect`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from .errors import ConfigurationError, ServerUnreachable

__all__ = ["LocalServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """`prefect server start` on 127.0.0.1 with a private home; a context manager."""

    def __init__(self, home: str | Path | None = None, port: int | None = None,
                 startup_timeout: float = 90.0, database_url: str | None = None) -> None:
        self._own_home = home is None
        self.home = Path(home or tempfile.mkdtemp(prefix="prefect-widgets-"))
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.database_url = database_url
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.home / "server.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self) -> dict[str, str]:
        """Environment for processes that should talk to this server (e.g. running flows)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILE")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_API_URL=self.api_url,
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_UI_API_URL=self.api_url, PREFECT_LOGGING_LEVEL="INFO")
        return env

    def start(self) -> LocalServer:
        prefect = shutil.which("prefect") or str(Path(sys.executable).parent / "prefect")
        if not Path(prefect).exists():
            raise ConfigurationError(
                "Prefect is not installed: `pip install 'prefect-widgets[demo]'` brings it.")
        env = self.env()
        env.pop("PREFECT_API_URL")
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnreachable(f"The Prefect server exited at start (code "
                                        f"{self.process.returncode}); see {self.log_path}.")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).json() is True:
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise ServerUnreachable(f"The Prefect server did not become healthy in "
                                f"{self.startup_timeout:.0f} s; see {self.log_path}.")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        self.process = None
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
