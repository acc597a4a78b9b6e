/** Small pure helpers for the header / details DOM. */
import { N_STATES, STATE_TYPES, isActiveState, stateIndex } from "./states";
import type { Timeline } from "./decode";

export interface HeaderData {
  run_name: string;
  flow_name: string;
  state_type: string;
  state_name: string;
  state_message: string | null;
  start_ms: number | null;
  end_ms: number | null;
  ui_url: string | null;
  counts: Record<string, number>;
  live: boolean;
  error: string | null;
  /** task runs and subflow runs (counted apart); null when the kernel did not say */
  task_runs: number | null;
  subflow_runs: number | null;
  /** task runs that never reached a final state (the kernel's `records.unfinished_mask`) */
  unfinished: number;
  /** how live updates arrive: "stream" (events), "polling", or "" (not said) */
  live_via: LiveVia;
  /** why live updates are not streamed (may be empty) */
  live_reason: string;
}

export type LiveVia = "stream" | "polling" | "";

const str = (v: unknown, d = ""): string => (v == null ? d : String(v));
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

const count = (v: unknown): number | null => {
  const n = num(v);
  return n != null && n >= 0 ? Math.floor(n) : null;
};

/** Coerce whatever arrived in the `header` trait into a well-typed HeaderData. */
export function normalizeHeader(raw: unknown): HeaderData {
  const r = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const counts: Record<string, number> = {};
  if (r.counts && typeof r.counts === "object") {
    for (const [k, v] of Object.entries(r.counts as Record<string, unknown>)) {
      const i = stateIndex(k);
      const n = Number(v);
      if (i >= 0 && Number.isFinite(n) && n > 0) counts[STATE_TYPES[i]] = (counts[STATE_TYPES[i]] ?? 0) + Math.floor(n);
    }
  }
  const stype = STATE_TYPES[stateIndex(str(r.state_type))] ?? "";
  return {
    run_name: str(r.run_name),
    flow_name: str(r.flow_name),
    state_type: stype,
    state_name: str(r.state_name) || (stype ? stype.charAt(0) + stype.slice(1).toLowerCase() : ""),
    state_message: r.state_message == null || r.state_message === "" ? null : String(r.state_message),
    start_ms: num(r.start_ms),
    end_ms: num(r.end_ms),
    ui_url: r.ui_url == null ? null : String(r.ui_url),
    counts,
    live: Boolean(r.live),
    error: r.error == null || r.error === "" ? null : String(r.error),
    task_runs: count(r.task_runs),
    subflow_runs: count(r.subflow_runs),
    unfinished: count(r.unfinished) ?? 0,
    live_via: r.live_via === "stream" || r.live_via === "polling" ? r.live_via : "",
    live_reason: str(r.live_reason),
  };
}

/**
 * Where open bars end: the run's end once it is finished (not live, `end_ms` known), so task
 * runs that never reached a final state stop there instead of growing to "now"; null while
 * the run goes on.
 */
export function closedAt(h: HeaderData): number | null {
  return !h.live && h.end_ms != null ? h.end_ms : null;
}

/** The live chip's text and tooltip: "live" (streamed) or "live · polling" with the reason. */
export function liveChip(h: HeaderData): { text: string; title: string } {
  if (h.live_via === "polling") {
    return { text: "live · polling", title: h.live_reason || "Updating live by polling the server" };
  }
  return { text: "live", title: h.live_reason || "Updating live" };
}

/** "2 task runs never reached a final state (…)": the kernel's `records.unfinished_text`. */
export function unfinishedText(n: number): string {
  const one = n === 1;
  return `${formatCount(n)} ${one ? "task run" : "task runs"} never reached a final state (the server has no end for ${one ? "it" : "them"}; events may have been dropped)`;
}

/** Only absolute http(s) URLs may become links. */
export function safeUrl(u: unknown): string | null {
  if (typeof u !== "string") return null;
  const s = u.trim();
  if (!/^https?:\/\/[^\s]+$/i.test(s)) return null;
  try {
    const parsed = new URL(s);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Run duration in ms: end - start when ended; now - start while the state is
 * active (RUNNING/PENDING/CANCELLING); null when unknown.
 */
export function runDuration(h: HeaderData, nowMs: number): number | null {
  if (h.start_ms == null) return null;
  if (h.end_ms != null) return Math.max(0, h.end_ms - h.start_ms);
  if (isActiveState(h.state_type)) return Math.max(0, nowMs - h.start_ms);
  return null;
}

/** Counts by state type computed from timeline rows (fallback when header.counts is empty). */
export function countStates(tl: Timeline): Record<string, number> {
  const c = new Array<number>(N_STATES).fill(0);
  for (let i = 0; i < tl.n; i++) c[tl.state[i]]++;
  const out: Record<string, number> = {};
  c.forEach((v, i) => {
    if (v > 0) out[STATE_TYPES[i]] = v;
  });
  return out;
}

/** Toggle `state` in a filter list, keeping STATE_TYPES order and dropping unknowns. */
export function toggleFilter(filter: readonly string[], state: string): string[] {
  const set = new Set(filter.map((s) => STATE_TYPES[stateIndex(s)]).filter(Boolean));
  const s = STATE_TYPES[stateIndex(state)];
  if (!s) return [...set];
  if (set.has(s)) set.delete(s);
  else set.add(s);
  return STATE_TYPES.filter((t) => set.has(t));
}

/** Filter list (names) -> state indices; unknown names are ignored. */
export function filterIndices(filter: unknown): number[] {
  if (!Array.isArray(filter)) return [];
  const out: number[] = [];
  for (const f of filter) {
    const i = stateIndex(String(f));
    if (i >= 0 && !out.includes(i)) out.push(i);
  }
  return out;
}

/** Render a details value as display text. */
export function displayValue(v: unknown): string {
  if (v == null) return "—";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** "2 task runs · 1 subflow run" (parts with a zero count left out; "" when unknown). */
export function runCountsText(taskRuns: number | null, subflowRuns: number | null): string {
  const part = (n: number, one: string) => `${formatCount(n)} ${one}${n === 1 ? "" : "s"}`;
  const parts: string[] = [];
  if (taskRuns != null && (taskRuns > 0 || !subflowRuns)) parts.push(part(taskRuns, "task run"));
  if (subflowRuns) parts.push(part(subflowRuns, "subflow run"));
  return parts.join(" · ");
}

/** 97027 -> "97,027" (no Intl: its first use costs tens of ms). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const neg = n < 0;
  const digits = String(Math.trunc(Math.abs(n)));
  let out = "";
  for (let i = digits.length; i > 0; i -= 3) out = digits.slice(Math.max(0, i - 3), i) + (out ? "," + out : "");
  return (neg ? "-" : "") + out;
}
