/**
 * Row layouts of the timeline. Both keep the `Packing` interface (row r is drawn at
 * y = r × row height), so everything that places bars by `rowOf` works with either:
 *   - "grouped": one group of rows per task name (the `key` column), groups ordered by
 *     their first start, the runs of a group (mapped runs) in first-fit lanes inside it;
 *     a collapsed group takes one summary row holding all its runs (they may overlap);
 *   - "packed": first fit over all bars (`packRows`), the fewest rows, no labels per row.
 * "auto" takes the grouped layout when every group gets a readable label height and
 * every lane at least a pixel, else the packed one. O(n log n) in typed arrays.
 * Expanded subflows (`subflows.ts`): the rows of a subflow's child run follow the rows of
 * the group holding it, as groups of their own one level deeper (grouped), or as a block of
 * first-fit rows (packed); recursively.
 */
import { firstFit, LaneHeaps, Packing, packRows, rowIndex, runningEndMax, sortByStart } from "./pack";
import { childrenByParent, isSubflowRow, shownRows } from "./subflows";

export type LayoutMode = "auto" | "grouped" | "packed";
export const LAYOUT_MODES: readonly LayoutMode[] = ["auto", "grouped", "packed"];

/** A layout mode from a trait value; anything unknown reads as "auto". */
export function layoutMode(value: unknown): LayoutMode {
  return LAYOUT_MODES.includes(value as LayoutMode) ? (value as LayoutMode) : "auto";
}

/** One task's rows in the grouped layout. */
export interface Group {
  /** index into `keys` (-1: unknown task) */
  key: number;
  /** first row of the group; it takes rows [firstRow, firstRow + lanes) */
  firstRow: number;
  lanes: number;
  /** runs placed in the group */
  count: number;
  /** drawn as one summary row */
  collapsed: boolean;
  /** some of its rows stand for subflow runs */
  subflow: boolean;
  /** nesting depth: 0 for the flow run's own task runs, 1 inside an expanded subflow, … */
  depth: number;
  /** the subflow row the group is nested under (-1: top level) */
  parentRow: number;
  /** its subflow rows (start order): what its gutter button expands */
  subflowRows: number[];
}

export interface Layout extends Packing {
  /** the layout drawn ("auto" resolved) */
  mode: "grouped" | "packed";
  /** groups in row order (empty when packed) */
  groups: Group[];
  /** group index of each row (grouped), or null (packed) */
  rowGroup: Int32Array | null;
  /** why "auto" fell back to packed rows; "" otherwise */
  reason: string;
}

/** The columns a layout reads. */
export interface LayoutInput {
  n: number;
  start: Float32Array;
  end: Float32Array;
  key: Int32Array;
  kind?: Uint8Array | null;
  /** the subflow row each row is nested under (-1: top level); absent = none nested */
  parent?: Int32Array | null;
}

/** What a layout must fit into (css px). */
export interface Fit {
  maxPlotH: number;
  maxRowH: number;
  /** smallest group height that still carries a readable label */
  minLabelPx: number;
}

export const EMPTY_LAYOUT: Layout = {
  rows: 0,
  rowOf: new Int32Array(0),
  rowStart: new Int32Array(1),
  rowBars: new Int32Array(0),
  placed: 0,
  mode: "packed",
  groups: [],
  rowGroup: null,
  reason: "",
};

/** What placing groups builds up. */
interface Placement {
  rowOf: Int32Array;
  heaps: LaneHeaps;
  groups: Group[];
  rows: number;
  anyCollapsed: boolean;
}

/**
 * Groups of `bars` (start order) by task, ordered by first start, at `depth` under
 * `parentRow`; after each group the groups of its expanded subflows' children, recursively.
 */
