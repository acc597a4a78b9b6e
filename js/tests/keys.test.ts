// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { emptyTimeline, Timeline } from "../src/decode";
import { bindKeys, keyActions, keyCommand, KeyTarget, moveSelection } from "../src/keys";
import { Packing, rowIndex } from "../src/pack";

/** Bars as [row, start, end]; the packing places them on those rows. */
function setup(bars: Array<[number, number, number]>): { tl: Timeline; p: Packing } {
  const n = bars.length;
  const tl: Timeline = {
    ...emptyTimeline(),
    n,
    start: Float32Array.from(bars.map((b) => b[1])),
    end: Float32Array.from(bars.map((b) => b[2])),
    key: new Int32Array(n),
    mapIndex: new Int32Array(n).fill(-1),
    state: new Uint8Array(n),
    runCount: new Uint16Array(n),
  };
  const rowOf = Int32Array.from(bars.map((b) => b[0]));
  const order = Int32Array.from([...Array(n).keys()].filter((i) => rowOf[i] >= 0).sort((a, b) => tl.start[a] - tl.start[b]));
  const rows = Math.max(0, ...bars.map((b) => b[0] + 1));
  return { tl, p: { rows, rowOf, ...rowIndex(rows, rowOf, order), placed: order.length } };
}

// row 0: 0 [0,10], 1 [20,30], 2 [40,50]
// row 1: 3 [5,15], 4 [42,60]
// row 2: (empty)
// row 3: 5 [25,35]
// 6: not placed (filtered out)
const { tl, p } = setup([
  [0, 0, 10],
  [0, 20, 30],
  [0, 40, 50],
  [1, 5, 15],
  [1, 42, 60],
  [3, 25, 35],
  [-1, 0, 1],
]);
const move = (from: number, m: "left" | "right" | "up" | "down") => moveSelection(p, tl, from, m, 100);

describe("moveSelection", () => {
  it("Left/Right walk the bars of the same row and stop at its ends", () => {
    expect(move(0, "right")).toBe(1);
    expect(move(1, "right")).toBe(2);
    expect(move(2, "right")).toBe(2);
    expect(move(1, "left")).toBe(0);
    expect(move(0, "left")).toBe(0);
  });

  it("Up/Down go to the bar nearest in time on the next non-empty row", () => {
    expect(move(0, "down")).toBe(3); // overlaps [0,10]
    expect(move(2, "down")).toBe(4);
    expect(move(1, "down")).toBe(3); // [20,30]: 15 is 5 away, 42 is 12 away
    expect(move(4, "down")).toBe(5); // skips the empty row 2
    expect(move(5, "up")).toBe(4); // [25,35]: 42 is 7 away, 15 is 10 away
    expect(move(3, "up")).toBe(0);
    expect(move(0, "up")).toBe(0); // top row: stays
    expect(move(5, "down")).toBe(5);
  });

  it("with nothing (or a hidden bar) selected, any arrow selects the first bar in time", () => {
    expect(move(-1, "right")).toBe(0);
    expect(move(-1, "up")).toBe(0);
    expect(move(6, "down")).toBe(0);
    const empty = setup([]);
    expect(moveSelection(empty.p, empty.tl, -1, "down", 0)).toBe(-1);
  });
});

describe("keyCommand", () => {
  const k = (key: string, mods: Partial<KeyboardEvent> = {}, inText = false) =>
    keyCommand({ key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods }, inText);

  it("maps arrows, Enter, Escape and /; leaves modified keys and Shift+arrows (pan) alone", () => {
    expect([k("ArrowLeft"), k("ArrowRight"), k("ArrowUp"), k("ArrowDown")]).toEqual(["left", "right", "up", "down"]);
    expect([k("Enter"), k("Escape"), k("/")]).toEqual(["open", "clear", "search"]);
    expect(k("ArrowLeft", { shiftKey: true })).toBeNull();
    expect(k("a")).toBeNull();
    expect(k("Enter", { ctrlKey: true })).toBeNull();
  });

  it("in the search field: Enter / Shift+Enter step, Escape clears, other keys are typed", () => {
    expect(k("Enter", {}, true)).toBe("next-match");
    expect(k("Enter", { shiftKey: true }, true)).toBe("prev-match");
    expect(k("Escape", {}, true)).toBe("clear");
    expect(k("ArrowLeft", {}, true)).toBeNull();
    expect(k("/", {}, true)).toBeNull();
  });
});

