#!/usr/bin/env python
"""Build a flow run with N task runs on a Prefect 3 server, fast, for benchmarks and tests.

The library never writes to a server, so this talks to the REST API with raw httpx.

How: the REST create bodies cannot carry start/end times (`POST /task_runs/` takes no
`start_time`, and a state create body refuses `timestamp`), so task runs made that way
start and end at the server's "now", milliseconds apart, ~30 per second. Instead each task
run is sent as ONE final-state event (`POST /api/events`, `prefect.task-run.Completed` or
`.Failed`, marked `prefect.orchestration: client`), exactly as a Prefect client reports it:
the server's task-run recorder writes the row with the times, inputs and state we chose.
The recorder's in-memory queue holds 10,000 messages and drops beyond that, so at most
`backlog` unrecorded events are ever outstanding (at most 2 requests in flight, 503s
retried). The recorder is the bottleneck: by default it writes ONE task run per transaction
(~50 task runs/s on a busy 2-core machine; 10,000 in 209 s). A server started with
`FAST_RECORDER_ENV` (batches of 500) records the same 10,000 in ~67 s.

The run: the flow run is created RUNNING through `POST /flow_runs/` and forced to its final
state (FAILED if any task failed) once every task run is recorded. Task runs are spread over
a few task keys (`extract`, `transform`, ...), with lognormal durations, start times staggered
from an hour ago, `failed_fraction` FAILED (with a message), and `linked_fraction` waiting on
1–3 earlier task runs (`task_inputs`), starting after those upstreams ended.

    python benchmarks/bigrun.py --api-url http://127.0.0.1:4200/api -n 10000
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

TASK_KEYS = ("extract", "transform", "validate", "load", "report")
RETRIED = (429, 502, 503, 504)
# Server settings that let the task-run recorder write in batches: put them in the
# environment of `prefect server start` (e.g. os.environ before LocalServer().start()).
FAST_RECORDER_ENV = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "500",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}


@dataclass
class BigRun:
    """What `build_run` made: ids and the counts it promised the server would hold."""

    flow_run_id: str
    flow_id: str
    n: int
    states: Counter = field(default_factory=Counter)   # state type -> task runs
    task_keys: Counter = field(default_factory=Counter)  # task key -> task runs
    linked: int = 0      # task runs with at least one upstream task run in task_inputs
    seconds: float = 0.0  # wall time of the build


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """One request, retrying 503s (SQLite busy) and dropped connections with back-off."""
    for attempt in range(12):
        try:
            response = client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError,
                httpx.ReadTimeout):
            if attempt == 11:
                raise
        else:
            if response.status_code not in RETRIED or attempt == 11:
                response.raise_for_status()
                return response.json() if response.content else None
        time.sleep(min(2.0, 0.05 * 2 ** attempt))
    raise AssertionError("unreachable")


def plan(n: int, flow_run_id: str, *, seed: int = 0, failed_fraction: float = 0.03,
         linked_fraction: float = 0.3, start: datetime | None = None,
         ) -> tuple[list[dict[str, Any]], BigRun]:
    """The N final-state task-run events (same shape for a seed, fresh ids), and counts."""
    rng = random.Random(seed)
    t0 = start or datetime.now(timezone.utc) - timedelta(hours=1)
    made = BigRun(flow_run_id=flow_run_id, flow_id="", n=n)
    ids = [str(uuid.uuid4()) for _ in range(n)]  # fresh ids: a seed may be built twice
    ends = [0.0] * n
    per_key: Counter = Counter()
    events = []
    for i in range(n):
        key = TASK_KEYS[min(len(TASK_KEYS) - 1, int(rng.random() ** 1.5 * len(TASK_KEYS)))]
        ready = i * 0.25 + rng.uniform(0, 2)  # a steady stream, ~4 task runs a second
        inputs: dict[str, list[dict[str, str]]] = {}
        if i and rng.random() < linked_fraction:
            ups = sorted({rng.randrange(max(0, i - 50), i) for _ in range(rng.randint(1, 3))})
            inputs = {"data": [{"input_type": "task_run", "id": ids[u]} for u in ups]}
            ready = max(ready, *(ends[u] for u in ups))
            made.linked += 1
        begin = ready + rng.expovariate(4.0)
        run_time = rng.lognormvariate(0.0, 1.0)
        ends[i] = begin + run_time
        state = "FAILED" if rng.random() < failed_fraction else "COMPLETED"
        dynamic_key = per_key[key]
        per_key[key] += 1
        made.states[state] += 1
        made.task_keys[key] += 1
        iso = {name: (t0 + timedelta(seconds=value)).isoformat() for name, value in
               (("expected", ready), ("start", begin), ("end", ends[i]))}
        name = f"{key}-{dynamic_key}"
        events.append({
            "id": str(uuid.uuid4()),
            "occurred": iso["end"], "event": f"prefect.task-run.{state.title()}",
            "resource": {"prefect.resource.id": f"prefect.task-run.{ids[i]}",
                         "prefect.resource.name": name, "prefect.state-type": state,
                         "prefect.state-name": state.title(), "prefect.orchestration": "client"},
            "related": [{"prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                         "prefect.resource.role": "flow-run"}],
            "payload": {
                "intended": {"from": "RUNNING", "to": state},
                "initial_state": {"type": "RUNNING", "name": "Running"},
                "validated_state": {
                    "type": state, "name": state.title(),
                    "message": f"ValueError('bad row {i}')" if state == "FAILED" else None,
                    "state_details": {}},
                "task_run": {
                    "name": name, "task_key": key, "dynamic_key": str(dynamic_key),
                    "empirical_policy": {"retries": 0, "retry_delay": 0}, "tags": ["bigrun"],
                    "labels": {}, "task_inputs": inputs, "run_count": 1,
                    "flow_run_run_count": 1, "expected_start_time": iso["expected"],
                    "start_time": iso["start"], "end_time": iso["end"],
                    "total_run_time": run_time, "estimated_run_time": run_time,
                    "estimated_start_time_delta": begin - ready},
            },
        })
    return events, made


def recorded(client: httpx.Client, flow_run_id: str) -> int:
    return _request(client, "POST", "/task_runs/count",
                    json={"flow_runs": {"id": {"any_": [flow_run_id]}}})


def build_run(api_url: str, n: int = 10_000, *, seed: int = 0, flow_name: str = "bigrun",
              failed_fraction: float = 0.03, linked_fraction: float = 0.3, batch: int = 250,
              backlog: int = 4_000, timeout: float = 600.0, echo: Any = None) -> BigRun:
    """Create a flow run with `n` finished task runs and wait until the server holds them all."""
    began = time.monotonic()
    deadline = began + timeout
    with httpx.Client(base_url=api_url.rstrip("/"), timeout=60) as client:
        flow = _request(client, "POST", "/flows/", json={"name": flow_name})
        flow_run = _request(client, "POST", "/flow_runs/", json={
            "flow_id": flow["id"], "name": f"{flow_name}-{n}-{seed}",
            "state": {"type": "RUNNING", "name": "Running"}, "tags": ["bigrun"]})
        events, made = plan(n, flow_run["id"], seed=seed, failed_fraction=failed_fraction,
                            linked_fraction=linked_fraction)
        made.flow_id = flow["id"]
        sent = done = 0
        with ThreadPoolExecutor(max_workers=2) as pool:  # at most 2 requests in flight
            while sent < n:
                if sent - done >= backlog:  # let the recorder catch up before sending more
                    time.sleep(0.5)
                    done = recorded(client, made.flow_run_id)
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"Only {done} of {n} task runs recorded in time.")
                    continue
                chunks = [events[k:k + batch] for k in (sent, sent + batch) if k < n]
                list(pool.map(lambda c: _request(client, "POST", "/events", json=c), chunks))
                sent = min(n, sent + 2 * batch)
                if echo:
                    echo(f"sent {sent}/{n} events, {done} recorded")
        while done < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Only {done} of {n} task runs recorded in {timeout:.0f} s "
                                   "(the server may have dropped events).")
            time.sleep(0.5)
            done = recorded(client, made.flow_run_id)
        final = "FAILED" if made.states["FAILED"] else "COMPLETED"
        _request(client, "POST", f"/flow_runs/{made.flow_run_id}/set_state",
                 json={"state": {"type": final, "name": final.title()}, "force": True})
    made.seconds = time.monotonic() - began
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    made = build_run(args.api_url, args.n, seed=args.seed, echo=print)
    print(f"flow run {made.flow_run_id}: {made.n} task runs {dict(made.states)} "
          f"({made.linked} linked) in {made.seconds:.1f} s")


if __name__ == "__main__":
    main()
