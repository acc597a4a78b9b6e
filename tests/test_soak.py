"""Soak: 20 live `FlowRunWidget`s for about a minute over one shared event subscription,
across a server restart.

The module runs its own `LocalServer` (fixed port, private `PREFECT_HOME`) so it can stop
and start it again mid-soak without disturbing the shared session server. Live runs are
written through the REST API with raw httpx (flow runs and task runs created RUNNING /
PENDING, advanced with forced `set_state`), so the test decides when every run finishes.

Checked: the 20 widgets share one event socket and its one thread (`event_hub`); the OS
thread count stays at baseline + one live thread per widget + the hub's (no growth, also not
while the server is down), open sockets and RSS growth stay bounded, every widget shows
`header["error"]` while the server is down and recovers after it returns (error cleared,
following the stream again, state updates flow, runs followed to Completed), and every
thread and socket ends at close/finish.
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import httpx
import pytest

from prefect_widgets.event_hub import shared_hub
from prefect_widgets.server import LocalServer, free_port
from prefect_widgets.widget import FlowRunWidget

pytestmark = pytest.mark.soak

N_RUNS = 20
TASKS = 5
INTERVAL = 0.5
SOAK_SECONDS = 55.0
MAX_RSS_GROWTH_MB = 50.0
#: open sockets at most: a REST connection per live thread and the one event socket (a leak of
#: one per round would pass it within seconds)
MAX_SOCKETS = N_RUNS + 5
#: the server emits no event for a task run's state set through the REST API (Prefect's
#: client emits them), so these widgets learn of the writes by reconciling: this often
RECONCILE = 3.0
LIVE_THREAD = "prefect-widgets-live"
HUB_THREAD = "prefect-widgets-events"


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/self/status")


def os_threads() -> int:
    return _status("Threads")


def rss_mb() -> float:
    return _status("VmRSS") / 1024


def sockets() -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if _link(fd).startswith("socket:"))


def _link(fd: Path) -> str:
    try:
        return str(fd.readlink())
    except OSError:  # closed meanwhile
        return ""


def poll_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == LIVE_THREAD and t.is_alive()]


def hub_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == HUB_THREAD and t.is_alive()]


def streaming(widgets: list[FlowRunWidget]) -> bool:
    return all(w.header.get("live_via") == "stream" for w in widgets)


def wait_for(condition, timeout: float, step: float = 0.2, every=None) -> bool:
    """Poll `condition` until true or `timeout`; call `every()` (sampling) on each round."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if every is not None:
            every()
        if condition():
            return True
        time.sleep(step)
    return condition()


