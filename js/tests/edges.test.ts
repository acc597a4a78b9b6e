import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DecodeError, Timeline, decodeTimeline, decodeVarints } from "../src/decode";
import {
  AUTO_MAX_EDGES,
  EDGE_CRITICAL,
  EDGE_INFERRED,
  EdgeFrame,
  EdgeLayer,
  buildEdgeIndex,
  edgeCurve,
  edgeMode,
  edgesToDraw,
  lineage,
} from "../src/edges";
import { applyPatch } from "../src/patch";
import type { Theme } from "../src/theme";

function dv(Ctor: { new (a: number[]): ArrayBufferView }, values: number[]): DataView {
  const a = new Ctor(values);
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

/** n bars of 10 ms, bar i starting at 20·i, with the given edges (plain format 2 columns, in
 * the order given: what a notebook saved by format 2 holds). */
function timeline(n: number, edges: Array<[number, number, number?]>, extra: Record<string, unknown> = {}): Timeline {
  return decodeTimeline({
    n,
    t0: 1_000,
    start: dv(Float32Array as never, Array.from({ length: n }, (_, i) => 20 * i)),
    end: dv(Float32Array as never, Array.from({ length: n }, (_, i) => 20 * i + 10)),
    state: dv(Uint8Array as never, Array(n).fill(3)),
    key: dv(Int32Array as never, Array(n).fill(0)),
    keys: ["t"],
    map_index: dv(Int32Array as never, Array(n).fill(-1)),
    run_count: dv(Uint16Array as never, Array(n).fill(1)),
    edge_count: edges.length,
    edge_from: dv(Uint8Array as never, edges.map((e) => e[0])),
    edge_to: dv(Uint8Array as never, edges.map((e) => e[1])),
    edge_flags: dv(Uint8Array as never, edges.map((e) => e[2] ?? 0)),
    ...extra,
  });
}

function rowBuffers(rows: Array<{ i: number; s: number; e: number }>, kind?: number[]) {
  const out = [
    dv(Int32Array as never, rows.map((r) => r.i)),
    dv(Float32Array as never, rows.map((r) => r.s)),
    dv(Float32Array as never, rows.map((r) => r.e)),
    dv(Uint8Array as never, rows.map(() => 3)),
    dv(Int32Array as never, rows.map(() => 0)),
    dv(Int32Array as never, rows.map(() => -1)),
    dv(Uint16Array as never, rows.map(() => 1)),
  ];
  if (kind) out.push(dv(Uint8Array as never, kind));
  return out;
}

function edgeBuffers(edges: Array<[number, number, number]>) {
  return [
    dv(Uint16Array as never, edges.map((e) => e[0])),
    dv(Uint16Array as never, edges.map((e) => e[1])),
    dv(Uint8Array as never, edges.map((e) => e[2])),
  ];
}

describe("decoding edges", () => {
  it("reads edge_* columns of any unsigned width, and the mode", () => {
    const tl = timeline(4, [[0, 1], [1, 2, EDGE_INFERRED], [0, 3, EDGE_CRITICAL]], { edge_mode: "all" });
    expect(tl.edgeCount).toBe(3);
    expect([...tl.edgeFrom!]).toEqual([0, 1, 0]);
    expect([...tl.edgeTo!]).toEqual([1, 2, 3]);
    expect([...tl.edgeFlags!]).toEqual([0, 1, 2]);
    expect(tl.edgeMode).toBe("all");
    const wide = decodeTimeline({ n: 1, edge_count: 2, edge_from: dv(Uint32Array as never, [70_000, 0]), edge_to: dv(Uint32Array as never, [0, 70_000]), edge_flags: dv(Uint8Array as never, [0, 0]) });
    expect([...wide.edgeFrom!]).toEqual([70_000, 0]);
  });

  it("has no edges when the keys are absent, and refuses a column that does not fit the count", () => {
    const none = decodeTimeline({ n: 0 });
    expect(none.edgeCount ?? 0).toBe(0);
    expect(() => decodeTimeline({ n: 0, edge_count: 2, edge_from: dv(Uint8Array as never, [1, 2, 3]), edge_to: dv(Uint8Array as never, [1, 2]), edge_flags: dv(Uint8Array as never, [0, 0]) })).toThrow(DecodeError);
  });
});

/** js/tests/fixtures/edges.json (make_edges_fixture.py): the Python encoder's edges, both formats. */
const EDGE_FIXTURE = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "edges.json"), "utf8"));

