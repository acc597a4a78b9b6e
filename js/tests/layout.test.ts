import { describe, expect, it } from "vitest";
import { hitTestRow, rowWindow } from "../src/hittest";
import {
  barLabel,
  chooseLayout,
  cropLabel,
  Fit,
  groupedMisfit,
  groupLabel,
  groupRows,
  LayoutInput,
  layoutMode,
} from "../src/layout";
import { sortByStart } from "../src/pack";

const FIT: Fit = { maxPlotH: 420, maxRowH: 22, minLabelPx: 14 };

/** Bars as [key, start, end] (NaN end = open). */
function input(bars: Array<[number, number, number]>, kind?: number[]): LayoutInput {
  return {
    n: bars.length,
    key: Int32Array.from(bars.map((b) => b[0])),
    start: Float32Array.from(bars.map((b) => b[1])),
    end: Float32Array.from(bars.map((b) => b[2])),
    kind: kind ? Uint8Array.from(kind) : null,
  };
}

function grouped(tl: LayoutInput, collapsed: number[] = []) {
  return groupRows(tl, sortByStart(tl.start, tl.n), new Set(collapsed));
}

/** Rows of each bar as a plain array. */
const rows = (r: Int32Array) => Array.from(r);

describe("groupRows", () => {
  // key 1 starts first, then key 0 (mapped: three overlapping runs), then key 2
  const tl = input([
    [0, 10, 30], // 0
    [0, 12, 20], // 1
    [0, 21, 40], // 2: fits after bar 1 in lane 1
    [1, 0, 5], // 3
    [2, 50, 60], // 4
    [0, 25, 26], // 5: lane 0 busy (till 30), lane 1 busy (till 40): lane 2
  ]);

  it("orders groups by their first start and puts each task's runs in first-fit lanes", () => {
    const L = grouped(tl);
    expect(L.mode).toBe("grouped");
    expect(L.groups.map((g) => g.key)).toEqual([1, 0, 2]);
    expect(L.groups.map((g) => [g.firstRow, g.lanes, g.count])).toEqual([
      [0, 1, 1],
      [1, 3, 4],
      [4, 1, 1],
    ]);
    expect(rows(L.rowOf)).toEqual([1, 2, 2, 0, 4, 3]);
    expect(L.rows).toBe(5);
    expect(Array.from(L.rowGroup!)).toEqual([0, 1, 1, 1, 2]);
    expect(L.placed).toBe(6);
    expect(L.endMax).toBeUndefined();
  });

  it("keeps each row's bars in start order with non-overlapping lanes (what hit testing needs)", () => {
    const L = grouped(tl);
    for (let r = 0; r < L.rows; r++) {
      const bars = Array.from(L.rowBars.subarray(L.rowStart[r], L.rowStart[r + 1]));
      for (let k = 1; k < bars.length; k++) expect(tl.end[bars[k - 1]]).toBeLessThanOrEqual(tl.start[bars[k]]);
    }
    expect(hitTestRow(L, tl, 2, 15, 0, 100)).toBe(1);
    expect(hitTestRow(L, tl, 2, 35, 0, 100)).toBe(2);
  });

  it("collapses a group into one summary row whose overlapping bars are still found", () => {
    const L = grouped(tl, [0]);
    expect(L.groups.map((g) => [g.key, g.firstRow, g.lanes, g.collapsed])).toEqual([
      [1, 0, 1, false],
      [0, 1, 1, true],
      [2, 2, 1, false],
    ]);
    expect(rows(L.rowOf)).toEqual([1, 1, 1, 0, 2, 1]);
    expect(L.endMax).toBeInstanceOf(Float32Array);
    // bar 0 (10..30) overlaps the later, shorter bar 1 (12..20): a window at 25 must keep bar 0
    const [lo, hi] = rowWindow(L, tl, 1, 25, 25, 100);
    const inWindow = Array.from(L.rowBars.subarray(lo, hi));
    expect(inWindow).toContain(0);
    expect(inWindow).toContain(5);
    expect(hitTestRow(L, tl, 1, 11, 0, 100)).toBe(0);
    expect(hitTestRow(L, tl, 1, 35, 0, 100)).toBe(2);
    expect(hitTestRow(L, tl, 1, 25.5, 0, 100)).toBe(5); // the bar drawn on top
  });

  it("leaves out runs that never started or are filtered out, and marks subflow groups", () => {
    const t = input(
      [
        [0, 0, 1],
        [1, NaN, NaN],
        [2, 3, 4],
        [2, 5, NaN],
      ],
      [0, 0, 0, 1],
    );
    const L = groupRows(t, sortByStart(t.start, t.n, Uint8Array.from([1, 1, 0, 1])));
    expect(L.groups.map((g) => [g.key, g.count, g.subflow])).toEqual([
      [0, 1, false],
      [2, 1, true],
    ]);
    expect(rows(L.rowOf)).toEqual([0, -1, -1, 1]);
  });

  it("puts runs of an unknown task (key -1) in a group of their own", () => {
    const L = grouped(input([[-1, 0, 1], [0, 2, 3], [-1, 4, 5]]));
    expect(L.groups.map((g) => [g.key, g.count])).toEqual([
      [-1, 2],
      [0, 1],
    ]);
  });

  it("stays O(n log n): 100,000 mapped runs in 40 tasks take well under a second", () => {
    const n = 100_000;
    const bars: Array<[number, number, number]> = [];
    for (let i = 0; i < n; i++) {
      const s = (i * 7919) % 1_000_000;
      bars.push([i % 40, s, s + 50 + (i % 1000)]);
    }
    const t = input(bars);
    const t0 = performance.now();
    const L = grouped(t);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(L.placed).toBe(n);
    expect(L.groups.length).toBe(40);
    // no two bars of a lane overlap
    let overlaps = 0;
    for (let r = 0; r < L.rows; r++) {
      for (let k = L.rowStart[r] + 1; k < L.rowStart[r + 1]; k++) {
        if (t.end[L.rowBars[k - 1]] > t.start[L.rowBars[k]]) overlaps++;
      }
    }
    expect(overlaps).toBe(0);
  }, 20_000);
});

