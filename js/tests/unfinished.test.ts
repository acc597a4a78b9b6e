// @vitest-environment happy-dom
/**
 * A finished run whose task runs never reached a final state (issue 20 item 4): open bars end
 * at the run's end and are marked, the header says how many; the live chip says how updates
 * arrive (streamed or polled, and why).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { mountGantt } from "./gantt_fixture";
import type { Timeline } from "../src/decode";
import { Gantt } from "../src/gantt";
import { Header } from "../src/header";
import { DASH, HATCH_STEP, MarkContext, drawUnfinishedMark, neverFinished } from "../src/patterns";
import { LIGHT_PALETTE, stateIndex } from "../src/states";
import { closedAt, liveChip, normalizeHeader, unfinishedText } from "../src/util";

/** Every line drawn on the (fake) canvas since the last reset: [x0, y0, x1, y1]. */
let lines: Array<[number, number, number, number]> = [];

/** A 2D context that records lines and measures 7 px per glyph (happy-dom has no canvas). */
beforeAll(() => {
  let last: [number, number] = [0, 0];
  const record: Record<string, unknown> = {
    measureText: (t: string) => ({ width: t.length * 7 }),
    moveTo: (x: number, y: number) => { last = [x, y]; },
    lineTo: (x: number, y: number) => { lines.push([...last, x, y]); },
  };
  const ctx = new Proxy({} as Record<string | symbol, unknown>, {
    get: (target, name) => (name in target ? target[name] : name in record ? record[name as string] : () => undefined),
    set: (target, name, value) => {
      target[name] = value;
      return true;
    },
  });
  HTMLCanvasElement.prototype.getContext = (() => ctx) as unknown as HTMLCanvasElement["getContext"];
});

afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

const T0 = Date.UTC(2026, 0, 1);

/** "a" completed 0–100 ms; "b" started at 100 ms and never ended (no end: NaN). */
function timeline(): Timeline {
  return {
    n: 2,
    t0: T0,
    key: Int32Array.from([0, 1]),
    start: Float32Array.from([0, 100]),
    end: Float32Array.from([100, NaN]),
    mapIndex: Int32Array.from([-1, -1]),
    state: Uint8Array.from([stateIndex("COMPLETED"), stateIndex("RUNNING")]),
    keys: ["a", "b"],
    runCount: new Uint16Array(2).fill(1),
    highlight: null,
  };
}

function mounted(): Gantt {
  return mountGantt(timeline());
}

/** Diagonal lines going down to the right ("\"): the never-finished mark's hatching. */
const backslashes = () => lines.filter(([x0, y0, x1, y1]) => x1 > x0 && y1 > y0);

