"""Live latency in a real browser (issue 20): from a task-run state's time to the widget
drawing it, with the event stream or polling. Shared by tests/test_live_latency_browser.py
and benchmarks/live_latency.py.

A flow of N short tasks (each its own task name, `t000`...) runs in a subprocess: it prints
its flow run id, then waits for a go-file so the widget is on screen before the first task
starts. The notebook counts the kernel's HTTP requests (an `httpx` send wrapper), shows
`FlowRunWidget(run, stream=...)`, notes every header it sends and when each streamed record
reached the widget (its private `_apply`, wrapped: a measurement only), and once the widget
stopped following prints one `LATENCY-RESULT {json}` line. The page asks for the front end's
`pw-drawn` events (js/README.md) and keeps each with its `Date.now()`; afterwards each
(task run, state type) first drawn is compared with that state's timestamp on the server
(same machine, same clock), and the last state drawn per task run with the server's.

Run as a script (`python tests/live_latency.py --tasks N --go FILE`) it is the flow itself.
"""

from __future__ import annotations

import argparse
import json
import math
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULT = "LATENCY-RESULT "
#: run before any page script: ask for `pw-drawn` events and keep them
DRAWN_INIT = """
window.__pwDrawn = [];
const askForDrawn = () => document.documentElement.setAttribute('data-pw-drawn', '');
if (document.documentElement) askForDrawn();
document.addEventListener('DOMContentLoaded', askForDrawn);
document.addEventListener('pw-drawn', (e) => window.__pwDrawn.push(e.detail), true);
"""

SETUP_CELL = """\
import json, time
import httpx
from prefect_widgets import FlowRunWidget

_sent = []  # (time, method, path) of every HTTP request this kernel sends

def _counting(send):
    def counted(self, request, *args, **kwargs):
        _sent.append((time.time(), request.method, request.url.path))
        return send(self, request, *args, **kwargs)
    return counted

httpx.Client.send = _counting(httpx.Client.send)
httpx.AsyncClient.send = _counting(httpx.AsyncClient.send)
print("counting requests")
"""

WIDGET_CELL = """\
_headers = []
w = FlowRunWidget({run_id!r}, stream={stream!r})
_shown_at = time.time()
_headers.append((_shown_at, w.header.get("live"), w.header.get("live_via")))
w.observe(lambda change: _headers.append(
    (time.time(), change["new"].get("live"), change["new"].get("live_via"))), names="header")
_applied = []  # (time, task run id, state type) of each record the stream handed the widget
_apply = w._apply
def _timed_apply(batch):
    now = time.time()
    _applied.extend((now, str(r["id"]), r.get("state_type")) for r in batch.records)
    return _apply(batch)
w._apply = _timed_apply
_patched = []  # (time, task run id, state type) of each row a live patch sent
_send = w.send
def _timed_send(msg, buffers=None):
    if msg.get("type") == "patch" and buffers:
        now, by_index = time.time(), {{i: t for t, i in w._rows.items()}}
        for i in memoryview(buffers[0]).cast("B").cast("i").tolist():
            if i in by_index:
                _patched.append((now, by_index[i], str(w._frame.loc[by_index[i], "state_type"])))
    return _send(msg, buffers)
w.send = _timed_send
w
"""

RESULT_CELL = """\
_deadline = time.monotonic() + {timeout!r}
while w.is_polling and time.monotonic() < _deadline:
    time.sleep(0.1)
print({marker!r} + json.dumps({{
    "stopped": not w.is_polling, "stopped_at": time.time(), "shown_at": _shown_at,
    "requests": [s for s in _sent if s[0] >= _shown_at], "headers": _headers,
    "applied": _applied, "patched": _patched, "live_reason": w.header.get("live_reason"),
}}))
"""


