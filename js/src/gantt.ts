/**
 * Canvas 2D Gantt timeline: the class that holds the widget's timeline state (data,
 * filter, row layout, view, hover, selection, canvas size) and wires drawing (`draw.ts`:
 * axis, group bands, bars, labels, overlays; vector or raster path) to interaction
 * (`interaction.ts`: zoom/pan, hover tooltip, click selection). It also owns the DOM
 * around the canvas: the toolbar with the row-layout picker and the label gutter (one
 * button per task group: name, run count, click to collapse).
 */
import { Timeline, emptyTimeline } from "./decode";
import { chooseLayout, EMPTY_LAYOUT, Fit, groupLabel, Layout, LayoutMode, layoutMode } from "./layout";
import { clampView, fitView, makeScale, Scale } from "./scale";
import type { Theme } from "./theme";
import {
  AXIS_H,
  barColor,
  CharWidth,
  barRect,
  countVisible,
  drawAxis,
  drawGroups,
  drawMessage,
  drawOverlays,
  drawVector,
  Frame,
  Geometry,
  MAX_PLOT_H,
  MAX_ROW_H,
  MIN_PLOT_H,
  PAD_X,
  Raster,
  VECTOR_MAX_BARS,
} from "./draw";
import { bindInteraction, hideTooltip, InteractionHost, pickBar } from "./interaction";
import { EdgeLayer } from "./edges";
import { CLOSED_GLYPH, expandedOf, INDENT_PX, isSubflowRow, OPEN_GLYPH } from "./subflows";

export { AXIS_H, MAX_PLOT_H, MAX_ROW_H, MIN_BAR_PX, MIN_PLOT_H, PAD_X, VECTOR_MAX_BARS } from "./draw";

/** A group shorter than this (css px) gets no gutter label; "auto" avoids such layouts. */
export const MIN_LABEL_PX = 14;
const FIT: Fit = { maxPlotH: MAX_PLOT_H, maxRowH: MAX_ROW_H, minLabelPx: MIN_LABEL_PX };
/** Label gutter width bounds (css px) and its share of the widget's width at most. */
const GUTTER_MIN = 72;
const GUTTER_MAX = 240;
const GUTTER_SHARE = 0.3;
const LAYOUT_NAMES: Record<LayoutMode, string> = { auto: "Auto", grouped: "Grouped by task", packed: "Packed" };

