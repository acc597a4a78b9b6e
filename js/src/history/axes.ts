/**
 * The chart's two axes: start time across (nice ticks of `scale.ts`, local wall-clock time)
 * and duration up on a log scale, in decades above 10 ms.
 */
import { chooseStep, formatTick, makeScale, Scale, ticks, toPx, toTime } from "../scale";

/** Plot margins, CSS px. */
export const PAD = { l: 52, r: 12, t: 10, b: 26 } as const;

/** Durations below this sit on the lowest level. */
export const MIN_SECONDS = 0.01;

/** Duration ticks (seconds): powers of ten to 10 s, then round clock spans. */
export const DURATION_TICKS: readonly number[] = [
  0.01, 0.1, 1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400,
];

/** A duration's height in decades above 10 ms; -1 for a run without a duration (the floor). */
export function durationLevel(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? Math.log10(Math.max(seconds, MIN_SECONDS)) + 2 : -1;
}

/** The top of the duration axis: whole decades, at least one. */
export function levelCeiling(seconds: ArrayLike<number>): number {
  let top = 0;
  for (let i = 0; i < seconds.length; i++) top = Math.max(top, durationLevel(seconds[i]));
  return Math.max(1, Math.ceil(top));
}

/** "10ms", "1s", "10m", "6h", "7d": a duration tick's label. */
export function durationLabel(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${seconds / 60}m`;
  if (seconds < 86400) return `${seconds / 3600}h`;
  return `${seconds / 86400}d`;
}

export interface Tick {
  at: number;
  label: string;
}

/** Duration ticks up to the axis' top level (`at` is the level). */
export function durationTicks(top: number): Tick[] {
  return DURATION_TICKS.filter((s) => durationLevel(s) <= top + 1e-9).map((s) => ({
    at: durationLevel(s),
    label: durationLabel(s),
  }));
}

/** What is shown: a time window over a plot of `width` × `height` CSS px. */
export interface View {
  lo: number;
  hi: number;
  width: number;
  height: number;
  /** the duration axis' top level */
  top: number;
}

/** The time scale of a view (epoch ms → CSS px). */
export function timeScale(view: View): Scale {
  return makeScale(view.lo, view.hi, PAD.l, view.width - PAD.r);
}

/** x of a start time, CSS px. */
export function xOf(view: View, t: number): number {
  return toPx(timeScale(view), t);
}

/** The start time under x (CSS px). */
export function timeAt(view: View, px: number): number {
  return toTime(timeScale(view), px);
}

/** y of a duration level (-1: the floor, the plot's bottom edge), CSS px. */
export function yOf(view: View, level: number): number {
  const plot = view.height - PAD.t - PAD.b;
  return view.height - PAD.b - (level < 0 ? 0 : ((level + 0.5) / (view.top + 0.5)) * plot);
}

/** Time ticks of the view, at least `minPx` apart (`tzOffsetMin`: minutes east of UTC). */
export function timeTicks(view: View, tzOffsetMin: number, minPx = 90): Tick[] {
  const step = chooseStep(view.hi - view.lo, view.width - PAD.l - PAD.r, minPx);
  return ticks(view.lo, view.hi, step, tzOffsetMin).map((t) => ({ at: t, label: formatTick(t, step, tzOffsetMin) }));
}
