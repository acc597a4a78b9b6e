#!/usr/bin/env python
"""A flow's history at scale (issue 21 targets): the history chart's first frame at 100,000
flow runs in headless Chromium, and "compare with the last 50 runs" of a wide flow.

Chart: a synthetic history frame of `--runs` flow runs (a year of starts, lognormal
durations, 90 % Completed) is written as the standalone chart page
(`history_chart.history_chart_html`, the widget's own module) and opened in Debian's
Chromium with the project's flags (no GPU). Printed, medians of `--repeat` page loads:
the HTML size, "first frame" (the module's start, with the data parse, to two animation
frames after the draw, `window.__chart.ms`) and navigation start to that frame.

Compare: `--baseline + 1` flow runs of `--tasks` task runs each are built through the REST
API (`bigrun.build_run`, on a local server started here with the batching task-run
recorder, or `--api-url`; `--newest-run` reuses an earlier build); then
`FlowRunView.changes(baseline=N)` of the newest run is timed first (every run's task runs
exported unless the run cache, `PREFECT_WIDGETS_CACHE_DIR`, holds them), warm (new views,
the run cache on disk filled), and the math alone on the same frames. Building 50 × 1,000 task runs takes minutes: pass
smaller `--tasks` to fit a time box and say so.

    python benchmarks/history_chart.py --runs 100000 --baseline 50 --tasks 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

from prefect_widgets.history_chart import history_chart_html  # noqa: E402
from prefect_widgets.records import SPAN, TIME  # noqa: E402


def synthetic_history(n: int, seed: int = 0) -> pd.DataFrame:
    """A history frame's chart columns for `n` runs over a year (ids are UUIDs)."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    start = t0 + pd.to_timedelta(np.sort(rng.uniform(0, 365 * 86_400, n)), unit="s")
    seconds = rng.lognormal(4.0, 1.2, n)
    states = rng.choice(["COMPLETED", "FAILED", "CRASHED", "CANCELLED", "RUNNING"], n,
                        p=[0.9, 0.06, 0.01, 0.02, 0.01])
    ids = [f"{(i * 2654435761) % 2**128:032x}" for i in range(n)]
    return pd.DataFrame({
        "start_time": pd.Series(start).astype(TIME).to_numpy(),
        "expected_start_time": pd.Series(start).astype(TIME).to_numpy(),
        "duration": pd.Series(pd.to_timedelta(seconds, unit="s")).astype(SPAN).to_numpy(),
        "state_type": pd.Categorical(states),
    }, index=pd.Index([f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in ids],
                      name="flow_run_id"))


def bench_chart(runs: int, repeat: int) -> None:
    from lab import chromium_browser

    began = time.perf_counter()
    html = history_chart_html(synthetic_history(runs), ui_url="http://127.0.0.1:4200")
    build = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.html"
        path.write_text(html, "utf-8")
        first, navigation = [], []
        with chromium_browser() as browser:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 1200, "height": 700})
                page = context.new_page()
                page.goto(path.as_uri())
                page.wait_for_function("window.__chart", timeout=60_000)
                first.append(page.evaluate("window.__chart.ms"))
                navigation.append(page.evaluate("performance.now()"))
                assert page.evaluate("window.__chart.el.dataset.runs") == str(runs)
                context.close()
    print(f"history chart, {runs:,} flow runs: page {len(html) / 1e6:.1f} MB built in "
          f"{build:.2f} s; first frame (data parse + draw + 2 rAF) median "
          f"{statistics.median(first):.0f} ms (min {min(first):.0f}, max {max(first):.0f}); "
          f"navigation to first frame median {statistics.median(navigation):.0f} ms "
          f"[{repeat} loads, headless Chromium, no GPU]")


def bench_compare(api_url: str | None, baseline: int, tasks: int,
                  newest: str | None = None) -> None:
    from bigrun import FAST_RECORDER_ENV, build_run

    from prefect_widgets import FlowRunView
    from prefect_widgets.analytics.history import (
        _task_frames,
        compare_with_history_from_frames,
        previous_runs,
    )
    from prefect_widgets.client import Client
    from prefect_widgets.history import history_frame
    from prefect_widgets.server import LocalServer

    server = None
    if api_url is None:
        os.environ.update(FAST_RECORDER_ENV)
        server = LocalServer(home=tempfile.mkdtemp(prefix="history-bench-")).start()
        api_url = server.api_url
    os.environ.setdefault("PREFECT_WIDGETS_CACHE_DIR", tempfile.mkdtemp(prefix="pw-cache-"))
    print(f"run cache: {os.environ['PREFECT_WIDGETS_CACHE_DIR']}")
    os.environ["PREFECT_WIDGETS_CACHE_SETTLE_SECONDS"] = "0"
    try:
        if newest is None:
            began = time.perf_counter()
            flow_name = f"history-bench-{int(time.time())}"
            made = [build_run(api_url, tasks, seed=i, flow_name=flow_name,
                              failed_fraction=0.01, linked_fraction=0.0)
                    for i in range(baseline + 1)]
            newest = made[-1].flow_run_id
            print(f"built {baseline + 1} flow runs × {tasks:,} task runs in "
                  f"{time.perf_counter() - began:.0f} s")
        with Client(api_url) as client:
            def timed() -> tuple[float, pd.DataFrame]:
                run = FlowRunView.from_flow_run_id(newest, client=client)
                start = time.perf_counter()
                changes = run.changes(baseline=baseline)
                return time.perf_counter() - start, changes

            cold, changes = timed()
            warm = [timed()[0] for _ in range(3)]
            run = FlowRunView.from_flow_run_id(newest, client=client)
            views = [run, *previous_runs(run, baseline)]
            frames = _task_frames(views, 4)
            runs = history_frame([v.raw for v in views])
            start = time.perf_counter()
            compare_with_history_from_frames(runs, frames, run.flow_run_id)
            math = time.perf_counter() - start
        print(f"compare with the last {changes.attrs['baseline_runs']} runs, "
              f"{len(frames) // len(views):,} task runs each: first {cold:.2f} s; warm (new "
              f"views, run cache on disk) median {statistics.median(warm):.2f} s; the math alone {math * 1000:.0f} ms "
              f"({len(frames):,} task runs)")
    finally:
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--api-url")
    parser.add_argument("--newest-run", help="time this run of an earlier build (no build)")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--skip-chart", action="store_true")
    args = parser.parse_args()
    if not args.skip_chart:
        bench_chart(args.runs, args.repeat)
    if not args.skip_compare:
        bench_compare(args.api_url, args.baseline, args.tasks, args.newest_run)


if __name__ == "__main__":
    main()
