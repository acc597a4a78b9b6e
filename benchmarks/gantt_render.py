#!/usr/bin/env python
"""Benchmark: prefect_widgets' canvas Gantt vs plotly ``px.timeline``.

For N synthetic task runs (seeded; mapped bursts, overlap, ~2% failures,
running/pending tail) this measures in headless Chromium (via playwright):

* first frame: time from data arrival (fake model constructed with the
  decoded DataViews) to the first complete frame (first paint + 2 rAF);
* pan: median frame interval over ~60 synthetic drag steps (and the widget's
  own median draw time per frame);
* bytes per task run of the encoded state, base64 as in a saved notebook
  (ipywidgets widget-state JSON with base64 buffers);
* per row layout (``--layouts``, default packed and grouped by task, picked with
  the widget's own layout picker after the first frame): the frame that switches
  to it, pan and wheel-zoom frame times, the JS heap after GC (Chrome DevTools
  protocol) and the gutter labels shown, with ratios against the packed layout;
  "edges: on" when the encoded timeline carries dependency edges;
* dependency edges (``synthetic_edges``: stages of mapped runs, run j depending on run j of
  the stage before, every 5th stage a fan-in/fan-out; ~1.2 edges per task run) encoded as
  ``FlowRunWidget`` does (``encode_timeline(..., edges=...)``, ``edge_mode`` "auto"), and
  with the last layout picked: the frames of the widest lineage (a fan-in, ~90% of the run
  at 100,000): selecting it, panning and zooming with it selected, then hovering a new bar
  every frame (each a new lineage walk) and the heap after (``--no-edges``: none of this).

The same is measured for plotly ``px.timeline`` at the smaller sizes
(plotly.js inline, time from ``Plotly.newPlot`` until the SVG bars exist +
2 rAF) and a table with ratios is printed. The run ends by itself: every
browser step has a timeout and a watchdog kills the process after
``--max-seconds``.

Prerequisites: ``cd js && npm install && npm run build``; Chromium at
/usr/bin/chromium (or ``--chromium PATH``); ``pip install playwright plotly``.

    python benchmarks/gantt_render.py                       # 1k, 10k, 100k
    python benchmarks/gantt_render.py --sizes 1000 --no-plotly
    python benchmarks/gantt_render.py --screenshots benchmarks/screenshots
    python benchmarks/gantt_render.py --sizes 100000 --no-plotly --layouts packed,grouped
    python benchmarks/gantt_render.py --sizes 100000 --no-plotly --widget-js /tmp/old/widget.js

Targets (issue 19, at 100,000 task runs, grouped layout with labels and edges): first frame < 1 s,
pan/zoom frames <= 33 ms, JS heap <= 100 MB, <= 30 saved bytes per task run. Prefect's own run
page beside the widget, on the same real runs: ``benchmarks/prefect_ui_render.py``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from widget_harness import STATIC, harness_html, header_for, synthetic_frame  # noqa: E402

from prefect_widgets._timeline_encoding import encode_timeline, timeline_nbytes  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def notebook_bytes(timeline: dict) -> int:
    """Bytes of the `timeline` trait in a saved notebook's widget state:
    JSON for the scalars/keys plus base64 buffers with their paths."""
    scalars = {k: v for k, v in timeline.items() if not isinstance(v, (memoryview, bytes, bytearray))}
    buffers = [
        {"path": ["timeline", k], "encoding": "base64", "data": base64.b64encode(bytes(v)).decode()}
        for k, v in timeline.items()
        if isinstance(v, (memoryview, bytes, bytearray))
    ]
    return len(json.dumps(scalars)) + len(json.dumps(buffers))


def plotly_figure(frame):
    import plotly.express as px

    df = frame.dropna(subset=["start_time"]).copy()
    now = df["end_time"].max()
    df["end_time"] = df["end_time"].fillna(now)
    df["label"] = df["task_key"] + df["map_index"].map(lambda m: "" if m is None or m < 0 else f"[{m}]")
    fig = px.timeline(df, x_start="start_time", x_end="end_time", y="task_key", color="state_type",
                      hover_name="label", height=500, width=1000)
    fig.update_yaxes(autorange="reversed")
    return fig


def plotly_html(fig) -> str:
    from plotly.offline import get_plotlyjs

    figjson = fig.to_json().replace("</", "<\\/")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<script>{get_plotlyjs()}</script></head><body style="margin:0">
<div id="plot" style="width:1000px;height:500px"></div>
<script>
const FIG = {figjson};
const raf = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
window.__mount = async (expected) => {{
  const t0 = performance.now();
  await Plotly.newPlot("plot", FIG.data, FIG.layout, {{responsive: false}});
  let bars = 0;
  for (;;) {{
    bars = document.querySelectorAll("#plot .barlayer .point path").length;
    if (bars >= expected || performance.now() - t0 > 60000) break;
    await raf();
  }}
  await raf(); await raf();
  return {{ ms: performance.now() - t0, bars }};
}};
// same method as the widget harness: one synthetic move per animation frame,
// median interval between frames; plotly pans with dragmode "pan"
window.__pan = async (steps, dx) => {{
  await Plotly.relayout("plot", {{ dragmode: "pan" }});
  const before = document.getElementById("plot").layout.xaxis.range.slice();
  const d = document.querySelector("#plot .nsewdrag");
  const r = d.getBoundingClientRect();
  let x = r.left + r.width / 2;
  const y = r.top + r.height / 2;
  const ev = (type, target) => target.dispatchEvent(new MouseEvent(type, {{
    bubbles: true, cancelable: true, view: window, clientX: x, clientY: y, button: 0, buttons: type === "mouseup" ? 0 : 1 }}));
  await raf();
  ev("mousedown", d);
  const frameMs = [];
  let last = await raf();
  for (let i = 0; i < steps; i++) {{
    x += i < steps / 2 ? -dx : dx * 0.5;
    ev("mousemove", document);
    const now = await raf();
    frameMs.push(now - last);
    last = now;
  }}
  ev("mouseup", document);
  await raf(); await raf();
  const after = document.getElementById("plot").layout.xaxis.range.slice();
  return {{ frameMs, moved: JSON.stringify(before) !== JSON.stringify(after) }};
}};
window.__ready = true;
</script></body></html>"""