class Writer:
    """Raw REST writes to the soak server (the library itself is read-only)."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.http = httpx.Client(base_url=api_url, timeout=30)

    def post(self, path: str, body: dict) -> dict:
        last: Exception | None = None
        for attempt in range(8):
            try:
                response = self.http.post(path, json=body)
                if response.status_code in (500, 503):  # SQLite busy under 20 pollers
                    last = AssertionError(f"{path}: {response.status_code} {response.text}")
                else:
                    response.raise_for_status()
                    return response.json()
            except httpx.TransportError as exc:  # e.g. a kept-alive connection to the old server
                last = exc
                self.http.close()
                self.http = httpx.Client(base_url=self.api_url, timeout=30)
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"POST {path} kept failing: {last}")

    def set_state(self, kind: str, run_id: str, state_type: str) -> None:
        body = {"state": {"type": state_type, "name": state_type.title()}, "force": True}
        assert self.post(f"/{kind}/{run_id}/set_state", body)["status"] == "ACCEPT"

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory):
    server = LocalServer(home=tmp_path_factory.mktemp("soak-home"), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_url(soak_server: LocalServer) -> str:
    """Overrides the session fixture: the autouse configuration points at the soak server."""
    return soak_server.api_url


def create_live_runs(writer: Writer) -> list[tuple[str, list[str]]]:
    flow_id = writer.post("/flows/", {"name": "soak"})["id"]
    runs = []
    for i in range(N_RUNS):
        flow_run = writer.post("/flow_runs/", {
            "flow_id": flow_id, "name": f"soak-{i:02d}",
            "state": {"type": "RUNNING", "name": "Running"}})
        tasks = [writer.post("/task_runs/", {
            "flow_run_id": flow_run["id"], "task_key": "stage", "dynamic_key": str(k),
            "name": f"stage-{k}", "state": {"type": "RUNNING", "name": "Running"}})["id"]
            for k in range(TASKS)]
        runs.append((flow_run["id"], tasks))
    return runs


def completed(widget: FlowRunWidget) -> int:
    return widget.header.get("counts", {}).get("COMPLETED", 0)


def test_twenty_live_widgets_soak_and_survive_a_server_restart(soak_server, api_url):
    writer = Writer(api_url)
    created = time.monotonic()
    runs = create_live_runs(writer)
    created = time.monotonic() - created
    step = 0

    def advance() -> None:
        """Complete task `step` of every run (all of them start RUNNING)."""
        nonlocal step
        for _, tasks in runs:
            writer.set_state("task_runs", tasks[step], "COMPLETED")
        step += 1

    gc.collect()
    threads_before, rss_before, sockets_before = os_threads(), rss_mb(), sockets()
    assert not poll_threads() and not hub_threads()
    started = time.monotonic()
    widgets: list[FlowRunWidget] = []
    errors: dict[int, list[str]] = {i: [] for i in range(N_RUNS)}
    samples: list[tuple[float, int, float]] = []
    phases: list[str] = []

    def phase(label: str) -> None:
        phases.append(f"{label} {time.monotonic() - started:.1f}s")

    def caught_up() -> bool:
        return all(completed(w) == step for w in widgets)

    def sample() -> None:
        samples.append((time.monotonic() - started, os_threads(), rss_mb(), sockets()))

    try:
        for i, (flow_run_id, _) in enumerate(runs):
            widget = FlowRunWidget(flow_run_id, live=True, interval=INTERVAL, settle=5.0,
                                   reconcile=RECONCILE)
            widget.observe(lambda change, i=i: change["new"].get("error")
                           and errors[i].append(change["new"]["error"]), names="header")
            widgets.append(widget)
        phase("widgets created")
        assert all(w.is_polling for w in widgets)
        assert len(poll_threads()) == N_RUNS
        assert wait_for(lambda: streaming(widgets), 30, every=sample), \
            [w.header.get("live_reason") for w in widgets]
        hub = shared_hub()
        assert len(hub_threads()) == 1 and hub.connections == 1  # one socket for all 20
        threads_live, sockets_live = os_threads(), sockets()
        # one thread per widget, the hub's, the websocket's reader and keepalive: no more
        assert threads_live == threads_before + N_RUNS + 3, \
            sorted(t.name for t in threading.enumerate())

        # Phase A: the runs make progress; every widget follows.
        for _ in range(2):
            advance()
            assert wait_for(caught_up, 15, every=sample), [completed(w) for w in widgets]
            sample()
        while time.monotonic() - started < 8:
            time.sleep(0.5)
            sample()
        assert all(w.header["error"] is None and w.header["live"] for w in widgets)

        # Phase B: the server goes away; every widget says so and keeps (only) its thread.
        phase("server stopped")
        soak_server.stop()
        phase("server down")
        assert wait_for(lambda: all(w.header.get("error") for w in widgets), 45, step=0.5,
                        every=sample), [w.header.get("error") for w in widgets]
        phase("errors shown")
        down_error = widgets[0].header["error"]
        assert "Retrying in" in down_error and api_url in down_error
        assert all(w.is_polling for w in widgets)
        sample()
        assert threads_live - 2 <= os_threads() <= threads_live  # the socket's two may be gone

        # Phase C: same port, same home: the widgets recover on their own.
        soak_server.start()
        phase("restarted")
        assert wait_for(lambda: all(w.header.get("error") is None for w in widgets), 45,
                        step=0.5, every=sample), [w.header.get("error") for w in widgets]
        phase("recovered")
        assert all(errors[i] for i in range(N_RUNS))  # every widget did show the outage
        assert wait_for(lambda: streaming(widgets), 60, step=0.5, every=sample)
        phase("streaming again")
        assert len(hub_threads()) == 1
        advance()  # updates written after the restart reach every widget
        assert wait_for(caught_up, 20, every=sample), [completed(w) for w in widgets]
        while time.monotonic() - started < SOAK_SECONDS - 5:  # the rest of the minute
            time.sleep(0.5)
            sample()
        assert os_threads() == threads_live

        # Closing stops a widget's polling at once.
        phase("closing")
        closed, rest = widgets[:5], widgets[5:]
        closed_threads = [w._thread for w in closed]
        for widget in closed:
            widget.close()
        assert not any(t.is_alive() for t in closed_threads)
        assert len(poll_threads()) == N_RUNS - len(closed)

        # Finishing the runs ends the remaining widgets' polling, with the final picture.
        phase("finishing")
        for flow_run_id, tasks in runs:
            for task_run_id in tasks[step:]:
                writer.set_state("task_runs", task_run_id, "COMPLETED")
            writer.set_state("flow_runs", flow_run_id, "COMPLETED")
        assert wait_for(lambda: not any(w.is_polling for w in rest), 20, step=0.5,
                        every=sample)
        soak_seconds = time.monotonic() - started
        sample()
        for widget in rest:
            assert widget.header["state_type"] == "COMPLETED"
            assert widget.header["live"] is False and widget.header["error"] is None
            assert widget.header["counts"] == {"COMPLETED": TASKS}
            assert widget.timeline["n"] == TASKS
        assert not poll_threads()
        assert wait_for(lambda: not hub_threads(), 10)  # the last feed closed: no socket
        assert os_threads() == threads_before

        peak_threads = max(s[1] for s in samples)
        rss_growth = max(s[2] for s in samples) - rss_before
        peak_sockets = max(s[3] for s in samples)
        print(f"\nsoak: runs created in {created:.1f} s; followed {soak_seconds:.1f} s, "
              f"{len(samples)} samples, threads "
              f"{threads_before} -> {threads_live} (peak {peak_threads}), sockets "
              f"{sockets_before} -> {sockets_live} (peak {peak_sockets}), "
              f"RSS {rss_before:.1f} MB -> peak +{rss_growth:.1f} MB, "
              f"{hub.connections} event sockets opened; " + ", ".join(phases))
        assert peak_threads == threads_live
        assert peak_sockets <= sockets_before + MAX_SOCKETS
        assert rss_growth < MAX_RSS_GROWTH_MB
    finally:
        for widget in widgets:
            widget.close()
        writer.close()
    assert not poll_threads()
