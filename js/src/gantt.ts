/**
 * Canvas 2D Gantt timeline: virtualised drawing, zoom/pan, hover tooltip,
 * click selection. Two drawing paths:
 *   - vector (few visible bars, rows ≥ 3px): fillRect per bar, labels;
 *   - raster (many bars or sub-pixel rows): bars are rasterised into an
 *     ImageData at device resolution with a per-pixel state priority, so cost
 *     is bounded by the pixel area instead of the bar count and dense data
 *     collapses gracefully (a failed bar wins over completed ones sharing its
 *     pixel).
 */
import { Timeline, emptyTimeline, labelOf } from "./decode";
import { EMPTY_PACKING, Packing, packRows } from "./pack";
import { effEnd, hitTest, rowWindow } from "./hittest";
import {
  chooseStep,
  clampView,
  fitView,
  formatDateTime,
  formatDuration,
  formatTick,
  makeScale,
  Scale,
  ticks,
  toPx,
  toTime,
  zoomAt,
} from "./scale";
import { badgeTextColor, stateLabel, statePriority, N_STATES } from "./states";
import type { Theme } from "./theme";

export const AXIS_H = 24; // css px
export const PAD_X = 8;
export const MAX_ROW_H = 22;
export const MIN_PLOT_H = 44;
export const MAX_PLOT_H = 420;
export const MIN_BAR_PX = 2; // minimum visible bar width (css px)
export const VECTOR_MAX_BARS = 3000;
const DRAG_THRESHOLD = 3;

export interface GanttOptions {
  onSelect: (index: number) => void;
  /** called after each frame with stats */
  onFrame?: (bars: number, ms: number, gaps: number) => void;
}