def synthetic_edges(frame, fan_in_every: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dependency edges shaped like a big mapped run, as ``(from rows, to rows, flags)``.

    Each burst of ``synthetic_frame`` (a ``map_index`` restarting at 0, or an unmapped run)
    is a stage: mapped run j depends on run ``j mod size`` of the previous stage. Every
    ``fan_in_every``-th stage starts with a reduce: its run 0 depends on every run of the
    previous stage (fan-in) and its other runs on run 0 (fan-out), so the lineage of almost
    any bar spans most of the run (the hover worst case). About 1.2 edges per task run.
    """
    maps = frame["map_index"].fillna(-1).to_numpy(dtype=np.int64)
    starts = np.flatnonzero((maps <= 0) | (np.arange(len(maps)) == 0))
    bounds = np.append(starts, len(maps))
    up: list[np.ndarray] = []
    down: list[np.ndarray] = []
    for stage in range(1, len(starts)):
        p0, ps = bounds[stage - 1], bounds[stage] - bounds[stage - 1]
        c0, cs = bounds[stage], bounds[stage + 1] - bounds[stage]
        if stage % fan_in_every == 0:
            up += [np.arange(p0, p0 + ps), np.full(cs - 1, c0)]
            down += [np.full(ps, c0), np.arange(c0 + 1, c0 + cs)]
        else:
            up.append(p0 + np.arange(cs) % ps)
            down.append(np.arange(c0, c0 + cs))
    if not up:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    return np.concatenate(up), np.concatenate(down), np.zeros(sum(map(len, up)), np.uint8)


def lineage_size(n: int, edges, focus: int) -> int:
    """How many task runs lie upstream or downstream of row ``focus`` (breadth first)."""
    up, down, _ = edges
    total = 0
    for src, dst in ((down, up), (up, down)):  # upstream: follow the edges backwards
        order = np.argsort(src, kind="stable")
        first = np.searchsorted(src[order], np.arange(n + 1))
        seen = np.zeros(n, bool)
        seen[focus] = True
        frontier = np.array([focus])
        while frontier.size:
            nxt = np.concatenate([dst[order[first[r]:first[r + 1]]] for r in frontier])
            nxt = np.unique(nxt[~seen[nxt]])
            seen[nxt] = True
            total += nxt.size
            frontier = nxt
    return total


def widest_lineage(n: int, edges) -> tuple[int, int]:
    """Of up to 6 fan-in rows (most edges in), the one with the largest lineage, and its size."""
    down = edges[1]
    if not down.size:
        return -1, 0
    fan_ins = np.flatnonzero(np.bincount(down, minlength=n) > 1)
    candidates = fan_ins[np.linspace(0, fan_ins.size - 1, min(6, fan_ins.size)).astype(int)] if fan_ins.size else down[:1]
    sizes = [lineage_size(n, edges, int(r)) for r in candidates]
    k = int(np.argmax(sizes))
    return int(candidates[k]), sizes[k]


DPR = 1.0
#: the bundle measured (None: prefect_widgets/static/widget.js)
WIDGET_JS: str | None = None


def open_page(browser, html: str, tmpdir: Path, name: str, width=1100, height=800):
    # file:// + goto rather than set_content: multi-MB pages load faster and more reliably
    path = tmpdir / f"{name}.html"
    path.write_text(html)
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=DPR)
    page.set_default_timeout(120_000)
    page.goto(path.as_uri())
    return page


#: pick a row layout with the widget's picker; -> ms until it is drawn (+ 2 rAF) and labels shown
SWITCH_JS = """async (mode) => {
  const H = window.__harness, sel = H.el.querySelector('select.pw-layout');
  const gantt = H.el.querySelector('.pw-gantt');
  const raf = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  await raf();
  const t0 = performance.now(), frames = H.widgetFrames();
  sel.value = mode;
  sel.dispatchEvent(new Event('change'));
  while (gantt.dataset.layout !== mode || H.widgetFrames() === frames) {
    await raf();
    if (performance.now() - t0 > 30000) throw new Error('layout ' + mode + ' not drawn in 30 s');
  }
  await raf(); await raf();
  return { ms: performance.now() - t0, drawMs: Number(H.el.dataset.drawMs),
           labels: gantt.querySelectorAll('.pw-gutter .pw-group').length,
           rows: gantt.querySelector('.pw-layout-note').textContent };
}"""

#: wheel zoom about a point, one wheel event per animation frame (in, then back out)
ZOOM_JS = """async (steps) => {
  const H = window.__harness, c = H.canvas(), r = c.getBoundingClientRect();
  const raf = () => new Promise((res) => requestAnimationFrame(() => res(performance.now())));
  const x = r.left + r.width * 0.6, y = r.top + Math.min(r.height - 5, 60);
  const frameMs = [], drawMs = [];
  let last = await raf();
  for (let i = 0; i < steps; i++) {
    const before = H.widgetFrames();
    c.dispatchEvent(new WheelEvent('wheel', { bubbles: true, cancelable: true, clientX: x, clientY: y,
                                              deltaY: i < steps / 2 ? -120 : 120 }));
    const now = await raf();
    frameMs.push(now - last); last = now;
    if (H.widgetFrames() > before) drawMs.push(Number(H.el.dataset.drawMs));
  }
  return { frameMs, drawMs };
}"""


#: select bar `index` (the `selected_index` trait, as the kernel sets it): ms until that frame
#: is drawn (+ 2 rAF), its draw time and the edges it drew
SELECT_JS = """async (index) => {
  const H = window.__harness;
  const raf = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  await raf();
  const t0 = performance.now(), frames = H.widgetFrames();
  H.setTrait('selected_index', index);
  while (H.widgetFrames() === frames) {
    await raf();
    if (performance.now() - t0 > 30000) throw new Error('selection not drawn in 30 s');
  }
  const drawMs = Number(H.el.dataset.drawMs);
  await raf(); await raf();
  return { ms: performance.now() - t0, drawMs, edges: Number(H.el.querySelector('.pw-gantt').dataset.edgesDrawn) };
}"""

#: hover bar after bar, nothing selected: points over `steps` different bars are found first
#: (a grid of pointer moves, untimed), then the pointer visits one per animation frame, so
#: every frame the widget finds and draws a new lineage
HOVER_JS = """async (steps) => {
  const H = window.__harness, c = H.canvas(), r = c.getBoundingClientRect();
  const gantt = H.el.querySelector('.pw-gantt'), tip = H.el.querySelector('.pw-tooltip');
  const raf = () => new Promise((res) => requestAnimationFrame(() => res(performance.now())));
  const points = [], names = new Set();
  for (let y = 30; y < r.height - 4 && points.length < steps; y += 7)
    for (let x = r.width * 0.25; x < r.width - 10 && points.length < steps; x += 23) {
      H.pointer('pointermove', x, y, { buttons: 0 });
      if (tip.hidden || names.has(tip.textContent)) continue;
      names.add(tip.textContent);
      points.push([x, y]);
    }
  H.pointer('pointerleave', 0, 0, { buttons: 0 });
  const frameMs = [], drawMs = [], edges = [];
  let hits = 0, last = await raf(); last = await raf();
  for (const [x, y] of points) {
    const before = H.widgetFrames();
    H.pointer('pointermove', x, y, { buttons: 0 });
    if (!tip.hidden) hits++;
    const now = await raf();
    frameMs.push(now - last); last = now;
    if (H.widgetFrames() > before) {
      drawMs.push(Number(H.el.dataset.drawMs));
      edges.push(Number(gantt.dataset.edgesDrawn));
    }
  }
  H.pointer('pointerleave', 0, 0, { buttons: 0 });
  return { frameMs, drawMs, edges, hits };
}"""


def bench_focus(page, index: int, pan_steps: int) -> dict:
    """Frames with a huge lineage on screen: selecting bar `index`, panning and zooming while it
    is selected, then hovering bar after bar (each a new lineage) with nothing selected."""
    select = page.evaluate(SELECT_JS, index)
    pan = page.evaluate(f"window.__harness.pan({pan_steps}, 6)")
    zoom = page.evaluate(ZOOM_JS, pan_steps)
    page.evaluate(SELECT_JS, -1)
    hover = page.evaluate(HOVER_JS, pan_steps)
    return {
        "select_ms": select["ms"],
        "select_draw_ms": select["drawMs"],
        "select_edges": select["edges"],
        "selected_pan_frame_ms": median(pan["frameMs"]),
        "selected_pan_draw_ms": median(pan["drawMs"]),
        "selected_zoom_frame_ms": median(zoom["frameMs"]),
        "selected_zoom_draw_ms": median(zoom["drawMs"]),
        "hover_frame_ms": median(hover["frameMs"]),
        "hover_draw_ms": median(hover["drawMs"]),
        "hover_max_draw_ms": max(hover["drawMs"], default=float("nan")),
        "hover_frames": len(hover["drawMs"]),
        "hover_hits": hover["hits"],
        "hover_steps": len(hover["frameMs"]),
        "hover_edges": median(hover["edges"]),
        "focus_heap_mb": heap_mb(page),
    }


def heap_mb(page) -> float:
    """The page's JS heap after a garbage collection (MB): objects plus the backing stores of
    ArrayBuffers (the typed columns live there) and embedder (DOM) memory."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")
        parts = ("usedSize", "backingStorageSize", "embedderHeapUsedSize")
        return sum(usage.get(part, 0) for part in parts) / 1e6
    finally:
        cdp.detach()


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def bench_layouts(page, layouts, pan_steps: int) -> dict:
    """Per row layout: switch frame, pan and zoom frame times, heap, labels (flat keys)."""
    out: dict = {}
    for mode in layouts:
        switch = page.evaluate(SWITCH_JS, mode)
        pan = page.evaluate(f"window.__harness.pan({pan_steps}, 6)")
        zoom = page.evaluate(ZOOM_JS, pan_steps)
        out.update({
            f"{mode}_switch_ms": switch["ms"],
            f"{mode}_labels": switch["labels"],
            f"{mode}_rows": switch["rows"],
            f"{mode}_pan_frame_ms": median(pan["frameMs"]),
            f"{mode}_pan_draw_ms": median(pan["drawMs"]),
            f"{mode}_zoom_frame_ms": median(zoom["frameMs"]),
            f"{mode}_zoom_draw_ms": median(zoom["drawMs"]),
            f"{mode}_heap_mb": heap_mb(page),
        })
    return out


