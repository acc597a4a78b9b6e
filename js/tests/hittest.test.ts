import { describe, expect, it } from "vitest";
import { effEnd, hitTest, hitTestRow, rowWindow } from "../src/hittest";
import { packRows } from "../src/pack";

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup(list: Array<[number, number]>) {
  const b = { start: Float32Array.from(list.map((x) => x[0])), end: Float32Array.from(list.map((x) => x[1])) };
  return { b, p: packRows(b.start, b.end, list.length) };
}

describe("effEnd", () => {
  it("uses now for open bars and never ends before start", () => {
    const b = { start: Float32Array.from([0, 10, 10]), end: Float32Array.from([5, NaN, 3]) };
    expect(effEnd(b, 0, 100)).toBe(5);
    expect(effEnd(b, 1, 100)).toBe(100);
    expect(effEnd(b, 2, 100)).toBe(10);
  });
});

describe("rowWindow", () => {
  it("returns exactly the bars intersecting the window (vs brute force)", () => {
    const rnd = mulberry32(7);
    const n = 3000;
    const start = new Float32Array(n);
    const end = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = Math.floor(rnd() * 50_000);
      end[i] = rnd() < 0.02 ? NaN : start[i] + Math.floor(rnd() * 400);
    }
    const b = { start, end };
    const p = packRows(start, end, n);
    const now = 60_000;
    for (let q = 0; q < 200; q++) {
      const t0 = rnd() * 55_000 - 2000;
      const t1 = t0 + rnd() * 3000;
      for (const r of [0, 1, Math.floor(p.rows / 2), p.rows - 1]) {
        const [lo, hi] = rowWindow(p, b, r, t0, t1, now);
        const got = [...p.rowBars.slice(lo, hi)];
        const want: number[] = [];
        for (let k = p.rowStart[r]; k < p.rowStart[r + 1]; k++) {
          const i = p.rowBars[k];
          if (start[i] <= t1 && effEnd(b, i, now) >= t0) want.push(i);
        }
        expect(got).toEqual(want);
      }
    }
  });
});

describe("hit testing", () => {
  const { b, p } = setup([
    [0, 10], // 0: row 0
    [20, 30], // 1: row 0
    [5, 25], // 2: row 1
    [40, 40], // 3: row 0, zero length
    [50, NaN], // 4: row 0, running
  ]);

  it("finds the bar containing t in a row", () => {
    expect(hitTestRow(p, b, 0, 5, 0, 100)).toBe(0);
    expect(hitTestRow(p, b, 0, 25, 0, 100)).toBe(1);
    expect(hitTestRow(p, b, 1, 24.9, 0, 100)).toBe(2);
    expect(hitTestRow(p, b, 0, 15, 0, 100)).toBe(-1); // gap
    expect(hitTestRow(p, b, 5, 5, 0, 100)).toBe(-1); // no such row
  });

  it("uses the tolerance for zero-length bars and picks the nearest", () => {
    expect(hitTestRow(p, b, 0, 40, 0, 100)).toBe(3);
    expect(hitTestRow(p, b, 0, 41.5, 2, 100)).toBe(3);
    expect(hitTestRow(p, b, 0, 43, 2, 100)).toBe(-1);
    expect(hitTestRow(p, b, 0, 11, 5, 100)).toBe(0); // 1 from bar 0, 9 from bar 1
    expect(hitTestRow(p, b, 0, 18, 5, 100)).toBe(1);
  });

  it("extends running bars to now", () => {
    expect(hitTestRow(p, b, 0, 90, 0, 100)).toBe(4);
    expect(hitTestRow(p, b, 0, 90, 0, 60)).toBe(-1);
  });

  it("searches a band of collapsed rows and prefers containment, then the nearest row", () => {
    // t = 22 is inside bar 1 (row 0, centre 0.5) and bar 2 (row 1, centre 1.5)
    expect(hitTest(p, b, 0, 1, 0.2, 22, 3, 100)).toBe(1);
    expect(hitTest(p, b, 0, 1, 1.5, 22, 3, 100)).toBe(2);
    expect(hitTest(p, b, 0, 0, 1.5, 22, 3, 100)).toBe(1); // band limited to row 0
    expect(hitTest(p, b, 0, 1, 0.5, 15, 0, 100)).toBe(2); // only row 1 contains 15
    expect(hitTest(p, b, -3, 9, 0, 1000, 0, 100)).toBe(-1);
  });
});
