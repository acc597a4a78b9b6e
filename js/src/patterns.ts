/**
 * Marks drawn over a bar's fill so states that share a hue differ without colour:
 * Crashed is hatched (Failed is plain red), Pending and Cancelling have a dashed outline
 * (Scheduled and Cancelled are plain). The badges do the same with glyphs (states.ts
 * STATE_GLYPHS). Vector path only: the raster path for huge runs keeps one colour per pixel.
 */
import { STATE_TYPES, StateType, badgeTextColor, stateIndex } from "./states";

export type BarMark = "plain" | "hatch" | "dashed";

export const STATE_MARKS: Readonly<Record<StateType, BarMark>> = {
  SCHEDULED: "plain",
  PENDING: "dashed",
  RUNNING: "plain",
  COMPLETED: "plain",
  FAILED: "plain",
  CANCELLED: "plain",
  CRASHED: "hatch",
  PAUSED: "plain",
  CANCELLING: "dashed",
};

/** Distance between hatch lines and the dash pattern, in CSS px. */
export const HATCH_STEP = 6;
export const DASH: readonly number[] = [3, 2];
/** Bars smaller than this (either side, CSS px) get no mark: it would read as noise. */
export const MIN_MARK_PX = 4;

/** The mark of a state index (unknown states are plain). */
export function barMark(state: number): BarMark {
  const name = STATE_TYPES[state];
  return name ? STATE_MARKS[name] : "plain";
}

/** The canvas calls a mark needs (a CanvasRenderingContext2D satisfies it). */
export type MarkContext = Pick<
  CanvasRenderingContext2D,
  | "save"
  | "restore"
  | "beginPath"
  | "rect"
  | "clip"
  | "moveTo"
  | "lineTo"
  | "stroke"
  | "strokeRect"
  | "setLineDash"
  | "strokeStyle"
  | "lineWidth"
  | "globalAlpha"
>;

/**
 * Draw the state's mark over a bar already filled with `fill` at (x, y, w, h): lines in the
 * bar's label colour (the one with the better contrast on `fill`), so they show on every
 * palette. Leaves the context as it found it.
 */
export function drawBarMark(
  ctx: MarkContext,
  state: number,
  x: number,
  y: number,
  w: number,
  h: number,
  fill: string,
): void {
  const mark = barMark(state);
  if (mark === "plain" || w < MIN_MARK_PX || h < MIN_MARK_PX) return;
  ctx.save();
  ctx.strokeStyle = badgeTextColor(fill);
  ctx.lineWidth = 1;
  ctx.globalAlpha *= 0.45;
  if (mark === "hatch") hatch(ctx, x, y, w, h, "/");
  else dashedOutline(ctx, x, y, w, h);
  ctx.restore();
}

/** 45° lines every HATCH_STEP px over the whole bar, clipped to it: "/" or "\\". */
function hatch(ctx: MarkContext, x: number, y: number, w: number, h: number, way: "/" | "\\"): void {
  const [from, to] = way === "/" ? [y + h, y] : [y, y + h];
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.beginPath();
  for (let d = 0; d < w + h; d += HATCH_STEP) {
    ctx.moveTo(x + d - h, from);
    ctx.lineTo(x + d, to);
  }
  ctx.stroke();
}

function dashedOutline(ctx: MarkContext, x: number, y: number, w: number, h: number): void {
  ctx.setLineDash(DASH as number[]);
  ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
  ctx.setLineDash([]);
}

/** State indices of the final states (the kernel's `states.FINISHED_TYPES`). */
const FINAL_STATES = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].map(stateIndex));

/** A bar with no end whose state is not final: once its run has finished, it never will. */
export function neverFinished(state: number, end: number): boolean {
  return end !== end && !FINAL_STATES.has(state);
}

/**
 * The mark of a bar that never reached a final state (its flow run finished, the bar cut at
 * the run's end): "\\" hatching, the other way from Crashed's "/", and a dashed outline, in
 * the bar's label colour (bars smaller than MIN_MARK_PX get none).
 */
export function drawUnfinishedMark(
  ctx: MarkContext,
  x: number,
  y: number,
  w: number,
  h: number,
  fill: string,
): void {
  if (w < MIN_MARK_PX || h < MIN_MARK_PX) return;
  ctx.save();
  ctx.strokeStyle = badgeTextColor(fill);
  ctx.lineWidth = 1;
  ctx.globalAlpha *= 0.6;
  hatch(ctx, x, y, w, h, "\\");
  dashedOutline(ctx, x, y, w, h);
  ctx.restore();
}