const plural = (n: number, noun: string) => `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;

/** The part of an anywidget model `bindLayoutTrait` uses. */
export interface LayoutModel {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: () => void): void;
  off(event: string, cb: () => void): void;
}

/** Keep the Gantt's row layout and the model's `row_layout` trait in step; returns the unbinder. */
export function bindLayoutTrait(model: LayoutModel, gantt: Gantt): () => void {
  const follow = () => gantt.setLayoutMode(layoutMode(model.get("row_layout")));
  follow();
  model.on("change:row_layout", follow);
  gantt.onLayoutPick = (mode) => {
    model.set("row_layout", mode);
    model.save_changes();
  };
  return () => {
    model.off("change:row_layout", follow);
    gantt.onLayoutPick = null;
  };
}

export interface GanttOptions {
  onSelect: (index: number) => void;
  /** called after each frame with stats */
  onFrame?: (bars: number, ms: number, gaps: number) => void;
  /** a subflow row was expanded or collapsed here (the kernel reads its child run) */
  onSubflow?: (row: number, expand: boolean) => void;
}

export class Gantt implements InteractionHost {
  readonly root: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  readonly tooltip: HTMLDivElement;
  /** the row-layout picker and what it resolved to */
  readonly layoutSelect: HTMLSelectElement;
  private layoutNote: HTMLSpanElement;
  /** group labels at the left of the plot (grouped layout) */
  readonly gutter: HTMLDivElement;
  /** called when the user picks a row layout (the model's trait follows) */
  onLayoutPick: ((mode: LayoutMode) => void) | null = null;
  private ctx: CanvasRenderingContext2D;
  private opts: GanttOptions;

  tl: Timeline = emptyTimeline();
  packing: Layout = EMPTY_LAYOUT;
  private mode: LayoutMode = "auto";
  /** task names drawn as one summary row */
  private collapsed = new Set<string>();
  /** subflow rows shown expanded (`subflows.ts`): from the timeline, then toggled here */
  private expanded = new Set<number>();
  /** widest gutter label (css px) of the current layout, before clamping */
  private gutterWanted = 0;
  private gutterW = 0;
  private gutterKey = "";
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
  /** the finished run's end (epoch ms): open bars stop there; null while it goes on */
  private closedMs: number | null = null;
  /** open bars of the finished run are marked as never finished */
  private markOpen = false;
  private hlMode = false;
  /** search matches (search.ts), 1 per hit: the other bars are dimmed; null = no search */
  private match: Uint8Array | null = null;

  private cssW = 0;
  private cssH = 0;
  private dpr = 1;
  private rowH = MAX_ROW_H;
  private plotH = MIN_PLOT_H;
  private scale: Scale = makeScale(0, 1, 0, 1);

  private raster = new Raster();
  /** dependency edges (edges.ts), drawn after the bars */
  private edgeLayer = new EdgeLayer();
  private charWidth = new CharWidth();
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
    this.gutter = document.createElement("div");
    this.gutter.className = "pw-gutter";
    this.gutter.setAttribute("role", "group");
    this.gutter.setAttribute("aria-label", "Task groups: click one to collapse or expand it");
    this.gutter.hidden = true;
    const bar = document.createElement("div");
    bar.className = "pw-gantt-bar";
    const label = document.createElement("label");
    label.className = "pw-layout-label";
    label.textContent = "Rows ";
    this.layoutSelect = document.createElement("select");
    this.layoutSelect.className = "pw-layout";
    for (const [value, text] of Object.entries(LAYOUT_NAMES)) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      this.layoutSelect.append(option);
    }
    this.layoutSelect.addEventListener("change", () => {
      const mode = layoutMode(this.layoutSelect.value);
      this.setLayoutMode(mode);
      this.onLayoutPick?.(mode);
    });
    label.append(this.layoutSelect);
    this.layoutNote = document.createElement("span");
    this.layoutNote.className = "pw-layout-note";
    bar.append(label, this.layoutNote);
    const plot = document.createElement("div");
    plot.className = "pw-plot";
    plot.append(this.canvas, this.gutter, this.tooltip);
    this.root.append(bar, plot);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("Canvas 2D is not available");
    this.ctx = ctx;
    this.unbind = bindInteraction(this);
  }

  // ------------------------------------------------------------ data

  setTimeline(tl: Timeline): void {
    this.tl = tl;
    this.expanded = expandedOf(tl);
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

  /** Row layout: "auto" (grouped where readable, else packed), "grouped" or "packed". */
  setLayoutMode(mode: LayoutMode): void {
    this.layoutSelect.value = mode;
    if (mode === this.mode) return;
    this.mode = mode;
    this.invalidateData();
  }

  /** Collapse (or expand) the group of task `name` into one summary row. */
  toggleGroup(name: string): void {
    if (!this.collapsed.delete(name)) this.collapsed.add(name);
    this.invalidateData();
  }

  /** Whether subflow row i is shown expanded. */
  isExpanded(i: number): boolean {
    return this.expanded.has(i);
  }

  /** Expand (or collapse) subflow row i here at once, and tell the kernel; false when i is not a subflow row. */
  toggleSubflow(i: number, expand = !this.expanded.has(i)): boolean {
    if (!isSubflowRow(this.tl, i)) return false;
    if (expand === this.expanded.has(i)) return true;
    if (expand) this.expanded.add(i);
    else this.expanded.delete(i);
    this.invalidateData();
    this.opts.onSubflow?.(i, expand);
    return true;
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.gutterWanted = this.measureGutter(); // the label font may have changed
    this.gutterKey = "";
    this.requestDraw();
  }

  setSelected(i: number): void {
    const v = Number.isInteger(i) && i >= 0 && i < this.tl.n ? i : -1;
    if (v === this.selected) return;
    this.selected = v;
    this.requestDraw();
  }

  /** The row layout of the current data and filter (repacked first when stale). */
  layoutNow(): Layout {
    if (this.needPack) this.repack();
    return this.packing;
  }

  /** Dim the bars that are not search matches (`mask` 1 per hit, length ≥ n); null: none dimmed. */
  setMatch(mask: Uint8Array | null): void {
    this.match = mask;
    this.requestDraw();
  }

  /** Pan (zooming out if need be) so that bar i lies inside the view. */
  revealBar(i: number): void {
    if (i < 0 || i >= this.tl.n || this.tl.start[i] !== this.tl.start[i]) return;
    const s = this.tl.start[i];
    const e = Math.max(s, this.tl.end[i] === this.tl.end[i] ? this.tl.end[i] : this.nowOffset());
    const [d0, d1] = [this.scale.d0, this.scale.d1];
    if (s >= d0 && e <= d1) return;
    const span = Math.max(d1 - d0, (e - s) * 1.2);
    const mid = (s + e) / 2;
    this.setView(mid - span / 2, mid + span / 2);
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

  /** Whether something on screen changes with wall-clock time (open bars of a run going on). */
  hasOpenBars(): boolean {
    return !!this.extent?.open && this.closedMs == null;
  }

  /**
   * The run finished at `endMs` (util.ts `closedAt`; null: it goes on): bars with no end stop
   * there instead of growing to "now", and with `markOpen` (the header's `unfinished` > 0)
   * they are drawn as never finished (patterns.ts `drawUnfinishedMark`).
   */
  setRunEnd(endMs: number | null, markOpen = false): void {
    const end = endMs != null && Number.isFinite(endMs) ? endMs : null;
    const mark = end != null && markOpen;
    if (end === this.closedMs && mark === this.markOpen) return;
    this.closedMs = end;
    this.markOpen = mark;
    this.root.dataset.closed = end == null ? "" : String(end);
    this.requestDraw();
  }

  /** "now" in ms after t0: the run's end once it finished, else the clock. */
  nowOffset(): number {
    return (this.closedMs ?? Date.now()) - this.tl.t0;
  }

  private repack(): void {
    const tl = this.tl;
    let mask: Uint8Array | null = null;
    if (this.filter) {
      mask = new Uint8Array(tl.n);
      for (let i = 0; i < tl.n; i++) mask[i] = this.filter.has(tl.state[i]) ? 1 : 0;
    }
    const shut = new Set<number>();
    tl.keys.forEach((name, k) => {
      if (this.collapsed.has(name)) shut.add(k);
    });
    this.packing = chooseLayout(this.mode, tl, mask, shut, FIT, this.expanded);
    this.gutterWanted = this.measureGutter();
    this.showLayout();
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
    this.gutterKey = "";
  }

  /** Widest gutter label of the current layout (css px), 0 when packed. */
  private measureGutter(): number {
    const groups = this.packing.groups;
    if (!groups.length) return 0;
    const ctx = this.ctx;
    ctx.font = `${this.theme.fontSize}px ${this.theme.font}`;
    let widest = 0;
    for (const g of groups) {
      const { name, count } = groupLabel(this.groupName(g.key), g);
      widest = Math.max(widest, ctx.measureText(`▾ ${name} ${count}`).width + g.depth * INDENT_PX);
    }
    return widest + 28; // padding, the glyph's box and the gaps around it
  }

  private groupName(key: number): string {
    return key >= 0 && key < this.tl.keys.length ? this.tl.keys[key] : "task";
  }

  /** The toolbar's account of the layout drawn, and the root's data attributes. */
  private showLayout(): void {
    const p = this.packing;
    const groups = p.groups.length;
    let note: string;
    if (p.mode === "grouped") note = `${plural(groups, "task")}, ${plural(p.rows, "lane")}`;
    else note = plural(p.rows, "row") + (p.reason ? ` (not grouped: ${p.reason})` : "");
    this.layoutNote.textContent = p.placed ? note : "";
    this.root.dataset.layout = p.mode;
    this.root.dataset.layoutMode = this.mode;
    this.root.dataset.groups = String(groups);
  }

  /** One button per group tall enough to label, placed over its rows. */
  private renderGutter(): void {
    const p = this.packing;
    const key = `${this.tl.keys.length}|${this.rowH}|${this.gutterW}|${this.plotH}`;
    if (this.gutterKey === key) return;
    this.gutterKey = key;
    this.gutter.hidden = !this.gutterW;
    this.gutter.style.width = `${this.gutterW}px`;
    this.gutter.style.height = `${this.plotH}px`;
    this.gutter.style.top = `${AXIS_H}px`;
    const buttons: HTMLButtonElement[] = [];
    for (const g of p.groups) {
      const h = g.lanes * this.rowH;
      if (h < MIN_LABEL_PX) continue;
      const name = this.groupName(g.key);
      const text = groupLabel(name, g);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "pw-group";
      b.dataset.name = name;
      b.dataset.count = String(g.count);
      b.dataset.lanes = String(g.lanes);
      // a subflow group's button expands its subflow runs inline; another's folds its lanes
      const open = g.subflow ? g.subflowRows.some((i) => this.expanded.has(i)) : !g.collapsed;
      b.setAttribute("aria-expanded", open ? "true" : "false");
      b.dataset.depth = String(g.depth);
      if (g.subflow) b.classList.add("pw-group-subflow");
      const runs = `${g.count.toLocaleString("en-US")} ${g.subflow ? "subflow" : "task"} run${g.count === 1 ? "" : "s"}`;
      const action = g.subflow ? (open ? "hide its task runs" : "show its task runs nested") : g.collapsed ? "expand" : "collapse";
      b.title = `${text.name}: ${runs} — click to ${action}`;
      b.style.top = `${g.firstRow * this.rowH}px`;
      b.style.height = `${h}px`;
      b.style.paddingTop = `${Math.max(0, (Math.min(h, MAX_ROW_H) - MIN_LABEL_PX) / 2)}px`;
      if (g.depth) b.style.paddingLeft = `${4 + g.depth * INDENT_PX}px`;
      const glyph = document.createElement("span");
      glyph.className = "pw-group-glyph";
      glyph.textContent = open ? OPEN_GLYPH : CLOSED_GLYPH;
      glyph.setAttribute("aria-hidden", "true");
      const nameEl = document.createElement("span");
      nameEl.className = "pw-group-name";
      nameEl.textContent = text.name;
      const countEl = document.createElement("span");
      countEl.className = "pw-group-count";
      countEl.textContent = text.count;
      b.append(glyph, nameEl, countEl);
      if (g.subflow) b.addEventListener("click", () => g.subflowRows.forEach((i) => this.toggleSubflow(i, !open)));
      else b.addEventListener("click", () => this.toggleGroup(name));
      buttons.push(b);
    }
    this.gutter.replaceChildren(...buttons);
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
    const wanted = this.gutterWanted;
    this.gutterW = wanted ? Math.round(Math.min(Math.max(wanted, GUTTER_MIN), GUTTER_MAX, w * GUTTER_SHARE)) : 0;
    return true;
  }

  geometry(): Geometry {
    const { tl, packing, scale: sc, rowH, plotH, cssW, cssH } = this;
    return { tl, packing, sc, rowH, plotH, cssW, cssH, left: this.gutterW + PAD_X };
  }

  drawNow(): boolean {
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    const t_start = performance.now();
    if (this.needPack) this.repack();
    if (!this.layout()) return false;
    this.renderGutter();
    const { ctx, dpr, cssW, tl } = this;
    const now = this.nowOffset();
    const left = this.gutterW + PAD_X;
    const plotW = Math.max(1, cssW - left - PAD_X);

    const ext = this.dataExtent(now);
    let v: [number, number];
    if (this.view) v = this.view;
    else v = ext ? fitView(ext[0], ext[1], 10) : [0, 60_000];
    this.scale = makeScale(v[0], v[1], left, left + plotW);
    const f: Frame = { ...this.geometry(), ctx, theme: this.theme, now, dpr, hlMode: this.hlMode, match: this.match, expanded: this.expanded, unfinished: this.markOpen };

    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, this.cssH);
    drawGroups(f);
    drawAxis(f, plotW);

    let bars = 0;
    this.lastGaps = 0;
    if (this.packing.placed > 0) {
      bars = countVisible(f, now);
      if (bars <= VECTOR_MAX_BARS && this.rowH >= 3) this.lastGaps = drawVector(f, this.charWidth);
      else this.raster.draw(f, plotW);
      const edgeFrame = { ctx, tl, theme: this.theme, hlMode: this.hlMode, match: this.match, plot: { x: left, y: AXIS_H, w: plotW, h: this.plotH }, barRect: (i: number) => barRect(f, i, now) };
      this.root.dataset.edgesDrawn = String(this.edgeLayer.draw(edgeFrame, this.hover >= 0 ? this.hover : this.selected));
      drawOverlays(f, this.hasOpenBars(), this.hover, this.selected);
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