/** A fixture timeline with its {base64} buffers as DataViews (what the widget manager hands over). */
function fromFixture(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const b64 = v && typeof v === "object" ? (v as { base64?: string }).base64 : undefined;
    out[k] = b64 === undefined ? v : new DataView(Uint8Array.from(Buffer.from(b64, "base64")).buffer);
  }
  return out;
}

function plain(tl: Timeline) {
  const m = tl.edgeCount ?? 0;
  return { edge_from: [...tl.edgeFrom!.slice(0, m)], edge_to: [...tl.edgeTo!.slice(0, m)], edge_flags: [...tl.edgeFlags!.slice(0, m)] };
}

describe("decoding the Python encoder's edges (format 3, and format 2 saved notebooks)", () => {
  it("reads edge_in/edge_up varints as the plain columns the encoder made them from", () => {
    const tl = decodeTimeline(fromFixture(EDGE_FIXTURE.format3));
    expect(tl.edgeCount).toBe(301);
    expect(plain(tl)).toEqual(EDGE_FIXTURE.format3_expected);
    expect(tl.edgeTo![tl.edgeCount! - 1]).toBe(299); // sorted by downstream row
  });

  it("reads a format 2 notebook's edge_from/edge_to as they were saved", () => {
    const tl = decodeTimeline(fromFixture(EDGE_FIXTURE.format2));
    expect(plain(tl)).toEqual(EDGE_FIXTURE.format2_expected);
  });

  it("holds no flags column when every flag is 0", () => {
    const raw = fromFixture(EDGE_FIXTURE.format3);
    delete raw.edge_flags;
    const tl = decodeTimeline(raw);
    expect(tl.edgeFlags!.every((f) => f === 0)).toBe(true);
    expect(plain(tl).edge_from).toEqual(EDGE_FIXTURE.format3_expected.edge_from);
  });

  it("decodes varints at their byte boundaries and refuses broken ones", () => {
    const bytes = Uint8Array.from([0, 0x7f, 0x80, 0x01, 0xff, 0x7f, 0x80, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect([...decodeVarints(bytes, 6)]).toEqual([0, 127, 128, 16_383, 16_384, 2 ** 32 - 1]);
    expect(() => decodeVarints(Uint8Array.from([1, 2, 3]), 2)).toThrow(DecodeError);
    expect(() => decodeVarints(Uint8Array.from([0x81]), 1)).toThrow(DecodeError);
    expect(() => decodeVarints(Uint8Array.from(Array(8).fill(0x80)), 1)).toThrow(/wider than 49 bits/);
  });

  it("refuses counts that disagree with edge_count and upstream rows outside the timeline", () => {
    const raw = fromFixture(EDGE_FIXTURE.format3);
    expect(() => decodeTimeline({ ...raw, edge_count: 300 })).toThrow(DecodeError);
    const n = 3;
    const edges = { n, edge_count: 1, edge_in: Uint8Array.from([0, 1, 0]), edge_up: Uint8Array.from([2 * 5]) };
    expect(() => decodeTimeline(edges)).toThrow(/upstream row 5 is not a row/);
    expect(plain(decodeTimeline({ ...edges, edge_up: Uint8Array.from([2 * 2]) }))).toEqual({ edge_from: [2], edge_to: [1], edge_flags: [0] });
  });
});

describe("patching edges", () => {
  it("appends the edges new rows bring, after a kind buffer too", () => {
    const tl = timeline(2, [[0, 1]]);
    const res = applyPatch(tl, { type: "patch", n: 4, edges: { mode: "add", count: 2 } }, [
      ...rowBuffers([{ i: 2, s: 40, e: 50 }, { i: 3, s: 60, e: 70 }], [0, 1]),
      ...edgeBuffers([[1, 2, 0], [2, 3, EDGE_INFERRED]]),
    ]);
    expect(res.edges).toBe(2);
    expect(tl.n).toBe(4);
    expect([...tl.kind!.slice(0, 4)]).toEqual([0, 0, 0, 1]);
    expect(tl.edgeCount).toBe(3);
    expect([...tl.edgeFrom!.slice(0, 3)]).toEqual([0, 1, 2]);
    expect([...tl.edgeTo!.slice(0, 3)]).toEqual([1, 2, 3]);
    expect([...tl.edgeFlags!.slice(0, 3)]).toEqual([0, 0, EDGE_INFERRED]);
  });

  it("replaces every edge with mode replace and bumps the version", () => {
    const tl = timeline(3, [[0, 1], [1, 2]]);
    const before = tl.edgeVersion ?? 0;
    applyPatch(tl, { type: "patch", n: 3, edges: { mode: "replace", count: 1 } }, [
      ...rowBuffers([]),
      ...edgeBuffers([[0, 2, EDGE_INFERRED]]),
    ]);
    expect(tl.edgeCount).toBe(1);
    expect([tl.edgeFrom![0], tl.edgeTo![0], tl.edgeFlags![0]]).toEqual([0, 2, EDGE_INFERRED]);
    expect(tl.edgeVersion).toBeGreaterThan(before);
  });

  it("grows from no edges at all, amortised", () => {
    const tl = timeline(1, []);
    for (let k = 1; k <= 100; k++) {
      applyPatch(tl, { type: "patch", n: k + 1, edges: { mode: "add", count: 1 } }, [
        ...rowBuffers([{ i: k, s: 20 * k, e: 20 * k + 10 }]),
        ...edgeBuffers([[k - 1, k, 0]]),
      ]);
    }
    expect(tl.edgeCount).toBe(100);
    expect(tl.edgeFrom!.length).toBeLessThan(400);
    expect(tl.edgeTo![99]).toBe(100);
  });
});

describe("lineage", () => {
  // 0 → 1 → 2 → 4, 3 → 2, 5 unrelated
  const tl = timeline(6, [[0, 1], [1, 2], [2, 4], [3, 2]]);
  const index = buildEdgeIndex(tl);

  it("is the transitive upstream and downstream of the focus, with the edges on those paths", () => {
    const lin = lineage(tl, index, 2);
    expect([...lin.rows]).toEqual([1, 1, 3, 1, 2, 0]);
    expect([lin.upstream, lin.downstream]).toEqual([3, 1]);
    expect([...lin.edges].sort()).toEqual([0, 1, 2, 3]);
    const leaf = lineage(tl, index, 4);
    expect([...leaf.rows]).toEqual([1, 1, 1, 1, 3, 0]);
    expect(lineage(tl, index, 5).edges.length).toBe(0);
  });

  it("lists the nearest edges first, upstream and downstream in turn", () => {
    const chain = timeline(9, Array.from({ length: 8 }, (_, i): [number, number] => [i, i + 1]));
    const lin = lineage(chain, buildEdgeIndex(chain), 4);
    // edge i runs i → i+1: upstream of 4 are edges 3, 2, 1, 0; downstream 4, 5, 6, 7
    expect([...lin.edges]).toEqual([3, 4, 2, 5, 1, 6, 0, 7]);
  });

  it("leaves out edges whose ends are not rows, and survives a cycle", () => {
    const odd = timeline(3, [[0, 1], [1, 0], [2, 9]]);
    const lin = lineage(odd, buildEdgeIndex(odd), 0);
    expect([...lin.rows]).toEqual([3, 3, 0]);
    expect(lin.edges.length).toBe(2);
  });
});

describe("what is drawn", () => {
  it("gates the whole run's edges like Prefect's graph, and follows the mode", () => {
    const small = timeline(3, [[0, 1], [1, 2, EDGE_CRITICAL]]);
    expect(edgesToDraw(small, "auto", null, false).edges.length).toBe(2);
    expect(edgesToDraw(small, "selection", null, false).edges.length).toBe(0);
    expect(edgesToDraw(small, "selection", null, true).edges).toEqual([1]); // the critical path's
    expect(edgesToDraw(small, "off", null, true).edges.length).toBe(0);
    const big: Array<[number, number]> = Array.from({ length: AUTO_MAX_EDGES + 1 }, () => [0, 1]);
    const many = timeline(2, big);
    expect(edgesToDraw(many, "auto", null, false).edges.length).toBe(0);
    expect(edgesToDraw(many, "all", null, false).edges.length).toBe(AUTO_MAX_EDGES + 1);
    const lin = lineage(small, buildEdgeIndex(small), 0);
    expect(edgesToDraw(small, "selection", lin, false)).toMatchObject({ veil: true });
    expect(edgeMode("nonsense")).toBe("auto");
  });

  it("runs a bezier from the source end to the target start, arrowed when long enough", () => {
    const c = edgeCurve(100, 10, 160, 40);
    expect([c.x1, c.y1, c.x2, c.y2]).toEqual([100, 10, 160, 40]);
    expect(c.c1x).toBeGreaterThan(c.x1); // leaves rightwards
    expect(c.c2x).toBeLessThan(c.x2); // enters from the left
    expect([c.c1y, c.c2y]).toEqual([10, 40]);
    expect(c.arrow).toBe(true);
    expect(edgeCurve(100, 10, 105, 12).arrow).toBe(false);
  });

  it("draws each edge once on a canvas, dashed when inferred, and dims the rest for a focus", () => {
    const tl = timeline(4, [[0, 1], [1, 2, EDGE_INFERRED], [2, 3]]);
    const calls: string[] = [];
    const dashes: number[][] = [];
    const ctx = new Proxy({} as Record<string, unknown>, {
      get(target, prop: string) {
        if (prop in target) return target[prop];
        return (...args: unknown[]) => {
          calls.push(prop);
          if (prop === "setLineDash") dashes.push(args[0] as number[]);
        };
      },
      set(target, prop: string, value) {
        target[prop] = value;
        return true;
      },
    }) as unknown as CanvasRenderingContext2D;
    const theme = { bg: "#fff", fg: "#000", muted: "#888", accent: "#06c", stateColors: Array(9).fill("#0a0") } as unknown as Theme;
    const f: EdgeFrame = {
      ctx, tl, theme, hlMode: false,
      plot: { x: 0, y: 0, w: 1000, h: 200 },
      barRect: (i) => ({ x: 10 * tl.start[i], y: 20 * i, w: 100, h: 10 }),
    };
    const layer = new EdgeLayer();
    expect(layer.draw(f, -1)).toBe(3);
    expect(calls.filter((c) => c === "bezierCurveTo").length).toBe(3);
    expect(dashes.some((d) => d.length === 2)).toBe(true);
    calls.length = 0;
    expect(layer.draw(f, 3)).toBe(3); // the whole chain is upstream of 3
    expect(calls.filter((c) => c === "fillRect").length).toBe(1 + 4); // veil + 4 bars
    calls.length = 0;
    const searching: EdgeFrame = { ...f, match: Uint8Array.from([1, 0, 1, 1]) };
    layer.draw(searching, 3);
    expect(calls.filter((c) => c === "fillRect").length).toBe(1 + 3); // a non-match stays dimmed
    calls.length = 0;
    const hidden: EdgeFrame = { ...f, barRect: (i) => (i === 0 ? null : f.barRect(i)) };
    expect(layer.draw(hidden, -1)).toBe(2); // an edge to a bar not placed is skipped
  });
});
