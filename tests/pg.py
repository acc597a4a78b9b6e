"""A throwaway PostgreSQL cluster on loopback for tests: Debian's binaries, a temp directory.

`PostgresCluster().start()` finds `/usr/lib/postgresql/<version>/bin`, runs `initdb` and
`pg_ctl` (as the system user `pwtest` when running as root: PostgreSQL refuses to run as
root), listens on 127.0.0.1 at a free port with trust authentication, and creates one
database. `stop()` always shuts the server down and removes the directory.

The tests change nothing on the host: `./dev test` installs the `postgresql` package and
creates the `pwtest` user; without them `start()` raises `PostgresUnavailable` saying so.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from prefect_widgets.server import free_port

SYSTEM_USER = "pwtest"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be installed or started on this machine (the reason says why)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/"
                                  "initdb): `./dev test` installs it")
    return Path(found[-1]).parent


def _run_as() -> str | None:
    """The user to run PostgreSQL as: None for the current (non-root) user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgresUnavailable(f"running as root, and the system user {SYSTEM_USER!r} that "
                                  "PostgreSQL runs as does not exist: `./dev test` creates it")
    return SYSTEM_USER


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster")
    except OSError:
        return False


class PostgresCluster:
    """initdb + pg_ctl in a temp directory; `url` is a SQLAlchemy asyncpg URL."""

    def __init__(self, database: str = "prefect") -> None:
        self.database = database
        self.port = free_port()
        self.root: Path | None = None
        self.bin: Path | None = None
        self.user: str | None = None
        self.started = False

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def db_user(self) -> str:
        return self.user or pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.db_user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert self.bin is not None
        command = [str(self.bin / args[0]), *args[1:]]
        kwargs = {"user": self.user, "group": self.user} if self.user else {}
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                             cwd=self.root, check=False, **kwargs)
        if out.returncode != 0:
            raise PostgresUnavailable(f"`{' '.join(args)}` failed ({out.returncode}): "
                                      f"{(out.stderr or out.stdout)[-800:]}")
        return out

    def start(self) -> PostgresCluster:
        self.bin = _bin_dir()
        self.user = _run_as()
        # Not under pytest's tmp dirs: those are 0700 root-only, the server user must enter.
        self.root = Path(tempfile.mkdtemp(prefix="pw-postgres-"))
        (self.root / "sock").mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.root / "sock"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-U", self.db_user, "--auth=trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root / 'sock'} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=100")
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"),
                      "-o", options, "-w", "-t", "60", "start")
            self.started = True
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.db_user,
                      self.database)
        except (PostgresUnavailable, subprocess.TimeoutExpired, OSError) as exc:
            log = self.log_tail()
            self.stop()
            raise PostgresUnavailable(f"{exc}\n{log}") from None
        return self

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return (self.root / "postgres.log").read_text()[-chars:] if self.root else ""
        except OSError:
            return ""

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Shut the server down (fast, then immediate, then SIGKILL) and remove the files."""
        if self.root is None:
            return
        if self.started:
            for mode in ("fast", "immediate"):
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "20",
                              "stop", timeout=30)
                    break
                except (PostgresUnavailable, subprocess.TimeoutExpired):
                    continue
            pid = self._postmaster_pid()
            if pid is not None and _is_postgres(pid):  # still there: its children follow it
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                time.sleep(0.5)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