def bench_ours(browser, frame, tmpdir: Path, pan_steps: int, layouts=(), edges=None):
    """`edges`: ``synthetic_edges(frame)`` or None; encoded as ``FlowRunWidget`` does (the
    ``edges=`` of ``encode_timeline``, ``edge_mode`` "auto")."""
    tl = encode_timeline(frame, edges=edges)
    focus, lineage_rows = (-1, 0)
    if edges is not None:
        tl["edge_mode"] = "auto"
        focus, lineage_rows = widest_lineage(len(frame), edges)
    html = harness_html(tl, header_for(frame), widget_js=WIDGET_JS)
    page = open_page(browser, html, tmpdir, f"ours-{len(frame)}")
    try:
        page.wait_for_function("window.__harness !== undefined")
        first = page.evaluate("window.__harness.mount()")
        first_layout = page.evaluate("document.querySelector('.pw-gantt').dataset.layout")
        pan = page.evaluate(f"window.__harness.pan({pan_steps}, 6)")
        per_layout = bench_layouts(page, layouts, pan_steps)
        per_focus = bench_focus(page, focus, pan_steps) if focus >= 0 else {}
        errors = page.evaluate("document.querySelector('.pw-error')?.hidden === false ? document.querySelector('.pw-error').textContent : null")
    finally:
        page.close()
    n = len(frame)
    return {
        **per_layout,
        **per_focus,
        "focus": focus,
        "focus_lineage": lineage_rows,
        "edges_per_task": (tl.get("edge_count") or 0) / n,
        "first_layout": first_layout,
        "edges": "on" if tl.get("edge_count") else "off",
        "first_ms": first["ms"],
        "first_draw_ms": first["drawMs"],
        "bars": first["bars"],
        "pan_frame_ms": statistics.median(pan["frameMs"]) if pan["frameMs"] else float("nan"),
        "pan_draw_ms": statistics.median(pan["drawMs"]) if pan["drawMs"] else float("nan"),
        "raw_bytes_per_task": timeline_nbytes(tl) / n,
        "nb_bytes_per_task": notebook_bytes(tl) / n,
        # what the edges add to the saved notebook (varints since format 3)
        "edge_nb_bytes_per_task": (notebook_bytes(tl) - notebook_bytes(encode_timeline(frame))) / n,
        "error": errors,
    }