describe("chooseLayout", () => {
  const few = input([
    [0, 0, 10],
    [1, 5, 15],
    [0, 12, 20],
  ]);

  it("auto takes the grouped layout when every group can carry a label", () => {
    const L = chooseLayout("auto", few, null, new Set(), FIT);
    expect(L.mode).toBe("grouped");
    expect(L.reason).toBe("");
  });

  it("auto falls back to packed rows, saying why, when groups would be too thin to label", () => {
    // 20 tasks with one run each, plus one task with 40 concurrent runs: 60 lanes in 420 px
    // leave single-lane groups 7 px tall
    const bars: Array<[number, number, number]> = [];
    for (let k = 0; k < 20; k++) bars.push([k, k, k + 0.5]);
    for (let j = 0; j < 40; j++) bars.push([20, 100, 200]);
    const t = input(bars);
    const L = chooseLayout("auto", t, null, new Set(), FIT);
    expect(L.mode).toBe("packed");
    expect(L.reason).toBe("20 of 21 task groups too thin to label");
    expect(L.groups).toEqual([]);
    expect(L.rowGroup).toBeNull();
    expect(L.rows).toBe(40);
    // collapsing the big group (21 rows of 20 px) makes the grouped layout readable again
    expect(chooseLayout("auto", t, null, new Set([20]), FIT).mode).toBe("grouped");
    expect(chooseLayout("grouped", t, null, new Set(), FIT).mode).toBe("grouped");
  });

  it("auto falls back when there are more lanes than pixels", () => {
    const bars: Array<[number, number, number]> = [];
    for (let j = 0; j < 500; j++) bars.push([0, 0, 1]);
    const L = chooseLayout("auto", input(bars), null, new Set(), FIT);
    expect(L.mode).toBe("packed");
    expect(L.reason).toBe("500 lanes do not fit 420 px");
  });

  it("packed is today's first fit over all bars, whatever the tasks", () => {
    const L = chooseLayout("packed", few, null, new Set(), FIT);
    expect(L.mode).toBe("packed");
    expect(rows(L.rowOf)).toEqual([0, 1, 0]);
    expect(L.reason).toBe("");
  });

  it("groupedMisfit is empty when each group is at least the label height", () => {
    expect(groupedMisfit(groupRows(few, sortByStart(few.start, few.n)), FIT)).toBe("");
  });
});

describe("labels", () => {
  it("crops a label to the space at a measured average glyph width, with an ellipsis", () => {
    expect(cropLabel("transform[12]", 200, 7)).toBe("transform[12]");
    expect(cropLabel("transform[12]", 13 * 7, 7)).toBe("transform[12]");
    expect(cropLabel("transform[12]", 50, 7)).toBe("transf…");
    expect(cropLabel("transform[12]", 20, 7)).toBe(""); // not even 3 glyphs: nothing
    expect(cropLabel("transform", 40, 0)).toBe("");
  });

  it("a cropped label never needs more than the space given", () => {
    for (let px = 0; px < 120; px += 3) {
      const text = cropLabel("load_to_warehouse[123]", px, 6.5);
      expect(text.length * 6.5).toBeLessThanOrEqual(px);
    }
  });

  it("on a bar: the whole label, else (grouped) a mapped run's index, else the label cut", () => {
    expect(barLabel("square[12]", 12, true, 100, 7)).toBe("square[12]");
    expect(barLabel("square[12]", 12, true, 40, 7)).toBe("[12]");
    expect(barLabel("square[12]", 12, false, 40, 7)).toBe("squa…");
    expect(barLabel("extract_orders", -1, true, 40, 7)).toBe("extr…");
    expect(barLabel("square[1234]", 1234, true, 30, 7)).toBe("squ…");
  });

  it("names the group with its run count and marks subflow groups", () => {
    const g = { key: 0, firstRow: 0, lanes: 3, count: 1300, collapsed: false, subflow: false };
    expect(groupLabel("transform", g)).toEqual({ name: "transform", count: "×1,300" });
    expect(groupLabel("child-report", { ...g, subflow: true }).name).toBe("⤷ child-report");
  });

  it("reads unknown layout trait values as auto", () => {
    expect(layoutMode("packed")).toBe("packed");
    expect(layoutMode("grouped")).toBe("grouped");
    expect(layoutMode("sideways")).toBe("auto");
    expect(layoutMode(undefined)).toBe("auto");
  });
});
