/**
 * Dependency edges of the timeline (`timeline.edge_*`, decoded in `decode.ts`).
 *
 * What is drawn, after the bars, for a frame:
 *   - a focused task run (hovered, else selected): its upstream and downstream lineage,
 *     i.e. every edge on a path into or out of it; the other bars are dimmed under a veil;
 *   - else the whole run's edges when the mode allows it ("all", or "auto" with at most
 *     `AUTO_MAX_EDGES` edges, Prefect's own gate);
 *   - else, when the critical path is shown, the critical path's edges.
 * An edge is a cubic bezier from the upstream bar's end to the downstream bar's start,
 * with an arrowhead when it is long enough; inferred edges (flag 1) are dashed and edges
 * on the critical path (flag 2) drawn thicker. At most `MAX_DRAWN_EDGES` edges in view
 * are drawn a frame (of more than `AUTO_MAX_EDGES` candidates, none shorter than 2 px). Bar rectangles come from the caller (the
 * layout's `rowOf` and the time scale), so any row layout works. Edges are gathered per
 * style and stroked as one path each (a frame of 5,000 edges is a few strokes).
 */
import { labelOf, Timeline } from "./decode";
import { badgeTextColor } from "./states";
import type { Theme } from "./theme";

export type EdgeMode = "auto" | "all" | "selection" | "off";
export const EDGE_MODES: readonly EdgeMode[] = ["auto", "all", "selection", "off"];
/** `edge_flags` bits */
export const EDGE_INFERRED = 1;
export const EDGE_CRITICAL = 2;
/** "auto" draws the whole run's edges up to this many (Prefect's run graph gates at 500) */
export const AUTO_MAX_EDGES = 500;
/** at most this many edges are drawn in one frame (a lineage's nearest first) */
export const MAX_DRAWN_EDGES = 500;
/** no arrowhead on an edge shorter than this (css px) */
export const ARROW_MIN_PX = 14;
/** a lineage of more task runs than this is not redrawn over a veil (its edges still are) */
export const VEIL_MAX_BARS = 3000;

/** An edge mode from a timeline value; anything unknown reads as "auto". */
export function edgeMode(value: unknown): EdgeMode {
  return EDGE_MODES.includes(value as EdgeMode) ? (value as EdgeMode) : "auto";
}

/** Adjacency of the edges (CSR): the edges out of row r are `outEdge[outStart[r] .. outStart[r+1])`. */
export interface EdgeIndex {
  n: number;
  outStart: Int32Array;
  outEdge: Int32Array;
  inStart: Int32Array;
  inEdge: Int32Array;
}

function csr(n: number, count: number, key: Int32Array, other: Int32Array): [Int32Array, Int32Array] {
  const start = new Int32Array(n + 1);
  for (let e = 0; e < count; e++) {
    const k = key[e];
    const o = other[e];
    if (k >= 0 && k < n && o >= 0 && o < n) start[k + 1]++;
  }
  for (let r = 0; r < n; r++) start[r + 1] += start[r];
  const fill = start.slice(0, n);
  const out = new Int32Array(start[n]);
  for (let e = 0; e < count; e++) {
    const k = key[e];
    const o = other[e];
    if (k >= 0 && k < n && o >= 0 && o < n) out[fill[k]++] = e;
  }
  return [start, out];
}

/** Both adjacencies of the timeline's edges; edges with an end outside [0, n) are left out. */
export function buildEdgeIndex(tl: Timeline): EdgeIndex {
  const n = tl.n;
  const count = tl.edgeCount ?? 0;
  const from = tl.edgeFrom ?? new Int32Array(0);
  const to = tl.edgeTo ?? new Int32Array(0);
  const [outStart, outEdge] = csr(n, count, from, to);
  const [inStart, inEdge] = csr(n, count, to, from);
  return { n, outStart, outEdge, inStart, inEdge };
}

/** What lies on a path into or out of one task run. */
export interface Lineage {
  focus: number;
  /** per row: 1 = upstream, 2 = downstream, 3 = the focus itself (or both, in a cycle), 0 = unrelated */
  rows: Uint8Array;
  upstream: number;
  downstream: number;
  /** edge indices on those paths, nearest first (upstream and downstream interleaved) */
  edges: Int32Array;
}

