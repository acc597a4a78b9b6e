/**
 * Linear time scale, "nice" tick generation and time/duration formatting.
 * All functions are pure; time zone handling is passed in explicitly
 * (`tzOffsetMin`, minutes EAST of UTC, i.e. -Date#getTimezoneOffset()) so the
 * behaviour is deterministic under test.
 */

export const MS = 1;
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Candidate tick steps, ascending. */
export const NICE_STEPS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY,
];

export interface Scale {
  /** domain (ms, any origin) */
  d0: number;
  d1: number;
  /** range (px) */
  r0: number;
  r1: number;
  /** px per ms */
  k: number;
}

export function makeScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0;
  const k = span > 0 ? (r1 - r0) / span : 0;
  return { d0, d1, r0, r1, k };
}

export function toPx(s: Scale, t: number): number {
  return s.r0 + (t - s.d0) * s.k;
}

export function toTime(s: Scale, px: number): number {
  return s.k === 0 ? s.d0 : s.d0 + (px - s.r0) / s.k;
}

/** Smallest nice step whose on-screen spacing is at least `minPx`. */
export function chooseStep(spanMs: number, widthPx: number, minPx = 90): number {
  if (!(spanMs > 0) || !(widthPx > 0)) return NICE_STEPS[NICE_STEPS.length - 1];
  const pxPerMs = widthPx / spanMs;
  for (const step of NICE_STEPS) if (step * pxPerMs >= minPx) return step;
  // beyond the table: multiples of 28 days
  const last = NICE_STEPS[NICE_STEPS.length - 1];
  return last * Math.ceil(minPx / pxPerMs / last);
}

/**
 * Tick positions (absolute epoch ms) in [a, b], aligned to multiples of
 * `step` in local wall-clock time (so hour ticks land on :00 in a +05:30
 * zone). Capped at `maxTicks` to keep pathological inputs bounded.
 */
export function ticks(a: number, b: number, step: number, tzOffsetMin = 0, maxTicks = 1000): number[] {
  const out: number[] = [];
  if (!(b >= a) || !(step > 0) || !Number.isFinite(a) || !Number.isFinite(b)) return out;
  const off = tzOffsetMin * MINUTE;
  // steps of a week or more align on whole days (weeks would align to Thursdays, 1970-01-01)
  const align = step >= 7 * DAY ? DAY : step;
  const first = Math.ceil((a + off) / align) * align - off;
  for (let i = 0; out.length < maxTicks; i++) {
    const t = first + i * step;
    if (t > b) break;
    out.push(t);
  }
  return out;
}

function pad(n: number, w = 2): string {
  return String(Math.trunc(n)).padStart(w, "0");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Wall-clock parts of an epoch-ms instant in a fixed offset zone. */
export function clockParts(ms: number, tzOffsetMin = 0) {
  const d = new Date(ms + tzOffsetMin * MINUTE);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth(),
    day: d.getUTCDate(),
    h: d.getUTCHours(),
    m: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
  };
}

/** Axis label for a tick, with precision that matches the step. */
export function formatTick(ms: number, step: number, tzOffsetMin = 0): string {
  const p = clockParts(ms, tzOffsetMin);
  if (step >= DAY) return `${MONTHS[p.month]} ${p.day}`;
  if (step >= MINUTE) {
    // show the date at midnight so multi-day runs stay readable
    if (p.h === 0 && p.m === 0) return `${MONTHS[p.month]} ${p.day}`;
    return `${pad(p.h)}:${pad(p.m)}`;
  }
  const clock = `${pad(p.h)}:${pad(p.m)}:${pad(p.s)}`;
  if (step >= SECOND) return clock;
  // the hour stays: "20:03.500" alone reads as five past eight
  const digits = step >= 100 ? 1 : step >= 10 ? 2 : 3;
  return `${clock}.${pad(p.ms, 3).slice(0, digits)}`;
}

/** "2024-05-01 13:04:05.123" in the given offset zone. */
export function formatDateTime(ms: number, tzOffsetMin = 0): string {
  if (!Number.isFinite(ms)) return "—";
  const p = clockParts(ms, tzOffsetMin);
  return `${p.year}-${pad(p.month + 1)}-${pad(p.day)} ${pad(p.h)}:${pad(p.m)}:${pad(p.s)}.${pad(p.ms, 3)}`;
}

/**
 * Human duration: "850ms", "1.25s", "12.3s", "1m 05s", "1h 02m", "2d 03h".
 * Negative / non-finite input -> "—".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < SECOND) return `${Math.round(ms)}ms`;
  if (ms < 10 * SECOND) return `${(Math.floor(ms / 10) / 100).toFixed(2)}s`;
  if (ms < MINUTE) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const totalS = Math.floor(ms / SECOND);
  if (ms < HOUR) return `${Math.floor(totalS / 60)}m ${pad(totalS % 60)}s`;
  const totalM = Math.floor(ms / MINUTE);
  if (ms < DAY) return `${Math.floor(totalM / 60)}h ${pad(totalM % 60)}m`;
  const totalH = Math.floor(ms / HOUR);
  return `${Math.floor(totalH / 24)}d ${pad(totalH % 24)}h`;
}

/**
 * Zoom the view [v0, v1] by `factor` (>1 zooms out) keeping time `c`
 * at the same screen position.
 */
export function zoomAt(v0: number, v1: number, c: number, factor: number): [number, number] {
  return [c - (c - v0) * factor, c + (v1 - c) * factor];
}

/**
 * Constrain a view: span within [minSpan, maxSpan] (keeping its centre) and
 * the window overlapping the data extent [e0, e1] (it may not be panned
 * entirely off the data).
 */
export function clampView(
  v0: number,
  v1: number,
  e0: number,
  e1: number,
  minSpan: number,
  maxSpan: number,
): [number, number] {
  let span = v1 - v0;
  if (!(span > 0)) span = minSpan;
  const c = (v0 + v1) / 2;
  if (span < minSpan) span = minSpan;
  if (span > maxSpan) span = maxSpan;
  let a = c - span / 2;
  let b = c + span / 2;
  // keep at least 10% of the view on the data
  const keep = span * 0.1;
  if (b < e0 + keep) {
    b = e0 + keep;
    a = b - span;
  }
  if (a > e1 - keep) {
    a = e1 - keep;
    b = a + span;
  }
  return [a, b];
}

/** Default view for a data extent: padded by 2% each side, never empty. */
export function fitView(e0: number, e1: number, minSpan = 10): [number, number] {
  let span = e1 - e0;
  if (!(span >= minSpan)) {
    const c = (e0 + e1) / 2;
    return [c - minSpan / 2 - minSpan * 0.02, c + minSpan / 2 + minSpan * 0.02];
  }
  const pad = span * 0.02;
  return [e0 - pad, e1 + pad];
}
