/**
 * Spatial queries on a Packing: the bars of a row that intersect a time
 * window (binary search on start and on effective end, both monotone inside
 * a lane; a collapsed group's summary row searches the running maximum of its
 * ends, `Packing.endMax`), and hit testing of a point.
 */
import type { Packing } from "./pack";

export interface Bars {
  start: Float32Array;
  end: Float32Array;
}

/** Effective end: NaN -> now; never before start. */
export function effEnd(b: Bars, i: number, now: number): number {
  const s = b.start[i];
  const e = b.end[i];
  const v = e === e ? e : now;
  return v > s ? v : s;
}

/**
 * Position range [lo, hi) inside row `r`'s slice of `p.rowBars` of the bars
 * that intersect [t0, t1] (inclusive; zero-length bars count when their
 * instant is inside).
 */
export function rowWindow(p: Packing, b: Bars, r: number, t0: number, t1: number, now: number): [number, number] {
  const rb = p.rowBars;
  const a = p.rowStart[r];
  const z = p.rowStart[r + 1];
  // first bar whose effective end (running maximum, where rows may overlap) >= t0
  const endMax = p.endMax;
  let lo = a;
  let hi = z;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((endMax ? endMax[mid] : effEnd(b, rb[mid], now)) < t0) lo = mid + 1;
    else hi = mid;
  }
  const first = lo;
  // first bar whose start > t1
  hi = z;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (b.start[rb[mid]] <= t1) lo = mid + 1;
    else hi = mid;
  }
  return [first, lo];
}

/**
 * Bar in row `r` under time `t`, allowing `tol` ms of slack on either side
 * (used for the minimum visible width of short bars and for fat fingers).
 * A bar that truly contains `t` wins; otherwise the nearest within `tol`.
 * Returns the bar index or -1.
 */
export function hitTestRow(p: Packing, b: Bars, r: number, t: number, tol: number, now: number): number {
  if (r < 0 || r >= p.rows) return -1;
  const [lo, hi] = rowWindow(p, b, r, t - tol, t + tol, now);
  let best = -1;
  let bestDist = Infinity;
  for (let k = lo; k < hi; k++) {
    const i = p.rowBars[k];
    const s = b.start[i];
    const e = effEnd(b, i, now);
    const d = t < s ? s - t : t > e ? t - e : 0;
    if (d <= bestDist) { // ties: the later bar, drawn on top where a summary row overlaps
      bestDist = d;
      best = i;
    }
  }
  return bestDist <= tol ? best : -1;
}

/**
 * Hit test over a band of rows [r0, r1] (used when several rows share one
 * device pixel): the closest bar in time wins, ties go to the row nearest
 * `rCenter`.
 */
export function hitTest(
  p: Packing,
  b: Bars,
  r0: number,
  r1: number,
  rCenter: number,
  t: number,
  tol: number,
  now: number,
): number {
  let best = -1;
  let bestD = Infinity;
  let bestRowD = Infinity;
  const a = Math.max(0, Math.floor(r0));
  const z = Math.min(p.rows - 1, Math.floor(r1));
  for (let r = a; r <= z; r++) {
    const i = hitTestRow(p, b, r, t, tol, now);
    if (i < 0) continue;
    const s = b.start[i];
    const e = effEnd(b, i, now);
    const d = t < s ? s - t : t > e ? t - e : 0;
    const rd = Math.abs(r + 0.5 - rCenter);
    if (d < bestD || (d === bestD && rd < bestRowD)) {
      best = i;
      bestD = d;
      bestRowD = rd;
    }
  }
  return best;
}