function placeGroups(
  tl: LayoutInput,
  bars: Int32Array,
  depth: number,
  parentRow: number,
  collapsed: ReadonlySet<number>,
  expanded: ReadonlySet<number>,
  children: Map<number, Int32Array>,
  out: Placement,
): void {
  const { start, end, key } = tl;
  const m = bars.length;
  let maxKey = -1;
  for (let j = 0; j < m; j++) if (key[bars[j]] > maxKey) maxKey = key[bars[j]];
  const groupOfKey = new Int32Array(maxKey + 2).fill(-1); // slot 0: key -1 (unknown)
  const keyOfGroup: number[] = [];
  const count: number[] = [];
  const groupOfBar = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    const k = Math.max(-1, key[bars[j]]);
    let g = groupOfKey[k + 1];
    if (g < 0) {
      g = groupOfKey[k + 1] = keyOfGroup.length;
      keyOfGroup.push(k);
      count.push(0);
    }
    groupOfBar[j] = g;
    count[g]++;
  }
  // counting sort by group, stable: each group's bars stay in start order
  const offset = new Int32Array(keyOfGroup.length + 1);
  for (let g = 0; g < keyOfGroup.length; g++) offset[g + 1] = offset[g] + count[g];
  const fill = offset.slice(0, keyOfGroup.length);
  const byGroup = new Int32Array(m);
  for (let j = 0; j < m; j++) byGroup[fill[groupOfBar[j]]++] = bars[j];
  for (let g = 0; g < keyOfGroup.length; g++) {
    const own = byGroup.subarray(offset[g], offset[g + 1]);
    const k = keyOfGroup[g];
    const shut = collapsed.has(k);
    let lanes = 1;
    if (shut) {
      for (let j = 0; j < own.length; j++) out.rowOf[own[j]] = out.rows;
      out.anyCollapsed = true;
    } else {
      lanes = firstFit(own, start, end, out.rowOf, out.rows, out.heaps);
    }
    const subflowRows: number[] = [];
    for (let j = 0; j < own.length; j++) if (isSubflowRow(tl, own[j])) subflowRows.push(own[j]);
    out.groups.push({ key: k, firstRow: out.rows, lanes, count: own.length, collapsed: shut, subflow: subflowRows.length > 0, depth, parentRow, subflowRows });
    out.rows += lanes;
    for (const row of subflowRows) {
      const inner = children.get(row);
      if (inner && expanded.has(row)) placeGroups(tl, inner, depth + 1, row, collapsed, expanded, children, out);
    }
  }
}

/**
 * Rows grouped by task: `collapsed` holds the keys drawn as one summary row; `expanded` the
 * subflow rows whose child runs' groups follow their group. `order` is the placed bars sorted
 * by start (`sortByStart`), nested ones only where every ancestor is expanded (`shownRows`).
 */
export function groupRows(
  tl: LayoutInput,
  order: Int32Array,
  collapsed: ReadonlySet<number> = new Set(),
  expanded: ReadonlySet<number> = new Set(),
): Layout {
  const { n, start, end } = tl;
  const children = tl.parent ? childrenByParent(tl, order) : new Map<number, Int32Array>();
  const top = tl.parent ? children.get(-1) ?? new Int32Array(0) : order;
  const out: Placement = { rowOf: new Int32Array(n).fill(-1), heaps: new LaneHeaps(), groups: [], rows: 0, anyCollapsed: false };
  placeGroups(tl, top, 0, -1, collapsed, expanded, children, out);
  const { rows, rowOf, groups } = out;
  const rowGroup = new Int32Array(rows);
  for (let g = 0; g < groups.length; g++) rowGroup.fill(g, groups[g].firstRow, groups[g].firstRow + groups[g].lanes);
  const index = rowIndex(rows, rowOf, order);
  const layout: Layout = { rows, rowOf, ...index, placed: order.length, mode: "grouped", groups, rowGroup, reason: "" };
  if (out.anyCollapsed) layout.endMax = runningEndMax(layout, start, end);
  return layout;
}

/**
 * Packed rows with expanded subflows: first fit over the flow run's own bars, then under them
 * each expanded subflow's children in first-fit rows of their own (start order, recursively).
 */
