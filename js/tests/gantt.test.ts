// @vitest-environment happy-dom
import { beforeAll, describe, expect, it } from "vitest";
import { mountGantt } from "./gantt_fixture";
import type { Timeline } from "../src/decode";
import { bindLayoutTrait, Gantt, LayoutModel } from "../src/gantt";
import { stateIndex } from "../src/states";

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

/** extract (1 run), then square ×4 (mapped, 2 at a time), then load (1 run). */
function timeline(): Timeline {
  const bars: Array<[number, number, number, number]> = [
    [0, 0, 100, -1],
    [1, 100, 300, 0],
    [1, 100, 200, 1],
    [1, 200, 400, 2],
    [1, 300, 400, 3],
    [2, 400, 500, -1],
  ];
  const n = bars.length;
  return {
    n,
    t0: Date.UTC(2026, 0, 1),
    key: Int32Array.from(bars.map((b) => b[0])),
    start: Float32Array.from(bars.map((b) => b[1])),
    end: Float32Array.from(bars.map((b) => b[2])),
    mapIndex: Int32Array.from(bars.map((b) => b[3])),
    state: new Uint8Array(n).fill(stateIndex("COMPLETED")),
    keys: ["extract", "square", "load"],
    runCount: new Uint16Array(n).fill(1),
    highlight: null,
  };
}

function mounted(): Gantt {
  const g = mountGantt(timeline());
  g.drawNow();
  return g;
}

const labels = (g: Gantt) =>
  [...g.gutter.querySelectorAll<HTMLButtonElement>(".pw-group")].map((b) => [
    b.querySelector(".pw-group-name")!.textContent,
    b.querySelector(".pw-group-count")!.textContent,
    b.getAttribute("aria-expanded"),
  ]);

describe("Gantt row layout", () => {
  it("labels each task group in the gutter, in order of first start, with its run count", () => {
    const g = mounted();
    expect(g.root.dataset.layout).toBe("grouped");
    expect(g.root.dataset.layoutMode).toBe("auto");
    expect(g.gutter.hidden).toBe(false);
    expect(labels(g)).toEqual([
      ["extract", "×1", "true"],
      ["square", "×4", "true"],
      ["load", "×1", "true"],
    ]);
    expect(g.packing.rows).toBe(4); // square's 4 runs in 2 lanes
    // the plot starts right of the gutter
    expect(g.geometry().left).toBeGreaterThan(g.gutter.getBoundingClientRect().left);
    expect(g.geometry().sc.r0).toBe(g.geometry().left);
    g.destroy();
  });

  it("collapses a group into one summary row when its label is clicked, and expands it again", () => {
    const g = mounted();
    const square = () => g.gutter.querySelector<HTMLButtonElement>('.pw-group[data-name="square"]')!;
    square().click();
    g.drawNow();
    expect(square().getAttribute("aria-expanded")).toBe("false");
    expect(square().dataset.lanes).toBe("1");
    expect(g.packing.rows).toBe(3);
    expect(new Set([1, 2, 3, 4].map((i) => g.packing.rowOf[i]))).toEqual(new Set([1]));
    square().click();
    g.drawNow();
    expect(square().getAttribute("aria-expanded")).toBe("true");
    expect(g.packing.rows).toBe(4);
    g.destroy();
  });

  it("switches to packed rows from the toolbar and tells the owner", () => {
    const g = mounted();
    const picked: string[] = [];
    g.onLayoutPick = (m) => picked.push(m);
    g.layoutSelect.value = "packed";
    g.layoutSelect.dispatchEvent(new Event("change"));
    g.drawNow();
    expect(picked).toEqual(["packed"]);
    expect(g.root.dataset.layout).toBe("packed");
    expect(g.gutter.hidden).toBe(true);
    expect(g.geometry().left).toBe(8);
    expect(g.packing.rows).toBe(2);
    expect(g.root.querySelector(".pw-layout-note")!.textContent).toBe("2 rows");
    g.destroy();
  });
});

describe("bindLayoutTrait", () => {
  function fakeModel(layout: string) {
    const handlers = new Map<string, Array<() => void>>();
    const state: Record<string, unknown> = { row_layout: layout };
    let saves = 0;
    const model: LayoutModel = {
      get: (k) => state[k],
      set: (k, v) => {
        state[k] = v;
      },
      save_changes: () => {
        saves++;
      },
      on: (ev, cb) => handlers.set(ev, [...(handlers.get(ev) ?? []), cb]),
      off: (ev, cb) => handlers.set(ev, (handlers.get(ev) ?? []).filter((f) => f !== cb)),
    };
    const emit = (k: string, v: unknown) => {
      state[k] = v;
      for (const cb of handlers.get(`change:${k}`) ?? []) cb();
    };
    return { model, state, emit, saves: () => saves, handlers };
  }

  it("follows the trait and writes the user's pick back to it", () => {
    const g = mounted();
    const m = fakeModel("packed");
    const unbind = bindLayoutTrait(m.model, g);
    g.drawNow();
    expect(g.root.dataset.layout).toBe("packed");
    expect(g.layoutSelect.value).toBe("packed");
    m.emit("row_layout", "grouped");
    g.drawNow();
    expect(g.root.dataset.layoutMode).toBe("grouped");
    g.layoutSelect.value = "auto";
    g.layoutSelect.dispatchEvent(new Event("change"));
    expect(m.state.row_layout).toBe("auto");
    expect(m.saves()).toBe(1);
    unbind();
    expect(m.handlers.get("change:row_layout")).toEqual([]);
    expect(g.onLayoutPick).toBeNull();
    g.destroy();
  });
});
