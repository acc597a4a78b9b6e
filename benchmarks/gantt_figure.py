#!/usr/bin/env python
"""Benchmark: `prefect_widgets.gantt.gantt_figure` vs plotly `px.timeline`, same data, same run.

Builds synthetic timeline frames (the shape of `flow_run.to_dataframe(columns="timeline")`:
mapped bursts that overlap, ~2% failures, a running tail and a few never-started runs) and
prints, per size, the figure build time (median of --repeat runs) and the size of
`fig.to_html(include_plotlyjs=False)` (the figure's own bytes; plotly.js adds ~4.8 MB to
either when inlined), with ratios px.timeline / ours.

    python benchmarks/gantt_figure.py                 # 1k and 10k task runs
    python benchmarks/gantt_figure.py --sizes 1000 10000 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd


def synthetic_timeline(n: int, seed: int = 0) -> pd.DataFrame:
    """A timeline frame of `n` task runs (index task_run_id), like the graph-v2 frame."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    burst = rng.integers(0, max(1, n // 200), n)  # mapped bursts of ~200 runs
    start_s = burst * 30.0 + rng.exponential(2.0, n)
    duration_s = rng.lognormal(0.5, 0.6, n)
    states = np.where(rng.random(n) < 0.02, "FAILED", "COMPLETED").astype(object)
    order = np.argsort(start_s)
    tail = order[-max(1, n // 100):]
    states[tail] = "RUNNING"
    never = order[-max(1, n // 500):]
    states[never] = "PENDING"
    start = t0 + pd.to_timedelta(start_s, unit="s")
    end = start + pd.to_timedelta(duration_s, unit="s")
    start = pd.Series(start).where(states != "PENDING")
    end = pd.Series(end).where(~np.isin(states, ["PENDING", "RUNNING"]))
    names = [f"task_{b % 7}" for b in burst]
    frame = pd.DataFrame({
        "name": [f"{t}-{i}" for i, t in enumerate(names)], "task_name": names,
        "kind": pd.Categorical(["task-run"] * n),
        "state_type": pd.Categorical(states), "start_time": start.to_numpy(),
        "end_time": end.to_numpy(),
    }, index=pd.Index([f"id-{i:06d}" for i in range(n)], name="task_run_id"))
    frame["duration"] = frame["end_time"] - frame["start_time"]
    return frame


def _ours(frame: pd.DataFrame, now: pd.Timestamp):
    from prefect_widgets.gantt import gantt_figure

    return gantt_figure(frame, now=now)


def _px(frame: pd.DataFrame, now: pd.Timestamp):
    import plotly.express as px

    from prefect_widgets.html import STATE_COLORS

    data = frame.dropna(subset=["start_time"]).copy()
    data["end_time"] = data["end_time"].fillna(now)
    data["state"] = data["state_type"].astype(str)
    return px.timeline(data, x_start="start_time", x_end="end_time", y="name", color="state",
                       color_discrete_map=STATE_COLORS, hover_data=["task_name"])


def _measure(build, frame: pd.DataFrame, now: pd.Timestamp, repeat: int) -> tuple[float, int]:
    times, fig = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        fig = build(frame, now)
        times.append(time.perf_counter() - began)
    html = fig.to_html(include_plotlyjs=False, full_html=False)
    return statistics.median(times), len(html.encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import plotly

    print(f"plotly {plotly.__version__}, pandas {pd.__version__}; median of {args.repeat} "
          "builds; HTML = fig.to_html(include_plotlyjs=False)")
    header = (f"{'tasks':>7} | {'ours build':>10} | {'px build':>9} | {'build x':>7} | "
              f"{'ours HTML':>10} | {'px HTML':>10} | {'size x':>6}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        frame = synthetic_timeline(n)
        now = frame["start_time"].max() + pd.Timedelta(seconds=5)
        _ours(frame.head(50), now)  # warm-up: imports, templates
        _px(frame.head(50), now)
        ours_t, ours_b = _measure(_ours, frame, now, args.repeat)
        px_t, px_b = _measure(_px, frame, now, args.repeat)
        print(f"{n:>7,} | {ours_t * 1000:>8.0f} ms | {px_t * 1000:>6.0f} ms | "
              f"{px_t / ours_t:>6.1f}x | {ours_b / 1e3:>7.0f} kB | {px_b / 1e3:>7.0f} kB | "
              f"{px_b / ours_b:>5.1f}x")


if __name__ == "__main__":
    main()