export function packNested(tl: LayoutInput, order: Int32Array, expanded: ReadonlySet<number>): Packing {
  const children = childrenByParent(tl, order);
  const rowOf = new Int32Array(tl.n).fill(-1);
  const heaps = new LaneHeaps();
  let rows = 0;
  const place = (bars: Int32Array) => {
    rows += firstFit(bars, tl.start, tl.end, rowOf, rows, heaps);
    for (let j = 0; j < bars.length; j++) {
      const inner = children.get(bars[j]);
      if (inner && expanded.has(bars[j]) && isSubflowRow(tl, bars[j])) place(inner);
    }
  };
  place(children.get(-1) ?? new Int32Array(0));
  return { rows, rowOf, ...rowIndex(rows, rowOf, order), placed: order.length };
}

/** Row height (css px) for `rows` rows. */
export function rowHeight(rows: number, fit: Fit): number {
  return rows > 0 ? Math.min(fit.maxRowH, fit.maxPlotH / rows) : fit.maxRowH;
}

/** Why a grouped layout cannot be read at this size, or "" when it can. */
export function groupedMisfit(layout: Layout, fit: Fit): string {
  if (layout.rows > fit.maxPlotH) return `${layout.rows.toLocaleString("en-US")} lanes do not fit ${fit.maxPlotH} px`;
  const rowH = rowHeight(layout.rows, fit);
  let thin = 0;
  for (const g of layout.groups) if (g.lanes * rowH < fit.minLabelPx) thin++;
  if (!thin) return "";
  return `${thin.toLocaleString("en-US")} of ${layout.groups.length.toLocaleString("en-US")} task groups too thin to label`;
}

/** The layout to draw for `mode`: "auto" is grouped where it can be read, else packed. */
export function chooseLayout(
  mode: LayoutMode,
  tl: LayoutInput,
  visible: Uint8Array | null,
  collapsed: ReadonlySet<number>,
  fit: Fit,
  expanded: ReadonlySet<number> = new Set(),
): Layout {
  const shown = shownRows(tl, expanded, visible);
  const order = sortByStart(tl.start, tl.n, shown);
  let reason = "";
  if (mode !== "packed") {
    const grouped = groupRows(tl, order, collapsed, expanded);
    if (mode === "grouped") return grouped;
    reason = groupedMisfit(grouped, fit);
    if (!reason) return grouped;
  }
  const packed = tl.parent ? packNested(tl, order, expanded) : packRows(tl.start, tl.end, tl.n, shown, order);
  return { ...packed, mode: "packed", groups: [], rowGroup: null, reason };
}

/**
 * `text` cut to `maxPx` at `charPx` per character (an average measured once per font), with
 * an ellipsis when cut; "" when not even two characters fit. O(1) per label.
 */
export function cropLabel(text: string, maxPx: number, charPx: number): string {
  if (!(charPx > 0) || !(maxPx > 0)) return "";
  const fits = Math.floor(maxPx / charPx);
  if (fits >= text.length) return text;
  return fits >= 3 ? text.slice(0, fits - 1) + "…" : "";
}

/**
 * The on-bar label of a run: its whole label where it fits; in the grouped layout, where
 * the gutter already names the task, a mapped run's `[map_index]` next; else the label cut.
 */
export function barLabel(label: string, mapIndex: number, grouped: boolean, maxPx: number, charPx: number): string {
  const whole = cropLabel(label, maxPx, charPx);
  if (whole === label || !grouped || mapIndex < 0) return whole;
  const index = `[${mapIndex}]`;
  return index.length * charPx <= maxPx ? index : whole;
}

/** Gutter text of a group: the task name (subflow runs marked) and its run count. */
export function groupLabel(name: string, g: Pick<Group, "subflow" | "count">): { name: string; count: string } {
  return { name: (g.subflow ? "⤷ " : "") + name, count: `×${g.count.toLocaleString("en-US")}` };
}
