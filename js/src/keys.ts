/**
 * Keyboard navigation of the timeline (issue 19, item 6). Pure moves of the selection over
 * a row layout (`Packing`: bars of a row sorted by start): Left/Right go to the previous or
 * next bar of the same row, Up/Down to the bar of the nearest non-empty row above or below
 * that is nearest in time. `bindKeys` listens on the widget's own root only (never
 * `document`), in the capture phase so that the canvas's own keys (Shift+arrows pan) do not
 * also act on a key handled here, and marks the root with `data-lm-suppress-shortcuts` so
 * JupyterLab's command-mode shortcuts (A, B, X, D D, arrows between cells) stay off while
 * the widget has focus. On a selected subflow row, Right expands it (its child run's task
 * runs nested under it) and Left collapses it, as in a tree; otherwise they move.
 */
import type { Timeline } from "./decode";
import type { Packing } from "./pack";

export type Move = "left" | "right" | "up" | "down";

/** What a key does in the widget; null: not ours. */
export type KeyCommand = Move | "open" | "clear" | "search" | "next-match" | "prev-match";

/** Effective end of bar i (an open bar runs to `now`). */
function endOf(tl: Timeline, i: number, now: number): number {
  const e = tl.end[i];
  const v = e === e ? e : now;
  return v > tl.start[i] ? v : tl.start[i];
}

/** The placed bar that starts first (lowest row on ties), or -1. */
export function firstBar(p: Packing, tl: Timeline): number {
  let best = -1;
  for (let r = 0; r < p.rows; r++) {
    if (p.rowStart[r] === p.rowStart[r + 1]) continue;
    const i = p.rowBars[p.rowStart[r]];
    if (best < 0 || tl.start[i] < tl.start[best]) best = i;
  }
  return best;
}

/** The bar of row r nearest in time to [t0, t1] (overlap counts as 0), or -1 when empty. */
export function nearestInRow(p: Packing, tl: Timeline, r: number, t0: number, t1: number, now: number): number {
  const lo = p.rowStart[r];
  const hi = p.rowStart[r + 1];
  let best = -1;
  let bestD = Infinity;
  for (let k = lo; k < hi; k++) {
    const i = p.rowBars[k];
    const s = tl.start[i];
    const e = endOf(tl, i, now);
    const d = e < t0 ? t0 - e : s > t1 ? s - t1 : 0;
    if (d < bestD || (d === bestD && best >= 0 && Math.abs(s - t0) < Math.abs(tl.start[best] - t0))) {
      best = i;
      bestD = d;
    }
    if (s > t1 + bestD) break; // bars start later and later: none can be nearer
  }
  return best;
}

/**
 * The bar selected after `move` from `current` (-1: none selected, then the first bar in
 * time); `current` itself at an edge; -1 when nothing is placed.
 */
export function moveSelection(p: Packing, tl: Timeline, current: number, move: Move, now: number): number {
  const r = current >= 0 && current < p.rowOf.length ? p.rowOf[current] : -1;
  if (r < 0) return firstBar(p, tl);
  if (move === "left" || move === "right") {
    const lo = p.rowStart[r];
    const hi = p.rowStart[r + 1];
    for (let k = lo; k < hi; k++) {
      if (p.rowBars[k] !== current) continue;
      const j = move === "right" ? k + 1 : k - 1;
      return j >= lo && j < hi ? p.rowBars[j] : current;
    }
    return current;
  }
  const step = move === "down" ? 1 : -1;
  const t0 = tl.start[current];
  const t1 = endOf(tl, current, now);
  for (let q = r + step; q >= 0 && q < p.rows; q += step) {
    const i = nearestInRow(p, tl, q, t0, t1, now);
    if (i >= 0) return i;
  }
  return current;
}

/** The command of a key event, or null when the widget leaves the key alone. */
export function keyCommand(e: Pick<KeyboardEvent, "key" | "shiftKey" | "ctrlKey" | "metaKey" | "altKey">, inText: boolean): KeyCommand | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (inText) {
    if (e.key === "Enter") return e.shiftKey ? "prev-match" : "next-match";
    return e.key === "Escape" ? "clear" : null;
  }
  if (e.shiftKey && e.key.startsWith("Arrow")) return null; // the canvas pans
  switch (e.key) {
    case "ArrowLeft":
      return "left";
    case "ArrowRight":
      return "right";
    case "ArrowUp":
      return "up";
    case "ArrowDown":
      return "down";
    case "Enter":
      return "open";
    case "Escape":
      return "clear";
    case "/":
      return "search";
    default:
      return null;
  }
}

