// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { emptyTimeline, Timeline } from "../src/decode";
import { packRows } from "../src/pack";
import { buildSearchIndex, decodeTags, matchOrder, resultText, SearchBox, SearchController, searchTimeline, stepMatch } from "../src/search";
import { stateIndex } from "../src/states";

/** Runs as [key, map index, state, start, end]. */
function timeline(keys: string[], runs: Array<[number, number, string, number, number]>): Timeline {
  return {
    ...emptyTimeline(),
    n: runs.length,
    keys,
    key: Int32Array.from(runs.map((r) => r[0])),
    mapIndex: Int32Array.from(runs.map((r) => r[1])),
    state: Uint8Array.from(runs.map((r) => stateIndex(r[2]))),
    start: Float32Array.from(runs.map((r) => r[3])),
    end: Float32Array.from(runs.map((r) => r[4])),
    runCount: new Uint16Array(runs.length),
  };
}

const TL = timeline(["Extract", "transform", "load_rows"], [
  [0, -1, "COMPLETED", 0, 10], // 0
  [1, 0, "COMPLETED", 10, 20], // 1
  [1, 1, "FAILED", 12, 25], // 2
  [1, 12, "RUNNING", 30, NaN], // 3
  [2, -1, "PENDING", NaN, NaN], // 4: never started, not placed
]);
const hits = (q: string) => {
  const r = searchTimeline(TL, buildSearchIndex(TL), q);
  return r ? Array.from(r.mask).flatMap((v, i) => (v ? [i] : [])) : null;
};

describe("searchTimeline", () => {
  it("matches task names, mapped labels and state names, in any case", () => {
    expect(hits("extract")).toEqual([0]);
    expect(hits("TRANS")).toEqual([1, 2, 3]);
    expect(hits("form[1")).toEqual([2, 3]); // transform[1], transform[12]
    expect(hits("[12]")).toEqual([3]);
    expect(hits("failed")).toEqual([2]);
    expect(hits("complete")).toEqual([0, 1]);
    expect(hits("load")).toEqual([4]);
    expect(hits("nothing like it")).toEqual([]);
  });

  it("an empty or blank query is no search", () => {
    expect(hits("")).toBeNull();
    expect(hits("   ")).toBeNull();
  });

  it("counts the hits", () => {
    expect(searchTimeline(TL, buildSearchIndex(TL), "  Transform ")).toMatchObject({ query: "transform", count: 3 });
  });

  it("stays fast at 100,000 task runs", () => {
    const n = 100_000;
    const keys = Array.from({ length: 50 }, (_, k) => `task_${k}`);
    const big: Timeline = {
      ...emptyTimeline(),
      n,
      keys,
      key: Int32Array.from({ length: n }, (_, i) => i % 50),
      mapIndex: Int32Array.from({ length: n }, (_, i) => Math.floor(i / 50)),
      state: Uint8Array.from({ length: n }, (_, i) => i % 9),
      start: Float32Array.from({ length: n }, (_, i) => i),
      end: Float32Array.from({ length: n }, (_, i) => i + 5),
      runCount: new Uint16Array(n),
    };
    const index = buildSearchIndex(big);
    const t = performance.now();
    let count = 0;
    for (const q of ["t", "ta", "task_1", "task_1[", "task_1[9", "failed"]) count += searchTimeline(big, index, q)!.count;
    const perQuery = (performance.now() - t) / 6;
    expect(count).toBeGreaterThan(0);
    expect(perQuery).toBeLessThan(100); // a keystroke, on a slow shared CI core
  });
});

describe("tags", () => {
  // rows 0 and 3 tagged "Nightly", row 2 "gpu" and "nightly-backfill"; row 4 is past the tags' rows
  const raw = {
    n: 4,
    tag_keys: ["Nightly", "gpu", "nightly-backfill"],
    tag_offsets: Uint8Array.of(0, 1, 1, 3, 4),
    tag_ids: Uint8Array.of(0, 1, 2, 0),
  };
  it("decodes the dictionary-coded CSR columns and matches tags in any case", () => {
    const tags = decodeTags(raw)!;
    expect(tags.keys).toEqual(["Nightly", "gpu", "nightly-backfill"]);
    const index = buildSearchIndex(TL, tags);
    const on = (q: string) => Array.from(searchTimeline(TL, index, q)!.mask).flatMap((v, i) => (v ? [i] : []));
    expect(on("NIGHT")).toEqual([0, 2, 3]);
    expect(on("gpu")).toEqual([2]);
    expect(on("backfill")).toEqual([2]);
  });
  it("is absent without tag_keys and refuses offsets that go back", () => {
    expect(decodeTags({ n: 2 })).toBeNull();
    expect(() => decodeTags({ ...raw, tag_offsets: Uint8Array.of(0, 2, 1, 3, 4) })).toThrow(/must not decrease/);
    expect(() => decodeTags({ ...raw, tag_ids: Uint8Array.of(0, 1) })).toThrow(/tag_ids/);
  });
});

