#!/usr/bin/env python
"""Benchmark: export every task run of a big flow run, ours against Prefect's SDK and raw httpx.

Starts a throwaway local server (`LocalServer`) unless `--api-url` is given, builds a flow run
with N task runs (benchmarks/bigrun.py; or reuses `--flow-run-id`), then times in one process,
after a warm-up, interleaved, `--repeat` times each:

  a  ours       FlowRunView.to_dataframe(progress=False)
  b  prefect    prefect's sync client: read_task_runs paged by 200 (flow_run_filter),
                model_dump each, pd.DataFrame (prefect already imported)
  c  floor      raw httpx: sequential 200-row pages, JSON parse + pd.json_normalize only
  d  timeline   FlowRunView.to_dataframe(columns="timeline") (the same export as a, since
                the timeline carries the task runs' identity: names, map indices, retries)
  e  graph-v2   one GET /flow_runs/{id}/graph-v2 + JSON parse (refused above 10,000 nodes):
                the floor of a timeline without identity

and prints medians and the ratios a/c, b/a, b/d, d/e against the targets. Then whole
processes (median of `--processes`) for a one-shot export to Parquet: our CLI
`prefect-widgets export ID -o out.parquet` against a Prefect-only `python -c` script. If (a)
misses its target, one export is profiled with cProfile.

    python benchmarks/export.py                       # N = 10,000
    python benchmarks/export.py -n 5000 10000
    python benchmarks/export.py --api-url http://127.0.0.1:4200/api --flow-run-id ID
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bigrun import FAST_RECORDER_ENV, build_run

from prefect_widgets import FlowRunView, configure

PAGE = 200
PREFECT_SCRIPT = """
import sys, pandas as pd
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
flow_run_id, out = sys.argv[1], sys.argv[2]
rows, offset = [], 0
with get_client(sync_client=True) as client:
    while True:
        page = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[flow_run_id])), limit=200, offset=offset)
        rows += [t.model_dump(mode="json") for t in page]
        offset += len(page)
        if len(page) < 200:
            break
pd.json_normalize(rows).to_parquet(out, index=False)
print(len(rows))
"""


def prefect_sdk(flow_run_id: str) -> pd.DataFrame:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    rows: list[dict[str, Any]] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_task_runs(flow_run_filter=run_filter, limit=PAGE,
                                         offset=len(rows))
            rows += [task_run.model_dump() for task_run in page]
            if len(page) < PAGE:
                break
    return pd.DataFrame(rows)


def raw_floor(client: httpx.Client, flow_run_id: str) -> pd.DataFrame:
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC", "limit": PAGE}
    rows: list[dict[str, Any]] = []
    while True:
        response = client.post("/task_runs/filter", json={**body, "offset": len(rows)})
        response.raise_for_status()
        page = response.json()
        rows += page
        if len(page) < PAGE:
            break
    return pd.json_normalize(rows)


def graph_raw(client: httpx.Client, flow_run_id: str) -> dict[str, Any] | None:
    response = client.get(f"/flow_runs/{flow_run_id}/graph-v2")
    if response.status_code == 400:  # over 10,000 nodes
        return None
    response.raise_for_status()
    return response.json()


def median_times(cases: dict[str, Callable[[], Any]], repeat: int,
                 ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """One warm-up each, then `repeat` interleaved rounds; medians (and all times) in s.

    The order rotates every round, so no case always runs right after the heavy paging ones.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(repeat + 1):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            call = cases[name]
            began = time.perf_counter()
            call()
            if round_:
                times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}, times


def process_times(argv: list[str], env: dict[str, str], runs: int) -> float:
    values = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)
        values.append(time.perf_counter() - began)
    return statistics.median(values)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def profile(view: FlowRunView) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    view.to_dataframe(progress=False)
    profiler.disable()
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(14)
        text = out.getvalue()
        print(f"\n--- cProfile of (a), by {key} ---")
        print(text[text.find("   ncalls"):].rstrip())


