// @vitest-environment happy-dom
/**
 * The history chart's front end (src/history/): decoding `chart_data`'s binary columns
 * (checked against the Python encoder's output in fixtures/history.json), the two
 * axes, hit testing (a click → a run), colours from the product's one palette, and the
 * dots raster where a failure is never hidden under completed runs; then the widget itself
 * on a fake model and a recording canvas context (happy-dom has no canvas).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DURATION_TICKS,
  PAD,
  View,
  durationLabel,
  durationLevel,
  durationTicks,
  levelCeiling,
  timeAt,
  timeTicks,
  xOf,
  yOf,
} from "../src/history/axes";
import {
  HistoryDataError,
  decodeHistory,
  drawOrder,
  runId,
  runIndex,
  stateColors,
  stateName,
} from "../src/history/data";
import { nearestRun } from "../src/history/hittest";
import { paintDots } from "../src/history/raster";
import history, { runSummary } from "../src/history/index";
import { fitView, HOUR, MINUTE } from "../src/scale";
import { DARK_PALETTE, LIGHT_PALETTE, packRGBA, stateColor } from "../src/states";

/** `prefect_widgets.history_chart.chart_data`'s shape: states in the Python order. */
const PY_STATES = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED"];
const T0 = Date.UTC(2026, 0, 1);
const ID = (k: number) => k.toString(16).padStart(32, "0");

function view(a: ArrayBufferView): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

/** The wire `chart_data` writes, from plain columns (ids: 32 hex digits a run, concatenated). */
function wire(c: { x: number[]; y: (number | null)[]; s: number[]; ids: string; states: string[] }) {
  const t0 = c.x.length ? Math.min(...c.x) : 0;
  return {
    n: c.x.length,
    t0,
    x: view(Uint32Array.from(c.x, (v) => v - t0)),
    y: view(Float32Array.from(c.y, (v) => v ?? NaN)),
    s: view(Uint8Array.from(c.s)),
    ids: view(Uint8Array.from(c.ids.match(/../g) ?? [], (h) => parseInt(h, 16))),
    states: c.states,
  };
}

function sample() {
  return wire({
    x: [T0, T0 + HOUR, T0 + 2 * HOUR],
    y: [1.5, null, 3600],
    s: [5, 6, 9],
    ids: ID(1) + ID(2) + ID(3),
    states: [...PY_STATES, "SUSPENDED"],
  });
}

type Fixture = { data: Record<string, unknown>; expected: { x: number[]; seconds: (number | null)[]; states: string[]; ids: string[] } };
const FIXTURE: Record<string, Fixture> = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures/history.json"), "utf-8"),
  (_key, value) => (typeof value?.base64 === "string" ? view(Buffer.from(value.base64, "base64")) : value),
);

const VIEW: View = { lo: T0, hi: T0 + 2 * HOUR, width: 1000, height: 320, top: 6 };

