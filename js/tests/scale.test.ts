import { describe, expect, it } from "vitest";
import {
  DAY,
  HOUR,
  MINUTE,
  NICE_STEPS,
  SECOND,
  chooseStep,
  clampView,
  fitView,
  formatDateTime,
  formatDuration,
  formatTick,
  makeScale,
  ticks,
  toPx,
  toTime,
  zoomAt,
} from "../src/scale";

const T = Date.UTC(2024, 4, 1, 13, 4, 5, 123); // 2024-05-01T13:04:05.123Z

describe("time scale", () => {
  it("maps linearly and inverts", () => {
    const s = makeScale(1000, 3000, 10, 410);
    expect(s.k).toBeCloseTo(0.2);
    expect(toPx(s, 1000)).toBe(10);
    expect(toPx(s, 3000)).toBe(410);
    expect(toPx(s, 2000)).toBe(210);
    for (const t of [-500, 1234.5, 9999]) expect(toTime(s, toPx(s, t))).toBeCloseTo(t, 9);
  });
  it("survives an empty domain", () => {
    const s = makeScale(5, 5, 0, 100);
    expect(s.k).toBe(0);
    expect(toTime(s, 50)).toBe(5);
  });
});

describe("chooseStep", () => {
  it("picks the smallest nice step with enough pixels between ticks", () => {
    expect(chooseStep(1000, 1000, 90)).toBe(100); // 100 ms = 100 px
    expect(chooseStep(60 * SECOND, 1000, 90)).toBe(10 * SECOND); // 5s = 83px < 90
    expect(chooseStep(HOUR, 1000, 90)).toBe(10 * MINUTE);
    expect(chooseStep(8.5 * HOUR, 1000, 90)).toBe(HOUR);
    expect(chooseStep(3 * DAY, 1000, 90)).toBe(12 * HOUR); // 6h = 83px < 90
    expect(chooseStep(5, 1000, 90)).toBe(1);
  });
  it("always returns a step in the table, or a multiple of its largest", () => {
    for (let span = 3; span < 400 * DAY; span *= 3.7) {
      const step = chooseStep(span, 800);
      const last = NICE_STEPS[NICE_STEPS.length - 1];
      expect(NICE_STEPS.includes(step) || step % last === 0).toBe(true);
      expect(step * (800 / span)).toBeGreaterThanOrEqual(90 - 1e-9);
    }
  });
  it("degrades gracefully for zero width / span", () => {
    expect(chooseStep(0, 100)).toBeGreaterThan(0);
    expect(chooseStep(100, 0)).toBeGreaterThan(0);
  });
});

describe("ticks", () => {
  it("returns step multiples inside [a, b]", () => {
    const ts = ticks(T, T + 10 * SECOND, 2 * SECOND);
    expect(ts.length).toBe(5);
    expect(ts[0]).toBe(Date.UTC(2024, 4, 1, 13, 4, 6));
    for (const t of ts) {
      expect(t % (2 * SECOND)).toBe(0);
      expect(t).toBeGreaterThanOrEqual(T);
      expect(t).toBeLessThanOrEqual(T + 10 * SECOND);
    }
    expect(ts[1] - ts[0]).toBe(2 * SECOND);
  });
  it("aligns to local wall-clock time in the given zone", () => {
    // +05:30: hour ticks land on :00 local, i.e. :30 UTC
    const ts = ticks(T, T + 3 * HOUR, HOUR, 330);
    expect(ts.length).toBe(3);
    for (const t of ts) expect(new Date(t).getUTCMinutes()).toBe(30);
    expect(formatTick(ts[0], HOUR, 330)).toBe("19:00");
  });
  it("includes the endpoints when they are on the grid", () => {
    expect(ticks(0, 1000, 500)).toEqual([0, 500, 1000]);
  });
  it("is bounded and handles degenerate input", () => {
    expect(ticks(0, 1e12, 1).length).toBe(1000);
    expect(ticks(10, 0, 1)).toEqual([]);
    expect(ticks(0, NaN, 1)).toEqual([]);
    expect(ticks(0, 10, 0)).toEqual([]);
  });
});

describe("formatting", () => {
  it("labels ticks with step-appropriate precision", () => {
    expect(formatTick(T, 100)).toBe("13:04:05.1");
    expect(formatTick(T, 20)).toBe("13:04:05.12");
    expect(formatTick(T, 1)).toBe("13:04:05.123");
    expect(formatTick(T, 5 * SECOND)).toBe("13:04:05");
    expect(formatTick(T, 5 * MINUTE)).toBe("13:04");
    expect(formatTick(Date.UTC(2024, 4, 2), HOUR)).toBe("May 2");
    expect(formatTick(T, DAY)).toBe("May 1");
    expect(formatTick(T, HOUR, -120)).toBe("11:04");
  });
  it("formats absolute timestamps", () => {
    expect(formatDateTime(T)).toBe("2024-05-01 13:04:05.123");
    expect(formatDateTime(T, 60)).toBe("2024-05-01 14:04:05.123");
    expect(formatDateTime(NaN)).toBe("—");
  });
  it("formats durations across units", () => {
    const cases: Array<[number, string]> = [
      [0, "0ms"],
      [12.4, "12ms"],
      [999, "999ms"],
      [1000, "1.00s"],
      [1234, "1.23s"],
      [12_345, "12.3s"],
      [59_999, "59.9s"],
      [60_000, "1m 00s"],
      [65_000, "1m 05s"],
      [3_599_000, "59m 59s"],
      [3_720_000, "1h 02m"],
      [DAY + 3 * HOUR, "1d 03h"],
    ];
    for (const [ms, s] of cases) expect(formatDuration(ms), String(ms)).toBe(s);
    expect(formatDuration(-1)).toBe("—");
    expect(formatDuration(NaN)).toBe("—");
  });
});

describe("view maths", () => {
  it("zooms around a fixed point", () => {
    const [a, b] = zoomAt(0, 1000, 250, 0.5);
    expect([a, b]).toEqual([125, 625]);
    // the anchor keeps its relative position
    expect((250 - a) / (b - a)).toBeCloseTo(0.25);
    const [c, d] = zoomAt(a, b, 250, 2);
    expect([c, d]).toEqual([0, 1000]);
  });
  it("clamps span and keeps the view over the data", () => {
    expect(clampView(0, 0.1, 0, 100, 1, 1e6)).toEqual([-0.45, 0.55]);
    const [a, b] = clampView(-1e9, 1e9, 0, 100, 1, 2000);
    expect(b - a).toBe(2000);
    // panned far right of the data: pulled back so 10% of the view overlaps it
    const [c, d] = clampView(5000, 5100, 0, 100, 1, 1e6);
    expect(d - c).toBeCloseTo(100);
    expect(c).toBeCloseTo(90);
    const [e, f] = clampView(-5000, -4900, 0, 100, 1, 1e6);
    expect(f).toBeCloseTo(10);
    expect(f - e).toBeCloseTo(100);
  });
  it("fits the extent with padding, never empty", () => {
    expect(fitView(0, 1000)).toEqual([-20, 1020]);
    const [a, b] = fitView(500, 500, 10);
    expect(b - a).toBeGreaterThanOrEqual(10);
    expect((a + b) / 2).toBeCloseTo(500);
  });
});