def bench(api_url: str, env: dict[str, str], flow_run_id: str, n: int, args: argparse.Namespace,
          ) -> None:
    view = FlowRunView.from_flow_run_id(flow_run_id)

    def snapshot() -> FlowRunView:
        return FlowRunView.from_json(view.raw, view.client)

    with httpx.Client(base_url=api_url, timeout=120) as client:
        graph_ok = graph_raw(client, flow_run_id) is not None
        cases: dict[str, Callable[[], Any]] = {
            # a fresh snapshot each time: a view reads its run's data once
            "a ours to_dataframe": lambda: snapshot().to_dataframe(progress=False),
            "b prefect SDK": lambda: prefect_sdk(flow_run_id),
            "c raw httpx floor": lambda: raw_floor(client, flow_run_id),
            "d ours timeline": lambda: snapshot().to_dataframe(columns="timeline",
                                                               progress=False),
        }
        if graph_ok:
            cases["e graph-v2 raw"] = lambda: graph_raw(client, flow_run_id)
        assert len(view.to_dataframe(progress=False)) == n == len(prefect_sdk(flow_run_id))
        med, every = median_times(cases, args.repeat)
    a, b, c, d = (med[k] for k in list(cases)[:4])
    e = med.get("e graph-v2 raw")
    print(f"\n## N = {n:,} task runs (flow run {flow_run_id}), medians of {args.repeat} "
          f"after a warm-up")
    print("| case | median s | min s | max s | rows/s (median) |\n|---|---:|---:|---:|---:|")
    for name, value in med.items():
        print(f"| {name} | {value:.3f} | {min(every[name]):.3f} | {max(every[name]):.3f} "
              f"| {n / value:,.0f} |")
    if not graph_ok:
        print("| e graph-v2 raw | refused (>10,000 nodes): d pages instead | | | |")
    print("\n| ratio | value | target | verdict |\n|---|---:|---|---|")
    print(f"| a/c | {a / c:.2f} | ≤ 1.10 | {verdict(a / c <= 1.10)} |")
    print(f"| b/a | {b / a:.2f} | ≥ 1.25 | {verdict(b / a >= 1.25)} |")
    print(f"| b/d | {b / d:.2f} | ≥ 5 | {verdict(b / d >= 5)} |")
    if e is not None:
        print(f"| d/e | {d / e:.2f} | ≤ 1.20 | {verdict(d / e <= 1.20)} |")
    if args.processes:
        with tempfile.TemporaryDirectory() as tmp:
            ours = [sys.executable, "-m", "prefect_widgets", "export", flow_run_id,
                    "-o", f"{tmp}/ours.parquet"]
            theirs = [sys.executable, "-c", PREFECT_SCRIPT, flow_run_id, f"{tmp}/prefect.parquet"]
            ours_s = process_times(ours, env, args.processes)
            theirs_s = process_times(theirs, env, args.processes)
            rows = len(pd.read_parquet(f"{tmp}/ours.parquet"))
        print(f"\nWhole process, one-shot export to Parquet (median of {args.processes}; {rows:,} "
              "rows written):")
        print("| process | median s |\n|---|---:|")
        print(f"| prefect-widgets export -o out.parquet | {ours_s:.2f} |")
        print(f"| python -c (prefect client → parquet) | {theirs_s:.2f} |")
        print(f"| ratio prefect/ours | {theirs_s / ours_s:.2f} |")
    if a / c > 1.10 and args.profile:
        profile(view)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the server
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", help="Use this server instead of a throwaway one.")
    parser.add_argument("--flow-run-id", help="Reuse this flow run instead of building one.")
    parser.add_argument("-n", type=int, nargs="+", default=[10_000],
                        help="Task runs per built flow run (several sizes: one run each).")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--processes", type=int, default=3,
                        help="Whole-process runs per side (0 skips them).")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    args = parser.parse_args()
    print(f"# export benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pandas {pd.__version__}")
    with contextlib.ExitStack() as stack:
        if args.api_url:
            api_url = args.api_url.rstrip("/")
            env = {**os.environ, "PREFECT_API_URL": api_url}
        else:
            from prefect_widgets.server import LocalServer

            os.environ.update(FAST_RECORDER_ENV)  # LocalServer passes os.environ on
            began = time.monotonic()
            server = stack.enter_context(LocalServer())
            api_url, env = server.api_url, server.env()
            print(f"throwaway server {api_url} up in {time.monotonic() - began:.1f} s")
        os.environ.update({k: env[k] for k in ("PREFECT_API_URL",) + (
            ("PREFECT_HOME",) if "PREFECT_HOME" in env else ())})
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        configure(api_url=api_url)
        began = time.monotonic()
        import prefect  # noqa: F401  (b is timed warm: prefect already imported)

        print(f"import prefect: {time.monotonic() - began:.1f} s (not in the timings)")
        if args.flow_run_id:
            with httpx.Client(base_url=api_url) as client:
                n = client.post("/task_runs/count", json={
                    "flow_runs": {"id": {"any_": [args.flow_run_id]}}}).json()
            bench(api_url, env, args.flow_run_id, n, args)
            return
        for n in args.n:
            made = build_run(api_url, n, timeout=max(120.0, n / 20))
            print(f"\nbuilt {n:,} task runs {dict(made.states)} ({made.linked:,} with upstreams) "
                  f"in {made.seconds:.1f} s")
            bench(api_url, env, made.flow_run_id, n, args)


if __name__ == "__main__":
    main()