describe("decodeHistory", () => {
  it("turns the columns into typed arrays", () => {
    const d = decodeHistory(sample());
    expect(d.n).toBe(3);
    expect(Array.from(d.x)).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR]);
    expect(d.seconds[0]).toBe(1.5);
    expect(Number.isNaN(d.seconds[1])).toBe(true);
    expect(Array.from(d.state)).toEqual([5, 6, 9]);
    expect(d.extent).toEqual([T0, T0 + 2 * HOUR]);
  });

  it("reads a missing or empty trait as no runs", () => {
    expect(decodeHistory(undefined).n).toBe(0);
    expect(decodeHistory({}).n).toBe(0);
    expect(decodeHistory(wire({ x: [], y: [], s: [], ids: "", states: [] })).extent).toEqual([0, 0]);
  });

  it.each(Object.keys(FIXTURE))("decodes what the Python encoder writes (%s offsets)", (name) => {
    const { data, expected } = FIXTURE[name];
    const d = decodeHistory(data);
    expect(d.n).toBe(expected.x.length);
    expect(Array.from(d.x)).toEqual(expected.x);
    expect(Array.from(d.seconds, (v) => (Number.isNaN(v) ? null : v))).toEqual(expected.seconds);
    expect(Array.from(d.state, (code) => d.states[code])).toEqual(expected.states);
    expect(Array.from({ length: d.n }, (_, i) => runId(d, i))).toEqual(expected.ids);
    expected.ids.forEach((id, i) => expect(runIndex(d, id.toUpperCase())).toBe(i));
  });

  it("reads float64 offsets when the history spans more than uint32 milliseconds", () => {
    expect((FIXTURE.wide.data.x as DataView).byteLength).toBe(8 * 4);
    expect((FIXTURE.narrow.data.x as DataView).byteLength).toBe(4 * 4);
  });

  it("gives run ids back as UUIDs and finds a run by its id", () => {
    const d = decodeHistory(sample());
    expect(runId(d, 1)).toBe("00000000-0000-0000-0000-000000000002");
    expect(runIndex(d, "00000000-0000-0000-0000-000000000003")).toBe(2);
    expect(runIndex(d, ID(2))).toBe(1);
    expect(runIndex(d, "00000000-0000-0000-0000-000000000009")).toBe(-1);
    expect(runIndex(d, "")).toBe(-1);
  });

  it("finds whole ids only", () => {
    const d = decodeHistory(wire({ x: [0, 0], y: [1, 1], s: [0, 0], ids: ID(1) + ID(2), states: ["COMPLETED"] }));
    expect(runIndex(d, ID(1).slice(16) + ID(2).slice(0, 16))).toBe(-1);
    expect(runIndex(d, ID(2).slice(1))).toBe(-1);
    expect(runIndex(d, "zz" + ID(2).slice(2))).toBe(-1);
  });

  it("refuses inconsistent columns with what to do", () => {
    const one = view(new Float32Array([1]));
    expect(() => decodeHistory({ ...sample(), y: one })).toThrow(HistoryDataError);
    expect(() => decodeHistory({ ...sample(), y: one })).toThrow(/"y" does not hold 3 values\): run the cell again/);
    expect(() => decodeHistory({ ...sample(), y: [1, 2, 3] })).toThrow(/"y" does not hold 3 values/);
    expect(() => decodeHistory({ ...sample(), x: view(new Uint16Array(3)) })).toThrow(/"x" does not hold 3 values/);
    expect(() => decodeHistory({ ...sample(), s: view(new Uint8Array([0, 1, 10])) })).toThrow(/run 2 has state code 10/);
    expect(() => decodeHistory({ ...sample(), ids: view(new Uint8Array(16)) })).toThrow(/"ids" does not hold 3 values/);
    expect(() => decodeHistory({ ...sample(), n: 2.5 })).toThrow(/2.5 runs/);
  });
});

describe("states and colours", () => {
  it("colours each state by name from the shared palette, whatever the code order", () => {
    const d = decodeHistory(sample());
    const light = stateColors(d, false);
    expect(light[5]).toBe(LIGHT_PALETTE.COMPLETED);
    expect(light[6]).toBe(LIGHT_PALETTE.FAILED);
    expect(light[3]).toBe(LIGHT_PALETTE.PAUSED);
    expect(stateColors(d, true)[8]).toBe(DARK_PALETTE.CRASHED);
  });

  it("gives a state the product does not know the neutral colour and its own name", () => {
    const d = decodeHistory(sample());
    expect(stateColors(d, false)[9]).toBe(stateColor("SUSPENDED", false));
    expect(stateName(d, 9)).toBe("SUSPENDED");
    expect(stateName(d, 5)).toBe("Completed");
  });

  it("draws failures after completed runs", () => {
    const d = decodeHistory(wire({
      x: [0, 0, 0, 0], y: [1, 1, 1, 1], s: [6, 5, 8, 5], ids: ID(1) + ID(2) + ID(3) + ID(4), states: PY_STATES,
    }));
    expect(Array.from(drawOrder(d))).toEqual([1, 3, 2, 0]); // completed, completed, crashed, failed
  });
});