describe("stepping through matches", () => {
  const packing = packRows(TL.start, TL.end, TL.n);
  const mask = searchTimeline(TL, buildSearchIndex(TL), "transform")!.mask;
  const order = matchOrder(TL, packing.rowOf, mask);

  it("orders the placed matches by start time", () => {
    expect(Array.from(order)).toEqual([1, 2, 3]);
    const pending = searchTimeline(TL, buildSearchIndex(TL), "load")!.mask;
    expect(Array.from(matchOrder(TL, packing.rowOf, pending))).toEqual([]); // never started
  });

  it("Enter goes to the next match and wraps; Shift+Enter goes back", () => {
    expect(stepMatch(TL, order, -1, 1)).toBe(1);
    expect(stepMatch(TL, order, -1, -1)).toBe(3);
    expect(stepMatch(TL, order, 1, 1)).toBe(2);
    expect(stepMatch(TL, order, 3, 1)).toBe(1);
    expect(stepMatch(TL, order, 1, -1)).toBe(3);
  });

  it("from a selected bar that is no match, steps to the nearest match in time", () => {
    expect(stepMatch(TL, order, 0, 1)).toBe(1);
    expect(stepMatch(TL, order, 0, -1)).toBe(3); // none before it: wraps to the last
    expect(stepMatch(TL, new Int32Array(0), 0, 1)).toBe(-1);
  });

  it("tells the count and the current match", () => {
    expect(resultText(order, 3, -1)).toBe("3 matches");
    expect(resultText(order, 3, 2)).toBe("2 of 3");
    expect(resultText(order, 4, 2)).toBe("2 of 3 (1 not shown)");
    expect(resultText(new Int32Array(0), 0, -1)).toBe("No matches");
    expect(resultText(Int32Array.of(1), 1, -1)).toBe("1 match");
  });
});

describe("SearchController", () => {
  it("dims the non-matches, shows the count and exposes it on the root", () => {
    let query = "fail";
    let mask: Uint8Array | null | undefined;
    const host = { tl: TL, selected: -1, layoutNow: () => packRows(TL.start, TL.end, TL.n), setMatch: (m: Uint8Array | null) => (mask = m) };
    const root = document.createElement("div");
    const box = new SearchBox(() => {});
    const search = new SearchController(host, box, root, () => query);
    search.run();
    expect(Array.from(mask!)).toEqual([0, 0, 1, 0, 0]);
    expect(box.count.textContent).toBe("1 match");
    expect(root.dataset.searchCount).toBe("1");
    expect(box.input.value).toBe("fail"); // a query set from Python shows in the box
    expect(box.input.getAttribute("aria-label")).toMatch(/^Search task runs/);
    host.selected = search.step(1);
    search.showCount();
    expect(host.selected).toBe(2);
    expect(box.count.textContent).toBe("1 of 1");
    expect(root.dataset.searchCurrent).toBe("1");
    query = "";
    search.run();
    expect(mask).toBeNull();
    expect(box.count.hidden).toBe(true);
    expect(root.dataset.searchCount).toBeUndefined();
  });
});

describe("drawing the matches", () => {
  it("dims every bar that is not a match (vector path)", async () => {
    const { drawVector, CharWidth } = await import("../src/draw");
    const { EMPTY_LAYOUT } = await import("../src/layout");
    const { makeScale } = await import("../src/scale");
    const { readTheme } = await import("../src/theme");
    const alphaOf = new Map<number, number>();
    let alpha = 1;
    const fillAt = (x: number) => alphaOf.set(Math.round(x), alpha);
    const ctx = new Proxy({} as Record<string | symbol, unknown>, {
      get: (t, name) => {
        if (name === "fillRect") return (x: number) => fillAt(x);
        if (name === "roundRect") return (x: number) => fillAt(x);
        if (name === "measureText") return (s: string) => ({ width: s.length * 7 });
        return name in t ? t[name] : () => undefined;
      },
      set: (t, name, v) => {
        if (name === "globalAlpha") alpha = v as number;
        t[name] = v;
        return true;
      },
    }) as unknown as CanvasRenderingContext2D;
    const packing = { ...EMPTY_LAYOUT, ...packRows(TL.start, TL.end, TL.n) };
    const mask = searchTimeline(TL, buildSearchIndex(TL), "failed")!.mask;
    const sc = makeScale(0, 40, 100, 500); // 10 px per ms, the plot from x = 100
    const frame = { tl: TL, packing, sc, left: 100, rowH: 22, plotH: 88, cssW: 510, cssH: 120, ctx, theme: readTheme(document.body), now: 40, dpr: 1, hlMode: false, match: mask };
    drawVector(frame, new CharWidth());
    const x = (i: number) => 100 + TL.start[i] * 10;
    expect(alphaOf.get(x(2))).toBe(1); // the Failed run: the match
    for (const i of [0, 1, 3]) expect(alphaOf.get(x(i))).toBeLessThan(1);
    alphaOf.clear();
    drawVector({ ...frame, match: null }, new CharWidth());
    for (const i of [0, 1, 2, 3]) expect(alphaOf.get(x(i))).toBe(1);
  });
});
