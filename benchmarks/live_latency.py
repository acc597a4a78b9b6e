#!/usr/bin/env python
"""Benchmark (issue 20 targets): live latency in a real browser, event stream vs polling.

Starts a throwaway local server (`LocalServer`) unless `--api-url` is given, and JupyterLab
with headless Chromium (tests/lab.py). For each mode a fresh flow run starts `--tasks` short
tasks (0.2 s each, one every 50 ms; tests/live_latency.py) while a live `FlowRunWidget`
follows it: with the default event stream, then with `stream=False` (REST polling every 2 s).
The page keeps the front end's `pw-drawn` events; afterwards each (task run, state) first
drawn is compared with that state's timestamp on the server (same machine, same clock).

Printed per mode: latency p50 / p95 / max from a state's time to the browser drawing it (and
when the kernel's widget got it from the stream), states a later one overtook before a frame
showed them ("skipped"), the kernel's HTTP requests per second from the tasks' start to the
widget's stop, and whether the browser's end state (rows and each task run's state) equals
the server's. Then PASS/MISSED per target:

  * stream p95 ≤ 1 s;
  * no lost update: the end state equals the server's (both modes);
  * fewer HTTP requests per second with the stream than with polling.

It exits non-zero only when a run broke (no result), not when a target is missed.

    python benchmarks/live_latency.py                  # 200 tasks, both modes
    python benchmarks/live_latency.py --tasks 50 --modes stream

Prerequisites: `prefect` in this environment (the `test` extra), the widget built
(`cd js && npm run build`), Chromium at /usr/bin/chromium, `pip install playwright`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from lab import JupyterLab, chromium_browser  # noqa: E402
from live_latency import Measurement, measure, percentile  # noqa: E402

from prefect_widgets.server import LocalServer  # noqa: E402

P95_GOAL_MS = 1000


def targets(results: dict[str, Measurement]) -> list[tuple[str, bool]]:
    """Each issue 20 target that these results can judge, and whether it was met."""
    judged = []
    stream, polling = results.get("stream"), results.get("polling")
    if stream is not None:
        p95 = percentile(stream.latencies, 0.95)
        judged.append((f"stream p95 {p95:.0f} ms ≤ {P95_GOAL_MS} ms", p95 <= P95_GOAL_MS))
        judged.append(("header said live_via 'stream' while running",
                       bool(stream.live_vias) and set(stream.live_vias) == {"stream"}))
    for m in results.values():
        judged.append((f"{m.mode}: no lost update (end state equals the server's)", m.equal))
    if stream is not None and polling is not None:
        judged.append((f"fewer requests/s with the stream ({stream.requests_per_second:.2f}) "
                       f"than polling ({polling.requests_per_second:.2f})",
                       stream.requests_per_second < polling.requests_per_second))
    return judged


def run(env: dict[str, str], api_url: str, tasks: int, modes: list[str], work: Path
        ) -> dict[str, Measurement]:
    results: dict[str, Measurement] = {}
    lab = JupyterLab(work / "notebooks", work / "lab-state",
                     env={**env, "PREFECT_LOGGING_LEVEL": "WARNING"})
    for folder in (lab.root, lab.state):
        folder.mkdir(parents=True, exist_ok=True)
    lab.start()
    try:
        with chromium_browser() as browser:
            for mode in modes:
                print(f"following {tasks} tasks with mode={mode} ...", flush=True)
                m = measure(lab, browser, env, api_url, tasks=tasks, stream=mode == "stream",
                            workdir=work)
                print(m.summary(), flush=True)
                results[mode] = m
    finally:
        lab.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--modes", nargs="+", choices=["stream", "polling"],
                        default=["stream", "polling"])
    parser.add_argument("--api-url", help="an existing server (else a throwaway one)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pw-live-latency-") as tmp:
        work = Path(tmp)
        if args.api_url:
            env = {**os.environ, "PREFECT_API_URL": args.api_url}
            results = run(env, args.api_url, args.tasks, args.modes, work)
        else:
            (work / "prefect-home").mkdir()
            with LocalServer(home=work / "prefect-home", startup_timeout=300) as server:
                results = run(server.env(), server.api_url, args.tasks, args.modes, work)

    print(f"\nlatency from a task-run state's time to the browser drawing it, {args.tasks} tasks:")
    for m in results.values():
        print("  " + m.summary().replace("\n", "\n  "))
    if "stream" in results and "polling" in results:
        s, p = results["stream"], results["polling"]
        print(f"  polling / stream: p50 {percentile(p.latencies, .5) / percentile(s.latencies, .5):.1f}×"
              f", p95 {percentile(p.latencies, .95) / percentile(s.latencies, .95):.1f}×, "
              f"requests/s {p.requests_per_second / s.requests_per_second:.1f}×")
    for name, ok in targets(results):
        print(f"  {'PASS' if ok else 'MISSED'}  {name}")
    broken = [m.mode for m in results.values() if not m.stopped or not m.latencies]
    if broken:
        print(f"broken run(s): {', '.join(broken)} (the widget never stopped or drew nothing)")
    return 1 if broken or len(results) != len(args.modes) else 0


if __name__ == "__main__":
    sys.exit(main())
