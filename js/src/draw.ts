/**
 * Canvas drawing of the Gantt timeline: the time axis, the task groups' bands, the bars,
 * their labels and the overlays (now line, hover and selection outlines). Stateless
 * functions over a `Frame` (what one frame draws), plus the `Raster` resources of the
 * dense drawing path. The plot spans x ∈ [left, cssW − PAD_X] (the label gutter is left
 * of it); row r spans y ∈ AXIS_H + [r, r + 1) × rowH in either row layout.
 *   - vector (few visible bars, rows ≥ 3px): fillRect per bar, labels cropped to their
 *     bar (never on a collapsed group's summary row, where bars may overlap);
 *   - raster (many bars or sub-pixel rows): bars are rasterised into an
 *     ImageData at device resolution with a per-pixel state priority, so cost
 *     is bounded by the pixel area instead of the bar count and dense data
 *     collapses gracefully (a failed bar wins over completed ones sharing its
 *     pixel).
 */
import { Timeline, labelOf } from "./decode";
import { barLabel, Layout } from "./layout";
import { effEnd, rowWindow } from "./hittest";
import { chooseStep, formatTick, Scale, ticks, toPx } from "./scale";
import { badgeTextColor, statePriority, N_STATES } from "./states";
import { drawBarMark, drawUnfinishedMark, neverFinished } from "./patterns";
import { drawNestingRails, drawSubflowBar, GLYPH_PX } from "./subflows";
import type { Theme } from "./theme";

export const AXIS_H = 24; // css px
export const PAD_X = 8;
export const MAX_ROW_H = 22;
export const MIN_PLOT_H = 44;
export const MAX_PLOT_H = 420;
export const MIN_BAR_PX = 2; // minimum visible bar width (css px)
export const VECTOR_MAX_BARS = 3000;

/** Where things are on the canvas (css px): enough to place a bar or find one. */
export interface Geometry {
  tl: Timeline;
  packing: Layout;
  sc: Scale;
  /** left edge of the plot (css px): the gutter's width + PAD_X */
  left: number;
  rowH: number;
  plotH: number;
  cssW: number;
  cssH: number;
}

/** Everything one frame draws from. */
export interface Frame extends Geometry {
  ctx: CanvasRenderingContext2D;
  theme: Theme;
  now: number;
  dpr: number;
  /** some bars are highlighted (critical path): the others are dimmed */
  hlMode: boolean;
  /** search matches (search.ts), 1 per hit: the other bars are dimmed; absent/null = no search */
  match?: Uint8Array | null;
  /** subflow rows shown expanded (their bars carry ▾, the others ▸: subflows.ts) */
  expanded?: ReadonlySet<number> | null;
  /** the run is finished and `now` is its end: open bars not in a final state are marked */
  unfinished?: boolean;
}

