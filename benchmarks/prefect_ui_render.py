#!/usr/bin/env python
"""Benchmark: Prefect's own run page (its run graph) beside the widget, on the same runs.

Prefect 3.8.8's server serves its UI at ``/``. For a flow run of N task runs (built through
the REST API: ``bigrun.plan``'s final-state events, their times squeezed into the run's first
``--span`` seconds, since Prefect's graph spans the flow run's start to end; reused from
``--home`` when already there; the graph-v2 endpoint's answer is printed) this measures in
headless Chromium, 1400x900:

* Prefect's page: the time from navigation to the run graph's first drawn frame. Signal: an
  init script asks every WebGL context for ``preserveDrawingBuffer`` and, every
  ``--probe-ms``, copies the graph's canvas (``.run-graph__stage canvas``) at half size into
  a 2D canvas and counts saturated pixels: the state-coloured node bars (the axis, guides and
  text are grey; the bottom band, the flow run's state bar and event markers, is left out).
  "first nodes": the first probe with any; "settled": the first probe after which the count
  stays within 1% for 2 s (layout worker done, zoom-to-fit over). Resolution: one probe
  interval; each probe costs the page a few ms (printed). The page gates graphs above 2,000
  task runs behind a "Display graph" button: printed as "refuses"; ``--display-gated``
  clicks it and times from the click. Then, with the probe stopped, a pan: one synthetic
  pointer drag step per animation frame, the median interval between frames (vsync floor
  16.7 ms), and the JS heap after a GC (objects and ArrayBuffer backing stores, as
  ``gantt_render.heap_mb`` reads it).
* The widget on the same run: ``FlowRunWidget`` read from the server (no disk cache) and
  encoded (the kernel's part), then its first frame on the standalone harness page
  (``widget_harness.py``: data arrival to first paint + 2 rAF) and the same pan.

The ratio compares navigation-to-settled on Prefect's page with the widget's read + encode +
first frame (a notebook has the widget's JS loaded already; Prefect's page loads its app).

    python benchmarks/prefect_ui_render.py --sizes 100 --repeat 1
    python benchmarks/prefect_ui_render.py --home /tmp/pui-bench        # 100, 1k, 2k, 10k
    python benchmarks/prefect_ui_render.py --api-url http://127.0.0.1:4200/api --display-gated

Prerequisites: ``prefect==3.8.8`` in this environment (``--home`` starts a server; its data
and runs are kept there for the next run), the widget built (``cd js && npm run build``),
Chromium at /usr/bin/chromium, ``pip install playwright``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
from bigrun import FAST_RECORDER_ENV, _request, plan, recorded  # noqa: E402
from gantt_render import CHROMIUM_ARGS, fmt, heap_mb, median, open_page, print_table  # noqa: E402
from widget_harness import harness_html  # noqa: E402

FLOW_NAME = "prefect-ui-graph"  # runs are found again by this name + size + seed
GATE = 2_000  # Prefect 3.8.8's FlowRunGraph hides graphs of more task runs than this
VIEWPORT = {"width": 1400, "height": 900}

#: runs before any page script: WebGL keeps its drawing buffer (so the canvas can be read
#: back between frames) and a probe samples the run graph's coloured pixels from the start
PROBE_INIT = """(probeMs) => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, attrs) {
    if (String(kind).startsWith('webgl')) attrs = { ...(attrs || {}), preserveDrawingBuffer: true };
    return getContext.call(this, kind, attrs);
  };
  const copy = document.createElement('canvas');
  window.__pwGraphPixels = () => {
    const c = document.querySelector('.run-graph__stage canvas');
    if (!c || !c.width || !c.height) return null;
    copy.width = c.width >> 1; copy.height = c.height >> 1;  // half size: a quarter of the cost
    const ctx = copy.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(c, 0, 0, copy.width, copy.height);
    // leave out the bottom band: the flow run's state bar and event markers, not task runs
    const d = ctx.getImageData(0, 0, copy.width, Math.max(1, copy.height - 16)).data;
    let coloured = 0, hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
      if (hi - lo > 60) { coloured++; hash = (hash * 31 + i) | 0; }
    }
    return { coloured, hash };
  };
  window.__pwSamples = [];
  window.__pwProbeCostMs = [];
  const probe = setInterval(() => {
    const t0 = performance.now();
    const px = window.__pwGraphPixels();
    if (!px) return;  // no graph canvas yet
    window.__pwProbeCostMs.push(performance.now() - t0);
    window.__pwSamples.push({ t: t0, coloured: px.coloured });
  }, probeMs);
  window.__pwStopProbe = () => clearInterval(probe);
}"""

#: one synthetic pointer drag step per animation frame on the graph's canvas
PAN_JS = """async ([steps, dx]) => {
  const c = document.querySelector('.run-graph__stage canvas'), r = c.getBoundingClientRect();
  const raf = () => new Promise((res) => requestAnimationFrame(() => res(performance.now())));
  const y = r.top + r.height / 2;
  let x = r.left + r.width / 2;
  const ev = (type) => c.dispatchEvent(new PointerEvent(type, { bubbles: true, cancelable: true,
    pointerId: 1, isPrimary: true, pointerType: 'mouse', button: 0, buttons: type === 'pointerup' ? 0 : 1,
    clientX: x, clientY: y, view: window }));
  const before = window.__pwGraphPixels();
  await raf();
  ev('pointerdown');
  const frameMs = [];
  let last = await raf();
  for (let i = 0; i < steps; i++) {
    x += i < steps / 2 ? -dx : dx * 0.5;
    ev('pointermove');
    const now = await raf();
    frameMs.push(now - last); last = now;
  }
  ev('pointerup');
  await raf(); await raf();
  return { frameMs, moved: window.__pwGraphPixels().hash !== before.hash };
}"""


def build(api_url: str, n: int, seed: int, span: float, timeout: float) -> str:
    """A finished flow run whose `n` task runs (``bigrun.plan``) fit in its first `span` s.

    Prefect's graph spans the flow run's start to its end, and a flow run starts when it is
    created: the planned task times are squeezed into the `span` seconds after that, the run
    is ended once they are past, then the task runs are sent as final-state events.
    """
    with httpx.Client(base_url=api_url, timeout=60) as client:
        flow = _request(client, "POST", "/flows/", json={"name": FLOW_NAME})
        run = _request(client, "POST", "/flow_runs/", json={
            "flow_id": flow["id"], "name": f"{FLOW_NAME}-{n}-{seed}", "tags": ["bigrun"],
            "state": {"type": "RUNNING", "name": "Running"}})
        begin = datetime.fromisoformat(run["start_time"] or run["state"]["timestamp"])
        events, made = plan(n, run["id"], seed=seed, start=begin)
        squeeze(events, begin, span)
        time.sleep(max(0.0, (begin - datetime.now(timezone.utc)).total_seconds() + span + 1))
        final = "FAILED" if made.states["FAILED"] else "COMPLETED"
        _request(client, "POST", f"/flow_runs/{run['id']}/set_state",
                 json={"state": {"type": final, "name": final.title()}, "force": True})
        deadline = time.monotonic() + timeout
        for k in range(0, n, 250):
            _request(client, "POST", "/events", json=events[k:k + 250])
            while k + 250 - recorded(client, run["id"]) > 4_000:  # the recorder's queue holds 10k
                time.sleep(0.5)
        while recorded(client, run["id"]) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not record {n} task runs in {timeout:.0f} s")
            time.sleep(0.5)
    return str(run["id"])


def squeeze(events: list[dict], begin: datetime, span: float) -> None:
    """Rescale the planned task-run times (from `begin`) into `begin` + 0.5 .. + `span` - 0.5 s."""
    times = ("expected_start_time", "start_time", "end_time")
    last = max(datetime.fromisoformat(e["payload"]["task_run"]["end_time"]) for e in events)
    factor = (span - 1) / max(1e-9, (last - begin).total_seconds())

    def at(iso: str) -> str:
        offset = (datetime.fromisoformat(iso) - begin).total_seconds()
        return (begin + timedelta(seconds=0.5 + offset * factor)).isoformat()

    for event in events:
        task_run = event["payload"]["task_run"]
        for key in times:
            task_run[key] = at(task_run[key])
        for key in ("total_run_time", "estimated_run_time", "estimated_start_time_delta"):
            task_run[key] *= factor
        event["occurred"] = task_run["end_time"]


def find_or_build(api_url: str, n: int, seed: int, span: float, timeout: float) -> tuple[str, str]:
    """The id of a finished run of `n` task runs named for this benchmark (built if absent)."""
    name = f"{FLOW_NAME}-{n}-{seed}"
    with httpx.Client(base_url=api_url, timeout=60) as client:
        found = client.post("/flow_runs/filter", json={
            "flow_runs": {"name": {"any_": [name]},
                          "state": {"type": {"any_": ["COMPLETED", "FAILED"]}}},
            "limit": 5}).raise_for_status().json()
        for run in found:
            if recorded(client, run["id"]) == n:
                return run["id"], "reused"
    began = time.monotonic()
    run_id = build(api_url, n, seed, span, timeout)
    return run_id, f"built in {time.monotonic() - began:.0f} s"


def graph_v2(api_url: str, run_id: str) -> str:
    """Whether the run graph endpoint answers for the run: nodes and seconds, or its refusal."""
    t = time.perf_counter()
    answer = httpx.get(f"{api_url}/flow_runs/{run_id}/graph-v2", timeout=120)
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text[:120]}"
    return f"{len(answer.json()['nodes']):,} nodes in {time.perf_counter() - t:.2f} s"


def settle(page: Any, since: float, timeout_s: float) -> dict[str, float]:
    """Wait until the graph's coloured pixels hold steady for 2 s; first and settled times."""
    deadline = time.monotonic() + timeout_s
    while True:
        samples = [s for s in page.evaluate("window.__pwSamples") if s["t"] >= since]
        painted = [s for s in samples if s["coloured"] > 0]
        if painted:
            final = painted[-1]["coloured"]
            changed = [i for i, s in enumerate(painted) if abs(s["coloured"] - final) > 0.01 * final]
            settled_at = painted[changed[-1] + 1 if changed else 0]["t"]
            if painted[-1]["t"] - settled_at >= 2000:
                return {"first_ms": painted[0]["t"] - since, "settled_ms": settled_at - since,
                        "coloured": final}
        if time.monotonic() > deadline:
            raise TimeoutError(f"run graph not drawn and steady within {timeout_s:.0f} s")
        page.wait_for_timeout(250)