# ------------------------------------------------------------------ the flow (subprocess)
def run_flow(tasks: int, go: Path, seconds: float, gap: float) -> None:
    """The measured flow: say the run id, wait for `go`, start `tasks` short tasks `gap`
    seconds apart (each sleeps `seconds`)."""
    from prefect import flow, runtime, task

    @task
    def short(i: int) -> int:
        time.sleep(seconds)
        return i

    @flow(name="live-latency")
    def many_short_tasks() -> int:
        print(json.dumps({"flow_run_id": str(runtime.flow_run.id)}), flush=True)
        deadline = time.monotonic() + 300
        while not go.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{go} never appeared")
            time.sleep(0.02)
        futures = []
        for i in range(tasks):
            futures.append(short.with_options(name=f"t{i:03d}").submit(i))
            time.sleep(gap)
        return sum(f.result() for f in futures)

    many_short_tasks()


@dataclass
class FlowProcess:
    """The flow's subprocess, waiting for its go-file."""

    proc: subprocess.Popen[str]
    run_id: str
    go: Path
    log: Path  # its stderr

    def start_tasks(self) -> float:
        """Let the tasks start; the wall-clock time they were let go."""
        self.go.touch()
        return time.time()

    def wait(self, timeout: float) -> None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        if code != 0:
            raise RuntimeError(f"the flow exited with {code}: {self.log.read_text()[-3000:]}")


def start_flow(env: dict[str, str], workdir: Path, tasks: int, seconds: float = 0.2,
               gap: float = 0.05, timeout: float = 180.0) -> FlowProcess:
    """Start the flow in a subprocess against `env`'s server; returns once its run exists."""
    go = workdir / f"go-{time.monotonic_ns()}"
    log = workdir / f"flow-{go.name}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--tasks", str(tasks), "--go", str(go),
             "--seconds", str(seconds), "--gap", str(gap)],
            env={**env, "PREFECT_LOGGING_LEVEL": "WARNING"}, stdout=subprocess.PIPE,
            stderr=err, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []],
                     daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if line.startswith('{"flow_run_id"'):
            return FlowProcess(proc, json.loads(line)["flow_run_id"], go, log)
    proc.kill()
    raise RuntimeError(f"the flow did not start: {log.read_text()[-3000:]}")


