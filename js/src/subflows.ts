/**
 * Subflow runs expanded inline (issue 19, item 3). The kernel sends the rows of each
 * expanded subflow's child run after the flow run's own rows, with `parent` (the subflow row
 * each row is nested under, -1 at the top) and `expanded` (the subflow rows shown open).
 * Here: which rows are shown (every ancestor expanded), the children of each row in start
 * order, each row's depth, and the look of a subflow bar (a bracketed, lighter bar with an
 * expand glyph), the same in every row layout. The browser keeps its own expanded set so a
 * click answers at once, even with no kernel behind a saved notebook, when the child's rows
 * are already there.
 */

/** The columns nesting reads. */
export interface NestInput {
  n: number;
  start: Float32Array;
  kind?: Uint8Array | null;
  parent?: Int32Array | null;
}

/** Glyphs of a subflow row: closed (its task runs hidden) and open. */
export const CLOSED_GLYPH = "▸";
export const OPEN_GLYPH = "▾";
/** Gutter indent (css px) per nesting level. */
export const INDENT_PX = 12;

/** Row i's subflow row, or -1 (a top-level row, or no nesting sent). */
export function parentOf(tl: NestInput, i: number): number {
  const p = tl.parent;
  return p && i >= 0 && i < p.length && i < tl.n ? p[i] : -1;
}

/** Whether row i stands for a subflow run. */
export function isSubflowRow(tl: NestInput, i: number): boolean {
  return !!tl.kind && i >= 0 && i < tl.n && tl.kind[i] === 1;
}

/**
 * 1 for each row that may be placed: started, passing `visible` (the state filter), and, when
 * nested, its subflow row expanded and itself placeable. Parents precede their children on
 * the wire, so one pass in row order suffices; a row naming a later row as parent is hidden.
 * Null when nothing narrows `visible` (no nesting sent).
 */
export function shownRows(tl: NestInput, expanded: ReadonlySet<number>, visible: Uint8Array | null): Uint8Array | null {
  if (!tl.parent) return visible;
  const out = new Uint8Array(tl.n);
  for (let i = 0; i < tl.n; i++) {
    if (visible && !visible[i]) continue;
    if (tl.start[i] !== tl.start[i]) continue;
    const p = parentOf(tl, i);
    out[i] = p < 0 ? 1 : p < i && expanded.has(p) && out[p] ? 1 : 0;
  }
  return out;
}

/** The placed bars of `order` (start order) grouped by their subflow row (-1: top level), each list in start order. */
export function childrenByParent(tl: NestInput, order: Int32Array): Map<number, Int32Array> {
  const lists = new Map<number, number[]>();
  for (let j = 0; j < order.length; j++) {
    const p = parentOf(tl, order[j]);
    let list = lists.get(p);
    if (!list) lists.set(p, (list = []));
    list.push(order[j]);
  }
  const out = new Map<number, Int32Array>();
  for (const [p, list] of lists) out.set(p, Int32Array.from(list));
  return out;
}

/** Nesting depth of row i (0: the flow run's own task runs). */
export function depthOf(tl: NestInput, i: number): number {
  let d = 0;
  for (let p = parentOf(tl, i); p >= 0 && d < 64; p = parentOf(tl, p)) d++;
  return d;
}

/** The expanded set a timeline arrives with. */
export function expandedOf(tl: { expanded?: number[] }): Set<number> {
  return new Set(tl.expanded ?? []);
}

/**
 * A subflow bar: a lighter body in a bracket of its state's colour (a frame with heavier
 * ends), so it reads as a container of task runs and not as one task run, and the expand
 * glyph at its start when there is room. Draws over the bar's plain fill.
 */
export function drawSubflowBar(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  w: number,
  h: number,
  color: string,
  background: string,
  open: boolean,
): void {
  ctx.save();
  ctx.fillStyle = background;
  ctx.globalAlpha *= 0.55;
  if (w > 4 && h > 4) ctx.fillRect(x + 1.5, y + 1.5, w - 3, h - 3);
  ctx.globalAlpha /= 0.55;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.strokeRect(x + 0.75, y + 0.75, Math.max(0.5, w - 1.5), Math.max(0.5, h - 1.5));
  ctx.fillStyle = color;
  const cap = Math.min(3, w / 3);
  ctx.fillRect(x, y, cap, h); // the bracket's ends
  ctx.fillRect(x + w - cap, y, cap, h);
  if (w >= 16 && h >= 10) {
    ctx.font = `${Math.min(12, h - 2)}px sans-serif`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    ctx.fillText(open ? OPEN_GLYPH : CLOSED_GLYPH, x + cap + 2, y + h / 2);
  }
  ctx.restore();
}

/** A rail per nesting level at the gutter's left edge, along the rows of nested groups. */
export function drawNestingRails(
  ctx: CanvasRenderingContext2D,
  groups: ReadonlyArray<{ depth?: number; firstRow: number; lanes: number }>,
  top: number,
  rowH: number,
  color: string,
): void {
  ctx.save();
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.7;
  for (const g of groups) {
    for (let d = 1; d <= (g.depth ?? 0); d++) ctx.fillRect(2 + (d - 1) * INDENT_PX, top + g.firstRow * rowH, 2, g.lanes * rowH);
  }
  ctx.restore();
}

/** Room the glyph takes at the start of a subflow bar's label (css px). */
export const GLYPH_PX = 14;
