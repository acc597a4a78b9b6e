import { describe, expect, it } from "vitest";
import {
  DecodeError,
  decodeFloat32,
  decodeGaps,
  decodeIntInto,
  decodeTimeline,
  effectiveEnd,
  elementWidth,
  extentOf,
  isSubflow,
  labelOf,
  SUBFLOW_PREFIX,
  toBytes,
} from "../src/decode";

/** A DataView over little-endian bytes placed at an odd offset of a larger buffer. */
function unaligned(bytes: Uint8Array, offset = 3): DataView {
  const buf = new ArrayBuffer(bytes.length + offset + 5);
  new Uint8Array(buf).set(bytes, offset);
  return new DataView(buf, offset, bytes.length);
}

function le(type: "f32" | "i32" | "i16" | "i8" | "u16" | "u8", values: number[]): Uint8Array {
  const size = { f32: 4, i32: 4, i16: 2, i8: 1, u16: 2, u8: 1 }[type];
  const dv = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => {
    if (type === "f32") dv.setFloat32(i * 4, v, true);
    else if (type === "i32") dv.setInt32(i * 4, v, true);
    else if (type === "i16") dv.setInt16(i * 2, v, true);
    else if (type === "i8") dv.setInt8(i, v);
    else if (type === "u16") dv.setUint16(i * 2, v, true);
    else dv.setUint8(i, v);
  });
  return new Uint8Array(dv.buffer);
}

describe("toBytes", () => {
  it("views every container without copying", () => {
    const buf = new ArrayBuffer(8);
    const dv = new DataView(buf, 2, 4);
    const b = toBytes(dv)!;
    expect(b.buffer).toBe(buf);
    expect(b.byteOffset).toBe(2);
    expect(b.byteLength).toBe(4);
    expect(toBytes(buf)!.byteLength).toBe(8);
    expect(toBytes(new Float32Array(3))!.byteLength).toBe(12);
    expect(toBytes(null)).toBeNull();
    expect([...toBytes([1, 2, 3])!]).toEqual([1, 2, 3]);
  });
});

describe("elementWidth", () => {
  it("infers 1/2/4-byte widths and rejects the rest", () => {
    expect(elementWidth(40, 10, [1, 2, 4])).toBe(4);
    expect(elementWidth(20, 10, [1, 2, 4])).toBe(2);
    expect(elementWidth(10, 10, [1, 2, 4])).toBe(1);
    expect(elementWidth(0, 10, [1, 2, 4])).toBe(0);
    expect(() => elementWidth(30, 10, [1, 2, 4])).toThrow(DecodeError);
    expect(() => elementWidth(41, 10, [4])).toThrow(/41 bytes/);
  });
});

describe("decodeFloat32", () => {
  it("decodes unaligned little-endian data and keeps NaN", () => {
    const out = decodeFloat32(unaligned(le("f32", [0, 1.5, NaN, -2.25, 1e6])), 5);
    expect(out).toBeInstanceOf(Float32Array);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(1.5);
    expect(Number.isNaN(out[2])).toBe(true);
    expect(out[3]).toBe(-2.25);
    expect(out[4]).toBe(1e6);
  });
  it("copies (does not alias the message buffer) and pads capacity with NaN", () => {
    const src = le("f32", [7, 8]);
    const dv = new DataView(src.buffer);
    const out = decodeFloat32(dv, 2, 4);
    expect(out.length).toBe(4);
    dv.setFloat32(0, 99, true);
    expect(out[0]).toBe(7);
    expect(Number.isNaN(out[2]) && Number.isNaN(out[3])).toBe(true);
  });
  it("fills a missing column with NaN", () => {
    const out = decodeFloat32(null, 3);
    expect([...out].every(Number.isNaN)).toBe(true);
  });
});

describe("decodeIntInto", () => {
  it("sign-extends narrowed signed columns", () => {
    for (const t of ["i8", "i16", "i32"] as const) {
      const out = decodeIntInto(unaligned(le(t, [-1, 0, 5, 100])), 4, new Int32Array(4), true, 0);
      expect([...out]).toEqual([-1, 0, 5, 100]);
    }
  });
  it("reads unsigned columns and clamps into the target type", () => {
    const out = decodeIntInto(unaligned(le("u16", [0, 1, 65535])), 3, new Uint16Array(3), false, 0);
    expect([...out]).toEqual([0, 1, 65535]);
    const clamped = decodeIntInto(le("i32", [300, -5]), 2, new Uint8Array(2), true, 0);
    expect([...clamped]).toEqual([255, 0]);
  });
  it("uses the fill value for a missing column", () => {
    expect([...decodeIntInto(undefined, 3, new Int32Array(3), true, -1)]).toEqual([-1, -1, -1]);
  });
});

