#!/usr/bin/env python
"""Benchmark (issue 21 target): a second view of a finished 10,000-task run in a new process,
served by the disk cache, against the first view in another new process (≥ 20× faster).

Starts a throwaway local server (`LocalServer`, batched task-run recorder) unless `--api-url`
is given, builds a finished flow run with N task runs (benchmarks/bigrun.py; or reuses
`--flow-run-id`), waits out the cache's settle window (30 s after the run's end), then runs,
each in a NEW Python process with an empty (first) or warm (second) cache directory:

  view      FlowRunView.from_flow_run_id(id) + data.tasks() + data.timeline()
            (the frames every display, analysis and report reads)
  rows      + data.task_rows() (the raw records the widget and task-run views read)

Times are measured inside the process from the first request on (imports apart, printed
separately), `--repeat` first/second pairs, each first with a cleared cache; the medians and
ratios are printed, with the number of requests each view sent.

    python benchmarks/cache_second_view.py                  # N = 10,000
    python benchmarks/cache_second_view.py --api-url http://127.0.0.1:4200/api --flow-run-id ID
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

CHILD = """
import hashlib, json, sys, time
began = time.perf_counter()
import httpx
from prefect_widgets.client import Client
from prefect_widgets.views import FlowRunView
imported = time.perf_counter() - began
requests = []

class Counting(httpx.HTTPTransport):
    def handle_request(self, request):
        requests.append(request.url.path)
        return super().handle_request(request)

with Client(sys.argv[1], transport=Counting()) as client:
    t0 = time.perf_counter()
    view = FlowRunView.from_flow_run_id(sys.argv[2], client=client)
    tasks = view.data.tasks(False)
    timeline = view.data.timeline(False)
    t1 = time.perf_counter()
    view_requests = len(requests)
    rows = view.data.task_rows(False)
    t2 = time.perf_counter()
print(json.dumps({"import": imported, "view": t1 - t0, "rows": t2 - t0,
                  "view_requests": view_requests, "requests": len(requests),
                  "task_runs": len(tasks), "row_count": len(rows),
                  "digest": hashlib.sha256(tasks.to_json().encode()).hexdigest()}))
"""


def _child(api_url: str, flow_run_id: str, cache_dir: str) -> dict:
    env = {**os.environ, "PREFECT_WIDGETS_CACHE_DIR": cache_dir}
    env.pop("PREFECT_WIDGETS_CACHE", None)
    done = subprocess.run([sys.executable, "-c", CHILD, api_url, flow_run_id], env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait_settled(api_url: str, flow_run_id: str, settle: float = 30.0) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as http:
        run = http.get(f"/flow_runs/{flow_run_id}").json()
    ended = datetime.fromisoformat(run["end_time"].replace("Z", "+00:00"))
    wait = settle + 1 - (datetime.now(timezone.utc) - ended).total_seconds()
    if wait > 0:
        print(f"waiting {wait:.0f} s for the settle window")
        time.sleep(wait)


def measure(api_url: str, flow_run_id: str, repeat: int) -> None:
    cache_dir = tempfile.mkdtemp(prefix="pw-cache-bench-")
    firsts, seconds = [], []
    try:
        for _ in range(repeat):
            shutil.rmtree(cache_dir, ignore_errors=True)
            firsts.append(_child(api_url, flow_run_id, cache_dir))
            seconds.append(_child(api_url, flow_run_id, cache_dir))
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    assert all(s["digest"] == firsts[0]["digest"] for s in firsts + seconds), "views differ"
    n = firsts[0]["task_runs"]
    print(f"\n{n} task runs, {repeat} pair(s) of new processes (medians):")
    for what in ("view", "rows"):
        first = statistics.median(r[what] for r in firsts)
        second = statistics.median(r[what] for r in seconds)
        print(f"  {what:<5} first {first:7.3f} s   second {second:7.3f} s   "
              f"ratio {first / second:6.1f}x  (target >= 20x)")
    print(f"  imports (not in the times): {statistics.median(r['import'] for r in firsts):.2f} s")
    print(f"  requests: first view {firsts[0]['view_requests']} "
          f"(+{firsts[0]['requests'] - firsts[0]['view_requests']} for rows), "
          f"second view {seconds[0]['view_requests']} "
          f"(+{seconds[0]['requests'] - seconds[0]['view_requests']} for rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url")
    parser.add_argument("--flow-run-id")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from bigrun import FAST_RECORDER_ENV, build_run

    server = None
    api_url = args.api_url
    if api_url is None:
        from prefect_widgets.server import LocalServer

        os.environ.update(FAST_RECORDER_ENV)
        server = LocalServer().start()
        api_url = server.api_url
    try:
        flow_run_id = args.flow_run_id
        if flow_run_id is None:
            made = build_run(api_url, args.n, echo=None)
            flow_run_id = made.flow_run_id
            print(f"built flow run {flow_run_id}: {made.n} task runs in {made.seconds:.0f} s")
        _wait_settled(api_url, flow_run_id)
        measure(api_url, flow_run_id, args.repeat)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
