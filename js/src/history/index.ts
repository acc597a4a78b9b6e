/**
 * anywidget entry of `prefect_widgets.history_chart.HistoryChart`: one dot per flow run,
 * start time across, duration up (log scale), coloured by state; wheel zooms time, drag
 * pans, double-click resets, a click selects the nearest run (`selected_flow_run_id`).
 * Traits: `data` (see `data.ts`), `height`, `ui_url`, `selected_flow_run_id`.
 */
import "./history.css";
import type { RenderProps } from "../index";
import { fitView, formatDateTime, formatDuration, HOUR, zoomAt } from "../scale";
import { packRGBA } from "../states";
import { readTheme } from "../theme";
import { safeUrl } from "../util";
import { durationLevel, durationTicks, levelCeiling, PAD, timeAt, timeTicks, View, xOf, yOf } from "./axes";
import { decodeHistory, drawOrder, HistoryData, HistoryDataError, runId, runIndex, stateColors, stateName } from "./data";
import { nearestRun } from "./hittest";
import { paintDots } from "./raster";

/** A run's line under the chart: state · start · duration · id. */
export function runSummary(data: HistoryData, i: number, tzOffsetMin: number): string {
  const seconds = data.seconds[i];
  const duration = Number.isFinite(seconds) ? ` · ${formatDuration(seconds * 1000)}` : "";
  return `${stateName(data, data.state[i])} · ${formatDateTime(data.x[i], tzOffsetMin)}${duration} · ${runId(data, i)} `;
}