export function tzOffsetMin(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

export function barColor(theme: Theme, tl: Timeline, i: number): string {
  return theme.stateColors[tl.state[i]] ?? theme.muted;
}

function padMs(sc: Scale): number {
  return sc.k > 0 ? MIN_BAR_PX / sc.k : 0;
}

/** Bar i's x extent (css px), widened to MIN_BAR_PX around its middle when shorter. */
function barX(g: Geometry, i: number, now: number): [number, number] {
  const x0 = toPx(g.sc, g.tl.start[i]);
  const x1 = toPx(g.sc, effEnd(g.tl, i, now));
  if (x1 - x0 >= MIN_BAR_PX) return [x0, x1];
  const c = (x0 + x1) / 2;
  return [c - MIN_BAR_PX / 2, c + MIN_BAR_PX / 2];
}

/** The gap between rows (css px) for a row height. */
function rowGap(rowH: number): number {
  return rowH >= 6 ? Math.min(4, rowH * 0.2) : 0;
}

/** The visible [lo, hi) slice of row r's bars (in packing.rowBars). */
function visibleBars(g: Geometry, r: number, now: number): [number, number] {
  const pad = padMs(g.sc);
  return rowWindow(g.packing, g.tl, r, g.sc.d0 - pad, g.sc.d1 + pad, now);
}

/** Bars in view (all rows). */
export function countVisible(g: Geometry, now: number): number {
  let total = 0;
  for (let r = 0; r < g.packing.rows; r++) {
    const [lo, hi] = visibleBars(g, r, now);
    total += hi - lo;
  }
  return total;
}

/** Rect (css px) of bar i, or null if not placed. Min height 6px for visibility. */
export function barRect(g: Geometry, i: number, now: number): { x: number; y: number; w: number; h: number } | null {
  if (i < 0 || i >= g.tl.n) return null;
  const r = g.packing.rowOf[i];
  if (r === undefined || r < 0) return null;
  const [x0, x1] = barX(g, i, now);
  const gap = rowGap(g.rowH);
  let y = AXIS_H + r * g.rowH + gap / 2;
  let h = g.rowH - gap;
  if (h < 6) {
    y = y + h / 2 - 3;
    h = 6;
  }
  return { x: x0, y, w: x1 - x0, h };
}

export function drawAxis(f: Frame, plotW: number): void {
  const { ctx, theme, tl, sc } = f;
  const step = chooseStep(sc.d1 - sc.d0, plotW, 90);
  const a = sc.d0 + tl.t0;
  const ts = ticks(a, sc.d1 + tl.t0, step, tzOffsetMin(a));
  ctx.font = `${Math.max(9, theme.fontSize - 2)}px ${theme.font}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  ctx.lineWidth = 1;
  ctx.strokeStyle = theme.grid;
  ctx.beginPath();
  for (const t of ts) {
    const x = Math.round(toPx(sc, t - tl.t0)) + 0.5;
    ctx.moveTo(x, AXIS_H - 4);
    ctx.lineTo(x, AXIS_H + f.plotH);
  }
  ctx.stroke();
  ctx.strokeStyle = theme.border;
  ctx.beginPath();
  ctx.moveTo(f.left - PAD_X, AXIS_H + 0.5);
  ctx.lineTo(f.cssW, AXIS_H + 0.5);
  ctx.stroke();
  ctx.fillStyle = theme.muted;
  for (const t of ts) {
    const label = formatTick(t, step, tzOffsetMin(t));
    const half = ctx.measureText(label).width / 2 + 2;
    // keep edge labels whole instead of cutting them at the canvas border
    const x = Math.min(Math.max(toPx(sc, t - tl.t0), f.left - PAD_X + half), f.cssW - half);
    ctx.fillText(label, x, AXIS_H / 2);
  }
}

/** The centred message of an empty plot. */
export function drawMessage(f: Frame, msg: string): void {
  const { ctx, theme } = f;
  ctx.fillStyle = theme.muted;
  ctx.font = `${theme.fontSize}px ${theme.font}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(msg, f.cssW / 2, AXIS_H + f.plotH / 2);
}

/**
 * Grouped layout: every other task group on a faint band, a rule between groups, across
 * the gutter and the plot, so a group's lanes read as one track.
 */
export function drawGroups(f: Frame): void {
  const { ctx, theme, packing, rowH } = f;
  if (packing.mode !== "grouped" || !packing.groups.length) return;
  ctx.save();
  ctx.fillStyle = theme.grid;
  ctx.globalAlpha = 0.35;
  packing.groups.forEach((g, j) => {
    if (j % 2 === 1) ctx.fillRect(0, AXIS_H + g.firstRow * rowH, f.cssW, g.lanes * rowH);
  });
  ctx.globalAlpha = 1;
  drawNestingRails(ctx, packing.groups, AXIS_H, rowH, theme.accent); // groups inside expanded subflows
  if (rowH * 2 >= 3) {
    ctx.strokeStyle = theme.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const g of packing.groups) {
      if (g.firstRow === 0) continue;
      const y = Math.round(AXIS_H + g.firstRow * rowH) + 0.5;
      ctx.moveTo(0, y);
      ctx.lineTo(f.cssW, y);
    }
    ctx.stroke();
  }
  ctx.restore();
}

/** Average glyph width of the label font, measured once per font (for `cropLabel`). */
export class CharWidth {
  font = "";
  px = 0;

  use(ctx: CanvasRenderingContext2D, font: string): number {
    if (font !== this.font) {
      this.font = font;
      ctx.font = font;
      // a spread of the glyphs task names are made of, rounded up a little so a cut label stays inside its bar
      this.px = (ctx.measureText(LABEL_SAMPLE).width / LABEL_SAMPLE.length) * 1.08;
    }
    return this.px;
  }
}

const LABEL_SAMPLE = "abcdefghijklmnopqrstuvwxyz_0123456789[]-ETL";

