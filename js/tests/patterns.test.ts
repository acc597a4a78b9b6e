import { describe, expect, it } from "vitest";
import { DASH, HATCH_STEP, MIN_MARK_PX, MarkContext, STATE_MARKS, barMark, drawBarMark } from "../src/patterns";
import { LIGHT_PALETTE, STATE_TYPES, STATE_GLYPHS, stateIndex } from "../src/states";

/** Records the calls drawBarMark makes, with the state (stroke, dash, alpha) at each. */
class Recorder {
  calls: string[] = [];
  lines: Array<[number, number, number, number]> = [];
  strokeStyle: string | CanvasGradient | CanvasPattern = "#000000";
  lineWidth = 3;
  globalAlpha = 1;
  dash: number[] = [];
  depth = 0;
  private last: [number, number] = [0, 0];
  save() { this.calls.push("save"); this.depth++; }
  restore() { this.calls.push("restore"); this.depth--; }
  beginPath() { this.calls.push("beginPath"); }
  rect(x: number, y: number, w: number, h: number) { this.calls.push(`rect ${x} ${y} ${w} ${h}`); }
  clip() { this.calls.push("clip"); }
  moveTo(x: number, y: number) { this.last = [x, y]; }
  lineTo(x: number, y: number) { this.lines.push([...this.last, x, y]); }
  stroke() { this.calls.push(`stroke ${String(this.strokeStyle)} ${this.globalAlpha}`); }
  strokeRect(x: number, y: number, w: number, h: number) {
    this.calls.push(`strokeRect ${x} ${y} ${w} ${h} dash=${this.dash.join(",")}`);
  }
  setLineDash(d: number[]) { this.dash = [...d]; }
}

const draw = (state: string, w = 40, h = 12, fill = LIGHT_PALETTE.FAILED) => {
  const ctx = new Recorder();
  drawBarMark(ctx as unknown as MarkContext, stateIndex(state), 10, 20, w, h, fill);
  return ctx;
};

describe("bar marks", () => {
  it("tells apart every pair of states that share a hue", () => {
    for (const [a, b] of [["FAILED", "CRASHED"], ["SCHEDULED", "PENDING"], ["CANCELLED", "CANCELLING"]] as const) {
      expect(STATE_MARKS[a], `${a} vs ${b}`).not.toBe(STATE_MARKS[b]);
      expect(STATE_GLYPHS[a]).not.toBe(STATE_GLYPHS[b]);
    }
    expect(STATE_MARKS.CRASHED).toBe("hatch");
    expect(STATE_MARKS.PENDING).toBe("dashed");
  });

  it("gives every state a glyph of its own", () => {
    expect(new Set(STATE_TYPES.map((s) => STATE_GLYPHS[s])).size).toBe(STATE_TYPES.length);
  });

  it("maps state indices, unknown ones to plain", () => {
    expect(barMark(stateIndex("CRASHED"))).toBe("hatch");
    expect(barMark(stateIndex("COMPLETED"))).toBe("plain");
    expect(barMark(99)).toBe("plain");
  });

  it("hatches Crashed inside the bar only, in the label colour, and restores the context", () => {
    const ctx = draw("CRASHED", 40, 12, LIGHT_PALETTE.CRASHED);
    expect(ctx.calls.slice(0, 4)).toEqual(["save", "beginPath", "rect 10 20 40 12", "clip"]);
    expect(ctx.calls.at(-1)).toBe("restore");
    expect(ctx.depth).toBe(0);
    expect(ctx.calls).toContain("stroke #ffffff 0.45");
    expect(ctx.lines.length).toBe(Math.ceil((40 + 12) / HATCH_STEP));
    for (const [x0, y0, x1, y1] of ctx.lines) {
      expect(x1 - x0).toBe(12); // 45°: as wide as the bar is high
      expect([y0, y1]).toEqual([32, 20]);
    }
    const xs = ctx.lines.map(([, , x1]) => x1);
    expect(Math.min(...xs)).toBe(10);
    expect(Math.max(...xs)).toBeGreaterThanOrEqual(10 + 40 + 12 - HATCH_STEP);
  });

  it("outlines Pending with a dash inside the bar and clears the dash", () => {
    const ctx = draw("PENDING", 40, 12, LIGHT_PALETTE.PENDING);
    expect(ctx.calls).toContain(`strokeRect 11 21 38 10 dash=${DASH.join(",")}`);
    expect(ctx.dash).toEqual([]);
    expect(ctx.depth).toBe(0);
  });

  it("leaves plain states and bars too small for a mark untouched", () => {
    expect(draw("FAILED").calls).toEqual([]);
    expect(draw("COMPLETED").calls).toEqual([]);
    expect(draw("CRASHED", MIN_MARK_PX - 1, 12).calls).toEqual([]);
    expect(draw("PENDING", 40, MIN_MARK_PX - 1).calls).toEqual([]);
  });
});
