// @vitest-environment happy-dom
import { beforeAll, describe, expect, it } from "vitest";
import { decodeTimeline, Timeline } from "../src/decode";
import { Gantt } from "../src/gantt";
import { readTheme } from "../src/theme";
import { keyActions, KeyTarget } from "../src/keys";
import { chooseLayout, Fit, LayoutInput } from "../src/layout";
import { Packing } from "../src/pack";
import { childrenByParent, depthOf, parentOf, shownRows } from "../src/subflows";

const FIT: Fit = { maxPlotH: 420, maxRowH: 22, minLabelPx: 14 };

/**
 * A flow run's own rows 0-3 (`prep`, the subflow `mid`, `fin`, a second run of `prep`), then
 * `mid`'s child rows 4-7 (`a` ×2, the subflow `inner`, `b`), then `inner`'s rows 8-9 (`c`).
 * keys: 0 prep, 1 mid, 2 fin, 3 a, 4 inner, 5 b, 6 c.
 */
function nested(): LayoutInput {
  const bars: Array<[key: number, start: number, end: number, kind: number, parent: number]> = [
    [0, 0, 5, 0, -1], // 0 prep
    [1, 6, 40, 1, -1], // 1 mid (subflow)
    [2, 41, 45, 0, -1], // 2 fin
    [0, 1, 4, 0, -1], // 3 prep, overlapping row 0
    [3, 7, 10, 0, 1], // 4 a
    [3, 8, 12, 0, 1], // 5 a, overlapping: a second lane
    [4, 13, 30, 1, 1], // 6 inner (subflow)
    [5, 31, 39, 0, 1], // 7 b
    [6, 14, 20, 0, 6], // 8 c
    [6, 21, 29, 0, 6], // 9 c
  ];
  return {
    n: bars.length,
    key: Int32Array.from(bars.map((b) => b[0])),
    start: Float32Array.from(bars.map((b) => b[1])),
    end: Float32Array.from(bars.map((b) => b[2])),
    kind: Uint8Array.from(bars.map((b) => b[3])),
    parent: Int32Array.from(bars.map((b) => b[4])),
  };
}

const rowsOf = (r: Int32Array) => Array.from(r);