# ------------------------------------------------------------------ measuring
def server_lags(api_url: str, run_id: str, since: float) -> list[float]:
    """ms from each task-run event of the run occurring to the server receiving it (the
    server's stored events: `occurred` is the client's clock, `received` the server's); a
    diagnostic, so a refused read ends it with what it had."""
    import httpx

    from prefect_widgets._parse import parse_datetime

    body = {"filter": {
        "occurred": {"since": datetime.fromtimestamp(since - 60, timezone.utc).isoformat()},
        "event": {"prefix": ["prefect.task-run."]},
        "related": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50}  # its page limit
    lags: list[float] = []
    with httpx.Client(timeout=30) as http:
        try:
            page = http.post(f"{api_url}/events/filter", json=body).raise_for_status().json()
            while True:
                for event in page["events"]:
                    occurred, received = (parse_datetime(event[k])
                                          for k in ("occurred", "received"))
                    if occurred is not None and received is not None:
                        lags.append((received - occurred).total_seconds() * 1000)
                if not page.get("next_page"):
                    return lags
                page = http.get(page["next_page"]).raise_for_status().json()
        except httpx.HTTPError as exc:
            print(f"(server lags: stopped at {len(lags)} events: {exc})")
            return lags


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) by linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class Measurement:
    """One live widget following one flow run."""

    mode: str  # "stream" | "polling"
    tasks: int
    latencies: list[float] = field(default_factory=list)  # ms, every (task run, state) drawn
    final_latencies: list[float] = field(default_factory=list)  # ms, final states only
    #: ms from a state's time to the stream handing it to the widget in the kernel
    kernel_latencies: list[float] = field(default_factory=list)
    #: ms from a state's event occurring to the server receiving it (Prefect's own leg)
    server_lags: list[float] = field(default_factory=list)
    #: drawn states that never went through the widget's `_apply` (the stream's path): a
    #: REST read brought them, or the stream's record was set aside for one
    not_streamed: int = 0
    #: ms from the widget getting a streamed state to sending its patch, and from sending
    #: a patch to the browser drawing the state
    to_patch: list[float] = field(default_factory=list)
    patch_to_drawn: list[float] = field(default_factory=list)
    #: ms to the browser drawing it, by state type
    by_state: dict[str, list[float]] = field(default_factory=dict)
    never_drawn: int = 0  # server states no frame showed (a later state came first)
    requests: int = 0
    seconds: float = 0.0  # from the tasks' start to the widget's stop
    live_vias: list[str] = field(default_factory=list)  # live_via of each live header
    rows: int = 0  # rows the browser held at the end
    server_rows: int = 0
    mismatches: list[str] = field(default_factory=list)  # drawn end state != the server's
    stopped: bool = False

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @property
    def equal(self) -> bool:
        return self.rows == self.server_rows and not self.mismatches

    def summary(self) -> str:
        lat, fin = self.latencies, self.final_latencies
        return (f"{self.mode:8s} p50 {percentile(lat, .5):7.0f} ms  p95 {percentile(lat, .95):7.0f} ms"
                f"  max {max(lat, default=math.nan):7.0f} ms  (final states p95 "
                f"{percentile(fin, .95):.0f} ms; {len(lat)} drawn, {self.never_drawn} "
                f"skipped)\n         by state: " + ", ".join(
                    f"{t} {len(v)} p50 {percentile(v, .5):.0f} p95 {percentile(v, .95):.0f}"
                    for t, v in sorted(self.by_state.items())) +
                f"\n         the server got each event after p50 "
                f"{percentile(self.server_lags, .5):.0f} / p95 "
                f"{percentile(self.server_lags, .95):.0f} ms; the kernel's widget after p50 "
                f"{percentile(self.kernel_latencies, .5):.0f} / p95 "
                f"{percentile(self.kernel_latencies, .95):.0f} ms "
                f"({len(self.kernel_latencies)} states streamed; of those drawn, "
                f"{self.not_streamed} came another way); then to its patch p50 "
                f"{percentile(self.to_patch, .5):.0f} / p95 {percentile(self.to_patch, .95):.0f}"
                f" ms, patch to drawn p50 {percentile(self.patch_to_drawn, .5):.0f} / p95 "
                f"{percentile(self.patch_to_drawn, .95):.0f} ms"
                f"\n         {self.requests} requests in {self.seconds:.1f} s = "
                f"{self.requests_per_second:.2f}/s  end state "
                f"{'equals' if self.equal else 'DIFFERS from'} the server's "
                f"({self.rows}/{self.server_rows} rows, {len(self.mismatches)} states differ)")


def drawn_times(events: list[dict[str, Any]]) -> tuple[dict[tuple[str, str], float], dict[str, str]]:
    """From `pw-drawn` details: when each (task name, state) was first drawn, and the state
    each task name was last drawn in."""
    first: dict[tuple[str, str], float] = {}
    last: dict[str, str] = {}
    for event in events:
        for row in event["rows"]:
            first.setdefault((row["key"], row["state"]), float(event["at"]))
            last[row["key"]] = row["state"]
    return first, last


def _first_times(stamps: list[list[Any]]) -> dict[tuple[str, str], float]:
    """(task run id, state type) -> first time (ms) from (time s, id, state type) triples."""
    first: dict[tuple[str, str], float] = {}
    for at, task_run_id, state_type in stamps:
        first.setdefault((task_run_id, state_type), at * 1000)
    return first


