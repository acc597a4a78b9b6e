import { describe, expect, it } from "vitest";
import { MinHeap, packRows, sortByStart } from "../src/pack";

function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bars(list: Array<[number, number]>) {
  return { start: Float32Array.from(list.map((b) => b[0])), end: Float32Array.from(list.map((b) => b[1])) };
}

/** Reference first-fit, O(n * rows). */
function naiveFirstFit(start: Float32Array, end: Float32Array, n: number): Int32Array {
  const idx = [...Array(n).keys()].filter((i) => !Number.isNaN(start[i]));
  idx.sort((a, b) => start[a] - start[b] || a - b);
  const rowEnd: number[] = [];
  const rowOf = new Int32Array(n).fill(-1);
  for (const i of idx) {
    const s = start[i];
    const e = Number.isNaN(end[i]) ? Infinity : end[i] > s ? end[i] : s + Math.max(1e-3, Math.abs(s) * 1e-9);
    let r = rowEnd.findIndex((re) => re <= s);
    if (r < 0) r = rowEnd.push(0) - 1;
    rowEnd[r] = e;
    rowOf[i] = r;
  }
  return rowOf;
}

function randomBars(n: number, seed: number) {
  const rnd = mulberry32(seed);
  const start = new Float32Array(n);
  const end = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    start[i] = Math.floor(rnd() * 10_000);
    const r = rnd();
    end[i] = r < 0.05 ? NaN : r < 0.1 ? start[i] : start[i] + Math.floor(rnd() * 500);
    if (rnd() < 0.03) start[i] = NaN;
  }
  return { start, end };
}

describe("MinHeap", () => {
  it("pops keys in ascending order, ties by value", () => {
    const h = new MinHeap(2);
    const keys = [5, 3, 9, 3, 1, 7, 3];
    keys.forEach((k, i) => h.push(k, 10 - i));
    const out: number[] = [];
    while (h.size) {
      const k = h.peekKey();
      out.push(k * 100 + h.pop());
    }
    expect(out).toEqual([106, 304, 307, 309, 510, 705, 908]);
    expect(h.peekKey()).toBe(Infinity);
  });
});

describe("sortByStart", () => {
  it("drops unstarted / invisible bars and sorts stably by start", () => {
    const start = Float32Array.from([5, NaN, 1, 5, 3]);
    expect([...sortByStart(start, 5)]).toEqual([2, 4, 0, 3]);
    expect([...sortByStart(start, 5, Uint8Array.from([1, 1, 0, 1, 1]))]).toEqual([4, 0, 3]);
  });
});

describe("sortByStart on random data", () => {
  it("equals a comparator sort, including negatives, -0 and ties", () => {
    const rnd = mulberry32(42);
    const n = 5000;
    const start = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      start[i] = r < 0.1 ? -Math.floor(rnd() * 1e6) : r < 0.15 ? -0 : r < 0.2 ? 0 : r < 0.25 ? NaN : Math.floor(rnd() * 1e3) * 1.5;
    }
    const want = [...Array(n).keys()].filter((i) => !Number.isNaN(start[i]));
    want.sort((a, b) => start[a] - start[b] || a - b);
    expect([...sortByStart(start, n)]).toEqual(want);
  });
});

describe("packRows", () => {
  it("puts sequential runs on one row and concurrent ones on separate rows", () => {
    const { start, end } = bars([
      [0, 10], // row 0
      [10, 20], // starts exactly when #0 ends -> row 0
      [5, 15], // overlaps #0 -> row 1
      [12, 30], // #2 still running at 12 -> row 1 is busy, row 0 busy (#1) -> row 2
      [20, 25], // row 0 free again at 20 -> row 0
    ]);
    const p = packRows(start, end, 5);
    expect([...p.rowOf]).toEqual([0, 0, 1, 2, 0]);
    expect(p.rows).toBe(3);
    expect(p.placed).toBe(5);
    expect([...p.rowStart]).toEqual([0, 3, 4, 5]);
    expect([...p.rowBars]).toEqual([0, 1, 4, 2, 3]);
  });

  it("is first-fit: reuses the lowest free row", () => {
    const { start, end } = bars([
      [0, 100], // r0
      [0, 10], // r1
      [0, 20], // r2
      [30, 40], // r1 and r2 are free: lowest (r1)
      [35, 50], // r2
    ]);
    expect([...packRows(start, end, 5).rowOf]).toEqual([0, 1, 2, 1, 2]);
  });

  it("keeps open-ended bars in their row forever and skips unstarted bars", () => {
    const { start, end } = bars([
      [0, NaN],
      [1000, 2000],
      [NaN, NaN],
    ]);
    const p = packRows(start, end, 3);
    expect([...p.rowOf]).toEqual([0, 1, -1]);
    expect(p.placed).toBe(2);
  });

  it("does not stack instantaneous bars at the same instant", () => {
    const { start, end } = bars([
      [5, 5],
      [5, 5],
      [6, 6],
    ]);
    expect([...packRows(start, end, 3).rowOf]).toEqual([0, 1, 0]);
  });

  it("honours the visibility mask", () => {
    const { start, end } = bars([
      [0, 10],
      [0, 10],
      [0, 10],
    ]);
    const p = packRows(start, end, 3, Uint8Array.from([1, 0, 1]));
    expect([...p.rowOf]).toEqual([0, -1, 1]);
    expect(p.rows).toBe(2);
  });

  it("matches a naive first-fit and never overlaps bars in a row (random data)", () => {
    for (const seed of [1, 2, 3]) {
      const n = 2000;
      const { start, end } = randomBars(n, seed);
      const p = packRows(start, end, n);
      expect([...p.rowOf]).toEqual([...naiveFirstFit(start, end, n)]);
      for (let r = 0; r < p.rows; r++) {
        let prevEnd = -Infinity;
        let prevStart = -Infinity;
        for (let k = p.rowStart[r]; k < p.rowStart[r + 1]; k++) {
          const i = p.rowBars[k];
          expect(p.rowOf[i]).toBe(r);
          expect(start[i]).toBeGreaterThanOrEqual(prevEnd); // no overlap
          expect(start[i]).toBeGreaterThanOrEqual(prevStart); // sorted by start
          prevStart = start[i];
          prevEnd = Number.isNaN(end[i]) ? Infinity : Math.max(end[i], start[i]);
        }
      }
    }
  });

  it("packs 100k bars quickly", () => {
    const { start, end } = randomBars(100_000, 9);
    const t = performance.now();
    const p = packRows(start, end, 100_000);
    const ms = performance.now() - t;
    expect(p.placed).toBeGreaterThan(90_000);
    expect(ms).toBeLessThan(1000);
  });
});
