/**
 * Row layouts of the timeline. Both keep the `Packing` interface (row r is drawn at
 * y = r × row height), so everything that places bars by `rowOf` works with either:
 *   - "grouped": one group of rows per task name (the `key` column), groups ordered by
 *     their first start, the runs of a group (mapped runs) in first-fit lanes inside it;
 *     a collapsed group takes one summary row holding all its runs (they may overlap);
 *   - "packed": first fit over all bars (`packRows`), the fewest rows, no labels per row.
 * "auto" takes the grouped layout when every group gets a readable label height and
 * every lane at least a pixel, else the packed one. O(n log n) in typed arrays.
 */
import { firstFit, LaneHeaps, Packing, packRows, rowIndex, runningEndMax, sortByStart } from "./pack";

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

/**
 * Rows grouped by task: `collapsed` holds the keys drawn as one summary row.
 * `order` is the placed bars sorted by start (`sortByStart`).
 */
export function groupRows(tl: LayoutInput, order: Int32Array, collapsed: ReadonlySet<number> = new Set()): Layout {
  const { n, start, end, key } = tl;
  const m = order.length;
  // group ids in order of first start: the first time a key shows up in start order
  let maxKey = -1;
  for (let j = 0; j < m; j++) if (key[order[j]] > maxKey) maxKey = key[order[j]];
  const groupOfKey = new Int32Array(maxKey + 2).fill(-1); // slot 0: key -1 (unknown)
  const keyOfGroup: number[] = [];
  const count: number[] = [];
  const groupOfBar = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    const k = Math.max(-1, key[order[j]]);
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
  for (let j = 0; j < m; j++) byGroup[fill[groupOfBar[j]]++] = order[j];

  const rowOf = new Int32Array(n).fill(-1);
  const heaps = new LaneHeaps();
  const groups: Group[] = [];
  let rows = 0;
  let anyCollapsed = false;
  for (let g = 0; g < keyOfGroup.length; g++) {
    const bars = byGroup.subarray(offset[g], offset[g + 1]);
    const k = keyOfGroup[g];
    const shut = collapsed.has(k);
    let lanes = 1;
    if (shut) {
      for (let j = 0; j < bars.length; j++) rowOf[bars[j]] = rows;
      anyCollapsed = true;
    } else {
      lanes = firstFit(bars, start, end, rowOf, rows, heaps);
    }
    let subflow = false;
    if (tl.kind) for (let j = 0; j < bars.length && !subflow; j++) subflow = tl.kind[bars[j]] === 1;
    groups.push({ key: k, firstRow: rows, lanes, count: bars.length, collapsed: shut, subflow });
    rows += lanes;
  }
  const rowGroup = new Int32Array(rows);
  for (let g = 0; g < groups.length; g++) rowGroup.fill(g, groups[g].firstRow, groups[g].firstRow + groups[g].lanes);
  const index = rowIndex(rows, rowOf, byGroup);
  const layout: Layout = { rows, rowOf, ...index, placed: m, mode: "grouped", groups, rowGroup, reason: "" };
  if (anyCollapsed) layout.endMax = runningEndMax(layout, start, end);
  return layout;
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
): Layout {
  const order = sortByStart(tl.start, tl.n, visible);
  let reason = "";
  if (mode !== "packed") {
    const grouped = groupRows(tl, order, collapsed);
    if (mode === "grouped") return grouped;
    reason = groupedMisfit(grouped, fit);
    if (!reason) return grouped;
  }
  const packed = packRows(tl.start, tl.end, tl.n, visible, order);
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
export function groupLabel(name: string, g: Group): { name: string; count: string } {
  return { name: (g.subflow ? "⤷ " : "") + name, count: `×${g.count.toLocaleString("en-US")}` };
}
