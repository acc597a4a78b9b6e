#!/usr/bin/env python
"""Benchmark: a whole task-run export, paged concurrently, against sequential paging.

A PostgreSQL-backed Prefect server (tests/pg.py) serves with W worker processes for W in
1, 2, 4 (`workers_server`: what `prefect server start --workers W` runs). The flow run is
built once (benchmarks/bigrun.py) and the database is kept between the W's (and between runs with `--keep DIR`: the PostgreSQL data directory
and the flow run id are reused). For each W, interleaved, `--repeat` times after a warm-up:

  seq   `Client(max_concurrency=1)`: the anchored pages one after another (today's paging)
  conc  `Client(max_concurrency=4)`: the same pages, up to 4 in flight
  dflt  `Client()`: the concurrency its probe measures (1 or 4)

and prints medians and speed-ups over seq. Targets (issue 21), for the default client: with
2 workers ≥ 1.4× sequential; with 1 worker no slower (≥ 0.95×: this machine's noise).

    python benchmarks/concurrent_export.py -n 100000 --keep /tmp/pw-bench-pg
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bigrun import FAST_RECORDER_ENV, build_run
from pg import PostgresCluster

from prefect_widgets import Client
from prefect_widgets.server import LocalServer


@contextlib.contextmanager
def workers_server(database_url: str, workers: int,
                   extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """A Prefect server on PostgreSQL serving with `workers` processes; yields its API URL.

    One worker: `prefect server start` (with its services: the task-run recorder writes
    what `bigrun` sends). More: what `prefect server start --workers N` runs in Prefect
    3.8.8 (`uvicorn --factory prefect.server.api.server:create_app --workers N`, webserver
    only), started directly for two reasons: the CLI refuses N > 1 unless messaging is in
    Redis (events, which these reads do not use), and uvicorn restarts a worker that is not
    ready within 5 s (`--timeout-worker-healthcheck`), longer than importing Prefect takes
    on this loaded 2-core machine, so the CLI's workers never come up here.
    """
    home = Path(tempfile.mkdtemp(prefix="pw-workers-home-"))
    local = LocalServer(home=home)
    env = {**local.env(), **(extra_env or {}), "PREFECT_API_DATABASE_CONNECTION_URL": database_url}
    env.pop("PREFECT_API_URL")
    bin_dir = Path(sys.executable).parent
    if workers == 1:
        command = [shutil.which("prefect") or str(bin_dir / "prefect"), "server", "start",
                   "--host", "127.0.0.1", "--port", str(local.port)]
    else:
        env.update(PREFECT__SERVER_FINAL="1", PREFECT__SERVER_WEBSERVER_ONLY="1")
        command = [sys.executable, "-m", "uvicorn", "--factory",
                   "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                   "--port", str(local.port), "--workers", str(workers),
                   "--timeout-worker-healthcheck", "600", "--log-level", "warning"]
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server with {workers} workers exited: "
                                   f"{(home / 'server.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if httpx.get(f"{local.api_url}/health", timeout=2).json() is True:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server with {workers} workers did not become healthy "
                                   f"in 600 s: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield local.api_url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


class KeptCluster(PostgresCluster):
    """A `PostgresCluster` in a directory kept between runs (initdb only the first time)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.kept = root

    def start(self) -> KeptCluster:
        if not (self.kept / "data" / "PG_VERSION").exists():
            super().start()  # initdb and createdb in a temp directory, then move it here
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            shutil.rmtree(self.kept, ignore_errors=True)
            os.rename(str(self.root), str(self.kept))  # same file system: owners kept
        import pg
        self.bin = pg._bin_dir()
        self.user = pg._run_as()
        self.root = self.kept
        (self.root / "data" / "postmaster.pid").unlink(missing_ok=True)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root / 'sock'} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"),
                  "-o", options, "-w", "-t", "60", "start")
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            self.started = False


def export_seconds(api_url: str, flow_run_id: str, concurrency: int | None
                   ) -> tuple[float, int, int | None]:
    """Seconds for one whole export of the run's task runs (rows, no frame), its rows, and
    the concurrency the client settled on."""
    from prefect_widgets import _ops

    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC"}
    with Client(api_url, max_concurrency=concurrency, timeout=300) as client:
        began = time.perf_counter()
        rows = client.run(_ops.export("/task_runs/filter", body, count_path="/task_runs/count",
                                      read_ahead=True)).rows
        return time.perf_counter() - began, len(rows), client.pace.ceiling


def measure(api_url: str, flow_run_id: str, n: int, workers: int, repeat: int) -> None:
    """Print the medians of sequential, forced-4 and default paging against one server."""
    export_seconds(api_url, flow_run_id, 4)  # warm-up
    times: dict[str, list[float]] = {"seq": [], "conc": [], "auto": []}
    settled: list[int | None] = []
    for _ in range(repeat):
        for name, concurrency in (("seq", 1), ("conc", 4), ("auto", None)):
            seconds, rows, ceiling = export_seconds(api_url, flow_run_id, concurrency)
            assert rows == n, (name, rows)
            times[name].append(seconds)
            if concurrency is None:
                settled.append(ceiling)
    seq, conc, auto = (statistics.median(times[k]) for k in ("seq", "conc", "auto"))
    target = {1: 0.95, 2: 1.4}.get(workers)
    verdict = "" if target is None else \
        f"default ≥ {target}×: {'met' if seq / auto >= target else 'MISSED'}"
    print(f"{workers:>7} {seq:7.2f} {conc:7.2f} {auto:7.2f} {seq / conc:8.2f}× "
          f"{seq / auto:8.2f}×  {verdict} (the probe chose {settled})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the database here and reuse it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="pw-bench-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # PostgreSQL runs as another user when this runs as root
    cluster = KeptCluster(root / "cluster").start()
    made_path = root / f"run-{args.n}.json"
    try:
        if not made_path.exists():
            with workers_server(cluster.url, 1, FAST_RECORDER_ENV) as api_url:
                made = build_run(api_url, args.n, seed=100, timeout=7200)
                made_path.write_text(json.dumps({"flow_run_id": made.flow_run_id}))
                print(f"built {args.n:,} task runs in {made.seconds:.0f} s", flush=True)
        flow_run_id = json.loads(made_path.read_text())["flow_run_id"]
        print(f"{args.n:,} task runs, medians of {args.repeat}; seq: max_concurrency=1, "
              "conc: 4, default: measured by the probe", flush=True)
        print(f"{'workers':>7} {'seq s':>7} {'conc s':>7} {'dflt s':>7} "
              f"{'seq/conc':>9} {'seq/dflt':>9}  target", flush=True)
        for workers in args.workers:
            with workers_server(cluster.url, workers) as api_url:
                measure(api_url, flow_run_id, args.n, workers, args.repeat)
    finally:
        cluster.stop()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