function render({ model, el }: RenderProps): () => void {
  const root = document.createElement("div");
  root.className = "pw-history";
  const canvas = document.createElement("canvas");
  canvas.className = "pw-history-canvas";
  const info = document.createElement("div");
  info.className = "pw-history-info";
  root.append(canvas, info);
  el.append(root);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const tz = -new Date().getTimezoneOffset();

  let data = decodeHistory(null);
  let order: Uint32Array = new Uint32Array(0);
  let full: [number, number] = [0, 1];
  let view: View = { lo: 0, hi: 1, width: 800, height: 320, top: 1 };
  let selected = -1;
  let packedFor: boolean | null = null;
  let packed = new Uint32Array(0);
  let xs = new Float64Array(0);
  let ys = new Float64Array(0);
  let frame = 0;

  function load(): void {
    try {
      data = decodeHistory(model.get("data"));
      info.classList.remove("pw-history-error");
      info.textContent = "";
    } catch (error) {
      if (!(error instanceof HistoryDataError)) throw error;
      data = decodeHistory(null);
      info.classList.add("pw-history-error");
      info.textContent = error.message;
    }
    order = drawOrder(data);
    full = fitView(data.extent[0], data.extent[1], 2 * HOUR);
    view = { ...view, lo: full[0], hi: full[1], top: levelCeiling(data.seconds) };
    xs = new Float64Array(data.n);
    ys = new Float64Array(data.n);
    packedFor = null;
    selected = -1;
  }

  function draw(): void {
    frame = 0;
    const theme = readTheme(el);
    if (packedFor !== theme.dark) {
      packed = Uint32Array.from(stateColors(data, theme.dark), (c) => packRGBA(c));
      packedFor = theme.dark;
    }
    const dpr = window.devicePixelRatio || 1;
    const width = el.clientWidth || 800;
    const height = Number(model.get("height")) || 320;
    view = { ...view, width, height };
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = `${height}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = `11px ${theme.font}`;
    ctx.fillStyle = theme.grid;
    const levels = durationTicks(view.top);
    for (const tick of levels) ctx.fillRect(PAD.l, Math.round(yOf(view, tick.at)), width - PAD.l - PAD.r, 1);
    ctx.fillStyle = theme.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (const tick of levels) ctx.fillText(tick.label, PAD.l - 6, yOf(view, tick.at));
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "center";
    for (const tick of timeTicks(view, tz)) {
      const x = xOf(view, tick.at);
      ctx.fillRect(Math.round(x), height - PAD.b, 1, 4);
      ctx.fillText(tick.label, Math.min(Math.max(x, PAD.l), width - PAD.r - 20), height - 8);
    }
    for (let i = 0; i < data.n; i++) {
      xs[i] = xOf(view, data.x[i]) * dpr;
      ys[i] = yOf(view, durationLevel(data.seconds[i])) * dpr;
    }
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const pixels = { data: new Uint32Array(image.data.buffer), width: canvas.width, height: canvas.height };
    const drawn = paintDots(pixels, xs, ys, data.state, packed, order, PAD.l * dpr, (width - PAD.r) * dpr, Math.max(1, Math.round(dpr)));
    ctx.putImageData(image, 0, 0);
    if (selected >= 0) {
      ctx.strokeStyle = theme.fg;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(xOf(view, data.x[selected]), yOf(view, durationLevel(data.seconds[selected])), 6, 0, 2 * Math.PI);
      ctx.stroke();
    }
    el.dataset.drawn = String(drawn);
    el.dataset.selected = String(selected);
  }

  const schedule = (): void => {
    if (!frame) frame = requestAnimationFrame(draw);
  };

  function show(i: number): void {
    selected = i;
    if (info.classList.contains("pw-history-error")) return schedule();
    info.textContent = "";
    if (i >= 0) {
      const text = document.createElement("span");
      text.textContent = runSummary(data, i, tz);
      info.append(text);
      const href = safeUrl(`${model.get("ui_url") || ""}/runs/flow-run/${runId(data, i)}`);
      if (href) {
        const link = document.createElement("a");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = "open in Prefect UI";
        info.append(link);
      }
    }
    schedule();
  }

  function select(i: number): void {
    show(i);
    if (i >= 0) {
      model.set("selected_flow_run_id", runId(data, i));
      model.save_changes();
    }
  }

  let drag: { x: number; lo: number; hi: number; moved: boolean } | null = null;
  const onDown = (e: MouseEvent): void => {
    drag = { x: e.clientX, lo: view.lo, hi: view.hi, moved: false };
  };
  const onMove = (e: MouseEvent): void => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 2) drag.moved = true;
    const shift = (dx / (view.width - PAD.l - PAD.r)) * (drag.hi - drag.lo);
    view = { ...view, lo: drag.lo - shift, hi: drag.hi - shift };
    schedule();
  };
  const onUp = (e: MouseEvent): void => {
    if (drag && !drag.moved) {
      const box = canvas.getBoundingClientRect();
      select(nearestRun(data, view, e.clientX - box.left, e.clientY - box.top));
    }
    drag = null;
  };
  const onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    const box = canvas.getBoundingClientRect();
    const [lo, hi] = zoomAt(view.lo, view.hi, timeAt(view, e.clientX - box.left), Math.exp(e.deltaY * 0.002));
    view = { ...view, lo, hi };
    schedule();
  };
  const onReset = (): void => {
    view = { ...view, lo: full[0], hi: full[1] };
    schedule();
  };
  const onData = (): void => {
    load();
    schedule();
  };
  const onSelected = (): void => {
    const i = runIndex(data, String(model.get("selected_flow_run_id") || ""));
    if (i !== selected) show(i);
  };
  canvas.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("dblclick", onReset);
  model.on("change:data", onData);
  model.on("change:height", schedule);
  model.on("change:selected_flow_run_id", onSelected);
  const themeWatch = new MutationObserver(schedule);
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });

  const began = performance.now();
  load();
  onSelected();
  draw();
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      el.dataset.rendered = String(performance.now() - began);
      el.dataset.runs = String(data.n);
    }),
  );
  return () => {
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
    model.off("change:data", onData);
    model.off("change:height", schedule);
    model.off("change:selected_flow_run_id", onSelected);
    themeWatch.disconnect();
    if (frame) cancelAnimationFrame(frame);
  };
}

export default { render };
