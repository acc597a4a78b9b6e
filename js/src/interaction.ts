/**
 * Gantt interaction: which bar is under the pointer, and the pointer, wheel and keyboard
 * handlers (zoom, pan, hover, click selection, reset) with the hover tooltip. Works on an
 * `InteractionHost` (the Gantt) so this module never imports the class that wires it.
 */
import { labelOf } from "./decode";
import { hitTest } from "./hittest";
import { formatDateTime, formatDuration, toTime, zoomAt } from "./scale";
import { stateLabel } from "./states";
import { AXIS_H, Geometry, MIN_BAR_PX, PAD_X, tzOffsetMin } from "./draw";

const DRAG_THRESHOLD = 3;

/** What the handlers read and change on the Gantt. */
export interface InteractionHost {
  readonly canvas: HTMLCanvasElement;
  readonly tooltip: HTMLDivElement;
  readonly selected: number;
  geometry(): Geometry;
  nowOffset(): number;
  barColor(i: number): string;
  /** show [v0, v1] (ms offsets), within the data's bounds */
  pan(v0: number, v1: number): void;
  resetView(): void;
  setHover(i: number): void;
  /** select bar i (-1: none) and tell the owner */
  select(i: number): void;
}

/** Bar index under a point (css px relative to the canvas), or -1. */
export function pickBar(g: Geometry, x: number, y: number, now: number): number {
  if (g.packing.rows === 0) return -1;
  if (y < AXIS_H || y > AXIS_H + g.plotH || x < PAD_X - 4 || x > g.cssW - PAD_X + 4) return -1;
  const sc = g.sc;
  const t = toTime(sc, x);
  const tol = sc.k > 0 ? Math.max(MIN_BAR_PX / 2 + 1, 3) / sc.k : 0;
  const rf = (y - AXIS_H) / g.rowH;
  const slack = g.rowH >= 6 ? 0 : 3 / g.rowH;
  return hitTest(g.packing, g.tl, rf - slack, rf + slack, rf, t, tol, now);
}

/** Attach the handlers to the host's canvas; returns the function that detaches them. */
export function bindInteraction(host: InteractionHost): () => void {
  const c = host.canvas;
  const disposers: Array<() => void> = [];
  let drag: { id: number; x: number; v0: number; v1: number; moved: boolean } | null = null;
  const on = <K extends keyof HTMLElementEventMap>(
    type: K,
    fn: (e: HTMLElementEventMap[K]) => void,
    opts?: AddEventListenerOptions,
  ) => {
    c.addEventListener(type, fn as EventListener, opts);
    disposers.push(() => c.removeEventListener(type, fn as EventListener, opts));
  };
  const local = (e: MouseEvent) => {
    const r = c.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top] as const;
  };
  const pick = (x: number, y: number) => pickBar(host.geometry(), x, y, host.nowOffset());

  on(
    "wheel",
    (e) => {
      const { packing, sc } = host.geometry();
      if (packing.placed === 0) return;
      e.preventDefault();
      const [x] = local(e);
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      const dx = e.deltaX * unit;
      const dy = e.deltaY * unit;
      let v: [number, number];
      if (e.shiftKey || Math.abs(dx) > Math.abs(dy)) {
        const d = (e.shiftKey ? dy || dx : dx) / (sc.k || 1);
        v = [sc.d0 + d, sc.d1 + d];
      } else {
        const factor = Math.exp(Math.max(-1, Math.min(1, dy * 0.002)));
        v = zoomAt(sc.d0, sc.d1, toTime(sc, x), factor);
      }
      host.pan(v[0], v[1]);
      hideTooltip(host.tooltip);
    },
    { passive: false },
  );

  on("pointerdown", (e) => {
    if (e.button !== 0) return;
    const [x] = local(e);
    const { sc } = host.geometry();
    drag = { id: e.pointerId, x, v0: sc.d0, v1: sc.d1, moved: false };
    try {
      c.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events in tests have no active pointer */
    }
  });

  on("pointermove", (e) => {
    const [x, y] = local(e);
    const d = drag;
    if (d && d.id === e.pointerId) {
      const dx = x - d.x;
      if (!d.moved && Math.abs(dx) >= DRAG_THRESHOLD) {
        d.moved = true;
        c.classList.add("pw-dragging");
        hideTooltip(host.tooltip);
      }
      if (d.moved) {
        const k = host.geometry().sc.k || 1;
        host.pan(d.v0 - dx / k, d.v1 - dx / k);
      }
      return;
    }
    const i = pick(x, y);
    host.setHover(i);
    c.style.cursor = i >= 0 ? "pointer" : "";
    if (i >= 0) showTooltip(host, i, x, y);
    else hideTooltip(host.tooltip);
  });

  const endDrag = (e: PointerEvent, cancelled: boolean) => {
    const d = drag;
    if (!d || d.id !== e.pointerId) return;
    drag = null;
    c.classList.remove("pw-dragging");
    try {
      c.releasePointerCapture(e.pointerId);
    } catch {
      /* ignore */
    }
    if (!d.moved && !cancelled) {
      const [x, y] = local(e);
      host.select(pick(x, y));
    }
  };
  on("pointerup", (e) => endDrag(e, false));
  on("pointercancel", (e) => endDrag(e, true));
  on("pointerleave", () => {
    host.setHover(-1);
    hideTooltip(host.tooltip);
  });
  on("dblclick", (e) => {
    e.preventDefault();
    host.resetView();
  });
  on("keydown", (e) => {
    const { sc } = host.geometry();
    const span = sc.d1 - sc.d0;
    let v: [number, number] | null = null;
    if (e.key === "ArrowLeft") v = [sc.d0 - span * 0.1, sc.d1 - span * 0.1];
    else if (e.key === "ArrowRight") v = [sc.d0 + span * 0.1, sc.d1 + span * 0.1];
    else if (e.key === "+" || e.key === "=") v = zoomAt(sc.d0, sc.d1, (sc.d0 + sc.d1) / 2, 0.8);
    else if (e.key === "-" || e.key === "_") v = zoomAt(sc.d0, sc.d1, (sc.d0 + sc.d1) / 2, 1.25);
    else if (e.key === "0") {
      host.resetView();
      e.preventDefault();
      return;
    } else if (e.key === "Escape" && host.selected >= 0) {
      host.select(-1);
      e.preventDefault();
      return;
    }
    if (v) {
      e.preventDefault();
      host.pan(v[0], v[1]);
    }
  });
  return () => {
    for (const d of disposers.splice(0)) d();
  };
}

