"""A flow's history drawn and told: the history chart widget and the changes table's HTML.

`HistoryChart` is a small anywidget: one dot per flow run, start time across, duration up
(log scale), coloured by state from the product's one palette, drawn on a plain 2D canvas
by the TypeScript front end in js/src/history/ (built into static/history.js; 100,000 runs
paint in well under a second in headless Chromium without a GPU, where plotly's WebGL does
not: docs in benchmarks/history_chart.py). Wheel zooms time, drag pans, double-click resets; a click
selects the nearest run: its id lands in `selected_flow_run_id` (Python) and the chart
shows a link to the run in the Prefect UI. The data goes over as binary columns (`chart_data`,
29 bytes a run in a year-long history; js/README.md is the wire), no per-run objects.

`changes_html` renders `compare_with_history`'s frame with the repr helpers (escaped).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from .errors import ConfigurationError, InvalidRequest
from .formatting import fmt_duration, fmt_time
from .html import EMPTY, Markup, escape, head_tail, header, mono, muted, row, table, trunc, wrap
from .html.markup import safe_url
from .states import STATE_TYPES

__all__ = ["HistoryChart", "chart_data", "changes_html", "history_chart_html"]

_STATIC = Path(__file__).parent / "static"
#: the chart's front end, built from js/src/history/ by the package build (js/README.md)
_ESM_PATH = _STATIC / "history.js"
_CSS_PATH = _STATIC / "history.css"


#: `x` offsets up to this many ms (49.7 days) fit in uint32; longer histories send float64
_UINT32_SPAN = 2**32 - 1


def _le_bytes(values: np.ndarray, dtype: str) -> memoryview:
    """Contiguous little-endian bytes (the widget machinery sends a memoryview as binary)."""
    return np.ascontiguousarray(values, dtype=dtype).data.cast("B")


def _id_bytes(index: pd.Index) -> bytes:
    """The run ids (UUIDs) as 16 bytes each, in frame order."""
    digits = "".join(index.astype(str).str.replace("-", "", regex=False))
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 16 * len(index):
        raise InvalidRequest("The history chart needs a frame indexed by flow-run ids (UUIDs), "
                             "as `FlowHistory.frame` is: pass that frame, or set its index to "
                             "the runs' ids.")
    return raw


def chart_data(frame: pd.DataFrame) -> dict[str, Any]:
    """The chart's binary columns from a history frame (js/README.md, js/src/history/data.ts):
    `n` runs; `t0` the earliest start (expected start for runs not started) in epoch ms and
    `x` each run's start as ms after it (uint32 LE, float64 LE when the history spans more
    than 49.7 days); `y` duration in seconds (float32 LE, NaN: none); `s` state codes (uint8)
    into `states` (the browser colours them from the product's palette, js/src/states.ts);
    `ids` the run ids, 16 bytes each."""
    when = frame["start_time"].fillna(frame["expected_start_time"])
    ms = np.asarray(when.astype("datetime64[ns, UTC]").astype("int64"), dtype="int64") // 1_000_000
    t0 = int(ms.min()) if len(ms) else 0
    offsets = ms - t0
    wide = bool(len(offsets)) and int(offsets.max()) > _UINT32_SPAN
    seconds = frame["duration"].dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
    states = [*STATE_TYPES, *sorted(set(frame["state_type"].astype(str)) - set(STATE_TYPES))]
    codes = pd.Categorical(frame["state_type"].astype(str), categories=states).codes
    return {"n": len(frame), "t0": t0, "x": _le_bytes(offsets, "<f8" if wide else "<u4"),
            "y": _le_bytes(seconds, "<f4"), "s": _le_bytes(codes, "u1"),
            "ids": memoryview(_id_bytes(frame.index)), "states": states}


class HistoryChart(anywidget.AnyWidget):
    """Flow runs over time, coloured by state; click a run to select it
    (`selected_flow_run_id`, `selected_run`)."""

    _esm = _ESM_PATH
    _css = _CSS_PATH
    data = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(320).tag(sync=True)
    ui_url = traitlets.Unicode("").tag(sync=True)
    selected_flow_run_id = traitlets.Unicode("").tag(sync=True)

    def __init__(self, frame: pd.DataFrame, *, client: Any = None, ui_url: str | None = None,
                 height: int = 320, **kwargs: Any) -> None:
        base = ui_url if ui_url is not None else getattr(client, "ui_url", None)
        super().__init__(data=chart_data(frame), height=height,
                         ui_url=(safe_url(base) or "").rstrip("/"), **kwargs)
        self.frame = frame

    def update(self, frame: pd.DataFrame) -> None:
        """Show another (e.g. refreshed) history frame."""
        self.frame = frame
        self.data = chart_data(frame)

    @property
    def selected_run(self) -> pd.Series | None:
        """The clicked run's row of the frame (None before a click)."""
        run_id = self.selected_flow_run_id
        return self.frame.loc[run_id] if run_id in self.frame.index else None


#: the page `history_chart_html` writes: the built module, imported from a blob, mounted on
#: a stand-in model whose binary columns (base64 in the page) are DataViews, as in a kernel
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style></head>
<body><div id="chart"></div>
<script id="chart-module" type="application/json">{module}</script>
<script id="chart-data" type="application/json">{data}</script>
<script type="module">
const began = performance.now();
const binary = (key, value) => {{
  if (typeof value?.base64 !== "string") return value;
  const text = atob(value.base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new DataView(bytes.buffer);
}};
const read = (id) => JSON.parse(document.getElementById(id).textContent, binary);
const source = new Blob([read("chart-module")], {{ type: "text/javascript" }});
const chart = (await import(URL.createObjectURL(source))).default;
const state = read("chart-data");
const model = {{ get: (k) => state[k], set: (k, v) => {{ state[k] = v; }},
  on() {{}}, off() {{}}, save_changes() {{}} }};
const el = document.getElementById("chart");
chart.render({{ model, el }});
requestAnimationFrame(() => requestAnimationFrame(() => {{
  window.__chart = {{ model, el, ms: performance.now() - began }};
}}));
</script></body></html>"""


def _script_json(value: Any) -> str:
    """JSON safe inside a `<script>` element; binary columns as `{"base64": ...}`."""
    def binary(buffer: memoryview) -> dict[str, str]:
        return {"base64": base64.b64encode(buffer).decode("ascii")}

    return json.dumps(value, separators=(",", ":"), default=binary).replace("<", "\\u003c")


def _front_end() -> tuple[str, str]:
    """The built module and stylesheet (js/src/history/, built by the package build)."""
    try:
        return _ESM_PATH.read_text("utf-8"), _CSS_PATH.read_text("utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"The history chart's front end is not built ({exc.filename} is missing): run "
            "`cd js && npm install && npm run build`, or install prefect-widgets from a "
            "wheel.") from exc


def history_chart_html(frame: pd.DataFrame, *, ui_url: str | None = None, height: int = 320,
                       title: str = "Flow history") -> str:
    """The history chart as one standalone HTML page (no kernel: a click shows the run's id
    and its Prefect UI link). `window.__chart.ms`: module load and data parse to the first
    frame painted."""
    module, css = _front_end()
    state = {"data": chart_data(frame), "height": height, "selected_flow_run_id": "",
             "ui_url": (safe_url(ui_url) or "").rstrip("/")}
    return _PAGE.format(title=escape(title), css=css.replace("</", "<\\/"),
                        module=_script_json(module), data=_script_json(state))


_CHANGE_HEADER = ("task", "status", "duration", "baseline median", "spread", "delta",
                  "since run")
_STATUS_CLASS = {"new failure": "pw-state-failed", "failing": "pw-state-failed",
                 "regression": "pw-state-crashed", "faster": "pw-state-completed"}


def _span(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else fmt_duration(pd.Timedelta(value))


def _signed(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    delta = pd.Timedelta(value)
    return ("+" if delta >= pd.Timedelta(0) else "−") + fmt_duration(abs(delta))


def _change_row(name: str, change: pd.Series) -> Markup:
    status = str(change["status"])
    css = _STATUS_CLASS.get(status)
    badge = Markup('<span class="pw-badge {}">{}</span>').format(css, status) if css \
        else muted(status)
    since = EMPTY
    if isinstance(change["since_flow_run_id"], str):
        since = trunc(change["since_flow_run_name"]) + Markup(" ") + muted(
            fmt_time(change["since_start_time"]) if pd.notna(change["since_start_time"])
            else "")
    return row([trunc(name), badge, _span(change["duration"]), _span(change["baseline_median"]),
                _span(change["baseline_spread"]), _signed(change["delta"]), since],
               numeric=(2, 3, 4, 5))


def changes_html(changes: pd.DataFrame) -> Markup:
    """The changes frame as a table: flagged tasks first (every row, up to display limits)."""
    title = trunc(changes.attrs.get("flow_run_name", ""))
    run_id = changes.attrs.get("flow_run_id")
    flagged = int(changes["status"].isin(["new failure", "failing", "regression"]).sum())
    extra = muted(f"against {changes.attrs.get('baseline_runs', 0)} runs · {flagged} flagged")
    items = list(changes.iterrows())
    head, hidden, tail = head_tail(items)
    body = table(_CHANGE_HEADER, (_change_row(str(n), c) for n, c in head), hidden,
                 (_change_row(str(n), c) for n, c in tail), "task names")
    parts = [header("Changes", title, extra)]
    if run_id:
        parts.append(muted(mono(str(run_id))))
    parts.append(body)
    return wrap(EMPTY.join(parts))