def bench_plotly(browser, frame, tmpdir: Path, pan_steps: int):
    fig = plotly_figure(frame)
    figjson = fig.to_json()
    page = open_page(browser, plotly_html(fig), tmpdir, f"plotly-{len(frame)}")
    try:
        page.wait_for_function("window.__ready === true")
        expected = int(frame["start_time"].notna().sum())
        first = page.evaluate(f"window.__mount({expected})")
        pan = page.evaluate(f"window.__pan({pan_steps}, 6)")
        if not pan["moved"]:
            print("  (warning: plotly did not pan; its pan time is not meaningful)", flush=True)
    finally:
        page.close()
    return {
        "first_ms": first["ms"],
        "bars": first["bars"],
        "pan_frame_ms": statistics.median(pan["frameMs"]) if pan["frameMs"] else float("nan"),
        "nb_bytes_per_task": len(figjson) / len(frame),
    }


def repeated(fn, repeat: int, *args):
    """Run a benchmark `repeat` times (fresh page each time); median of every numeric metric."""
    runs = [fn(*args) for _ in range(max(1, repeat))]
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = statistics.median(r[k] for r in runs)
    return out


def fmt(x, digits=1):
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return f"{x:,.{digits}f}"


def screenshots(browser, outdir: Path, tmpdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []
    for n, theme, sel in [(100, "light", 40), (100_000, "light", -1), (100, "dark", -1), (100_000, "dark", -1)]:
        frame = synthetic_frame(n, seed=3)
        html = harness_html(encode_timeline(frame), header_for(frame), selected_index=sel, theme=theme)
        page = open_page(browser, html, tmpdir, f"shot-{theme}-{n}", width=1040, height=760)
        try:
            page.wait_for_function("window.__harness !== undefined")
            page.evaluate("window.__harness.mount()")
            if n == 100 and theme == "light":
                # hover a bar so the tooltip shows up in the screenshot
                page.evaluate("""() => {
                    const H = window.__harness, c = H.canvas(), r = c.getBoundingClientRect();
                    for (let y = 30; y < r.height; y += 4) for (let x = 20; x < r.width; x += 6) {
                        H.pointer('pointermove', x, y, {buttons: 0});
                        if (!document.querySelector('.pw-tooltip').hidden) return;
                    }
                }""")
                page.wait_for_timeout(100)
            path = outdir / f"gantt-{theme}-{n}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
        finally:
            page.close()
    return shots


def print_table(table) -> None:
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for j, r in enumerate(table):
        print(" | ".join(str(c).rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("-+-".join("-" * w for w in widths))


def print_layouts(rows, layouts) -> None:
    """Per size and row layout, with ratios against the packed layout and the targets."""
    print("\nrow layouts (after the first frame, picked with the widget's layout picker; "
          "x = ratio to packed, >1 = slower / bigger):")
    table = [("N", "layout", "edges", "rows", "labels", "switch ms", "pan ms/frame", "draw",
              "zoom ms/frame", "draw", "heap MB")]
    for n, o, _ in rows:
        def vs(mode, key, o=o):
            base = o.get(f"packed_{key}")
            v = o.get(f"{mode}_{key}")
            if mode == "packed" or not base or v is None or v != v:
                return fmt(v)
            return f"{fmt(v)} ({v / base:.2f}x)"
        for mode in layouts:
            table.append((f"{n:,}", mode, o["edges"], o[f"{mode}_rows"], o[f"{mode}_labels"],
                          vs(mode, "switch_ms"), vs(mode, "pan_frame_ms"), vs(mode, "pan_draw_ms"),
                          vs(mode, "zoom_frame_ms"), vs(mode, "zoom_draw_ms"), vs(mode, "heap_mb")))
    print_table(table)
    n, o, _ = max(rows, key=lambda r: r[0])
    if "grouped" in layouts:
        checks = [
            ("first frame < 1000 ms (auto layout)", o["first_ms"], 1000, o["first_ms"] < 1000),
            ("switch to grouped < 1000 ms", o["grouped_switch_ms"], 1000, o["grouped_switch_ms"] < 1000),
            ("grouped pan <= 33 ms/frame", o["grouped_pan_frame_ms"], 33, o["grouped_pan_frame_ms"] <= 33),
            ("grouped zoom <= 33 ms/frame", o["grouped_zoom_frame_ms"], 33, o["grouped_zoom_frame_ms"] <= 33),
            ("grouped heap <= 100 MB", o["grouped_heap_mb"], 100, o["grouped_heap_mb"] <= 100),
            ("<= 30 saved bytes per task run", o["nb_bytes_per_task"], 30, o["nb_bytes_per_task"] <= 30),
        ]
        print(f"\ntargets at n={n:,} (edges: {o['edges']}, {fmt(o['edges_per_task'], 2)} a task run, "
              f"{fmt(o['edge_nb_bytes_per_task'])} of the saved bytes per task run):")
        for name, value, _, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {name}: {fmt(value)}")


def print_focus(rows, layout: str) -> None:
    """Frames with the widest lineage on screen, per size (the last layout picked stays on)."""
    print(f"\nlineage frames ({layout} layout, edge mode auto; the selected bar is the fan-in with the "
          "widest lineage; hover moves over a new bar every frame, nothing selected):")
    table = [("N", "edges/task", "lineage rows", "select ms", "draw", "edges drawn", "sel. pan ms/frame",
              "draw", "sel. zoom ms/frame", "draw", "hover ms/frame", "draw", "max draw", "bars hovered", "edges drawn", "heap MB")]
    for n, o, _ in rows:
        if o.get("focus", -1) < 0:
            continue
        table.append((f"{n:,}", fmt(o["edges_per_task"], 2), f"{o['focus_lineage']:,}", fmt(o["select_ms"]),
                      fmt(o["select_draw_ms"]), fmt(o["select_edges"], 0), fmt(o["selected_pan_frame_ms"]),
                      fmt(o["selected_pan_draw_ms"]), fmt(o["selected_zoom_frame_ms"]),
                      fmt(o["selected_zoom_draw_ms"]), fmt(o["hover_frame_ms"]), fmt(o["hover_draw_ms"]),
                      fmt(o["hover_max_draw_ms"]), f"{o['hover_hits']}/{o['hover_steps']}", fmt(o["hover_edges"], 0), fmt(o["focus_heap_mb"])))
    print_table(table)
    n, o, _ = max(rows, key=lambda r: r[0])
    checks = [
        ("pan with the widest lineage selected <= 33 ms/frame", o["selected_pan_frame_ms"], o["selected_pan_frame_ms"] <= 33),
        ("zoom with the widest lineage selected <= 33 ms/frame", o["selected_zoom_frame_ms"], o["selected_zoom_frame_ms"] <= 33),
        ("hover, a new lineage every frame <= 33 ms/frame", o["hover_frame_ms"], o["hover_frame_ms"] <= 33),
        ("heap after the lineage frames <= 100 MB", o["focus_heap_mb"], o["focus_heap_mb"] <= 100),
    ]
    print(f"\nlineage targets at n={n:,}:")
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {fmt(value)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated task-run counts")
    ap.add_argument("--plotly-sizes", default="1000,10000", help="sizes also measured with plotly")
    ap.add_argument("--no-plotly", action="store_true")
    ap.add_argument("--no-edges", action="store_true",
                    help="leave out the synthetic dependency edges (synthetic_edges)")
    ap.add_argument("--layouts", default="packed,grouped",
                    help="row layouts measured after the first frame (comma-separated; '' for none)")
    ap.add_argument("--pan-steps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="fresh-page repetitions per measurement (median)")
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--screenshots", type=Path, default=None, help="also save PNG screenshots here")
    ap.add_argument("--widget-js", type=Path, default=None,
                    help="measure this bundle instead of prefect_widgets/static/widget.js (before/after)")
    ap.add_argument("--dpr", type=float, default=1.0, help="devicePixelRatio of the page (HiDPI check)")
    ap.add_argument("--max-seconds", type=float, default=900, help="watchdog: hard exit after this long")
    args = ap.parse_args(argv)
    global DPR, WIDGET_JS
    DPR = args.dpr
    WIDGET_JS = args.widget_js.read_text() if args.widget_js else None

    def watchdog():
        print(f"\nwatchdog: benchmark exceeded {args.max_seconds:.0f}s, aborting", file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(args.max_seconds, watchdog)
    timer.daemon = True
    timer.start()

    if not (STATIC / "widget.js").exists():
        print("prefect_widgets/static/widget.js is missing: run `cd js && npm install && npm run build`", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in args.sizes.split(",") if s]
    layouts = [m for m in args.layouts.split(",") if m]
    plotly_sizes = set() if args.no_plotly else {int(s) for s in args.plotly_sizes.split(",") if s}
    rows = []
    with tempfile.TemporaryDirectory() as td, sync_playwright() as p:
        tmpdir = Path(td)
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            print(f"widget.js {len(WIDGET_JS or (STATIC / 'widget.js').read_text()) / 1024:.1f} KiB"
                  f"{f' ({args.widget_js})' if args.widget_js else ''}, "
                  f"widget.css {(STATIC / 'widget.css').stat().st_size / 1024:.1f} KiB", flush=True)
            for n in sizes:
                frame = synthetic_frame(n, seed=args.seed)
                t = time.perf_counter()
                edges = None if args.no_edges else synthetic_edges(frame)
                ours = repeated(bench_ours, args.repeat, browser, frame, tmpdir, args.pan_steps, layouts, edges)
                print(f"  ours   n={n:>7,}: first frame {fmt(ours['first_ms'])} ms ({ours['first_layout']} rows, "
                      f"edges: {ours['edges']}), pan {fmt(ours['pan_frame_ms'])} ms/frame "
                      f"(draw {fmt(ours['pan_draw_ms'])} ms), {ours['bars']:,} bars drawn "
                      f"[{time.perf_counter() - t:.1f}s]" + (f"  ERROR: {ours['error']}" if ours["error"] else ""), flush=True)
                theirs = None
                if n in plotly_sizes:
                    t = time.perf_counter()
                    try:
                        theirs = repeated(bench_plotly, args.repeat, browser, frame, tmpdir, args.pan_steps)
                        print(f"  plotly n={n:>7,}: first frame {fmt(theirs['first_ms'])} ms, pan {fmt(theirs['pan_frame_ms'])} ms/frame, "
                              f"{theirs['bars']:,} SVG bars [{time.perf_counter() - t:.1f}s]", flush=True)
                    except Exception as e:  # keep the table even if plotly times out
                        print(f"  plotly n={n:>7,}: failed: {e!r}"[:300], flush=True)
                rows.append((n, ours, theirs))
            shots = screenshots(browser, args.screenshots, tmpdir) if args.screenshots else []
        finally:
            browser.close()

    print()
    hdr = ("N", "first frame ms", "plotly ms", "ratio", "pan ms/frame", "plotly pan", "ratio",
           "B/task raw", "B/task nb", "plotly B/task", "ratio")
    table = [hdr]
    for n, o, t in rows:
        ratio = lambda a, b, t=t: f"{b / a:,.1f}x" if (t and a and b and a == a and b == b) else "—"  # noqa: E731
        table.append((
            f"{n:,}",
            fmt(o["first_ms"]),
            fmt(t["first_ms"]) if t else "—",
            ratio(o["first_ms"], t["first_ms"] if t else None),
            fmt(o["pan_frame_ms"]),
            fmt(t["pan_frame_ms"]) if t else "—",
            ratio(o["pan_frame_ms"], t["pan_frame_ms"] if t else None),
            fmt(o["raw_bytes_per_task"]),
            fmt(o["nb_bytes_per_task"]),
            fmt(t["nb_bytes_per_task"]) if t else "—",
            ratio(o["nb_bytes_per_task"], t["nb_bytes_per_task"] if t else None),
        ))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(hdr))]
    for j, r in enumerate(table):
        print(" | ".join(str(c).rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("-+-".join("-" * w for w in widths))
    print("\nfirst frame: data arrival -> first paint + 2 rAF. pan ms/frame: median interval between animation "
          "frames with one synthetic drag step per frame (vsync-bound: 16.7 ms is the floor). Medians of "
          f"{args.repeat} fresh pages. B/task nb: base64 "
          "widget state as saved in a notebook (plotly: figure JSON). ratio = plotly / ours.")
    if layouts:
        print_layouts(rows, layouts)
    if any(o.get("focus", -1) >= 0 for _, o, _ in rows):
        print_focus(rows, layouts[-1] if layouts else "auto")
    if shots:
        print("screenshots:\n" + "\n".join(f"  {s}" for s in shots))
    timer.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(main())
