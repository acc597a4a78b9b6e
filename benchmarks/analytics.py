#!/usr/bin/env python
"""Benchmark: run analytics on a synthetic 10,000-task frame (and optionally a real run).

The synthetic run (seeded) is a random DAG with realistic fan-in: most task runs wait on
1–3 recent task runs, ~2% are reduce steps gathering 20–100 upstreams, ~10% are roots;
~3% failed, ~5% retried, a few still running. The frame is built from task-run JSON with
`task_runs_frame`, exactly like `FlowRunView.to_dataframe()`. Each function is timed as the
median of `--repeat` runs after a warm-up; fetch time is not included.

    python benchmarks/analytics.py
    python benchmarks/analytics.py --tasks 20000 --repeat 7
    python benchmarks/analytics.py --api-url http://127.0.0.1:4200/api [--flow-run-id ID]

With `--api-url`, the flow run (default: the newest) is exported once (timed separately)
and the same functions are timed on its frame.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prefect_widgets.analytics import (  # noqa: E402
    attempts_from_frame,
    concurrency_from_frame,
    critical_path_from_frame,
    task_stats_from_frame,
)
from prefect_widgets.dataframes import task_runs_frame  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def synthetic_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    names = [f"stage_{k}" for k in range(40)]
    end_at = np.zeros(n)
    rows = []
    for i in range(n):
        roll = rng.random()
        if i == 0 or roll < 0.10:
            ups: list[int] = []
        elif roll < 0.12:  # reduce step: wide fan-in
            k = int(min(i, rng.integers(20, 101)))
            ups = sorted(set(rng.integers(max(0, i - 400), i, size=k).tolist()))
        else:
            k = int(min(i, rng.integers(1, 4)))
            ups = sorted(set(rng.integers(max(0, i - 50), i, size=k).tolist()))
        # roots arrive as a steady stream (~5 per second of run time)
        ready = max((end_at[u] for u in ups), default=i * 0.2 + rng.uniform(0, 5))
        start = ready + rng.exponential(0.5)
        end = start + rng.lognormal(0.0, 1.0)
        end_at[i] = end
        state = "COMPLETED"
        if rng.random() < 0.03:
            state = "FAILED"
        elif i > n - 20 and rng.random() < 0.5:
            state = "RUNNING"
        run_count = 1 + int(rng.random() < 0.05) * int(rng.integers(1, 3))
        name = names[int(rng.integers(0, len(names)))]
        rows.append({
            "id": f"00000000-0000-0000-0000-{i:012d}", "name": f"{name}-{i:x}",
            "task_key": f"{name}-abc", "flow_run_id": "bench", "state_type": state,
            "state_name": state.title(), "run_count": run_count,
            "expected_start_time": (T0 + timedelta(seconds=float(ready))).isoformat(),
            "start_time": (T0 + timedelta(seconds=float(start))).isoformat(),
            "end_time": None if state == "RUNNING" else
            (T0 + timedelta(seconds=float(end))).isoformat(),
            "task_inputs": {"wait_for": [
                {"input_type": "task_run", "id": f"00000000-0000-0000-0000-{u:012d}"}
                for u in ups]},
        })
    return rows


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = fn()  # warm-up
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples), result


def bench_frame(label: str, frame: Any, repeat: int) -> None:
    edges = int(sum(len(u) for u in frame["upstream_task_run_ids"]))
    print(f"\n{label}: {len(frame):,} task runs, {edges:,} dependency edges "
          f"(median of {repeat})")
    until = frame["end_time"].max()
    cases = {
        "critical_path_from_frame": lambda: critical_path_from_frame(frame, until=until),
        "task_stats_from_frame": lambda: task_stats_from_frame(frame),
        "concurrency_from_frame": lambda: concurrency_from_frame(frame, until=until),
        "attempts_from_frame (no histories)": lambda: attempts_from_frame(frame),
    }
    for name, fn in cases.items():
        seconds, result = timed(fn, repeat)
        extra = ""
        if name.startswith("critical"):
            extra = f"  path of {len(result)} steps, {result['duration'].sum()}"
        elif name.startswith("task_stats"):
            extra = f"  {len(result)} task names"
        elif name.startswith("concurrency"):
            extra = f"  peak {int(result['running'].max())} running"
        print(f"  {name:<36} {seconds * 1000:8.1f} ms{extra}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--api-url", help="also benchmark a flow run on this server")
    parser.add_argument("--flow-run-id", help="with --api-url: the run (default: newest)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    frame = task_runs_frame(synthetic_rows(args.tasks, args.seed))
    print(f"synthetic frame built in {time.perf_counter() - began:.2f} s")
    bench_frame("synthetic", frame, args.repeat)

    if args.api_url:
        from prefect_widgets import Client, FlowRunView

        with Client(args.api_url) as client:
            if args.flow_run_id:
                run = FlowRunView.from_flow_run_id(args.flow_run_id, client=client)
            else:
                found = FlowRunView.query(limit=1, sort="START_TIME_DESC", client=client)
                if not len(found):
                    sys.exit(f"No flow runs on {args.api_url}.")
                run = found[0]
            began = time.perf_counter()
            real = run.to_dataframe()
            fetch = time.perf_counter() - began
            print(f"\nflow run {run.name!r} ({run.flow_run_id}): export {fetch:.2f} s")
            bench_frame(f"server {args.api_url}", real, args.repeat)
            seconds, _ = timed(lambda: run.critical_path(), max(1, args.repeat // 2))
            print(f"  {'critical_path(run) incl. export':<36} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