/** Bars one by one, with labels where they fit. Returns the attempt gaps cut out. */
export function drawVector(f: Frame, charWidth: CharWidth): number {
  const { ctx, tl, packing, theme, rowH, now } = f;
  const gap = rowGap(rowH);
  const barH = rowH - gap;
  const labelFont = `${Math.max(9, Math.min(theme.fontSize - 2, barH - 4))}px ${theme.font}`;
  const showLabels = barH >= 12;
  let gapsCut = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(f.left, AXIS_H, f.cssW - f.left - PAD_X, f.plotH);
  ctx.clip();
  const charPx = charWidth.use(ctx, labelFont);
  ctx.font = labelFont;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  const groups = packing.groups;
  const grouped = packing.mode === "grouped";
  for (let r = 0; r < packing.rows; r++) {
    const [lo, hi] = visibleBars(f, r, now);
    const y = AXIS_H + r * rowH + gap / 2;
    const labelled = showLabels && !(packing.rowGroup && groups[packing.rowGroup[r]].collapsed);
    for (let k = lo; k < hi; k++) {
      const i = packing.rowBars[k];
      const [x0, x1] = barX(f, i, now);
      const dim = (f.hlMode && !tl.highlight![i]) || (!!f.match && !f.match[i]);
      ctx.globalAlpha = dim ? 0.3 : 1;
      const color = barColor(theme, tl, i);
      ctx.fillStyle = color;
      const w = x1 - x0;
      if (w >= 6 && barH >= 6 && typeof ctx.roundRect === "function") {
        ctx.beginPath();
        ctx.roundRect(x0, y, w, barH, 2);
        ctx.fill();
      } else {
        ctx.fillRect(x0, y, w, barH);
      }
      drawBarMark(ctx, tl.state[i], x0, y, w, barH, color); // hatch / dashed: states sharing a hue
      if (f.unfinished && neverFinished(tl.state[i], tl.end[i])) drawUnfinishedMark(ctx, x0, y, w, barH, color);
      const subflow = !!tl.kind && tl.kind[i] === 1;
      if (subflow) drawSubflowBar(ctx, x0, y, w, barH, color, theme.bg, !!f.expanded?.has(i));
      const gaps = tl.gaps?.get(i);
      if (gaps) {
        // retries: the idle time between attempts is cut out of the bar
        ctx.fillStyle = theme.bg;
        for (let g = 0; g < gaps.length; g += 2) {
          const gx0 = toPx(f.sc, gaps[g]);
          const gx1 = toPx(f.sc, gaps[g + 1]);
          if (gx1 - gx0 >= 1) {
            ctx.fillRect(gx0, y - 1, gx1 - gx0, barH + 2);
            gapsCut++;
          }
        }
      }
      if (labelled && w > 30) {
        const tx = Math.max(x0, f.left) + 4 + (subflow ? GLYPH_PX : 0);
        const avail = Math.min(x1, f.cssW - PAD_X) - tx - 3;
        if (avail > 12) {
          const text = barLabel(labelOf(tl, i), tl.mapIndex[i], grouped, avail, charPx);
          if (text) {
            ctx.fillStyle = subflow ? theme.fg : badgeTextColor(color); // a subflow's body is light
            ctx.fillText(text, tx, y + barH / 2);
          }
        }
      }
    }
  }
  ctx.globalAlpha = 1;
  ctx.restore();
  return gapsCut;
}

/** The offscreen image of the raster path, kept between frames. */
export class Raster {
  private off: HTMLCanvasElement | null = null;
  private offCtx: CanvasRenderingContext2D | null = null;
  private img: ImageData | null = null;
  private pix: Uint32Array | null = null;
  private prio: Uint8Array | null = null;

  private ensure(wd: number, hd: number): boolean {
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

  draw(f: Frame, plotW: number): void {
    const { tl, packing, dpr, sc, now } = f;
    const wd = Math.max(1, Math.round(plotW * dpr));
    const hd = Math.max(1, Math.round(f.plotH * dpr));
    if (!this.ensure(wd, hd)) return;
    const pix = this.pix!;
    const prio = this.prio!;
    pix.fill(0);
    prio.fill(0);
    const rowHd = f.rowH * dpr;
    const gapD = rowHd >= 6 ? Math.min(4 * dpr, rowHd * 0.2) : 0;
    const kd = sc.k * dpr; // device px per ms
    const d0 = sc.d0;
    const minW = Math.max(1, Math.round(MIN_BAR_PX * dpr));
    const packed = f.theme.statePacked;
    const dimmed = f.theme.stateDimmed;
    const prioOf = new Uint8Array(N_STATES);
    for (let s = 0; s < N_STATES; s++) prioOf[s] = statePriority(s);
    const hl = f.hlMode ? tl.highlight : null;
    const match = f.match ?? null;
    const start = tl.start;
    const end = tl.end;
    const stateArr = tl.state;
    const rowBars = packing.rowBars;
    for (let r = 0; r < packing.rows; r++) {
      const [lo, hi] = visibleBars(f, r, now);
      if (lo >= hi) continue;
      const y0 = Math.floor(r * rowHd + gapD / 2);
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
        if (match) {
          if (match[i]) p += 32;
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
    const ctx = f.ctx;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.off!, Math.round(f.left * dpr), Math.round(AXIS_H * dpr));
    ctx.restore();
  }

  dispose(): void {
    this.off = null;
    this.img = null;
    this.pix = null;
    this.prio = null;
  }
}

/** The now line (when bars are open), the hovered bar's and the selected bar's outlines. */
export function drawOverlays(f: Frame, showNow: boolean, hover: number, selected: number): void {
  const { ctx, theme, sc, now } = f;
  ctx.save();
  ctx.beginPath();
  ctx.rect(f.left - PAD_X, AXIS_H, f.cssW - f.left + PAD_X, f.plotH + 4);
  ctx.clip();
  if (showNow && now >= sc.d0 && now <= sc.d1) {
    const x = Math.round(toPx(sc, now)) + 0.5;
    ctx.strokeStyle = theme.accent;
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, AXIS_H);
    ctx.lineTo(x, AXIS_H + f.plotH);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (hover >= 0 && hover !== selected) {
    const rc = barRect(f, hover, now);
    if (rc) {
      ctx.strokeStyle = theme.fg;
      ctx.globalAlpha = 0.6;
      ctx.lineWidth = 1;
      ctx.strokeRect(rc.x - 0.5, rc.y - 0.5, rc.w + 1, rc.h + 1);
      ctx.globalAlpha = 1;
    }
  }
  if (selected >= 0) {
    const rc = barRect(f, selected, now);
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
