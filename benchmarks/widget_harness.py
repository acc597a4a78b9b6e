"""Standalone HTML harness for the built widget (``prefect_widgets/static/widget.js``).

Builds a page that mounts the anywidget ES module against a small fake
``model`` (get / set / on / off / send / save_changes) so the front end can be
exercised in a headless browser without a kernel. Used by
``benchmarks/gantt_render.py`` and reusable by browser tests::

    from widget_harness import harness_html, synthetic_frame, header_for
    html = harness_html(encode_timeline(frame), header_for(frame))
    page.set_content(html); page.wait_for_function("window.__harness")
    page.evaluate("window.__harness.mount()")

Page API (``window.__harness``):
    mount()            -> {ms, bars, drawMs}: render + wait for first paint + 2 rAF;
                          ms is from "data arrival" (model constructed) to that point
    model              the fake model; model.sent is the list of messages sent by JS,
                          model.saves counts save_changes() calls
    el                 the widget element (el.dataset.rendered / .bars / .drawMs)
    patch(msg, b64s)   deliver a {"type": "patch"} custom message (buffers base64)
    customMsg(msg)     deliver any custom message without buffers
    setTrait(k, v)     model.set + change event, like a kernel-side update
    pan(steps, dx)     synthetic drag; -> {frameMs: [...], drawMs: [...]}
    unmount()          call the cleanup returned by render()
Details requests (``{"type": "details", index}``) are answered after 30 ms
with fake fields when ``auto_details=True``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "prefect_widgets" / "static"

LIGHT_VARS = {
    "--jp-layout-color0": "#ffffff",
    "--jp-layout-color1": "#ffffff",
    "--jp-layout-color2": "#eeeeee",
    "--jp-ui-font-color1": "rgba(0, 0, 0, 0.87)",
    "--jp-ui-font-color2": "rgba(0, 0, 0, 0.54)",
    "--jp-border-color1": "#bdbdbd",
    "--jp-border-color2": "#e0e0e0",
    "--jp-brand-color1": "#1976d2",
    "--jp-error-color0": "#b71c1c",
    "--jp-error-color1": "#d32f2f",
    "--jp-error-color3": "#ffcdd2",
    "--jp-ui-font-family": "system-ui, -apple-system, 'Segoe UI', helvetica, arial, sans-serif",
    "--jp-ui-font-size1": "13px",
}
# JupyterLab "dark" theme values
DARK_VARS = {
    "--jp-layout-color0": "#111111",
    "--jp-layout-color1": "#212121",
    "--jp-layout-color2": "#424242",
    "--jp-ui-font-color1": "rgba(255, 255, 255, 0.87)",
    "--jp-ui-font-color2": "rgba(255, 255, 255, 0.54)",
    "--jp-border-color1": "#616161",
    "--jp-border-color2": "#424242",
    "--jp-brand-color1": "#42a5f5",
    "--jp-error-color0": "#ef9a9a",
    "--jp-error-color1": "#e53935",
    "--jp-error-color3": "#4a1a1a",
    "--jp-ui-font-family": "system-ui, -apple-system, 'Segoe UI', helvetica, arial, sans-serif",
    "--jp-ui-font-size1": "13px",
}

KEYS = [
    "extract_orders",
    "transform",
    "load_to_warehouse",
    "say_hello",
    "fetch_page",
    "parse_document",
    "validate_row",
    "upload_chunk",
    "train_fold",
    "notify",
]


def synthetic_frame(n: int, seed: int = 0, end_time: dt.datetime | None = None) -> pd.DataFrame:
    """``n`` realistic task runs: mapped bursts with overlap, ~2% failures,
    a few crashes/cancellations/retries, a tail of running and pending runs.

    Times are placed so the run ends at ``end_time`` (default: now), so that
    running bars ("extend to now") look right in a browser.
    """
    rng = np.random.default_rng(seed)
    starts = np.empty(n)
    durs = np.empty(n)
    keys = np.empty(n, dtype=object)
    maps = np.full(n, -1, dtype=np.int64)
    t = 0.0
    i = 0
    while i < n:
        size = int(min(n - i, max(1, rng.lognormal(np.log(max(2, n / 40)), 1.0))))
        key = KEYS[int(rng.integers(len(KEYS)))]
        concurrency = int(rng.choice([4, 8, 16, 32, 64]))
        median = float(rng.choice([150, 600, 2_000, 8_000]))
        d = rng.lognormal(np.log(median), 0.6, size)
        # a worker pool of `concurrency` slots: start = when a slot frees up
        slots = np.full(min(concurrency, size), t)
        s = np.empty(size)
        for j in range(size):
            k = int(np.argmin(slots))
            s[j] = slots[k] + rng.exponential(5)
            slots[k] = s[j] + d[j]
        starts[i : i + size] = s
        durs[i : i + size] = d
        keys[i : i + size] = key
        if size > 1:
            maps[i : i + size] = np.arange(size)
        i += size
        # next burst starts while this one is still going (overlap) or after it
        t = float(rng.uniform(t, s.max() + d.max()))
    ends = starts + durs
    span = float(np.nanmax(ends))
    state = np.full(n, "COMPLETED", dtype=object)
    u = rng.random(n)
    state[u < 0.02] = "FAILED"
    state[(u >= 0.02) & (u < 0.022)] = "CRASHED"
    state[(u >= 0.022) & (u < 0.025)] = "CANCELLED"
    run_count = np.ones(n, dtype=np.int64)
    retried = rng.random(n) < 0.04
    run_count[retried] = rng.integers(2, 4, retried.sum())
    # "now" is just before the last task ends: runs in flight at that instant
    # are RUNNING (no end), runs that would start later are PENDING (no start)
    cutoff = float(np.quantile(ends, 0.995))
    start_ms = starts.copy()
    end_ms = ends.copy()
    running = (starts <= cutoff) & (ends > cutoff)
    pending = starts > cutoff
    state[running] = "RUNNING"
    end_ms[running] = np.nan
    state[pending] = "PENDING"
    start_ms[pending] = np.nan
    end_ms[pending] = np.nan
    run_count[pending] = 0
    span = cutoff
    end_time = end_time or dt.datetime.now(dt.timezone.utc)
    base = pd.Timestamp(end_time).tz_convert("UTC") - pd.Timedelta(milliseconds=span)
    to_ts = lambda ms: base + pd.to_timedelta(ms, unit="ms")  # noqa: E731
    return pd.DataFrame(
        {
            "task_key": keys.astype(str),
            "map_index": pd.array(maps, dtype="Int64"),
            "state_type": state.astype(str),
            "start_time": to_ts(start_ms),
            "end_time": to_ts(end_ms),
            "run_count": run_count,
        }
    )


def header_for(frame: pd.DataFrame, *, run_name: str = "crimson-otter", flow_name: str = "etl-pipeline",
               live: bool = True, error: str | None = None, ui_url: str | None = "https://app.prefect.cloud/runs/flow-run/0000") -> dict[str, Any]:
    counts = {str(k): int(v) for k, v in frame["state_type"].value_counts().items()}
    start = frame["start_time"].min()
    running = counts.get("RUNNING", 0) > 0 or counts.get("PENDING", 0) > 0
    end = None if running else frame["end_time"].max()
    to_ms = lambda t: None if t is None or pd.isna(t) else float(pd.Timestamp(t).value // 1_000_000)  # noqa: E731
    failed = counts.get("FAILED", 0) + counts.get("CRASHED", 0)
    return {
        "run_name": run_name,
        "flow_name": flow_name,
        "state_type": "RUNNING" if running else ("FAILED" if failed else "COMPLETED"),
        "state_name": "Running" if running else ("Failed" if failed else "Completed"),
        "state_message": None if running else (f"{failed} task runs failed." if failed else "All states completed."),
        "start_ms": to_ms(start),
        "end_ms": to_ms(end),
        "ui_url": ui_url,
        "counts": counts,
        "live": live and running,
        "error": error,
    }


def _jsonable(value: Any) -> Any:
    """Trait value -> JSON with binary buffers replaced by {"__b64__": ...}."""
    if isinstance(value, (memoryview, bytes, bytearray)):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def _script_json(obj: Any) -> str:
    return json.dumps(obj).replace("</", "<\\/")


def harness_html(
    timeline: dict[str, Any] | None,
    header: dict[str, Any],
    *,
    state_filter: list[str] | tuple[str, ...] = (),
    selected_index: int = -1,
    theme: str = "light",
    width: int = 1000,
    auto_details: bool = True,
    widget_js: str | None = None,
    widget_css: str | None = None,
) -> str:
    """A complete HTML page mounting the widget on a fake model (see module doc)."""
    js = widget_js if widget_js is not None else (STATIC / "widget.js").read_text()
    css = widget_css if widget_css is not None else (STATIC / "widget.css").read_text()
    vars_ = DARK_VARS if theme == "dark" else LIGHT_VARS
    body_style = "".join(f"{k}: {v};" for k, v in vars_.items())
    css = css.replace("</", "<\\/")
    state = {
        "header": header,
        "timeline": timeline,
        "state_filter": list(state_filter),
        "selected_index": int(selected_index),
    }
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>prefect_widgets harness</title>
<style>{css}</style>
<style>
  html, body {{ margin: 0; }}
  body {{ {body_style} background: var(--jp-layout-color0); color: var(--jp-ui-font-color1);
         font-family: var(--jp-ui-font-family); padding: 12px; }}
  #root {{ width: {int(width)}px; }}
</style></head>
<body data-jp-theme-light="{'false' if theme == 'dark' else 'true'}">
<div id="root"></div>
<script type="module">
const WIDGET_JS = {_script_json(js)};
const STATE = {_script_json(_jsonable(state))};
const AUTO_DETAILS = {json.dumps(bool(auto_details))};

function b64ToDataView(s) {{
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new DataView(u.buffer);
}}
function revive(v) {{
  if (v && typeof v === "object") {{
    if (typeof v.__b64__ === "string") return b64ToDataView(v.__b64__);
    if (Array.isArray(v)) return v.map(revive);
    const o = {{}};
    for (const [k, x] of Object.entries(v)) o[k] = revive(x);
    return o;
  }}
  return v;
}}
const raf = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));

class FakeModel {{
  constructor(state) {{ this.state = state; this.handlers = new Map(); this.sent = []; this.saves = 0; }}
  get(k) {{ return this.state[k]; }}
  set(k, v) {{ const old = this.state[k]; this.state[k] = v; if (old !== v) this.emit("change:" + k, this, v); }}
  save_changes() {{ this.saves++; }}
  on(ev, cb) {{ if (!this.handlers.has(ev)) this.handlers.set(ev, []); this.handlers.get(ev).push(cb); }}
  off(ev, cb) {{
    if (!ev) {{ this.handlers.clear(); return; }}
    if (!cb) {{ this.handlers.delete(ev); return; }}
    this.handlers.set(ev, (this.handlers.get(ev) || []).filter((f) => f !== cb));
  }}
  emit(ev, ...args) {{ for (const cb of [...(this.handlers.get(ev) || [])]) cb(...args); }}
  listenerCount() {{ let n = 0; for (const v of this.handlers.values()) n += v.length; return n; }}
  send(msg, callbacks, buffers) {{
    this.sent.push(msg);
    if (AUTO_DETAILS && msg && msg.type === "details") {{
      setTimeout(() => this.emit("msg:custom", {{ type: "details", index: msg.index,
        fields: {{ "Task run": "task-run-" + msg.index, "Task run id": "00000000-0000-0000-0000-" + String(msg.index).padStart(12, "0"),
                  "Message": "<b>not bold</b> — shown as text" }} }}, []), 30);
    }}
  }}
}}

const mod = await import(URL.createObjectURL(new Blob([WIDGET_JS], {{ type: "text/javascript" }})));
const widget = mod.default;
const el = document.getElementById("root");
const H = {{ widget, el, model: null, cleanup: null }};
H.mount = async () => {{
  const state = revive(STATE);              // buffers -> DataView, as anywidget delivers them
  const t0 = performance.now();             // data arrival
  H.model = new FakeModel(state);
  if (widget.initialize) await widget.initialize({{ model: H.model }});
  H.cleanup = await widget.render({{ model: H.model, el }});
  while (el.dataset.rendered !== "1") {{
    await raf();
    if (performance.now() - t0 > 30000) throw new Error("no first paint within 30 s");
  }}
  await raf(); await raf();
  const ms = performance.now() - t0;
  return {{ ms, bars: Number(el.dataset.bars), drawMs: Number(el.dataset.drawMs) }};
}};
H.unmount = () => {{ if (H.cleanup) H.cleanup(); H.cleanup = null; }};
H.setTrait = (k, v) => H.model.set(k, revive(v));
H.customMsg = (msg) => H.model.emit("msg:custom", msg, []);
H.patch = (msg, b64s) => H.model.emit("msg:custom", msg, b64s.map(b64ToDataView));
H.canvas = () => el.querySelector("canvas");
H.pointer = (type, x, y, extra = {{}}) => {{
  const c = H.canvas(); const r = c.getBoundingClientRect();
  c.dispatchEvent(new PointerEvent(type, {{ bubbles: true, cancelable: true, pointerId: 1, button: 0, buttons: type === "pointerup" ? 0 : 1,
    isPrimary: true, pointerType: "mouse", clientX: r.left + x, clientY: r.top + y, ...extra }}));
}};
H.pan = async (steps = 60, dx = 6) => {{
  const c = H.canvas(); const r = c.getBoundingClientRect();
  const y = Math.min(r.height - 5, 60); let x = r.width / 2;
  await raf();
  H.pointer("pointerdown", x, y);
  const frameMs = [], drawMs = [];
  let last = await raf();
  for (let i = 0; i < steps; i++) {{
    x += (i < steps / 2 ? -dx : dx);
    const before = H.widgetFrames();
    H.pointer("pointermove", x, y);        // schedules the widget's draw for the next frame
    const now = await raf();                // widget's rAF callback ran before ours
    frameMs.push(now - last); last = now;
    if (H.widgetFrames() > before) drawMs.push(Number(el.dataset.drawMs));
  }}
  H.pointer("pointerup", x, y);
  return {{ frameMs, drawMs }};
}};
let frames = 0;
new MutationObserver(() => frames++).observe(el, {{ attributes: true, attributeFilter: ["data-draw-ms"] }});
H.widgetFrames = () => frames;
window.__harness = H;
</script>
</body></html>
"""