describe("bindKeys + keyActions", () => {
  function widget() {
    const root = document.createElement("div");
    const input = document.createElement("input");
    const button = document.createElement("button");
    root.append(input, button);
    document.body.append(root);
    const calls: string[] = [];
    let query = "x";
    const target: { -readonly [K in keyof KeyTarget]: KeyTarget[K] } = {
      tl,
      selected: -1,
      layoutNow: () => p,
      nowOffset: () => 100,
      revealBar: (i) => calls.push(`reveal ${i}`),
      select(i, open) {
        this.selected = i;
        calls.push(`select ${i}${open ? " open" : ""}`);
      },
      stepMatch: (dir) => (dir > 0 ? 4 : 2),
      focusSearch: () => calls.push("focus search"),
      clearSearch: () => {
        const had = !!query;
        query = "";
        return had;
      },
    };
    const unbind = bindKeys(root, keyActions(target));
    const press = (on: HTMLElement, key: string, shiftKey = false) => {
      const e = new KeyboardEvent("keydown", { key, shiftKey, bubbles: true, cancelable: true });
      let reachedDocument = false;
      const spy = () => (reachedDocument = true);
      document.addEventListener("keydown", spy);
      on.dispatchEvent(e);
      document.removeEventListener("keydown", spy);
      return { handled: e.defaultPrevented, reachedDocument };
    };
    return { root, input, button, calls, target, press, unbind };
  }

  it("marks whatever takes the focus inside, so Lumino never matches a binding there", () => {
    const { root, button, unbind } = widget();
    button.focus();
    expect(button.getAttribute("data-lm-suppress-shortcuts")).toBe("true");
    unbind();
    expect(root.querySelector("[data-lm-suppress-shortcuts]")).toBeNull();
  });

  it("makes the root focusable with JupyterLab's shortcuts suppressed", () => {
    const { root, unbind } = widget();
    expect(root.tabIndex).toBe(0);
    expect(root.hasAttribute("data-lm-suppress-shortcuts")).toBe(true);
    unbind();
    expect(root.hasAttribute("data-lm-suppress-shortcuts")).toBe(false);
  });

  it("arrows move the selection and stop the key there; Enter opens; Escape clears search, then selection", () => {
    const { root, calls, target, press } = widget();
    expect(press(root, "ArrowDown")).toEqual({ handled: true, reachedDocument: false });
    expect(press(root, "ArrowRight").handled).toBe(true);
    expect(target.selected).toBe(1);
    expect(press(root, "Enter").handled).toBe(true);
    expect(calls).toEqual(["select 0", "reveal 0", "select 1", "reveal 1", "select 1 open", "reveal 1"]);
    expect(press(root, "Escape").handled).toBe(true); // clears the search first
    expect(target.selected).toBe(1);
    press(root, "Escape");
    expect(target.selected).toBe(-1);
    expect(press(root, "Escape")).toEqual({ handled: false, reachedDocument: true }); // nothing left: not ours
    expect(press(root, "a")).toEqual({ handled: false, reachedDocument: true });
  });

  it("in the search field Enter steps through matches; / focuses it; a button keeps Enter", () => {
    const { root, input, button, calls, target, press } = widget();
    expect(press(input, "Enter").handled).toBe(true);
    expect(target.selected).toBe(4);
    press(input, "Enter", true);
    expect(target.selected).toBe(2);
    expect(press(input, "ArrowLeft").handled).toBe(false); // moves the caret
    press(root, "/");
    expect(calls).toContain("focus search");
    expect(press(button, "Enter").handled).toBe(false);
  });
});