def compare(m: Measurement, events: list[dict[str, Any]], api_url: str, run_id: str,
            applied: list[list[Any]], patched: list[list[Any]]) -> None:
    """Fill `m`'s latencies and end-state comparison from the server's task runs; `applied`
    and `patched`: (time, task run id, state type) of each record the stream handed the
    kernel's widget, and of each row its live patches sent."""
    from prefect_widgets import FlowRunView
    from prefect_widgets.client import Client
    from prefect_widgets.states import FINISHED_TYPES

    first, last = drawn_times(events)
    in_kernel, sent = _first_times(applied), _first_times(patched)
    m.rows = max((int(e["n"]) for e in events[-1:]), default=0)
    with Client(api_url) as client:
        runs = FlowRunView.from_flow_run_id(run_id, client=client, cache=False).task_runs()
        m.server_rows = len(runs)
        for run in runs:
            name = run.task_name
            if last.get(name) != run.state.type:
                m.mismatches.append(f"{name}: drew {last.get(name)}, server {run.state.type}")
            seen: set[str] = set()
            for state in run.states:
                if state.type in seen or state.timestamp is None:
                    continue
                seen.add(state.type)
                stamp = state.timestamp.timestamp() * 1000
                got = in_kernel.get((run.task_run_id, state.type))
                if got is not None:
                    m.kernel_latencies.append(got - stamp)
                at = first.get((name, state.type))
                if at is None:
                    m.never_drawn += 1
                    continue
                m.not_streamed += got is None
                patch = sent.get((run.task_run_id, state.type))
                if patch is not None:
                    m.patch_to_drawn.append(at - patch)
                    if got is not None:
                        m.to_patch.append(patch - got)
                latency = at - stamp
                m.latencies.append(latency)
                m.by_state.setdefault(state.type, []).append(latency)
                if state.type in FINISHED_TYPES:
                    m.final_latencies.append(latency)


def measure(lab: Any, browser: Any, env: dict[str, str], api_url: str, *, tasks: int,
            stream: bool, workdir: Path, screenshot: Path | None = None,
            timeout: float = 240.0) -> Measurement:
    """Follow a fresh run of `tasks` short tasks with a live widget in JupyterLab (`lab`, a
    started `tests/lab.py` JupyterLab on the server of `env`/`api_url`)."""
    from lab import WIDGET, lab_page, wait_rendered, write_notebook

    from prefect_widgets.samples import wait_until_recorded

    mode = "stream" if stream else "polling"
    flow = start_flow(env, workdir, tasks)
    try:
        name = f"live-latency-{mode}-{flow.run_id[:8]}.ipynb"
        write_notebook(lab.root / name, [
            SETUP_CELL, WIDGET_CELL.format(run_id=flow.run_id, stream=stream),
            RESULT_CELL.format(timeout=timeout, marker=RESULT)])
        with lab_page(browser, lab, workdir, height=900) as page:
            page.add_init_script(DRAWN_INIT)
            lab.open_notebook(page, name)
            lab.run_cell(page, 0)
            lab.wait_output(page, 0, "counting requests")
            lab.run_cell(page, 1)
            wait_rendered(page, WIDGET)
            started = flow.start_tasks()
            flow.wait(timeout)
            lab.run_cell(page, 2)
            text = lab.wait_output(page, 2, RESULT.strip(), timeout=(timeout + 30) * 1000)
            events = page.evaluate("() => window.__pwDrawn")
            if screenshot is not None:
                page.locator(WIDGET).scroll_into_view_if_needed()
                page.screenshot(path=str(screenshot))
            if page.errors:
                raise RuntimeError(f"JS errors in the page: {page.errors}")
    finally:
        if flow.proc.poll() is None:  # the measuring broke: the flow must not wait on
            flow.proc.kill()
    result = json.loads(text[text.index(RESULT) + len(RESULT):].splitlines()[0])
    m = Measurement(mode, tasks, stopped=bool(result["stopped"]))
    m.requests = sum(1 for t, _, _ in result["requests"] if t >= started)
    m.seconds = float(result["stopped_at"]) - started
    m.live_vias = [via for _, live, via in result["headers"] if live]
    wait_until_recorded(api_url, [flow.run_id])
    compare(m, events, api_url, flow.run_id, result["applied"], result["patched"])
    m.server_lags = server_lags(api_url, flow.run_id, started)
    return m


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the measured flow (see the module docstring)")
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--go", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--gap", type=float, default=0.05)
    args = parser.parse_args(argv)
    run_flow(args.tasks, args.go, args.seconds, args.gap)


if __name__ == "__main__":
    main()