describe("nested rows", () => {
  const tl = nested();

  it("shows a child row only while every subflow above it is expanded", () => {
    expect(Array.from(shownRows(tl, new Set(), null)!)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(shownRows(tl, new Set([1]), null)!)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(shownRows(tl, new Set([6]), null)!)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(shownRows(tl, new Set([1, 6]), null)!)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    // a filtered-out subflow row takes its children with it
    const filter = Uint8Array.from([1, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(shownRows(tl, new Set([1, 6]), filter)!)).toEqual([1, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("knows each row's parent and depth", () => {
    expect([0, 4, 8].map((i) => parentOf(tl, i))).toEqual([-1, 1, 6]);
    expect([0, 4, 8].map((i) => depthOf(tl, i))).toEqual([0, 1, 2]);
    const children = childrenByParent(tl, Int32Array.from([0, 3, 1, 4, 5, 6, 8]));
    expect(Array.from(children.get(1)!)).toEqual([4, 5, 6]);
    expect(Array.from(children.get(-1)!)).toEqual([0, 3, 1]);
  });

  it("collapsed: the grouped layout is the flow run's own groups", () => {
    const L = chooseLayout("grouped", tl, null, new Set(), FIT, new Set());
    expect(L.groups.map((g) => [g.key, g.depth, g.lanes])).toEqual([[0, 0, 2], [1, 0, 1], [2, 0, 1]]);
    expect(L.groups[1].subflowRows).toEqual([1]);
    expect(rowsOf(L.rowOf).slice(4)).toEqual([-1, -1, -1, -1, -1, -1]);
    expect(L.placed).toBe(4);
  });

  it("expanded: the child run's groups follow the subflow's group, one level deeper, recursively", () => {
    const L = chooseLayout("grouped", tl, null, new Set(), FIT, new Set([1, 6]));
    // prep (2 lanes), mid, then mid's groups: a (2 lanes), inner, then inner's c, then b; then fin
    expect(L.groups.map((g) => [g.key, g.depth, g.parentRow, g.firstRow, g.lanes])).toEqual([
      [0, 0, -1, 0, 2],
      [1, 0, -1, 2, 1],
      [3, 1, 1, 3, 2],
      [4, 1, 1, 5, 1],
      [6, 2, 6, 6, 1],
      [5, 1, 1, 7, 1],
      [2, 0, -1, 8, 1],
    ]);
    expect(rowsOf(L.rowOf)).toEqual([0, 2, 8, 1, 3, 4, 5, 7, 6, 6]);
    expect(L.rows).toBe(9);
    expect(L.placed).toBe(10);
    // the row index lists every row's bars in start order
    for (let r = 0; r < L.rows; r++) {
      const bars = Array.from(L.rowBars.subarray(L.rowStart[r], L.rowStart[r + 1]));
      expect(bars.every((i) => L.rowOf[i] === r)).toBe(true);
      expect(bars.map((i) => tl.start[i])).toEqual([...bars.map((i) => tl.start[i])].sort((a, b) => a - b));
    }
  });

  it("packed: each expanded child's bars take first-fit rows of their own under the run's", () => {
    const L = chooseLayout("packed", tl, null, new Set(), FIT, new Set([1]));
    expect(L.mode).toBe("packed");
    // own: 0, 3 overlap -> rows 0, 1; mid and fin fit row 0; mid's children from row 2
    expect(rowsOf(L.rowOf)).toEqual([0, 0, 0, 1, 2, 3, 2, 2, -1, -1]);
    expect(L.rows).toBe(4);
  });

  it("decodes `parent` and `expanded` from the trait", () => {
    const tlDecoded = decodeTimeline({
      n: 3, t0: 0, start: new Float32Array([0, 1, 2]), end: new Float32Array([3, 3, 3]),
      state: new Uint8Array(3), key: new Int8Array([0, 0, 0]), keys: ["x"], map_index: new Int8Array([-1, -1, -1]),
      run_count: new Uint8Array([1, 1, 1]), kind: new Uint8Array([1, 0, 0]), parent: new Int8Array([-1, 0, 0]),
      expanded: [0, 7],
    });
    expect(Array.from(tlDecoded.parent!)).toEqual([-1, 0, 0]);
    expect(tlDecoded.expanded).toEqual([0]); // rows out of range dropped
  });
});

describe("keys on a subflow row", () => {
  function target(selected: number, expanded: Set<number>) {
    const tl = nested();
    const packing = chooseLayout("packed", tl, null, new Set(), FIT, expanded);
    const calls: string[] = [];
    const t: KeyTarget = {
      tl: { ...tl, state: new Uint8Array(tl.n), keys: [], mapIndex: new Int32Array(tl.n).fill(-1), runCount: new Uint16Array(tl.n), highlight: null, t0: 0 },
      selected,
      layoutNow: (): Packing => packing,
      nowOffset: () => 100,
      revealBar: () => {},
      select: (i) => calls.push(`select ${i}`),
      stepMatch: () => -1,
      focusSearch: () => {},
      clearSearch: () => false,
      toggleSubflow: (i, expand) => {
        if (tl.kind![i] !== 1 || expanded.has(i) === expand) return false;
        calls.push(`${expand ? "expand" : "collapse"} ${i}`);
        return true;
      },
    };
    return { act: keyActions(t), calls };
  }

  it("Right expands a closed subflow, Left closes an open one", () => {
    const closed = target(1, new Set());
    expect(closed.act("right")).toBe(true);
    expect(closed.calls).toEqual(["expand 1"]);
    const open = target(1, new Set([1]));
    expect(open.act("left")).toBe(true);
    expect(open.calls).toEqual(["collapse 1"]);
  });

  it("otherwise they move the selection", () => {
    const open = target(1, new Set([1]));
    open.act("right"); // already open: moves right along its row (to `fin`)
    expect(open.calls).toEqual(["select 2"]);
    const task = target(0, new Set());
    task.act("right"); // not a subflow row
    expect(task.calls).toEqual(["select 1"]);
  });
});

describe("the gutter of a nested timeline", () => {
  /** A 2D context that draws nothing and measures 7 px per glyph (happy-dom has no canvas). */
  beforeAll(() => {
    const noop = () => undefined;
    const ctx = new Proxy({} as Record<string | symbol, unknown>, {
      get: (target, name) =>
        name in target ? target[name] : name === "measureText" ? (t: string) => ({ width: t.length * 7 }) : noop,
      set: (target, name, value) => {
        target[name] = value;
        return true;
      },
    });
    HTMLCanvasElement.prototype.getContext = (() => ctx) as unknown as HTMLCanvasElement["getContext"];
  });

  function mounted(expanded: number[], toggles: string[]): Gantt {
    const input = nested();
    const tl: Timeline = {
      ...input,
      t0: 0,
      state: new Uint8Array(input.n).fill(3),
      keys: ["prep", "mid", "fin", "a", "inner", "b", "c"],
      mapIndex: new Int32Array(input.n).fill(-1),
      runCount: new Uint16Array(input.n).fill(1),
      highlight: null,
      expanded,
    };
    const g = new Gantt(readTheme(document.body), {
      onSelect: () => undefined,
      onSubflow: (row, expand) => toggles.push(`${expand ? "expand" : "collapse"} ${row}`),
    });
    Object.defineProperty(g.root, "clientWidth", { value: 900 });
    document.body.append(g.root);
    g.setTimeline(tl);
    g.setLayoutMode("grouped");
    g.drawNow();
    return g;
  }

  const gutter = (g: Gantt) =>
    [...g.gutter.querySelectorAll<HTMLButtonElement>(".pw-group")].map((b) => [
      b.dataset.name,
      b.dataset.depth,
      b.querySelector(".pw-group-glyph")!.textContent,
      b.classList.contains("pw-group-subflow"),
    ]);

  it("indents the child run's groups under the subflow's and marks subflows ▸/▾", () => {
    const g = mounted([1], []);
    expect(gutter(g)).toEqual([
      ["prep", "0", "▾", false],
      ["mid", "0", "▾", true],
      ["a", "1", "▾", false],
      ["inner", "1", "▸", true],
      ["b", "1", "▾", false],
      ["fin", "0", "▾", false],
    ]);
    const a = g.gutter.querySelector<HTMLButtonElement>('.pw-group[data-name="a"]')!;
    expect(parseFloat(a.style.paddingLeft)).toBeGreaterThanOrEqual(12);
    g.destroy();
  });

  it("a click on a subflow's label expands it here at once and tells the kernel", () => {
    const toggles: string[] = [];
    const g = mounted([1], toggles);
    g.gutter.querySelector<HTMLButtonElement>('.pw-group[data-name="inner"]')!.click();
    expect(toggles).toEqual(["expand 6"]);
    g.drawNow();
    expect(gutter(g).map((r) => r[0])).toEqual(["prep", "mid", "a", "inner", "c", "b", "fin"]);
    expect(g.isExpanded(6)).toBe(true);
    g.gutter.querySelector<HTMLButtonElement>('.pw-group[data-name="mid"]')!.click();
    expect(toggles).toEqual(["expand 6", "collapse 1"]);
    g.drawNow();
    expect(gutter(g).map((r) => r[0])).toEqual(["prep", "mid", "fin"]);
    expect(g.toggleSubflow(0)).toBe(false); // not a subflow row
    g.destroy();
  });
});