function tzOffsetMin(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

export class Gantt {
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

  // raster resources
  private off: HTMLCanvasElement | null = null;
  private offCtx: CanvasRenderingContext2D | null = null;
  private img: ImageData | null = null;
  private pix: Uint32Array | null = null;
  private prio: Uint8Array | null = null;

  // interaction
  private drag: { id: number; x: number; v0: number; v1: number; moved: boolean } | null = null;
  private disposers: Array<() => void> = [];

  /** label -> measured width, for the current label font */
  private labelWidths = new Map<string, number>();
  private labelFont = "";

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
    this.bindEvents();
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

  drawNow(): boolean {
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    const t_start = performance.now();
    if (this.needPack) this.repack();
    if (!this.layout()) return false;
    const { ctx, dpr, cssW, theme, tl } = this;
    const now = this.nowOffset();
    const plotX0 = PAD_X;
    const plotX1 = cssW - PAD_X;
    const plotW = Math.max(1, plotX1 - plotX0);

    const ext = this.dataExtent(now);
    let v: [number, number];
    if (this.view) v = this.view;
    else v = ext ? fitView(ext[0], ext[1], 10) : [0, 60_000];
    const sc = (this.scale = makeScale(v[0], v[1], plotX0, plotX1));

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, this.cssH);
    this.drawAxis(sc, plotW);

    let bars = 0;
    this.lastGaps = 0;
    if (this.packing.placed > 0) {
      bars = this.countVisible(sc, now);
      if (bars <= VECTOR_MAX_BARS && this.rowH >= 3) this.drawVector(sc, now);
      else this.drawRaster(sc, now, plotW);
      this.drawOverlays(sc, now);
    } else {
      ctx.fillStyle = theme.muted;
      ctx.font = `${theme.fontSize}px ${theme.font}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      const msg = tl.n === 0 ? "No task runs yet" : this.filter ? "No task runs match the state filter" : "No task run has started yet";
      ctx.fillText(msg, cssW / 2, AXIS_H + this.plotH / 2);
    }
    this.lastBars = bars;
    this.lastDrawMs = performance.now() - t_start;
    this.frames++;
    this.opts.onFrame?.(bars, this.lastDrawMs, this.lastGaps);
    return true;
  }

  private visibleRows(): [number, number] {
    return [0, this.packing.rows - 1];
  }

  private padMs(sc: Scale): number {
    return sc.k > 0 ? MIN_BAR_PX / sc.k : 0;
  }

  private countVisible(sc: Scale, now: number): number {
    const [r0, r1] = this.visibleRows();
    const pad = this.padMs(sc);
    let total = 0;
    for (let r = r0; r <= r1; r++) {
      const [lo, hi] = rowWindow(this.packing, this.tl, r, sc.d0 - pad, sc.d1 + pad, now);
      total += hi - lo;
    }
    return total;
  }

  private drawAxis(sc: Scale, plotW: number): void {
    const { ctx, theme, tl } = this;
    const span = sc.d1 - sc.d0;
    const step = chooseStep(span, plotW, 90);
    const a = sc.d0 + tl.t0;
    const b = sc.d1 + tl.t0;
    const ts = ticks(a, b, step, tzOffsetMin(a));
    ctx.font = `${Math.max(9, theme.fontSize - 2)}px ${theme.font}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    ctx.lineWidth = 1;
    ctx.strokeStyle = theme.grid;
    ctx.beginPath();
    for (const t of ts) {
      const x = Math.round(toPx(sc, t - tl.t0)) + 0.5;
      ctx.moveTo(x, AXIS_H - 4);
      ctx.lineTo(x, AXIS_H + this.plotH);
    }
    ctx.stroke();
    ctx.strokeStyle = theme.border;
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H + 0.5);
    ctx.lineTo(this.cssW, AXIS_H + 0.5);
    ctx.stroke();
    ctx.fillStyle = theme.muted;
    for (const t of ts) {
      const label = formatTick(t, step, tzOffsetMin(t));
      const half = ctx.measureText(label).width / 2 + 2;
      // keep edge labels whole instead of cutting them at the canvas border
      const x = Math.min(Math.max(toPx(sc, t - tl.t0), half), this.cssW - half);
      ctx.fillText(label, x, AXIS_H / 2);
    }
  }

  private barColor(i: number): string {
    return this.theme.stateColors[this.tl.state[i]] ?? this.theme.muted;
  }

  private drawVector(sc: Scale, now: number): void {
    const { ctx, tl, packing, theme } = this;
    const rowH = this.rowH;
    const gap = rowH >= 6 ? Math.min(4, rowH * 0.2) : 0;
    const barH = rowH - gap;
    const pad = this.padMs(sc);
    const [r0, r1] = this.visibleRows();
    const labelFont = `${Math.max(9, Math.min(theme.fontSize - 2, barH - 4))}px ${theme.font}`;
    const showLabels = barH >= 12;
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD_X, AXIS_H, this.cssW - 2 * PAD_X, this.plotH);
    ctx.clip();
    ctx.font = labelFont;
    if (labelFont !== this.labelFont) {
      this.labelFont = labelFont;
      this.labelWidths.clear();
    }
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    for (let r = r0; r <= r1; r++) {
      const [lo, hi] = rowWindow(packing, tl, r, sc.d0 - pad, sc.d1 + pad, now);
      const y = AXIS_H + r * rowH + gap / 2;
      for (let k = lo; k < hi; k++) {
        const i = packing.rowBars[k];
        let x0 = toPx(sc, tl.start[i]);
        let x1 = toPx(sc, effEnd(tl, i, now));
        if (x1 - x0 < MIN_BAR_PX) {
          const c = (x0 + x1) / 2;
          x0 = c - MIN_BAR_PX / 2;
          x1 = c + MIN_BAR_PX / 2;
        }
        const dim = this.hlMode && !tl.highlight![i];
        ctx.globalAlpha = dim ? 0.3 : 1;
        const color = this.barColor(i);
        ctx.fillStyle = color;
        const w = x1 - x0;
        if (w >= 6 && barH >= 6 && typeof ctx.roundRect === "function") {
          ctx.beginPath();
          ctx.roundRect(x0, y, w, barH, 2);
          ctx.fill();
        } else {
          ctx.fillRect(x0, y, w, barH);
        }
        const gaps = tl.gaps?.get(i);
        if (gaps) {
          // retries: the idle time between attempts is cut out of the bar
          ctx.fillStyle = theme.bg;
          for (let g = 0; g < gaps.length; g += 2) {
            const gx0 = toPx(sc, gaps[g]);
            const gx1 = toPx(sc, gaps[g + 1]);
            if (gx1 - gx0 >= 1) {
              ctx.fillRect(gx0, y - 1, gx1 - gx0, barH + 2);
              this.lastGaps++;
            }
          }
        }
        if (showLabels && w > 30) {
          const label = labelOf(tl, i);
          const tx = Math.max(x0, PAD_X) + 4;
          const avail = Math.min(x1, this.cssW - PAD_X) - tx - 3;
          if (avail > 12) {
            const text = fitText(ctx, label, avail, this.labelWidths);
            if (text) {
              ctx.fillStyle = badgeTextColor(color);
              ctx.fillText(text, tx, y + barH / 2);
            }
          }
        }
      }
    }
    ctx.globalAlpha = 1;
    ctx.restore();
  }

  private ensureRaster(wd: number, hd: number): boolean {
    if (!this.off) {
      this.off = document.createElement("canvas");
      this.offCtx = this.off.getContext("2d");
    }
    if (!this.offCtx) return false;
    if (!this.img || this.img.width !== wd || this.img.height !== hd) {
      this.off.width = wd;
      this.off.height = hd;
      this.img = this.offCtx.createImageData(wd, hd);
      this.pix = new Uint32Array(this.img.data.buffer);
      this.prio = new Uint8Array(wd * hd);
    }
    return true;
  }

  private drawRaster(sc: Scale, now: number, plotW: number): void {
    const { tl, packing, dpr } = this;
    const wd = Math.max(1, Math.round(plotW * dpr));
    const hd = Math.max(1, Math.round(this.plotH * dpr));
    if (!this.ensureRaster(wd, hd)) return;
    const pix = this.pix!;
    const prio = this.prio!;
    pix.fill(0);
    prio.fill(0);
    const rowHd = this.rowH * dpr;
    const gapD = rowHd >= 6 ? Math.min(4 * dpr, rowHd * 0.2) : 0;
    const kd = sc.k * dpr; // device px per ms
    const d0 = sc.d0;
    const minW = Math.max(1, Math.round(MIN_BAR_PX * dpr));
    const pad = this.padMs(sc);
    const packed = this.theme.statePacked;
    const dimmed = this.theme.stateDimmed;
    const prioOf = new Uint8Array(N_STATES);
    for (let s = 0; s < N_STATES; s++) prioOf[s] = statePriority(s);
    const hl = this.hlMode ? tl.highlight : null;
    const start = tl.start;
    const end = tl.end;
    const stateArr = tl.state;
    const rowBars = packing.rowBars;
    const [r0, r1] = this.visibleRows();
    for (let r = r0; r <= r1; r++) {
      const [lo, hi] = rowWindow(packing, tl, r, d0 - pad, sc.d1 + pad, now);
      if (lo >= hi) continue;
      let y0 = Math.floor(r * rowHd + gapD / 2);
      let y1 = Math.floor((r + 1) * rowHd - gapD / 2);
      if (y1 <= y0) y1 = y0 + 1;
      if (y0 >= hd) continue;
      if (y1 > hd) y1 = hd;
      for (let k = lo; k < hi; k++) {
        const i = rowBars[k];
        const s = start[i];
        let e = end[i];
        if (e !== e) e = now;
        if (e < s) e = s;
        let x0 = Math.floor((s - d0) * kd);
        let x1 = Math.ceil((e - d0) * kd);
        if (x1 - x0 < minW) {
          const c = (x0 + x1) >> 1;
          x0 = c - (minW >> 1);
          x1 = x0 + minW;
        }
        if (x0 < 0) x0 = 0;
        if (x1 > wd) x1 = wd;
        if (x1 <= x0) continue;
        const st = stateArr[i];
        let p = prioOf[st];
        let color = packed[st];
        if (hl) {
          if (hl[i]) p += 16;
          else color = dimmed[st];
        }
        for (let y = y0; y < y1; y++) {
          const base = y * wd;
          for (let x = base + x0, xe = base + x1; x < xe; x++) {
            if (prio[x] <= p) {
              prio[x] = p;
              pix[x] = color;
            }
          }
        }
      }
    }
    this.offCtx!.putImageData(this.img!, 0, 0);
    const ctx = this.ctx;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.off!, Math.round(PAD_X * dpr), Math.round(AXIS_H * dpr));
    ctx.restore();
  }

  /** Rect (css px) of bar i, or null if not placed. Min height 6px for visibility. */
  barRect(i: number, now = this.nowOffset()): { x: number; y: number; w: number; h: number } | null {
    if (i < 0 || i >= this.tl.n) return null;
    const r = this.packing.rowOf[i];
    if (r === undefined || r < 0) return null;
    const sc = this.scale;
    let x0 = toPx(sc, this.tl.start[i]);
    let x1 = toPx(sc, effEnd(this.tl, i, now));
    if (x1 - x0 < MIN_BAR_PX) {
      const c = (x0 + x1) / 2;
      x0 = c - MIN_BAR_PX / 2;
      x1 = c + MIN_BAR_PX / 2;
    }
    const rowH = this.rowH;
    const gap = rowH >= 6 ? Math.min(4, rowH * 0.2) : 0;
    let y = AXIS_H + r * rowH + gap / 2;
    let h = rowH - gap;
    if (h < 6) {
      y = y + h / 2 - 3;
      h = 6;
    }
    return { x: x0, y, w: x1 - x0, h };
  }

  private drawOverlays(sc: Scale, now: number): void {
    const { ctx, theme } = this;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, AXIS_H, this.cssW, this.plotH + 4);
    ctx.clip();
    if (this.extent?.open && now >= sc.d0 && now <= sc.d1) {
      const x = Math.round(toPx(sc, now)) + 0.5;
      ctx.strokeStyle = theme.accent;
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H);
      ctx.lineTo(x, AXIS_H + this.plotH);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (this.hover >= 0 && this.hover !== this.selected) {
      const rc = this.barRect(this.hover, now);
      if (rc) {
        ctx.strokeStyle = theme.fg;
        ctx.globalAlpha = 0.6;
        ctx.lineWidth = 1;
        ctx.strokeRect(rc.x - 0.5, rc.y - 0.5, rc.w + 1, rc.h + 1);
        ctx.globalAlpha = 1;
      }
    }
    if (this.selected >= 0) {
      const rc = this.barRect(this.selected, now);
      if (rc) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = theme.bg;
        ctx.strokeRect(rc.x - 3, rc.y - 3, rc.w + 6, rc.h + 6);
        ctx.strokeStyle = theme.fg;
        ctx.strokeRect(rc.x - 1.5, rc.y - 1.5, rc.w + 3, rc.h + 3);
      }
    }
    ctx.restore();
  }

  // ------------------------------------------------------------ interaction

  /** Bar index under a point (css px relative to the canvas), or -1. */
  pick(x: number, y: number): number {
    if (this.packing.rows === 0) return -1;
    if (y < AXIS_H || y > AXIS_H + this.plotH || x < PAD_X - 4 || x > this.cssW - PAD_X + 4) return -1;
    const sc = this.scale;
    const t = toTime(sc, x);
    const tol = sc.k > 0 ? Math.max(MIN_BAR_PX / 2 + 1, 3) / sc.k : 0;
    const rowH = this.rowH;
    const rf = (y - AXIS_H) / rowH;
    const slack = rowH >= 6 ? 0 : 3 / rowH;
    return hitTest(this.packing, this.tl, rf - slack, rf + slack, rf, t, tol, this.nowOffset());
  }

  private bindEvents(): void {
    const c = this.canvas;
    const on = <K extends keyof HTMLElementEventMap>(
      target: HTMLElement,
      type: K,
      fn: (e: HTMLElementEventMap[K]) => void,
      opts?: AddEventListenerOptions,
    ) => {
      target.addEventListener(type, fn as EventListener, opts);
      this.disposers.push(() => target.removeEventListener(type, fn as EventListener, opts));
    };
    const local = (e: MouseEvent) => {
      const r = c.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top] as const;
    };

    on(
      c,
      "wheel",
      (e) => {
        if (this.packing.placed === 0) return;
        e.preventDefault();
        const [x] = local(e);
        const sc = this.scale;
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
        const dx = e.deltaX * unit;
        const dy = e.deltaY * unit;
        let v: [number, number];
        if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) {
          const d = (e.shiftKey ? dy || dx : dx) / (sc.k || 1);
          v = [sc.d0 + d, sc.d1 + d];
        } else {
          const factor = Math.exp(Math.max(-1, Math.min(1, dy * 0.002)));
          v = zoomAt(sc.d0, sc.d1, toTime(sc, x), factor);
        }
        this.view = this.constrain(v[0], v[1]);
        this.hideTooltip();
        this.requestDraw();
      },
      { passive: false },
    );

    on(c, "pointerdown", (e) => {
      if (e.button !== 0) return;
      const [x] = local(e);
      this.drag = { id: e.pointerId, x, v0: this.scale.d0, v1: this.scale.d1, moved: false };
      try {
        c.setPointerCapture(e.pointerId);
      } catch {
        /* synthetic events in tests have no active pointer */
      }
    });

    on(c, "pointermove", (e) => {
      const [x, y] = local(e);
      const d = this.drag;
      if (d && d.id === e.pointerId) {
        const dx = x - d.x;
        if (!d.moved && Math.abs(dx) >= DRAG_THRESHOLD) {
          d.moved = true;
          c.classList.add("pw-dragging");
          this.hideTooltip();
        }
        if (d.moved) {
          const k = this.scale.k || 1;
          this.view = this.constrain(d.v0 - dx / k, d.v1 - dx / k);
          this.requestDraw();
        }
        return;
      }
      const i = this.pick(x, y);
      if (i !== this.hover) {
        this.hover = i;
        this.requestDraw();
      }
      c.style.cursor = i >= 0 ? "pointer" : "";
      if (i >= 0) this.showTooltip(i, x, y);
      else this.hideTooltip();
    });

    const endDrag = (e: PointerEvent, cancelled: boolean) => {
      const d = this.drag;
      if (!d || d.id !== e.pointerId) return;
      this.drag = null;
      c.classList.remove("pw-dragging");
      try {
        c.releasePointerCapture(e.pointerId);
      } catch {
        /* ignore */
      }
      if (!d.moved && !cancelled) {
        const [x, y] = local(e);
        const i = this.pick(x, y);
        this.selected = i;
        this.requestDraw();
        this.opts.onSelect(i);
      }
    };
    on(c, "pointerup", (e) => endDrag(e, false));
    on(c, "pointercancel", (e) => endDrag(e, true));
    on(c, "pointerleave", () => {
      if (this.hover !== -1) {
        this.hover = -1;
        this.requestDraw();
      }
      this.hideTooltip();
    });
    on(c, "dblclick", (e) => {
      e.preventDefault();
      this.resetView();
    });
    on(c, "keydown", (e) => {
      const sc = this.scale;
      const span = sc.d1 - sc.d0;
      let v: [number, number] | null = null;
      if (e.key === "ArrowLeft") v = [sc.d0 - span * 0.1, sc.d1 - span * 0.1];
      else if (e.key === "ArrowRight") v = [sc.d0 + span * 0.1, sc.d1 + span * 0.1];
      else if (e.key === "+" || e.key === "=") v = zoomAt(sc.d0, sc.d1, (sc.d0 + sc.d1) / 2, 0.8);
      else if (e.key === "-" || e.key === "_") v = zoomAt(sc.d0, sc.d1, (sc.d0 + sc.d1) / 2, 1.25);
      else if (e.key === "0") {
        this.resetView();
        e.preventDefault();
        return;
      } else if (e.key === "Escape" && this.selected >= 0) {
        this.selected = -1;
        this.requestDraw();
        this.opts.onSelect(-1);
        e.preventDefault();
        return;
      }
      if (v) {
        e.preventDefault();
        this.view = this.constrain(v[0], v[1]);
        this.requestDraw();
      }
    });
  }

  private showTooltip(i: number, x: number, y: number): void {
    const tl = this.tl;
    const tt = this.tooltip;
    const s = tl.start[i];
    const e = tl.end[i];
    const abs = (o: number) => o + tl.t0;
    const lines: Array<[string, string]> = [
      ["State", stateLabel(tl.state[i])],
      ["Start", s === s ? formatDateTime(abs(s), tzOffsetMin(abs(s))) : "—"],
      ["End", e === e ? formatDateTime(abs(e), tzOffsetMin(abs(e))) : "running"],
      ["Duration", s === s ? formatDuration((e === e ? e : this.nowOffset()) - s) : "—"],
      ["Retries", String(Math.max(0, tl.runCount[i] - 1))],
    ];
    tt.replaceChildren();
    const title = document.createElement("div");
    title.className = "pw-tooltip-title";
    const dot = document.createElement("span");
    dot.className = "pw-dot";
    dot.style.background = this.barColor(i);
    const name = document.createElement("span");
    name.textContent = labelOf(tl, i);
    title.append(dot, name);
    tt.append(title);
    for (const [k, v] of lines) {
      const row = document.createElement("div");
      row.className = "pw-tooltip-row";
      const kk = document.createElement("span");
      kk.className = "pw-tooltip-key";
      kk.textContent = k;
      const vv = document.createElement("span");
      vv.textContent = v;
      row.append(kk, vv);
      tt.append(row);
    }
    tt.hidden = false;
    const w = tt.offsetWidth;
    const h = tt.offsetHeight;
    let left = x + 14;
    if (left + w > this.cssW) left = Math.max(0, x - w - 14);
    let top = y + 14;
    if (top + h > this.cssH) top = Math.max(0, y - h - 10);
    tt.style.left = `${left}px`;
    tt.style.top = `${top}px`;
  }

  hideTooltip(): void {
    this.tooltip.hidden = true;
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    for (const d of this.disposers.splice(0)) d();
    this.root.remove();
    this.off = null;
    this.img = null;
    this.pix = null;
    this.prio = null;
  }
}

/** Longest prefix of `text` (with ellipsis) that fits in `maxW` px; "" if nothing fits. */
function fitText(ctx: CanvasRenderingContext2D, text: string, maxW: number, cache: Map<string, number>): string {
  let full = cache.get(text);
  if (full === undefined) {
    full = ctx.measureText(text).width;
    if (cache.size > 5000) cache.clear();
    cache.set(text, full);
  }
  if (full <= maxW) return text;
  // estimate from the average glyph width, then correct with a few measurements
  let k = Math.floor((text.length * maxW) / full) - 1;
  while (k >= 2 && ctx.measureText(text.slice(0, k) + "…").width > maxW) k--;
  return k >= 2 ? text.slice(0, k) + "…" : "";
}
