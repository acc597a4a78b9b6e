/**
 * Canvas 2D Gantt timeline: the class that holds the widget's timeline state (data,
 * filter, view, hover, selection, canvas size) and wires drawing (`draw.ts`: axis, bars,
 * labels, overlays; vector or raster path) to interaction (`interaction.ts`: zoom/pan,
 * hover tooltip, click selection).
 */
import { Timeline, emptyTimeline } from "./decode";
import { EMPTY_PACKING, Packing, packRows } from "./pack";
import { clampView, fitView, makeScale, Scale } from "./scale";
import type { Theme } from "./theme";
import {
  AXIS_H,
  barColor,
  barRect,
  countVisible,
  drawAxis,
  drawMessage,
  drawOverlays,
  drawVector,
  Frame,
  Geometry,
  LabelWidths,
  MAX_PLOT_H,
  MAX_ROW_H,
  MIN_PLOT_H,
  PAD_X,
  Raster,
  VECTOR_MAX_BARS,
} from "./draw";
import { bindInteraction, hideTooltip, InteractionHost, pickBar } from "./interaction";

export { AXIS_H, MAX_PLOT_H, MAX_ROW_H, MIN_BAR_PX, MIN_PLOT_H, PAD_X, VECTOR_MAX_BARS } from "./draw";

export interface GanttOptions {
  onSelect: (index: number) => void;
  /** called after each frame with stats */
  onFrame?: (bars: number, ms: number, gaps: number) => void;
}

export class Gantt implements InteractionHost {
  readonly root: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly tooltip: HTMLDivElement;
  private ctx: CanvasRenderingContext2D;
  private opts: GanttOptions;

  tl: Timeline = emptyTimeline();
  packing: Packing = EMPTY_PACKING;
  /** state indices to show; null = all */
  private filter: Set<number> | null = null;
  theme: Theme;
  /** current view in ms offsets from t0; null = auto-fit */
  private view: [number, number] | null = null;
  selected = -1;
  private hover = -1;
  private needPack = true;
  private raf = 0;
  private extent: { lo: number; hiFinite: number; open: boolean } | null = null;
  private hlMode = false;

  private cssW = 0;
  private cssH = 0;
  private dpr = 1;
  private rowH = MAX_ROW_H;
  private plotH = MIN_PLOT_H;
  private scale: Scale = makeScale(0, 1, 0, 1);

  private raster = new Raster();
  private labelWidths = new LabelWidths();
  private unbind: () => void;

  lastBars = 0;
  /** attempt gaps cut out of bars in the last frame (for tests) */
  lastGaps = 0;
  lastDrawMs = 0;
  frames = 0;

  constructor(theme: Theme, opts: GanttOptions) {
    this.theme = theme;
    this.opts = opts;
    this.root = document.createElement("div");
    this.root.className = "pw-gantt";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "pw-canvas";
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute(
      "aria-label",
      "Task run timeline. Scroll to zoom, drag to pan, double-click to reset, click a bar for details.",
    );
    this.tooltip = document.createElement("div");
    this.tooltip.className = "pw-tooltip";
    this.tooltip.hidden = true;
    this.root.append(this.canvas, this.tooltip);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("Canvas 2D is not available");
    this.ctx = ctx;
    this.unbind = bindInteraction(this);
  }

  // ------------------------------------------------------------ data

  setTimeline(tl: Timeline): void {
    this.tl = tl;
    if (this.selected >= tl.n) this.selected = -1;
    this.hover = -1;
    this.invalidateData();
  }

  /** Call after mutating this.tl in place (patches). */
  invalidateData(): void {
    this.needPack = true;
    this.requestDraw();
  }

  setFilter(states: number[] | null): void {
    const f = states && states.length ? new Set(states) : null;
    const same =
      (f === null && this.filter === null) ||
      (f !== null && this.filter !== null && f.size === this.filter.size && [...f].every((s) => this.filter!.has(s)));
    if (same) return;
    this.filter = f;
    this.invalidateData();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.requestDraw();
  }

  setSelected(i: number): void {
    const v = Number.isInteger(i) && i >= 0 && i < this.tl.n ? i : -1;
    if (v === this.selected) return;
    this.selected = v;
    this.requestDraw();
  }

  resetView(): void {
    this.view = null;
    this.requestDraw();
  }

  /** Current view [v0, v1] in ms offsets. */
  getView(): [number, number] {
    return [this.scale.d0, this.scale.d1];
  }

  setView(v0: number, v1: number): void {
    this.view = this.constrain(v0, v1);
    this.requestDraw();
  }

  /** Whether something on screen changes with wall-clock time (open bars). */
  hasOpenBars(): boolean {
    return !!this.extent?.open;
  }

  nowOffset(): number {
    return Date.now() - this.tl.t0;
  }