/** Transitive upstream and downstream of `focus` (breadth first, O(V + E) at most). */
export function lineage(tl: Timeline, index: EdgeIndex, focus: number): Lineage {
  const rows = new Uint8Array(index.n);
  const found: number[][] = [[], []];
  const seen = new Uint8Array(tl.edgeCount ?? 0);
  const counts = [0, 0];
  if (focus < 0 || focus >= index.n) return { focus: -1, rows, upstream: 0, downstream: 0, edges: new Int32Array(0) };
  rows[focus] = 3;
  const walk = (start: Int32Array, list: Int32Array, ends: Int32Array, mark: number) => {
    const queue = [focus];
    for (let q = 0; q < queue.length; q++) {
      const r = queue[q];
      for (let k = start[r]; k < start[r + 1]; k++) {
        const e = list[k];
        if (!seen[e]) found[mark - 1].push(e);
        seen[e] = 1;
        const next = ends[e];
        if (rows[next] & mark || rows[next] === 3) continue;
        rows[next] |= mark;
        counts[mark - 1]++;
        queue.push(next);
      }
    }
  };
  walk(index.inStart, index.inEdge, tl.edgeFrom!, 1);
  walk(index.outStart, index.outEdge, tl.edgeTo!, 2);
  const [up, down] = found;
  const edges = new Int32Array(up.length + down.length);
  let k = 0;
  for (let j = 0; j < Math.max(up.length, down.length); j++) {
    if (j < up.length) edges[k++] = up[j];
    if (j < down.length) edges[k++] = down[j];
  }
  return { focus, rows, upstream: counts[0], downstream: counts[1], edges };
}

/** A bezier from (x1, y1) to (x2, y2): control points, and whether an arrowhead fits. */
export interface Curve {
  x1: number;
  y1: number;
  c1x: number;
  c1y: number;
  c2x: number;
  c2y: number;
  x2: number;
  y2: number;
  arrow: boolean;
}

