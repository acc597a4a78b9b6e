/**
 * Accessibility of the timeline (issue 19, item 6): the summary a screen reader reads for
 * the widget ("Flow run X: 120 task runs, 3 Failed, …") and a polite live region that
 * announces the state changes of a live run, coalesced to at most one announcement a
 * second (a count by state when many runs changed at once).
 */
import { Timeline, labelOf } from "./decode";
import { STATE_TYPES, stateLabel } from "./states";

/** Announcements at most this often (ms). */
export const ANNOUNCE_EVERY_MS = 1000;
/** More changes than this in one announcement are told as counts by state. */
const LIST_AT_MOST = 3;

const fmt = (v: number) => v.toLocaleString("en-US");

/** "Flow run X: 120 task runs, 3 Failed, 117 Completed" (states in wire order). */
export function summaryLabel(runName: string, counts: Record<string, number>): string {
  let total = 0;
  const parts: string[] = [];
  for (const s of STATE_TYPES) {
    const c = counts[s] ?? 0;
    if (c <= 0) continue;
    total += c;
    parts.push(`${fmt(c)} ${stateLabel(s)}`);
  }
  const runs = `${fmt(total)} task run${total === 1 ? "" : "s"}`;
  return `Flow run ${runName || "(unnamed)"}: ${[runs, ...parts].join(", ")}`;
}

/** Rows whose state differs from `prev` (rows beyond `prev`'s length are new: all count). */
export function changedRows(prev: Uint8Array, tl: Timeline): number[] {
  const out: number[] = [];
  for (let i = 0; i < tl.n; i++) if (i >= prev.length || prev[i] !== tl.state[i]) out.push(i);
  return out;
}

/** "extract[3] Completed", a few such joined by "; ", or "12 task runs changed state: 8 Completed, 4 Running". */
export function describeChanges(tl: Timeline, rows: readonly number[]): string {
  const live = rows.filter((i) => i >= 0 && i < tl.n);
  if (!live.length) return "";
  if (live.length <= LIST_AT_MOST) return live.map((i) => `${labelOf(tl, i)} ${stateLabel(tl.state[i])}`).join("; ");
  const byState = new Map<number, number>();
  for (const i of live) byState.set(tl.state[i], (byState.get(tl.state[i]) ?? 0) + 1);
  const parts = [...byState.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([s, c]) => `${fmt(c)} ${stateLabel(s)}`);
  return `${fmt(live.length)} task runs changed state: ${parts.join(", ")}`;
}

/**
 * The live region: `observe(tl)` after each data change (the first call only records the
 * states); changed rows are collected and told at most once per `ANNOUNCE_EVERY_MS`.
 */
export class Announcer {
  readonly region: HTMLDivElement;
  private prev: Uint8Array | null = null;
  private pending = new Set<number>();
  private last = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private tl: Timeline | null = null;

  constructor(private clock: () => number = () => Date.now()) {
    this.region = document.createElement("div");
    this.region.className = "pw-live-region";
    this.region.setAttribute("aria-live", "polite");
    this.region.setAttribute("role", "status");
  }

  /** Note the rows whose state changed since the last call; `reset`: new data, no announcement. */
  observe(tl: Timeline, reset = false): void {
    this.tl = tl;
    const prev = this.prev;
    this.prev = tl.state.slice(0, tl.n);
    if (!prev || reset) {
      this.pending.clear();
      return;
    }
    for (const i of changedRows(prev, tl)) this.pending.add(i);
    if (this.pending.size) this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + ANNOUNCE_EVERY_MS - this.clock());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Announce what is pending now (called by the timer). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.tl || !this.pending.size) return;
    const text = describeChanges(this.tl, [...this.pending].sort((a, b) => a - b));
    this.pending.clear();
    if (!text) return;
    this.last = this.clock();
    this.region.textContent = text;
    this.region.dataset.announced = String(Number(this.region.dataset.announced ?? 0) + 1);
  }

  destroy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.region.remove();
  }
}
