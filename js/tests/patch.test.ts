import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DecodeError, Timeline, decodeTimeline, emptyTimeline, isSubflow, labelOf } from "../src/decode";
import { applyPatch, ensureCapacity } from "../src/patch";

function dv(Ctor: { new (a: number[]): ArrayBufferView }, values: number[]): DataView {
  const a = new Ctor(values);
  return new DataView(a.buffer);
}

function patchBuffers(rows: Array<{ i: number; s: number; e: number; st: number; k: number; m: number; rc: number }>) {
  return [
    dv(Int32Array as never, rows.map((r) => r.i)),
    dv(Float32Array as never, rows.map((r) => r.s)),
    dv(Float32Array as never, rows.map((r) => r.e)),
    dv(Uint8Array as never, rows.map((r) => r.st)),
    dv(Int32Array as never, rows.map((r) => r.k)),
    dv(Int32Array as never, rows.map((r) => r.m)),
    dv(Uint16Array as never, rows.map((r) => r.rc)),
  ];
}

function base(): Timeline {
  return decodeTimeline({
    n: 2,
    t0: 10_000,
    start: dv(Float32Array as never, [0, 100]),
    end: dv(Float32Array as never, [50, NaN]),
    state: dv(Uint8Array as never, [3, 2]),
    key: dv(Int32Array as never, [0, 0]),
    keys: ["a"],
    map_index: dv(Int32Array as never, [-1, -1]),
    run_count: dv(Uint16Array as never, [1, 1]),
    highlight: dv(Uint8Array as never, [1, 0]),
  });
}

describe("applyPatch", () => {
  it("updates rows in place and appends new ones", () => {
    const tl = base();
    const res = applyPatch(tl, { type: "patch", n: 4, keys: ["a", "b"], t0: 10_000 }, patchBuffers([
      { i: 1, s: 100, e: 180, st: 3, k: 0, m: -1, rc: 2 }, // running -> completed
      { i: 2, s: 150, e: NaN, st: 2, k: 1, m: 0, rc: 1 },
      { i: 3, s: NaN, e: NaN, st: 1, k: 1, m: 1, rc: 0 },
    ]));
    expect(res).toEqual({ appended: 2, updated: 1, rebased: false, edges: 0 });
    expect(tl.n).toBe(4);
    expect(tl.end[1]).toBe(180);
    expect(tl.state[1]).toBe(3);
    expect(tl.runCount[1]).toBe(2);
    expect(tl.start[2]).toBe(150);
    expect(Number.isNaN(tl.end[2])).toBe(true);
    expect(tl.keys).toEqual(["a", "b"]);
    expect(labelOf(tl, 2)).toBe("b[0]");
    expect(labelOf(tl, 3)).toBe("b[1]");
    // untouched row kept
    expect([tl.start[0], tl.end[0], tl.state[0]]).toEqual([0, 50, 3]);
    // highlight grows with zeros
    expect([...tl.highlight!.slice(0, 4)]).toEqual([1, 0, 0, 0]);
  });

  it("fills rows declared by n but absent from the patch with defaults", () => {
    const tl = base();
    applyPatch(tl, { type: "patch", n: 5 }, patchBuffers([{ i: 2, s: 1, e: 2, st: 3, k: 0, m: -1, rc: 1 }]));
    expect(tl.n).toBe(5);
    for (const i of [3, 4]) {
      expect(Number.isNaN(tl.start[i]) && Number.isNaN(tl.end[i])).toBe(true);
      expect(tl.key[i]).toBe(-1);
      expect(tl.mapIndex[i]).toBe(-1);
      expect(tl.runCount[i]).toBe(0);
    }
  });

  it("grows capacity geometrically and keeps data across many appends", () => {
    const tl = emptyTimeline();
    tl.keys = ["k"];
    let reallocations = 0;
    let last = tl.start;
    for (let i = 0; i < 1000; i++) {
      applyPatch(tl, { type: "patch", n: i + 1 }, patchBuffers([{ i, s: i, e: i + 0.5, st: 3, k: 0, m: i, rc: 1 }]));
      if (tl.start !== last) {
        reallocations++;
        last = tl.start;
      }
    }
    expect(tl.n).toBe(1000);
    expect(reallocations).toBeLessThan(15);
    for (const i of [0, 1, 63, 64, 500, 999]) {
      expect(tl.start[i]).toBe(i);
      expect(tl.mapIndex[i]).toBe(i);
    }
  });

  it("rebases existing rows when t0 changes", () => {
    const tl = base();
    const res = applyPatch(tl, { type: "patch", n: 3, t0: 9_000 }, patchBuffers([{ i: 2, s: 5_000, e: 5_010, st: 3, k: 0, m: -1, rc: 1 }]));
    expect(res.rebased).toBe(true);
    expect(tl.t0).toBe(9_000);
    expect(tl.start[0]).toBe(1_000); // same absolute time 10_000
    expect(tl.end[0]).toBe(1_050);
    expect(Number.isNaN(tl.end[1])).toBe(true);
    expect(tl.start[2]).toBe(5_000); // new row already relative to the new t0
  });

  it("accepts narrowed integer columns", () => {
    const tl = base();
    const bufs = patchBuffers([{ i: 0, s: 0, e: 1, st: 4, k: 0, m: 0, rc: 0 }]);
    bufs[4] = dv(Int8Array as never, [0]);
    bufs[5] = dv(Int16Array as never, [-1]);
    bufs[6] = dv(Uint8Array as never, [3]);
    applyPatch(tl, { type: "patch", n: 2 }, bufs);
    expect([tl.state[0], tl.mapIndex[0], tl.runCount[0]]).toEqual([4, -1, 3]);
  });

  it("rejects malformed patches without touching the timeline", () => {
    const tl = base();
    expect(() => applyPatch(tl, { type: "patch" }, [])).toThrow(DecodeError);
    const bufs = patchBuffers([{ i: 0, s: 0, e: 1, st: 4, k: 0, m: 0, rc: 0 }]);
    bufs[1] = new DataView(new ArrayBuffer(6));
    expect(() => applyPatch(tl, { type: "patch" }, bufs)).toThrow(/patch.start/);
    expect(tl.n).toBe(2);
    expect(tl.state[0]).toBe(3);
  });

  it("ensureCapacity is a no-op when there is room", () => {
    const tl = base();
    const s = tl.start;
    ensureCapacity(tl, 2);
    expect(tl.start).toBe(s);
    ensureCapacity(tl, 3);
    expect(tl.start.length).toBeGreaterThanOrEqual(64);
    expect(tl.start[0]).toBe(0);
    expect(Number.isNaN(tl.start[2])).toBe(true);
  });
});