function sampleRaw() {
  return {
    n: 4,
    t0: 1_700_000_000_000,
    start: new DataView(le("f32", [0, 100, NaN, 50]).buffer),
    end: new DataView(le("f32", [80, NaN, NaN, 50]).buffer),
    state: new DataView(le("u8", [3, 2, 1, 4]).buffer),
    key: unaligned(le("i8", [0, 1, 1, 0])),
    keys: ["say_hello", "fetch", null],
    map_index: new DataView(le("i16", [-1, 0, 1, -1]).buffer),
    run_count: new DataView(le("u16", [1, 3, 0, 2]).buffer),
    highlight: null,
  };
}

describe("decodeTimeline", () => {
  it("decodes every column", () => {
    const tl = decodeTimeline(sampleRaw());
    expect(tl.n).toBe(4);
    expect(tl.t0).toBe(1_700_000_000_000);
    expect([...tl.start.slice(0, 2)]).toEqual([0, 100]);
    expect(Number.isNaN(tl.start[2])).toBe(true);
    expect(Number.isNaN(tl.end[1])).toBe(true);
    expect([...tl.state]).toEqual([3, 2, 1, 4]);
    expect([...tl.key]).toEqual([0, 1, 1, 0]);
    expect(tl.keys).toEqual(["say_hello", "fetch", ""]);
    expect([...tl.mapIndex]).toEqual([-1, 0, 1, -1]);
    expect([...tl.runCount]).toEqual([1, 3, 0, 2]);
    expect(tl.highlight).toBeNull();
  });
  it("decodes the optional highlight column", () => {
    const tl = decodeTimeline({ ...sampleRaw(), highlight: new DataView(le("u8", [0, 1, 0, 1]).buffer) });
    expect([...tl.highlight!]).toEqual([0, 1, 0, 1]);
  });
  it("accepts an empty timeline and null", () => {
    expect(decodeTimeline(null).n).toBe(0);
    const tl = decodeTimeline({ n: 0, t0: 0, start: new DataView(new ArrayBuffer(0)), keys: [] });
    expect(tl.n).toBe(0);
    expect(tl.start.length).toBe(0);
  });
  it("rejects inconsistent buffers", () => {
    expect(() => decodeTimeline({ ...sampleRaw(), start: new DataView(new ArrayBuffer(12)) })).toThrow(DecodeError);
    expect(() => decodeTimeline({ ...sampleRaw(), key: new DataView(new ArrayBuffer(12)) })).toThrow(/timeline.key/);
    expect(() => decodeTimeline({ ...sampleRaw(), n: -1 })).toThrow(DecodeError);
  });
  it("labels mapped and unmapped runs", () => {
    const tl = decodeTimeline(sampleRaw());
    expect(labelOf(tl, 0)).toBe("say_hello");
    expect(labelOf(tl, 1)).toBe("fetch[0]");
    expect(labelOf(tl, 2)).toBe("fetch[1]");
    tl.key[3] = 7; // out of range key
    expect(labelOf(tl, 3)).toBe("task");
  });
  it("marks subflow runs by their kind", () => {
    const tl = decodeTimeline(sampleRaw());
    expect(tl.kind).toBeNull();
    expect(isSubflow(tl, 0)).toBe(false);
    const marked = decodeTimeline({ ...sampleRaw(), kind: new DataView(new Uint8Array([1, 0, 0, 0]).buffer) });
    expect(isSubflow(marked, 0)).toBe(true);
    expect(isSubflow(marked, 1)).toBe(false);
    expect(labelOf(marked, 0)).toBe(`${SUBFLOW_PREFIX}say_hello`);
  });
  it("extends open bars to now and computes the extent of started bars", () => {
    const tl = decodeTimeline(sampleRaw());
    expect(effectiveEnd(tl, 0, 1000)).toBe(80);
    expect(effectiveEnd(tl, 1, 1000)).toBe(1000);
    expect(effectiveEnd(tl, 1, 10)).toBe(100); // never before start
    expect(effectiveEnd(tl, 3, 1000)).toBe(50); // zero length
    expect(extentOf(tl, 500)).toEqual([0, 500]);
    expect(extentOf(tl, 500, new Uint8Array([1, 0, 0, 1]))).toEqual([0, 80]);
    expect(extentOf(decodeTimeline({ ...sampleRaw(), n: 1, start: new DataView(le("f32", [NaN]).buffer),
      end: new DataView(le("f32", [NaN]).buffer), state: null, key: null, map_index: null, run_count: null }), 0)).toBeNull();
  });
});

describe("decodeGaps", () => {
  it("groups the idle time between attempts by bar index", () => {
    const row = new DataView(new Int32Array([3, 3, 0]).buffer);
    const start = new DataView(new Float32Array([10, 30, 5]).buffer);
    const end = new DataView(new Float32Array([20, 40, 6]).buffer);
    const gaps = decodeGaps({ n: 3, row, start, end })!;
    expect(gaps.get(3)).toEqual([10, 20, 30, 40]);
    expect(gaps.get(0)).toEqual([5, 6]);
    expect(gaps.has(1)).toBe(false);
  });

  it("is null when absent or empty", () => {
    expect(decodeGaps(null)).toBeNull();
    expect(decodeGaps({ n: 0 })).toBeNull();
  });
});