/** Leaves the source end rightwards and enters the target start from the left. */
export function edgeCurve(x1: number, y1: number, x2: number, y2: number): Curve {
  const dx = x2 - x1;
  const c = Math.max(8, Math.min(64, Math.abs(dx) / 2 + Math.abs(y2 - y1) / 4));
  return { x1, y1, c1x: x1 + c, c1y: y1, c2x: x2 - c, c2y: y2, x2, y2, arrow: Math.hypot(dx, y2 - y1) >= ARROW_MIN_PX };
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** What the edge layer draws with: the frame's context and data, and where bars are. */
export interface EdgeFrame {
  ctx: CanvasRenderingContext2D;
  tl: Timeline;
  theme: Theme;
  /** the plot area (css px): edges and the veil are clipped to it */
  plot: Rect;
  /** bar i's rectangle (css px), null when it is not placed (filtered, never started) */
  barRect: (i: number) => Rect | null;
  /** some bars are highlighted (critical path) */
  hlMode: boolean;
  /** search matches (search.ts), 1 per hit: the veil never brightens a non-match; null = no search */
  match?: Uint8Array | null;
}

/** Edge ends of edge e, or null when either bar is not placed. */
export function edgeEnds(f: EdgeFrame, e: number): [number, number, number, number] | null {
  const a = f.barRect(f.tl.edgeFrom![e]);
  const b = f.barRect(f.tl.edgeTo![e]);
  if (!a || !b) return null;
  return [a.x + a.w, a.y + a.h / 2, b.x, b.y + b.h / 2];
}

/** Which edges a frame draws (see the module doc) and whether the veil dims the rest. */
export function edgesToDraw(tl: Timeline, mode: EdgeMode, lin: Lineage | null, hlMode: boolean): { edges: ArrayLike<number>; veil: boolean } {
  const count = tl.edgeCount ?? 0;
  if (mode === "off" || count === 0) return { edges: [], veil: false };
  if (lin && lin.focus >= 0) return { edges: lin.edges, veil: true };
  if (mode === "all" || (mode === "auto" && count <= AUTO_MAX_EDGES)) {
    const all = new Int32Array(count);
    for (let e = 0; e < count; e++) all[e] = e;
    return { edges: all, veil: false };
  }
  if (hlMode && tl.edgeFlags) {
    const on: number[] = [];
    for (let e = 0; e < count; e++) if (tl.edgeFlags[e] & EDGE_CRITICAL) on.push(e);
    return { edges: on, veil: false };
  }
  return { edges: [], veil: false };
}

/** Edge styles: solid or dashed (inferred) × muted, strong (a lineage) or critical. */
const STYLE_COUNT = 6;

function styleOf(flag: number, strong: boolean, critical: boolean): number {
  return (flag & EDGE_INFERRED ? 1 : 0) + 2 * (critical ? 2 : strong ? 1 : 0);
}

/** Stroke one style's curves as one path, then fill their arrowheads as one path. */
function strokeStyle(ctx: CanvasRenderingContext2D, theme: Theme, style: number, curves: Curve[]): void {
  if (!curves.length) return;
  const level = style >> 1;
  const color = level ? theme.accent : theme.muted;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.globalAlpha = level ? 0.95 : 0.6;
  ctx.lineWidth = level === 2 ? 2.5 : level === 1 ? 1.5 : 1;
  ctx.setLineDash(style & 1 ? [4, 3] : []);
  ctx.beginPath();
  for (const c of curves) {
    ctx.moveTo(c.x1, c.y1);
    ctx.bezierCurveTo(c.c1x, c.c1y, c.c2x, c.c2y, c.x2, c.y2);
  }
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.beginPath();
  for (const c of curves) {
    if (!c.arrow) continue;
    // along the curve's last tangent (c2 -> end): horizontal, rightwards
    ctx.moveTo(c.x2, c.y2);
    ctx.lineTo(c.x2 - 6, c.y2 - 3.5);
    ctx.lineTo(c.x2 - 6, c.y2 + 3.5);
    ctx.closePath();
  }
  ctx.fill();
}

/** The edges of the timeline, with their lineage and the critical path (see the module doc). */
export class EdgeLayer {
  private index: EdgeIndex | null = null;
  private indexOf: [Timeline, number, number] | null = null;
  private lin: Lineage | null = null;
  /** edges drawn in the last frame (for tests: `data-edges-drawn`) */
  drawn = 0;

  /** The lineage of `focus` (cached per timeline, edge version and focus). */
  lineageOf(tl: Timeline, focus: number): Lineage | null {
    if (focus < 0 || !(tl.edgeCount ?? 0)) return null;
    const key = this.indexOf;
    if (!this.index || !key || key[0] !== tl || key[1] !== (tl.edgeVersion ?? 0) || key[2] !== tl.n) {
      this.index = buildEdgeIndex(tl);
      this.indexOf = [tl, tl.edgeVersion ?? 0, tl.n];
      this.lin = null;
    }
    if (!this.lin || this.lin.focus !== focus) this.lin = lineage(tl, this.index, focus);
    return this.lin;
  }

  /** Draw the frame's edges for `focus` (-1: none); returns how many were drawn. */
  draw(f: EdgeFrame, focus: number): number {
    const { ctx, tl, theme, plot } = f;
    const mode = edgeMode(tl.edgeMode);
    const lin = mode === "off" ? null : this.lineageOf(tl, focus);
    const { edges, veil } = edgesToDraw(tl, mode, lin, f.hlMode);
    this.drawn = 0;
    if (!edges.length && !veil) return 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y, plot.w, plot.h);
    ctx.clip();
    if (veil && lin && lin.upstream + lin.downstream < VEIL_MAX_BARS) this.dimOthers(f, lin);
    const flags = tl.edgeFlags;
    const styles: Curve[][] = Array.from({ length: STYLE_COUNT }, () => []);
    const many = edges.length > AUTO_MAX_EDGES;
    for (let k = 0; k < edges.length && this.drawn < MAX_DRAWN_EDGES; k++) {
      const e = edges[k];
      const ends = edgeEnds(f, e);
      if (!ends) continue;
      const [x1, y1, x2, y2] = ends;
      if (Math.max(x1, x2) < plot.x || Math.min(x1, x2) > plot.x + plot.w) continue;
      if (many && Math.abs(x2 - x1) + Math.abs(y2 - y1) < 2) continue; // too short to see
      const flag = flags ? flags[e] : 0;
      styles[styleOf(flag, veil, f.hlMode && (flag & EDGE_CRITICAL) !== 0)].push(edgeCurve(x1, y1, x2, y2));
      this.drawn++;
    }
    ctx.lineCap = "round";
    styles.forEach((curves, style) => strokeStyle(ctx, theme, style, curves));
    ctx.restore();
    return this.drawn;
  }

  /** A veil over the plot, then the lineage's bars (and labels that fit) again on top. */
  private dimOthers(f: EdgeFrame, lin: Lineage): void {
    const { ctx, tl, theme, plot } = f;
    ctx.globalAlpha = 0.6;
    ctx.fillStyle = theme.bg;
    ctx.fillRect(plot.x, plot.y, plot.w, plot.h);
    ctx.globalAlpha = 1;
    ctx.font = `${Math.max(9, theme.fontSize - 2)}px ${theme.font}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    const rows = lin.rows;
    const match = f.match ?? null;
    for (let i = 0; i < rows.length; i++) {
      if (!rows[i] || (match && !match[i])) continue;
      const r = f.barRect(i);
      if (!r || r.x > plot.x + plot.w || r.x + r.w < plot.x) continue;
      const color = theme.stateColors[tl.state[i]] ?? theme.muted;
      ctx.fillStyle = color;
      ctx.fillRect(r.x, r.y, r.w, r.h);
      const x0 = Math.max(r.x, plot.x) + 4;
      const room = Math.min(r.x + r.w, plot.x + plot.w) - x0 - 3;
      if (room < 24 || r.h < 12) continue;
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0, r.y, room, r.h);
      ctx.clip();
      ctx.fillStyle = badgeTextColor(color);
      ctx.fillText(labelOf(tl, i), x0, r.y + r.h / 2);
      ctx.restore();
    }
  }
}