describe("the header's new keys", () => {
  it("reads unfinished, live_via and live_reason, dropping junk", () => {
    const h = normalizeHeader({ unfinished: 4, live_via: "polling", live_reason: "no event stream: 403" });
    expect([h.unfinished, h.live_via, h.live_reason]).toEqual([4, "polling", "no event stream: 403"]);
    const junk = normalizeHeader({ unfinished: -3, live_via: "<b>", live_reason: null });
    expect([junk.unfinished, junk.live_via, junk.live_reason]).toEqual([0, "", ""]);
    expect(normalizeHeader({}).unfinished).toBe(0); // absent: none
  });

  it("closes the timeline only when the run is finished", () => {
    expect(closedAt(normalizeHeader({ live: false, end_ms: T0 + 500 }))).toBe(T0 + 500);
    expect(closedAt(normalizeHeader({ live: true, end_ms: T0 + 500 }))).toBeNull();
    expect(closedAt(normalizeHeader({ live: false, end_ms: null }))).toBeNull();
  });

  it("words the live chip by how updates arrive", () => {
    expect(liveChip(normalizeHeader({ live: true, live_via: "stream" }))).toEqual({ text: "live", title: "Updating live" });
    expect(liveChip(normalizeHeader({ live: true, live_via: "polling", live_reason: "events refused (403)" })))
      .toEqual({ text: "live · polling", title: "events refused (403)" });
    expect(liveChip(normalizeHeader({ live: true, live_via: "polling" })).title).toMatch(/polling/);
  });

  it("says the kernel's words for the count", () => {
    expect(unfinishedText(1)).toBe("1 task run never reached a final state (the server has no end for it; events may have been dropped)");
    expect(unfinishedText(4818)).toMatch(/^4,818 task runs never reached a final state \(the server has no end for them;/);
  });
});

describe("Header", () => {
  const shown = (raw: Record<string, unknown>) => {
    const header = new Header(() => undefined, () => undefined);
    document.body.append(header.root);
    header.update(normalizeHeader({ run_name: "r", state_type: "COMPLETED", ...raw }), {}, [], false);
    return header.root;
  };

  it("shows the live chip as streamed or polled, with the reason as its tooltip", () => {
    const streamed = shown({ live: true, live_via: "stream" }).querySelector<HTMLElement>(".pw-live")!;
    expect([streamed.hidden, streamed.textContent, streamed.dataset.via]).toEqual([false, "live", "stream"]);
    const reason = "<img src=x onerror=alert(1)> no events";
    const polled = shown({ live: true, live_via: "polling", live_reason: reason }).querySelector<HTMLElement>(".pw-live")!;
    expect([polled.textContent, polled.title, polled.dataset.via]).toEqual(["live · polling", reason, "polling"]);
    expect(polled.querySelector("img")).toBeNull(); // text, never markup
    expect(shown({ live: false, live_via: "polling" }).querySelector<HTMLElement>(".pw-live")!.hidden).toBe(true);
  });

  it("warns when task runs never reached a final state, and not otherwise", () => {
    const note = shown({ unfinished: 2, end_ms: T0 }).querySelector<HTMLElement>(".pw-unfinished-note")!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe(unfinishedText(2));
    expect(note.getAttribute("role")).toBe("note");
    expect(shown({ unfinished: 0 }).querySelector<HTMLElement>(".pw-unfinished-note")!.hidden).toBe(true);
    expect(shown({}).querySelector<HTMLElement>(".pw-unfinished-note")!.hidden).toBe(true);
  });
});

describe("Gantt of a finished run", () => {
  it("draws an open bar to now while the run goes on", () => {
    vi.useFakeTimers({ now: T0 + 10_000, toFake: ["Date"] });
    const g = mounted();
    g.drawNow();
    expect(g.nowOffset()).toBe(10_000);
    expect(g.hasOpenBars()).toBe(true);
    const a = g.barRect(0)!;
    const b = g.barRect(1)!;
    expect(b.w / a.w).toBeCloseTo(9_900 / 100, 0); // 100 ms → 10 s
    g.destroy();
  });

  it("ends open bars at the run's end, marks them, and stops ticking", () => {
    vi.useFakeTimers({ now: T0 + 10_000, toFake: ["Date"] });
    const g = mounted();
    g.setRunEnd(T0 + 500, true);
    lines = [];
    g.drawNow();
    expect(g.nowOffset()).toBe(500);
    expect(g.hasOpenBars()).toBe(false); // no 1 Hz redraw for a finished run
    expect(g.root.dataset.closed).toBe(String(T0 + 500));
    const a = g.barRect(0)!;
    const b = g.barRect(1)!;
    expect(b.x).toBeCloseTo(a.x + a.w, 3);
    expect(b.w / a.w).toBeCloseTo(400 / 100, 3); // 100 ms → 500 ms, not to now
    const marks = backslashes();
    expect(marks.length).toBeGreaterThan(0);
    for (const [, , x1] of marks) {
      expect(x1).toBeGreaterThan(b.x - 0.01); // on b only, never on a (it has an end)
    }
    vi.setSystemTime(T0 + 60_000);
    expect(g.barRect(1)!.w).toBeCloseTo(b.w, 3); // time passing changes nothing
    g.destroy();
  });

  it("ends open bars there without marking them when none is flagged, and reopens", () => {
    vi.useFakeTimers({ now: T0 + 10_000, toFake: ["Date"] });
    const g = mounted();
    g.setRunEnd(T0 + 500, false);
    lines = [];
    g.drawNow();
    expect(g.nowOffset()).toBe(500);
    expect(backslashes()).toEqual([]);
    g.setRunEnd(null, true); // the run goes on again (a new snapshot): no end, no mark
    lines = [];
    g.drawNow();
    expect(g.nowOffset()).toBe(10_000);
    expect(g.hasOpenBars()).toBe(true);
    expect(backslashes()).toEqual([]);
    g.destroy();
  });
});

describe("neverFinished", () => {
  it("is a bar with no end whose state is not final", () => {
    for (const s of ["RUNNING", "PENDING", "SCHEDULED", "PAUSED", "CANCELLING"]) expect(neverFinished(stateIndex(s), NaN), s).toBe(true);
    for (const s of ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]) expect(neverFinished(stateIndex(s), NaN), s).toBe(false);
    expect(neverFinished(stateIndex("RUNNING"), 500)).toBe(false); // it has an end
  });
});

describe("drawUnfinishedMark", () => {
  class Recorder {
    calls: string[] = [];
    lines: Array<[number, number, number, number]> = [];
    strokeStyle = "#000000";
    lineWidth = 3;
    globalAlpha = 1;
    dash: number[] = [];
    depth = 0;
    private last: [number, number] = [0, 0];
    save() { this.depth++; }
    restore() { this.depth--; }
    beginPath() {}
    rect(x: number, y: number, w: number, h: number) { this.calls.push(`rect ${x} ${y} ${w} ${h}`); }
    clip() { this.calls.push("clip"); }
    moveTo(x: number, y: number) { this.last = [x, y]; }
    lineTo(x: number, y: number) { this.lines.push([...this.last, x, y]); }
    stroke() { this.calls.push(`stroke ${this.strokeStyle} ${this.globalAlpha}`); }
    strokeRect(x: number, y: number, w: number, h: number) { this.calls.push(`strokeRect ${x} ${y} ${w} ${h} dash=${this.dash.join(",")}`); }
    setLineDash(d: number[]) { this.dash = [...d]; }
  }

  it("hatches the bar the other way from Crashed and outlines it with a dash", () => {
    const ctx = new Recorder();
    drawUnfinishedMark(ctx as unknown as MarkContext, 10, 20, 40, 12, LIGHT_PALETTE.RUNNING);
    expect(ctx.calls).toContain("rect 10 20 40 12");
    expect(ctx.calls).toContain("stroke #ffffff 0.6");
    expect(ctx.lines.length).toBe(Math.ceil((40 + 12) / HATCH_STEP));
    for (const [x0, y0, x1, y1] of ctx.lines) expect([x1 - x0, y0, y1]).toEqual([12, 20, 32]); // "\"
    expect(ctx.calls).toContain(`strokeRect 11 21 38 10 dash=${DASH.join(",")}`);
    expect([ctx.dash, ctx.depth]).toEqual([[], 0]); // dash cleared, saved state restored
  });

  it("leaves bars too small for a mark untouched", () => {
    const ctx = new Recorder();
    drawUnfinishedMark(ctx as unknown as MarkContext, 0, 0, 3, 12, LIGHT_PALETTE.RUNNING);
    expect([ctx.calls, ctx.lines]).toEqual([[], []]);
  });
});