  private repack(): void {
    const tl = this.tl;
    let mask: Uint8Array | null = null;
    if (this.filter) {
      mask = new Uint8Array(tl.n);
      for (let i = 0; i < tl.n; i++) mask[i] = this.filter.has(tl.state[i]) ? 1 : 0;
    }
    this.packing = packRows(tl.start, tl.end, tl.n, mask);
    let lo = Infinity;
    let hi = -Infinity;
    let open = false;
    const rb = this.packing.rowBars;
    for (let k = 0; k < rb.length; k++) {
      const i = rb[k];
      const s = tl.start[i];
      const e = tl.end[i];
      if (s < lo) lo = s;
      if (e !== e) open = true;
      const ee = e > s ? e : s;
      if (ee > hi) hi = ee;
    }
    this.extent = lo === Infinity ? null : { lo, hiFinite: hi, open };
    this.hlMode = false;
    if (tl.highlight) {
      for (let i = 0; i < tl.n; i++) {
        if (tl.highlight[i]) {
          this.hlMode = true;
          break;
        }
      }
    }
    this.needPack = false;
  }

  private dataExtent(now: number): [number, number] | null {
    const x = this.extent;
    if (!x) return null;
    let hi = x.hiFinite;
    if (x.open && now > hi) hi = now;
    return [x.lo, hi];
  }

  private constrain(v0: number, v1: number): [number, number] {
    const ext = this.dataExtent(this.nowOffset()) ?? [v0, v1];
    const span = Math.max(ext[1] - ext[0], 1);
    return clampView(v0, v1, ext[0], ext[1], 1, Math.max(span * 20, 60_000));
  }

  // ------------------------------------------------------------ drawing

  requestDraw(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.drawNow();
    });
  }

  /** Measure the container and resize the canvas backing store if needed. */
  private layout(): boolean {
    const w = Math.floor(this.root.clientWidth);
    if (w <= 0) return false;
    const rows = this.packing.rows;
    const plotH = Math.max(MIN_PLOT_H, Math.min(MAX_PLOT_H, rows * MAX_ROW_H));
    const h = AXIS_H + plotH + 4;
    const dpr = Math.max(1, Math.min(4, (globalThis as { devicePixelRatio?: number }).devicePixelRatio || 1));
    if (w !== this.cssW || h !== this.cssH || dpr !== this.dpr) {
      this.cssW = w;
      this.cssH = h;
      this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.height = `${h}px`;
    }
    this.plotH = plotH;
    this.rowH = rows > 0 ? plotH / rows : MAX_ROW_H;
    return true;
  }

  geometry(): Geometry {
    const { tl, packing, scale: sc, rowH, plotH, cssW, cssH } = this;
    return { tl, packing, sc, rowH, plotH, cssW, cssH };
  }

  drawNow(): boolean {
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    const t_start = performance.now();
    if (this.needPack) this.repack();
    if (!this.layout()) return false;
    const { ctx, dpr, cssW, tl } = this;
    const now = this.nowOffset();
    const plotW = Math.max(1, cssW - 2 * PAD_X);

    const ext = this.dataExtent(now);
    let v: [number, number];
    if (this.view) v = this.view;
    else v = ext ? fitView(ext[0], ext[1], 10) : [0, 60_000];
    this.scale = makeScale(v[0], v[1], PAD_X, cssW - PAD_X);
    const f: Frame = { ...this.geometry(), ctx, theme: this.theme, now, dpr, hlMode: this.hlMode };

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, this.cssH);
    drawAxis(f, plotW);

    let bars = 0;
    this.lastGaps = 0;
    if (this.packing.placed > 0) {
      bars = countVisible(f, now);
      if (bars <= VECTOR_MAX_BARS && this.rowH >= 3) this.lastGaps = drawVector(f, this.labelWidths);
      else this.raster.draw(f, plotW);
      drawOverlays(f, !!this.extent?.open, this.hover, this.selected);
    } else {
      drawMessage(
        f,
        tl.n === 0 ? "No task runs yet" : this.filter ? "No task runs match the state filter" : "No task run has started yet",
      );
    }
    this.lastBars = bars;
    this.lastDrawMs = performance.now() - t_start;
    this.frames++;
    this.opts.onFrame?.(bars, this.lastDrawMs, this.lastGaps);
    return true;
  }

  barColor(i: number): string {
    return barColor(this.theme, this.tl, i);
  }

  /** Rect (css px) of bar i, or null if not placed. Min height 6px for visibility. */
  barRect(i: number, now = this.nowOffset()): { x: number; y: number; w: number; h: number } | null {
    return barRect(this.geometry(), i, now);
  }

  // ------------------------------------------------------------ interaction

  /** Bar index under a point (css px relative to the canvas), or -1. */
  pick(x: number, y: number): number {
    return pickBar(this.geometry(), x, y, this.nowOffset());
  }

  pan(v0: number, v1: number): void {
    this.setView(v0, v1);
  }

  setHover(i: number): void {
    if (i === this.hover) return;
    this.hover = i;
    this.requestDraw();
  }

  select(i: number): void {
    this.selected = i;
    this.requestDraw();
    this.opts.onSelect(i);
  }

  hideTooltip(): void {
    hideTooltip(this.tooltip);
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.unbind();
    this.root.remove();
    this.raster.dispose();
  }
}