describe("Python encoder fixture (js/tests/fixtures/encoded.json)", () => {
  const fx = JSON.parse(readFileSync(new URL("./fixtures/encoded.json", import.meta.url), "utf8"));
  const b64 = (s: string | null) => (s == null ? null : new DataView(Uint8Array.from(Buffer.from(s, "base64")).buffer));
  const raw = Object.fromEntries(
    Object.entries(fx.timeline).map(([k, v]) => [k, typeof v === "string" ? b64(v) : v]),
  );

  it("decodes what encode_timeline wrote", () => {
    const tl = decodeTimeline(raw);
    expect(tl.n).toBe(5);
    expect(tl.t0).toBe(Date.UTC(2024, 4, 1, 12, 0, 0));
    expect([...tl.start].map((v) => (Number.isNaN(v) ? null : v))).toEqual([0, 500, 2000, null, 5000]);
    expect([...tl.end].map((v) => (Number.isNaN(v) ? null : v))).toEqual([1250, 3000, null, null, 5000]);
    expect([...tl.state]).toEqual([3, 4, 2, 1, 6]); // COMPLETED FAILED RUNNING PENDING CRASHED
    expect([0, 1, 2, 3, 4].map((i) => labelOf(tl, i))).toEqual(["say_hello", "fetch[0]", "fetch[1]", "fetch[2]", "\u2937 notify"]);
    expect([...tl.kind!]).toEqual([0, 0, 0, 0, 1]); // notify stands for a subflow run
    expect(tl.keys).toContain("notify"); // the wire key is the task name
    expect([...tl.runCount]).toEqual([1, 3, 1, 0, 2]);
    expect([...tl.highlight!]).toEqual([1, 1, 0, 0, 0]);
  });

  it("applies what encode_patch wrote", () => {
    const tl = decodeTimeline(raw);
    const res = applyPatch(tl, fx.patch.msg, fx.patch.buffers.map(b64));
    expect(res).toEqual({ appended: 1, updated: 1, rebased: false, edges: 0 });
    expect(tl.n).toBe(6);
    expect([tl.start[2], tl.end[2], tl.state[2]]).toEqual([2000, 4500, 3]);
    expect(labelOf(tl, 5)).toBe("\u2937 cleanup"); // patched in as a subflow run
    expect(isSubflow(tl, 2)).toBe(false);
    expect(isSubflow(tl, 5)).toBe(true);
    expect(tl.start[5]).toBe(6000);
    expect(Number.isNaN(tl.end[5])).toBe(true);
    expect(Number.isNaN(tl.start[4 - 1])).toBe(true); // row 3 untouched (pending)
  });
});
