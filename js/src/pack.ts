/**
 * Greedy first-fit row packing of bars, plus the per-row spatial index used
 * for virtualised drawing and hit testing.
 *
 * Bars are taken in order of start time; each goes to the lowest-numbered row
 * whose previous bar has ended by the bar's start. Implemented with two binary
 * heaps (busy rows keyed by end time, free rows keyed by row number), so it is
 * O(n log n) and exactly first-fit.
 *
 * Invariant of the result: inside a row, bars are sorted by start AND by
 * effective end (each bar starts after the previous one ended), which is what
 * makes binary search per row possible. (`firstFit` and `rowIndex` also build the
 * lanes of the grouped layout, `layout.ts`; its collapsed summary rows break the
 * invariant and carry `endMax` instead.)
 */

export interface Packing {
  /** number of rows */
  rows: number;
  /** row of each bar (length ≥ n); -1 = not placed (never started or filtered out) */
  rowOf: Int32Array;
  /** CSR offsets: bars of row r are rowBars[rowStart[r] .. rowStart[r+1]) */
  rowStart: Int32Array;
  /** bar indices grouped by row, each row sorted by start */
  rowBars: Int32Array;
  /** number of placed bars */
  placed: number;
  /**
   * Running maximum of the effective end along `rowBars` inside each row (+Infinity from an
   * open bar on), present when some row holds overlapping bars (a collapsed group's summary
   * lane): `rowWindow` then searches it instead of the bars' own ends.
   */
  endMax?: Float32Array;
}

export const EMPTY_PACKING: Packing = {
  rows: 0,
  rowOf: new Int32Array(0),
  rowStart: new Int32Array(1),
  rowBars: new Int32Array(0),
  placed: 0,
};

/** Growable binary min-heap of (key: float64, value: int32). */
export class MinHeap {
  keys: Float64Array;
  vals: Int32Array;
  size = 0;
  constructor(cap = 64) {
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap);
  }
  push(key: number, val: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      const v = new Int32Array(this.size * 2);
      v.set(this.vals);
      this.keys = k;
      this.vals = v;
    }
    const keys = this.keys;
    const vals = this.vals;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] < key || (keys[p] === key && vals[p] <= val)) break;
      keys[i] = keys[p];
      vals[i] = vals[p];
      i = p;
    }
    keys[i] = key;
    vals[i] = val;
  }
  peekKey(): number {
    return this.size ? this.keys[0] : Infinity;
  }
  /** Remove the minimum; returns its value. */
  pop(): number {
    const keys = this.keys;
    const vals = this.vals;
    const top = vals[0];
    const n = --this.size;
    if (n > 0) {
      const key = keys[n];
      const val = vals[n];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (keys[r] < keys[l] || (keys[r] === keys[l] && vals[r] < vals[l]))) c = r;
        if (keys[c] > key || (keys[c] === key && vals[c] >= val)) break;
        keys[i] = keys[c];
        vals[i] = vals[c];
        i = c;
      }
      keys[i] = key;
      vals[i] = val;
    }
    return top;
  }
}

/**
 * Indices of bars with a finite start (and `visible[i]` when given), sorted
 * by (start, index).
 */
export function sortByStart(start: Float32Array, n: number, visible?: Uint8Array | null): Int32Array {
  let m = 0;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const s = start[i];
    if (s !== s) continue;
    if (visible && !visible[i]) continue;
    idx[m++] = i;
  }
  const out = idx.subarray(0, m);
  // Fast path: already in start order (frames often are) -> O(n) check.
  let sorted = true;
  for (let j = 1; j < m; j++) {
    if (start[out[j - 1]] > start[out[j]]) {
      sorted = false;
      break;
    }
  }
  if (sorted) return out;
  if (m <= INDEX_LIMIT) {
    // Sort (start, index) pairs packed into one exactly-representable float64:
    // an order-preserving 32-bit image of the float32 start, times 2^21, plus
    // the index. A native numeric sort of a Float64Array is several times
    // faster than sorting indices with a comparator.
    const keys = new Float64Array(m);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let j = 0; j < m; j++) {
      f[0] = start[out[j]];
      const bits = u[0] === 0x80000000 ? 0 : u[0]; // -0 sorts like +0
      const ordered = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
      keys[j] = ordered * INDEX_LIMIT + out[j];
    }
    keys.sort();
    for (let j = 0; j < m; j++) out[j] = keys[j] % INDEX_LIMIT;
    return out;
  }
  out.sort((a, b) => start[a] - start[b] || a - b);
  return out;
}

