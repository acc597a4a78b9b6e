/**
 * The history chart's `data` trait (the binary columns
 * `prefect_widgets.history_chart.chart_data` writes; buffers arrive as DataViews) decoded
 * into typed arrays, and what each run is called and coloured.
 *
 * | key | type | meaning |
 * | --- | --- | --- |
 * | `n` | int | number of runs |
 * | `t0` | number | earliest start, epoch ms |
 * | `x` | uint32 LE or float64 LE × n | start (expected start for runs not started), ms after `t0`; float64 when the history spans more than 49.7 days (the width is `byteLength / n`) |
 * | `y` | float32 LE × n | duration in seconds; NaN = none |
 * | `s` | uint8 × n | index into `states` |
 * | `states` | str[] | state type names (Prefect's, then any the server added) |
 * | `ids` | 16 bytes × n | the flow-run ids (UUID bytes) |
 */
import { BufferLike, toBytes } from "../decode";
import { stateColor, stateIndex, stateLabel, statePriority } from "../states";

export interface HistoryData {
  n: number;
  /** start per run, epoch ms */
  x: Float64Array;
  /** duration per run in seconds; NaN = none */
  seconds: Float64Array;
  /** per run, an index into `states` */
  state: Uint8Array;
  states: string[];
  /** 16 bytes (a UUID) per run */
  ids: Uint8Array;
  /** earliest and latest start ([0, 0] without runs) */
  extent: [number, number];
}

/** The `data` trait cannot be read: the message says what to do. */
export class HistoryDataError extends Error {}

const EMPTY: HistoryData = {
  n: 0, x: new Float64Array(0), seconds: new Float64Array(0), state: new Uint8Array(0),
  states: [], ids: new Uint8Array(0), extent: [0, 0],
};

/** Column `key` as a DataView of `n` values of one of `widths` bytes each, and that width. */
function column(raw: Record<string, unknown>, key: string, n: number, widths: number[]): [DataView, number] {
  const bytes = toBytes(raw[key] as BufferLike);
  const width = bytes && n ? bytes.byteLength / n : widths[0];
  if (!bytes || !widths.includes(width) || (n === 0 && bytes.byteLength !== 0)) {
    throw new HistoryDataError(
      `The history chart's data is inconsistent ("${key}" does not hold ${n} values): run the cell again.`,
    );
  }
  return [new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), width];
}

/** Decode the `data` trait; an empty or missing trait is a history without runs. */
export function decodeHistory(raw: unknown): HistoryData {
  if (!raw || typeof raw !== "object") return EMPTY;
  const r = raw as Record<string, unknown>;
  if (r.n == null) return EMPTY;
  const n = r.n as number;
  if (!Number.isInteger(n) || n < 0) {
    throw new HistoryDataError(`The history chart's data is inconsistent (${JSON.stringify(r.n)} runs): run the cell again.`);
  }
  const t0 = Number(r.t0) || 0;
  const [xs, xWidth] = column(r, "x", n, [4, 8]);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = t0 + (xWidth === 4 ? xs.getUint32(4 * i, true) : xs.getFloat64(8 * i, true));
  const [ys] = column(r, "y", n, [4]);
  const seconds = new Float64Array(n);
  for (let i = 0; i < n; i++) seconds[i] = ys.getFloat32(4 * i, true);
  const states = Array.isArray(r.states) ? r.states.map(String) : [];
  const [codes] = column(r, "s", n, [1]);
  const state = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const code = codes.getUint8(i);
    if (code >= states.length) {
      throw new HistoryDataError(
        `The history chart's data is inconsistent (run ${i} has state code ${code}, ` +
          `${states.length} states known): run the cell again.`,
      );
    }
    state[i] = code;
  }
  const [idView] = column(r, "ids", n, [16]);
  const ids = new Uint8Array(idView.buffer, idView.byteOffset, idView.byteLength).slice();
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  return { n, x, seconds, state, states, ids, extent: n && lo <= hi ? [lo, hi] : [0, 0] };
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Run `i`'s id as a UUID ("8-4-4-4-12"). */
export function runId(data: HistoryData, i: number): string {
  let h = "";
  for (let k = 16 * i; k < 16 * i + 16; k++) h += HEX[data.ids[k]];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** "Completed" for a Prefect state code; a name the product does not know stays as sent. */
export function stateName(data: HistoryData, code: number): string {
  const name = data.states[code] ?? "";
  return stateIndex(name) >= 0 ? stateLabel(name) : name || "Unknown";
}

/** The colour of each state code from the product's one palette (`states.ts`). */
export function stateColors(data: HistoryData, dark: boolean): string[] {
  return data.states.map((name) => stateColor(name, dark));
}

/**
 * Run indices in drawing order: lowest `DRAW_PRIORITY` first, so where dots overlap a
 * failure is drawn over the completed runs around it (stable within a state).
 */
export function drawOrder(data: HistoryData): Uint32Array {
  const priority = data.states.map((name) => statePriority(stateIndex(name)));
  const levels = Math.max(0, ...priority) + 1;
  const starts = new Uint32Array(levels + 1);
  for (let i = 0; i < data.n; i++) starts[priority[data.state[i]] + 1]++;
  for (let p = 0; p < levels; p++) starts[p + 1] += starts[p];
  const order = new Uint32Array(data.n);
  for (let i = 0; i < data.n; i++) order[starts[priority[data.state[i]]]++] = i;
  return order;
}

/** The index of the run with this id (a UUID, dashes optional); -1 if not shown. */
export function runIndex(data: HistoryData, id: string): number {
  const hex = id.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return -1;
  const want = Uint8Array.from({ length: 16 }, (_, k) => parseInt(hex.slice(2 * k, 2 * k + 2), 16));
  for (let i = 0; i < data.n; i++) {
    let k = 0;
    while (k < 16 && data.ids[16 * i + k] === want[k]) k++;
    if (k === 16) return i;
  }
  return -1;
}