def bench_prefect(browser: Any, ui: str, run_id: str, args: argparse.Namespace) -> dict:
    """Prefect's run page for `run_id`: navigation to the graph's first and settled frames, pan."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(f"({PROBE_INIT})({args.probe_ms})")
    page = context.new_page()
    page.set_default_timeout(args.page_timeout * 1000)
    try:
        page.goto(f"{ui}/runs/flow-run/{run_id}")
        page.wait_for_selector(".run-graph__stage canvas, .flow-run-graph-confirmation")
        since, gated = 0.0, page.locator(".flow-run-graph-confirmation").count() > 0
        if gated:
            if not args.display_gated:
                return {"gated": True}
            page.get_by_role("button", name="Display graph").click()
            since = page.evaluate("performance.now()")
        drawn = settle(page, since, args.page_timeout)
        kind = page.evaluate("document.querySelector('.run-graph__stage canvas')"
                             ".getContext('webgl2') ? 'webgl2' : 'webgl or 2d'")
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.screenshots / f"prefect-ui-{run_id}.png"))
        page.evaluate("window.__pwStopProbe()")  # the pan is timed without the probe
        pan = page.evaluate(PAN_JS, [args.pan_steps, 6])
        costs = page.evaluate("window.__pwProbeCostMs")
        return {**drawn, "gated": gated, "pan_frame_ms": median(pan["frameMs"]),
                "pan_moved": pan["moved"], "heap_mb": heap_mb(page), "probe_ms": median(costs), "canvas": kind}
    finally:
        context.close()


def read_widget(api_url: str, run_id: str) -> tuple[dict, dict, float]:
    """The widget's timeline and header for the run, read fresh; seconds it took."""
    os.environ["PREFECT_API_URL"] = api_url
    from prefect_widgets.views import FlowRunView
    from prefect_widgets.widget import FlowRunWidget

    t = time.perf_counter()
    widget = FlowRunWidget(FlowRunView.from_flow_run_id(run_id, cache=False), live=False)
    try:
        return widget.timeline, widget.header, time.perf_counter() - t
    finally:
        widget.close()