/** The tooltip of bar i next to the pointer at (x, y), kept inside the widget root. */
export function showTooltip(host: InteractionHost, i: number, x: number, y: number): void {
  const { tl } = host.geometry();
  const tt = host.tooltip;
  const s = tl.start[i];
  const e = tl.end[i];
  const abs = (o: number) => o + tl.t0;
  const lines: Array<[string, string]> = [
    ["State", stateLabel(tl.state[i])],
    ["Start", s === s ? formatDateTime(abs(s), tzOffsetMin(abs(s))) : "—"],
    ["End", e === e ? formatDateTime(abs(e), tzOffsetMin(abs(e))) : "running"],
    ["Duration", s === s ? formatDuration((e === e ? e : host.nowOffset()) - s) : "—"],
    ["Retries", String(Math.max(0, tl.runCount[i] - 1))],
  ];
  tt.replaceChildren();
  const title = document.createElement("div");
  title.className = "pw-tooltip-title";
  const dot = document.createElement("span");
  dot.className = "pw-dot";
  dot.style.background = host.barColor(i);
  const name = document.createElement("span");
  name.textContent = labelOf(tl, i);
  title.append(dot, name);
  tt.append(title);
  for (const [k, v] of lines) {
    const row = document.createElement("div");
    row.className = "pw-tooltip-row";
    const kk = document.createElement("span");
    kk.className = "pw-tooltip-key";
    kk.textContent = k;
    const vv = document.createElement("span");
    vv.textContent = v;
    row.append(kk, vv);
    tt.append(row);
  }
  tt.hidden = false;
  placeTooltip(tt, host.canvas, x, y);
}

/** Put the tooltip beside the pointer (x, y: css px in the canvas) in the widget root
 * (`.pw-widget`, where it escapes the timeline's clipping): right of and below the pointer,
 * flipped to the other side where it would cross the root's edge, then clamped inside it. */
export function placeTooltip(tt: HTMLElement, canvas: HTMLElement, x: number, y: number): void {
  const root = (canvas.closest(".pw-widget") as HTMLElement | null) ?? canvas.parentElement;
  if (!root) return;
  if (tt.parentElement !== root) root.append(tt);
  const frame = root.getBoundingClientRect();
  const c = canvas.getBoundingClientRect();
  const px = c.left - frame.left - root.clientLeft + x;
  const py = c.top - frame.top - root.clientTop + y;
  const w = tt.offsetWidth;
  const h = tt.offsetHeight;
  const W = root.clientWidth;
  const H = root.clientHeight;
  let left = px + 14;
  if (left + w > W) left = px - w - 14;
  let top = py + 14;
  if (top + h > H) top = py - h - 10;
  tt.style.left = `${Math.max(0, Math.min(left, W - w))}px`;
  tt.style.top = `${Math.max(0, Math.min(top, H - h))}px`;
}

export function hideTooltip(tooltip: HTMLDivElement): void {
  tooltip.hidden = true;
}
