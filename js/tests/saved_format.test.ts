// @vitest-environment happy-dom
/**
 * Saved notebooks (issue 19, item 7): a widget state saved with a notebook is read back by a
 * front end that may be newer than the one that saved it. The fixture
 * (fixtures/saved-state-format1.json) is a widget state as JupyterLab and nbclient save it
 * (`metadata.widgets["application/vnd.jupyter.widget-state+json"]`, binary buffers base64 at
 * their paths) from before the `format` trait: the encoder's fixture frame (make_fixture.py),
 * no `format`, no edges.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { stubCanvas } from "./fake_canvas";
import { decodeTimeline } from "../src/decode";
import widget, { AnyModel, SAVED_FORMAT, savedFormatProblem } from "../src/index";

interface SavedBuffer {
  path: string[];
  encoding: string;
  data: string;
}

/** The saved model's state with its buffers put back as DataViews (what the widget manager does). */
function savedState(): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "saved-state-format1.json"), "utf8"));
  const [model] = Object.values(doc.state) as Array<{ state: Record<string, unknown>; buffers: SavedBuffer[] }>;
  const state = structuredClone(model.state);
  for (const b of model.buffers) {
    expect(b.encoding).toBe("base64");
    const bytes = Uint8Array.from(Buffer.from(b.data, "base64"));
    let target = state as Record<string, unknown>;
    b.path.slice(0, -1).forEach((key) => (target = target[key] as Record<string, unknown>));
    target[b.path[b.path.length - 1]] = new DataView(bytes.buffer);
  }
  return state;
}

/** A model holding `state`, with no kernel behind it (sending throws, like a saved widget's). */
function kernelLess(state: Record<string, unknown>): AnyModel {
  return {
    get: (name) => state[name],
    set: (name, value) => (state[name] = value),
    save_changes: () => undefined,
    on: () => undefined,
    off: () => undefined,
    send: () => {
      throw new Error("no kernel");
    },
  };
}

beforeAll(() => {
  stubCanvas();
});

describe("savedFormatProblem", () => {
  it("reads states without a format (saved before it) and every format up to its own", () => {
    expect(SAVED_FORMAT).toBe(3);
    for (const format of [undefined, null, 1, 2, 3]) expect(savedFormatProblem(format)).toBeNull();
  });

  it("says why it cannot read a newer or unknown format, and what to do", () => {
    expect(savedFormatProblem(4)).toMatch(/newer prefect-widgets \(state format 4; this view reads formats up to 3\): run the cell again, or upgrade/);
    expect(savedFormatProblem("2")).toMatch(/unknown format \("2"\): run the cell again/);
    expect(savedFormatProblem(0)).toMatch(/unknown format \(0\)/);
  });
});

describe("an old saved state (format 1 fixture)", () => {
  it("decodes: the rows it saved, the columns added since absent", () => {
    const state = savedState();
    expect(state.format).toBeUndefined();
    const tl = decodeTimeline(state.timeline);
    expect(tl.n).toBe(5);
    expect(tl.keys).toEqual(["say_hello", "fetch", "notify"]);
    expect(Array.from(tl.mapIndex)).toEqual([-1, 0, 1, 2, -1]);
    expect(tl.highlight).toBeNull();
  });

  it("renders without a kernel and without an error", () => {
    const el = document.createElement("div");
    document.body.append(el);
    const dispose = widget.render({ model: kernelLess(savedState()), el });
    expect((el.querySelector(".pw-error") as HTMLElement).hidden).toBe(true);
    expect(el.textContent).toContain("saved-before-format");
    dispose();
  });

  it("a format 2 state's plain edge columns render, and a format 3 state's varints", () => {
    const bytes = (a: number[]) => new DataView(Uint8Array.from(a).buffer);
    const format2 = { edge_count: 2, edge_from: bytes([0, 1]), edge_to: bytes([1, 4]), edge_flags: bytes([0, 1]) };
    const format3 = { edge_count: 2, edge_in: bytes([0, 1, 0, 0, 1]), edge_up: bytes([0, 2]), edge_flags: bytes([0, 1]) };
    for (const [format, edges] of [[2, format2], [3, format3]] as const) {
      const state = savedState();
      const saved = { ...state, format, timeline: { ...(state.timeline as object), ...edges, edge_mode: "all" } };
      expect(decodeTimeline(saved.timeline).edgeFrom).toEqual(Int32Array.from([0, 1]));
      expect(decodeTimeline(saved.timeline).edgeTo).toEqual(Int32Array.from([1, 4]));
      const el = document.createElement("div");
      document.body.append(el);
      const dispose = widget.render({ model: kernelLess(saved), el });
      expect((el.querySelector(".pw-error") as HTMLElement).hidden).toBe(true);
      dispose();
    }
  });

  it("a newer format shows why it cannot be read instead of a wrong timeline", () => {
    const el = document.createElement("div");
    document.body.append(el);
    const dispose = widget.render({ model: kernelLess({ ...savedState(), format: SAVED_FORMAT + 1 }), el });
    const error = el.querySelector(".pw-error") as HTMLElement;
    expect(error.hidden).toBe(false);
    expect(error.getAttribute("role")).toBe("alert");
    expect(error.textContent).toMatch(/saved by a newer prefect-widgets \(state format 4/);
    dispose();
  });
});