def bench_widget(browser: Any, timeline: dict, header: dict, tmpdir: Path, pan_steps: int) -> dict:
    """The widget's first frame and pan on the harness page."""
    page = open_page(browser, harness_html(timeline, header, width=1370), tmpdir,
                     f"widget-{header.get('name', 'run')}", width=VIEWPORT["width"],
                     height=VIEWPORT["height"])
    try:
        page.wait_for_function("window.__harness !== undefined")
        first = page.evaluate("window.__harness.mount()")
        pan = page.evaluate(f"window.__harness.pan({pan_steps}, 6)")
        return {"first_ms": first["ms"], "bars": first["bars"],
                "pan_frame_ms": median(pan["frameMs"]), "heap_mb": heap_mb(page)}
    finally:
        page.close()


def repeated(fn: Any, repeat: int, *args: Any) -> dict:
    """Median of every numeric metric over `repeat` fresh pages."""
    runs = [fn(*args) for _ in range(max(1, repeat))]
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def measure(api_url: str, args: argparse.Namespace) -> list[tuple[int, dict, dict]]:
    from playwright.sync_api import sync_playwright

    ui = api_url.removesuffix("/api")
    rows = []
    with tempfile.TemporaryDirectory() as td, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            for n in [int(s) for s in args.sizes.split(",") if s]:
                run_id, how = find_or_build(api_url, n, args.seed, args.span, args.build_timeout)
                print(f"n={n:>6,}: run {run_id} ({how}); graph-v2: {graph_v2(api_url, run_id)}",
                      flush=True)
                timeline, header, read_s = read_widget(api_url, run_id)
                ours = repeated(bench_widget, args.repeat, browser, timeline, header, Path(td),
                                args.pan_steps)
                ours["read_s"] = read_s
                print(f"  widget: read + encode {read_s:.2f} s, first frame {fmt(ours['first_ms'])} ms, "
                      f"pan {fmt(ours['pan_frame_ms'])} ms/frame, {ours['bars']:,} bars", flush=True)
                try:
                    theirs = repeated(bench_prefect, args.repeat, browser, ui, run_id, args)
                except Exception as e:  # keep the table if Prefect's page never draws
                    theirs = {"error": f"{type(e).__name__}: {e}"[:200]}
                print(f"  prefect UI: {describe(theirs)}", flush=True)
                rows.append((n, ours, theirs))
        finally:
            browser.close()
    return rows