/** 2^21: (32-bit key) * 2^21 + index stays below 2^53. */
const INDEX_LIMIT = 2 ** 21;

/** The time a bar keeps its lane busy: its end, +Infinity while open, a sliver when zero-length. */
function busyUntil(s: number, e: number): number {
  if (e !== e) return Infinity;
  if (e > s) return e;
  // zero-length bars still take a sliver of time so that two instantaneous
  // bars at the same instant do not share a row
  return s + Math.max(1e-3, Math.abs(s) * 1e-9);
}

/** Reusable heaps of `firstFit` (busy lanes by end time, free lanes by number). */
export class LaneHeaps {
  readonly busy = new MinHeap(256);
  readonly free = new MinHeap(256);
  reset(): void {
    this.busy.size = 0;
    this.free.size = 0;
  }
}

/**
 * First-fit lanes for `order` (bar indices sorted by start): each bar goes to the lowest
 * lane free at its start; writes `rowOf[i] = base + lane` and returns the lanes used.
 */
export function firstFit(
  order: Int32Array,
  start: Float32Array,
  end: Float32Array,
  rowOf: Int32Array,
  base = 0,
  heaps = new LaneHeaps(),
): number {
  heaps.reset();
  const { busy, free } = heaps;
  let lanes = 0;
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    const s = start[i];
    while (busy.size && busy.peekKey() <= s) {
      const r = busy.pop();
      free.push(r, r);
    }
    const r = free.size ? free.pop() : lanes++;
    rowOf[i] = base + r;
    busy.push(busyUntil(s, end[i]), r);
  }
  return lanes;
}

/**
 * The CSR index of placed bars: `order` lists them so that the bars of each row come in
 * start order (any interleaving of rows).
 */
export function rowIndex(rows: number, rowOf: Int32Array, order: Int32Array): Pick<Packing, "rowStart" | "rowBars"> {
  const m = order.length;
  const rowStart = new Int32Array(rows + 1);
  for (let j = 0; j < m; j++) rowStart[rowOf[order[j]] + 1]++;
  for (let r = 0; r < rows; r++) rowStart[r + 1] += rowStart[r];
  const fillPos = rowStart.slice(0, rows);
  const rowBars = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    const i = order[j];
    rowBars[fillPos[rowOf[i]]++] = i;
  }
  return { rowStart, rowBars };
}

/** `Packing.endMax` of a row index: the running maximum of effective ends inside each row. */
export function runningEndMax(p: Pick<Packing, "rows" | "rowStart" | "rowBars">, start: Float32Array, end: Float32Array): Float32Array {
  const out = new Float32Array(p.rowBars.length);
  for (let r = 0; r < p.rows; r++) {
    let mx = -Infinity;
    for (let k = p.rowStart[r]; k < p.rowStart[r + 1]; k++) {
      const i = p.rowBars[k];
      const e = end[i];
      const v = e !== e ? Infinity : e > start[i] ? e : start[i];
      if (v > mx) mx = v;
      out[k] = mx;
    }
  }
  return out;
}

/**
 * Pack bars into rows (first fit by start time).
 * A bar whose end is NaN (not ended) occupies its row forever.
 */
export function packRows(
  start: Float32Array,
  end: Float32Array,
  n: number,
  visible?: Uint8Array | null,
  order: Int32Array = sortByStart(start, n, visible),
): Packing {
  const rowOf = new Int32Array(n).fill(-1);
  const rows = firstFit(order, start, end, rowOf);
  return { rows, rowOf, ...rowIndex(rows, rowOf, order), placed: order.length };
}