/** The attribute by which JupyterLab and Notebook 7 (Lumino) leave an element's keys alone. */
const SUPPRESS = "data-lm-suppress-shortcuts";

/** Whether the event comes from a text field or a select (keys are typed there, not ours). */
function fromTextField(e: Event): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

/**
 * Make `root` focusable with JupyterLab's shortcuts suppressed inside it, and run `act` for
 * the keys it handles (`act` returns false to let a key through). Returns the unbinder.
 */
export function bindKeys(root: HTMLElement, act: (cmd: KeyCommand, e: KeyboardEvent) => boolean): () => void {
  root.tabIndex = 0;
  root.setAttribute(SUPPRESS, "true");
  const onKey = (e: KeyboardEvent) => {
    const text = fromTextField(e);
    const t = e.target as HTMLElement | null;
    if (text && t?.tagName !== "INPUT") return; // a select or a text area keeps its keys
    if (e.key === "Enter" && (t?.tagName === "BUTTON" || t?.tagName === "A")) return; // presses it
    const cmd = keyCommand(e, text);
    if (cmd && act(cmd, e)) {
      e.preventDefault();
      e.stopPropagation();
    }
  };
  root.addEventListener("keydown", onKey, true);
  // Lumino matches a binding's selector on the focused element before it climbs to the
  // root's suppress mark (Notebook 7 binds arrows there): mark whatever takes the focus too.
  const onFocus = (e: FocusEvent) => {
    if (e.target instanceof HTMLElement && e.target !== root) e.target.setAttribute(SUPPRESS, "true");
  };
  root.addEventListener("focusin", onFocus);
  return () => {
    root.removeEventListener("keydown", onKey, true);
    root.removeEventListener("focusin", onFocus);
    root.removeAttribute(SUPPRESS);
    for (const marked of root.querySelectorAll(`[${SUPPRESS}]`)) marked.removeAttribute(SUPPRESS);
    root.removeAttribute("tabindex");
  };
}

/** What the widget's keys act on. */
export interface KeyTarget {
  readonly tl: Timeline;
  readonly selected: number;
  layoutNow(): Packing;
  nowOffset(): number;
  revealBar(i: number): void;
  /** select bar i (-1: none); `open`: open its details (ask the kernel for them) */
  select(i: number, open: boolean): void;
  /** the next (1) or previous (-1) search match, -1 when none */
  stepMatch(dir: 1 | -1): number;
  /** focus the search field */
  focusSearch(): void;
  /** clear the search; false when there was none */
  clearSearch(): boolean;
  /** expand (or collapse) subflow row i; false when it is not a subflow row or already so */
  toggleSubflow?(i: number, expand: boolean): boolean;
}

/** The widget's key handling over `t`: returns whether the key was used. */
export function keyActions(t: KeyTarget): (cmd: KeyCommand) => boolean {
  const go = (i: number, open: boolean) => {
    if (i < 0) return false;
    t.select(i, open);
    t.revealBar(i);
    return true;
  };
  return (cmd) => {
    switch (cmd) {
      case "left":
      case "right":
      case "up":
      case "down": {
        // on a subflow row Right opens it and Left closes it, when they change something
        const opens = cmd === "right" || cmd === "left";
        if (opens && t.selected >= 0 && t.toggleSubflow?.(t.selected, cmd === "right")) return true;
        const next = moveSelection(t.layoutNow(), t.tl, t.selected, cmd, t.nowOffset());
        return next === t.selected ? next >= 0 : go(next, false);
      }
      case "open":
        return t.selected >= 0 && go(t.selected, true);
      case "next-match":
      case "prev-match":
        go(t.stepMatch(cmd === "next-match" ? 1 : -1), false);
        return true;
      case "search":
        t.focusSearch();
        return true;
      case "clear":
        if (t.clearSearch()) return true;
        if (t.selected < 0) return false;
        t.select(-1, false);
        return true;
    }
  };
}