describe("axes", () => {
  it("puts durations on decades above 10 ms, runs without one on the floor", () => {
    expect(durationLevel(0.01)).toBeCloseTo(0);
    expect(durationLevel(1)).toBeCloseTo(2);
    expect(durationLevel(3600)).toBeCloseTo(Math.log10(3600) + 2);
    expect(durationLevel(0.0001)).toBeCloseTo(0);
    expect(durationLevel(NaN)).toBe(-1);
    expect(durationLevel(0)).toBe(-1);
    expect(levelCeiling(new Float64Array([1.5, NaN, 3600]))).toBe(6);
    expect(levelCeiling(new Float64Array([]))).toBe(1);
  });

  it("labels round durations and stops at the axis' top", () => {
    expect(DURATION_TICKS.map(durationLabel)).toEqual(["10ms", "100ms", "1s", "10s", "1m", "10m", "1h", "6h", "1d", "7d", "30d"]);
    expect(durationTicks(2).map((t) => t.label)).toEqual(["10ms", "100ms", "1s"]);
    expect(durationTicks(6).map((t) => t.label)).toEqual(["10ms", "100ms", "1s", "10s", "1m", "10m", "1h"]);
    expect(durationTicks(7).map((t) => t.label).slice(-2)).toEqual(["6h", "1d"]);
  });

  it("maps time across the plot and back", () => {
    expect(xOf(VIEW, T0)).toBe(PAD.l);
    expect(xOf(VIEW, T0 + 2 * HOUR)).toBeCloseTo(VIEW.width - PAD.r);
    expect(timeAt(VIEW, xOf(VIEW, T0 + 37 * MINUTE))).toBeCloseTo(T0 + 37 * MINUTE);
  });

  it("puts longer runs higher and the floor at the plot's bottom", () => {
    expect(yOf(VIEW, -1)).toBe(VIEW.height - PAD.b);
    expect(yOf(VIEW, 5)).toBeLessThan(yOf(VIEW, 2));
    expect(yOf(VIEW, VIEW.top)).toBeCloseTo(PAD.t);
  });

  it("ticks time with the shared nice steps in wall-clock time", () => {
    const utc = timeTicks(VIEW, 0);
    expect(utc.map((t) => t.label)).toEqual(["Jan 1", "00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "02:00"]);
    const delhi = timeTicks(VIEW, 330); // +05:30: ticks on the quarter hour there too
    expect(delhi[0].label).toBe("05:30");
    const year: View = { ...VIEW, lo: T0, hi: T0 + 365 * 24 * HOUR };
    expect(timeTicks(year, 0).length).toBeLessThanOrEqual(Math.floor((year.width - PAD.l - PAD.r) / 90) + 1);
  });
});

describe("nearestRun (a click → a run)", () => {
  const d = decodeHistory(sample());

  it("hits the run under the pointer", () => {
    for (let i = 0; i < d.n; i++) {
      const x = xOf(VIEW, d.x[i]);
      const y = yOf(VIEW, durationLevel(d.seconds[i]));
      expect(nearestRun(d, VIEW, x + 2, y - 2)).toBe(i);
    }
  });

  it("hits nothing in empty space or outside the plot", () => {
    expect(nearestRun(d, VIEW, xOf(VIEW, T0 + 30 * MINUTE), 100)).toBe(-1);
    expect(nearestRun(d, VIEW, 5, yOf(VIEW, durationLevel(1.5)))).toBe(-1);
  });

  it("picks the nearer of two close runs", () => {
    const two = decodeHistory(wire({ x: [T0 + HOUR, T0 + HOUR + 40_000], y: [10, 10], s: [5, 6], ids: ID(1) + ID(2), states: PY_STATES }));
    const y = yOf(VIEW, durationLevel(10));
    const a = xOf(VIEW, T0 + HOUR);
    const b = xOf(VIEW, T0 + HOUR + 40_000);
    expect(nearestRun(two, VIEW, a + (b - a) * 0.3, y)).toBe(0);
    expect(nearestRun(two, VIEW, a + (b - a) * 0.7, y)).toBe(1);
  });

  it("tells the selected run's line with its id once", () => {
    const line = runSummary(d, 0, 0);
    expect(line).toBe(`Completed · 2026-01-01 00:00:00.000 · 1.50s · ${runId(d, 0)} `);
    expect(runSummary(d, 1, 0)).toBe(`Failed · 2026-01-01 01:00:00.000 · ${runId(d, 1)} `);
  });
});

describe("paintDots", () => {
  const packed = new Uint32Array([packRGBA(LIGHT_PALETTE.COMPLETED), packRGBA(LIGHT_PALETTE.FAILED)]);

  it("keeps a failure visible under completed runs painted on the same pixels", () => {
    const d = decodeHistory(wire({ x: [0, 0, 0], y: [1, 1, 1], s: [0, 1, 0], ids: ID(1) + ID(2) + ID(3), states: ["COMPLETED", "FAILED"] }));
    const pixels = { data: new Uint32Array(10 * 10), width: 10, height: 10 };
    const xs = new Float64Array([5, 5, 5]);
    const ys = new Float64Array([5, 5, 5]);
    expect(paintDots(pixels, xs, ys, d.state, packed, drawOrder(d), 0, 9, 1)).toBe(3);
    expect(pixels.data[5 * 10 + 5]).toBe(packed[1]);
    expect(pixels.data[4 * 10 + 6]).toBe(packed[1]); // the whole 3×3 square
    expect(pixels.data[3 * 10 + 5]).toBe(0);
  });

  it("skips dots outside the plot and clips at the edges", () => {
    const pixels = { data: new Uint32Array(10 * 10), width: 10, height: 10 };
    const order = new Uint32Array([0, 1]);
    const drawn = paintDots(pixels, new Float64Array([1, 9]), new Float64Array([0, 9]), new Uint8Array([0, 1]), packed, order, 2, 9, 1);
    expect(drawn).toBe(1);
    expect(pixels.data[9 * 10 + 9]).toBe(packed[1]);
    expect(pixels.data[0 * 10 + 1]).toBe(0);
  });
});

describe("the widget (render)", () => {
  type Handler = () => void;

  function fakeModel(state: Record<string, unknown>) {
    const handlers: Record<string, Handler[]> = {};
    const model = {
      saved: 0,
      get: (k: string) => state[k],
      set: (k: string, v: unknown) => void (state[k] = v),
      save_changes: () => void model.saved++,
      on: (event: string, cb: Handler) => void (handlers[event] ??= []).push(cb),
      off: (event?: string | null, cb?: Handler | null) => {
        if (event) handlers[event] = (handlers[event] ?? []).filter((h) => cb && h !== cb);
      },
      send: () => undefined,
      fire: (event: string) => (handlers[event] ?? []).forEach((h) => h()),
      handlers,
    };
    return model;
  }

  function fakeContext() {
    return {
      setTransform() {}, clearRect() {}, fillRect() {}, fillText() {}, beginPath() {}, arc() {}, stroke() {},
      getImageData: (_x: number, _y: number, w: number, h: number) => ({ data: new Uint8ClampedArray(w * h * 4) }),
      putImageData() {},
    };
  }

  function mount(state: Record<string, unknown>) {
    vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(
      () => fakeContext() as unknown as CanvasRenderingContext2D,
    );
    const el = document.createElement("div");
    document.body.append(el);
    const model = fakeModel({ height: 320, ui_url: "http://ui.example", selected_flow_run_id: "", ...state });
    const cleanup = history.render({ model, el });
    return { el, model, cleanup, info: el.querySelector(".pw-history-info") as HTMLElement };
  }

  afterEach(() => {
    vi.restoreAllMocks();
    document.body.textContent = "";
  });

  it("paints every run and selects the run under a click", () => {
    const { el, model, info, cleanup } = mount({ data: sample() });
    expect(el.dataset.drawn).toBe("3");
    const d = decodeHistory(sample());
    const [lo, hi] = fitView(d.extent[0], d.extent[1], 2 * HOUR);
    const view: View = { lo, hi, width: 800, height: 320, top: levelCeiling(d.seconds) };
    const canvas = el.querySelector("canvas") as HTMLCanvasElement;
    const at = { clientX: xOf(view, d.x[2]), clientY: yOf(view, durationLevel(d.seconds[2])) };
    canvas.dispatchEvent(new MouseEvent("mousedown", at));
    window.dispatchEvent(new MouseEvent("mouseup", at));
    const id = runId(d, 2);
    expect(model.get("selected_flow_run_id")).toBe(id);
    expect(model.saved).toBe(1);
    expect(info.textContent?.split(id).length).toBe(2);
    expect(info.querySelector("a")?.getAttribute("href")).toBe(`http://ui.example/runs/flow-run/${id}`);
    cleanup();
    expect(model.handlers["change:data"]).toEqual([]);
  });

  it("shows the run Python selects, and links only to http(s) pages", () => {
    const { model, info } = mount({ data: sample(), ui_url: "javascript:alert(1)" });
    model.set("selected_flow_run_id", runId(decodeHistory(sample()), 1));
    model.fire("change:selected_flow_run_id");
    expect(info.textContent).toContain("Failed · ");
    expect(info.querySelector("a")).toBeNull();
    expect(model.saved).toBe(0);
  });

  it("says what to do when the data is inconsistent", () => {
    const { el, info } = mount({ data: { ...sample(), ids: view(new Uint8Array(0)) } });
    expect(info.classList.contains("pw-history-error")).toBe(true);
    expect(info.textContent).toMatch(/run the cell again/);
    expect(el.dataset.drawn).toBe("0");
  });
});