def describe(theirs: dict) -> str:
    if "error" in theirs:
        return f"failed: {theirs['error']}"
    if theirs["gated"] and "first_ms" not in theirs:
        return f"refuses (graph hidden above {GATE:,} task runs behind 'Display graph')"
    after = " after clicking 'Display graph'" if theirs["gated"] else " after navigation"
    return (f"first nodes {fmt(theirs['first_ms'], 0)} ms, settled {fmt(theirs['settled_ms'], 0)} ms"
            f"{after}, pan {fmt(theirs['pan_frame_ms'])} ms/frame"
            f"{'' if theirs['pan_moved'] else ' (did not move)'}, heap {fmt(theirs['heap_mb'])} MB "
            f"({theirs['canvas']} canvas; a pixel probe cost {fmt(theirs['probe_ms'])} ms)")


def report(rows: list[tuple[int, dict, dict]], args: argparse.Namespace) -> None:
    table = [("N", "widget read+encode ms", "first frame ms", "total ms", "pan ms/frame", "heap MB",
              "Prefect first nodes ms", "settled ms", "pan ms/frame", "heap MB", "ratio settled/total")]
    for n, ours, theirs in rows:
        total = ours["read_s"] * 1000 + ours["first_ms"]
        drawn = "settled_ms" in theirs
        refusal = "refuses" if theirs.get("gated") and not drawn else "failed"
        table.append((
            f"{n:,}", fmt(ours["read_s"] * 1000, 0), fmt(ours["first_ms"]), fmt(total, 0),
            fmt(ours["pan_frame_ms"]), fmt(ours["heap_mb"]),
            (("refuses; " if theirs["gated"] else "") + fmt(theirs["first_ms"], 0)
             + ("*" if theirs["gated"] else "")) if drawn else refusal,
            fmt(theirs["settled_ms"], 0) if drawn else "—",
            fmt(theirs["pan_frame_ms"]) if drawn else "—",
            fmt(theirs["heap_mb"]) if drawn else "—",
            f"{theirs['settled_ms'] / total:,.1f}x" if drawn else "—"))
    print()
    print_table(table)
    print(f"\nPrefect: navigation (* after clicking 'Display graph') -> first probe with state-coloured "
          f"graph pixels / pixels steady for 2 s (probe every {args.probe_ms} ms). Widget: read from the "
          "server + encode (Python), then data arrival -> first paint + 2 rAF. pan: median frame "
          f"interval, one drag step a frame. Medians of {args.repeat} fresh pages. ratio = Prefect "
          "settled / widget total. 'refuses': the page hides graphs above "
          f"{GATE:,} task runs.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,2000,10000", help="comma-separated task-run counts")
    ap.add_argument("--repeat", type=int, default=3, help="fresh pages per measurement (median)")
    ap.add_argument("--home", type=Path, default=None,
                    help="PREFECT_HOME of the server this starts; kept, so its runs are reused")
    ap.add_argument("--api-url", default=None, help="use this running server instead of starting one")
    ap.add_argument("--display-gated", action="store_true",
                    help="click 'Display graph' where the page gates the graph, and time from the click")
    ap.add_argument("--probe-ms", type=int, default=50, help="interval of the canvas pixel probe")
    ap.add_argument("--pan-steps", type=int, default=60)
    ap.add_argument("--page-timeout", type=float, default=180, help="seconds for Prefect's page to draw")
    ap.add_argument("--build-timeout", type=float, default=900, help="seconds to build one run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--span", type=float, default=30,
                    help="seconds the built runs last (their task runs squeezed into them)")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="save Prefect's page here once its graph has settled")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--max-seconds", type=float, default=3600, help="watchdog: hard exit after this long")
    args = ap.parse_args(argv)

    def watchdog() -> None:
        print(f"\nwatchdog: benchmark exceeded {args.max_seconds:.0f}s, aborting", file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(args.max_seconds, watchdog)
    timer.daemon = True
    timer.start()
    if args.api_url:
        rows = measure(args.api_url.rstrip("/"), args)
    else:
        from prefect_widgets.server import LocalServer

        os.environ.update(FAST_RECORDER_ENV)  # the server records the built runs in batches
        with LocalServer(home=args.home, port=None) as server:
            print(f"Prefect server at {server.api_url} (home {server.home})", flush=True)
            rows = measure(server.api_url, args)
    report(rows, args)
    timer.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
