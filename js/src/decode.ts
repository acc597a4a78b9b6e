/**
 * Decoding of the `timeline` trait (binary columns arriving as DataView)
 * into owned, growable typed arrays.
 *
 * Wire format: every column is a little-endian typed array. Float columns are
 * Float32. Integer columns are nominally Int32 (key, map_index) and Uint16
 * (run_count), but the decoder infers the element width from
 * byteLength / n (1, 2 or 4 bytes), so an encoder may narrow them to save
 * notebook bytes. Signedness is fixed per column.
 */

export type BufferLike = DataView | ArrayBuffer | ArrayBufferView | number[] | null | undefined;

export interface Timeline {
  /** Logical number of task runs (arrays may have larger capacity). */
  n: number;
  /** Epoch milliseconds that all start/end offsets are relative to. */
  t0: number;
  /** ms offsets from t0; NaN = never started. */
  start: Float32Array;
  /** ms offsets from t0; NaN = not ended (bar extends to "now"). */
  end: Float32Array;
  /** index into STATE_TYPES */
  state: Uint8Array;
  /** index into `keys`; -1 = unknown */
  key: Int32Array;
  keys: string[];
  /** -1 = not mapped */
  mapIndex: Int32Array;
  runCount: Uint16Array;
  /** 1 = on the critical path; null when not provided */
  highlight: Uint8Array | null;
  /** 1 = the row stands for a subflow run; absent/null = none do */
  kind?: Uint8Array | null;
  /** the subflow row each row is nested under (-1: the flow run's own); absent = none nested */
  parent?: Int32Array | null;
  /** subflow rows shown expanded (their child runs' rows are nested under them) */
  expanded?: number[];
  /** bar index -> flat [start, end, start, end, ...] offsets of idle time between attempts */
  gaps?: Map<number, number[]> | null;
  /** dependency edges (`edges.ts`): arrays may have larger capacity than `edgeCount` */
  edgeCount?: number;
  /** upstream row of each edge */
  edgeFrom?: Int32Array;
  /** downstream row of each edge */
  edgeTo?: Int32Array;
  /** bits: 1 = inferred from the call order (dashed), 2 = on the critical path */
  edgeFlags?: Uint8Array;
  /** which edges to draw: "auto" | "all" | "selection" | "off" (absent: "auto") */
  edgeMode?: string;
  /** bumped whenever the edges change (caches of `edges.ts` key on it) */
  edgeVersion?: number;
}

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A byte view (no copy) of whatever binary container arrived. */
export function toBytes(b: BufferLike): Uint8Array | null {
  if (b == null) return null;
  if (b instanceof Uint8Array) return b;
  if (Array.isArray(b)) return Uint8Array.from(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  // SharedArrayBuffer or other buffer-likes
  if (typeof (b as ArrayBuffer).byteLength === "number") return new Uint8Array(b as ArrayBuffer);
  return null;
}

/**
 * Element width (bytes) of a column holding `n` elements, from its byte length.
 * Returns 0 when the buffer is empty / missing; throws when inconsistent.
 */
export function elementWidth(byteLength: number, n: number, allowed: readonly number[], name = "column"): number {
  if (n <= 0 || byteLength === 0) return 0;
  const w = byteLength / n;
  if (!allowed.includes(w)) {
    throw new DecodeError(
      `${name}: ${byteLength} bytes is not ${n} elements of ${allowed.join("/")} bytes`,
    );
  }
  return w;
}

/** Float32 column -> owned Float32Array of length `cap` (≥ n); missing values NaN. */
export function decodeFloat32(b: BufferLike, n: number, cap = n, name = "float column"): Float32Array {
  const out = new Float32Array(Math.max(cap, n));
  out.fill(NaN);
  const bytes = toBytes(b);
  if (!bytes || n === 0) return out;
  elementWidth(bytes.byteLength, n, [4], name);
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

type IntArray = Int32Array | Uint16Array | Uint8Array;

/**
 * Integer column (1/2/4-byte little-endian, signed or unsigned) into `out`.
 * Values that do not fit `out`'s type are clamped. Missing column -> `fill`.
 */
export function decodeIntInto<T extends IntArray>(
  b: BufferLike,
  n: number,
  out: T,
  signed: boolean,
  fill: number,
  name = "int column",
): T {
  out.fill(fill);
  const bytes = toBytes(b);
  if (!bytes || n === 0) return out;
  const w = elementWidth(bytes.byteLength, n, [1, 2, 4], name);
  const lo = out instanceof Int32Array ? -2147483648 : 0;
  const hi = out instanceof Int32Array ? 2147483647 : out instanceof Uint16Array ? 65535 : 255;
  if (LITTLE_ENDIAN && bytes.byteOffset % w === 0) {
    // fast path: a typed view of the source, then a bulk copy when every
    // source value fits the target type, else a clamping loop
    const Src = signed
      ? w === 1 ? Int8Array : w === 2 ? Int16Array : Int32Array
      : w === 1 ? Uint8Array : w === 2 ? Uint16Array : Uint32Array;
    const src = new Src(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
    const srcLo = signed ? -(2 ** (8 * w - 1)) : 0;
    const srcHi = signed ? 2 ** (8 * w - 1) - 1 : 2 ** (8 * w) - 1;
    if (srcLo >= lo && srcHi <= hi) {
      out.set(src);
    } else {
      for (let i = 0; i < n; i++) {
        const v = src[i];
        out[i] = v < lo ? lo : v > hi ? hi : v;
      }
    }
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    let v: number;
    if (w === 1) v = signed ? dv.getInt8(i) : dv.getUint8(i);
    else if (w === 2) v = signed ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true);
    else v = signed ? dv.getInt32(i * 4, true) : dv.getUint32(i * 4, true);
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return out;
}

export function emptyTimeline(): Timeline {
  return {
    n: 0,
    t0: 0,
    start: new Float32Array(0),
    end: new Float32Array(0),
    state: new Uint8Array(0),
    key: new Int32Array(0),
    keys: [],
    mapIndex: new Int32Array(0),
    runCount: new Uint16Array(0),
    highlight: null,
  };
}

/** Decode the `timeline` trait value. Throws DecodeError on malformed input. */
export function decodeTimeline(raw: unknown): Timeline {
  if (raw == null || typeof raw !== "object") return emptyTimeline();
  const r = raw as Record<string, unknown>;
  const n = Number(r.n ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new DecodeError(`timeline.n must be a non-negative integer, got ${String(r.n)}`);
  const t0 = Number(r.t0 ?? 0);
  const keys = Array.isArray(r.keys) ? r.keys.map((k) => (k == null ? "" : String(k))) : [];
  const tl: Timeline = {
    n,
    t0: Number.isFinite(t0) ? t0 : 0,
    start: decodeFloat32(r.start as BufferLike, n, n, "timeline.start"),
    end: decodeFloat32(r.end as BufferLike, n, n, "timeline.end"),
    state: decodeIntInto(r.state as BufferLike, n, new Uint8Array(n), false, 0, "timeline.state"),
    key: decodeIntInto(r.key as BufferLike, n, new Int32Array(n), true, -1, "timeline.key"),
    keys,
    mapIndex: decodeIntInto(r.map_index as BufferLike, n, new Int32Array(n), true, -1, "timeline.map_index"),
    runCount: decodeIntInto(r.run_count as BufferLike, n, new Uint16Array(n), false, 0, "timeline.run_count"),
    highlight: r.highlight == null ? null : decodeIntInto(r.highlight as BufferLike, n, new Uint8Array(n), false, 0, "timeline.highlight"),
    kind: r.kind == null ? null : decodeIntInto(r.kind as BufferLike, n, new Uint8Array(n), false, 0, "timeline.kind"),
    gaps: decodeGaps(r.gaps),
    parent: r.parent == null ? null : decodeIntInto(r.parent as BufferLike, n, new Int32Array(n), true, -1, "timeline.parent"),
    expanded: Array.isArray(r.expanded) ? r.expanded.map(Number).filter((i) => Number.isInteger(i) && i >= 0 && i < n) : [],
    ...decodeEdges(r),
  };
  return tl;
}

/**
 * Optional dependency edges (js/README.md): `edge_count` m, `edge_in` (varint × n: each row's
 * number of upstream edges; edges sorted by downstream row) and `edge_up` (varint × m: each
 * edge's upstream row as a zigzag delta from the previous edge's), `edge_flags` (Uint8 × m,
 * absent = all 0), `edge_mode`. Format 2 sent `edge_from`/`edge_to` (unsigned row indices,
 * 1/2/4 bytes each, width from byteLength / m) and always `edge_flags`: still read.
 */
export function decodeEdges(r: Record<string, unknown>, n = Number(r.n ?? 0)): Partial<Timeline> {
  const mode = typeof r.edge_mode === "string" ? { edgeMode: r.edge_mode } : {};
  if (r.edge_from == null && r.edge_in == null) return mode;
  const m = Number(r.edge_count ?? 0);
  if (!Number.isInteger(m) || m < 0) throw new DecodeError(`timeline.edge_count must be a non-negative integer, got ${String(r.edge_count)}`);
  const edgeFlags = decodeIntInto(r.edge_flags as BufferLike, m, new Uint8Array(m), false, 0, "timeline.edge_flags");
  if (r.edge_in == null) {
    return {
      ...mode,
      edgeCount: m,
      edgeFrom: decodeIntInto(r.edge_from as BufferLike, m, new Int32Array(m), false, -1, "timeline.edge_from"),
      edgeTo: decodeIntInto(r.edge_to as BufferLike, m, new Int32Array(m), false, -1, "timeline.edge_to"),
      edgeFlags,
      edgeVersion: 1,
    };
  }
  // one pass over each column (the first frame waits for it): counts -> downstream rows,
  // zigzag deltas -> upstream rows
  const edgeTo = new Int32Array(m);
  let k = 0;
  let row = 0;
  readVarints(r.edge_in as BufferLike, n, "timeline.edge_in", (count) => {
    if (k + count > m) throw new DecodeError(`timeline.edge_in: more than edge_count (${m}) edges`);
    for (let j = 0; j < count; j++) edgeTo[k++] = row;
    row++;
  });
  if (k !== m) throw new DecodeError(`timeline.edge_in: ${k} edges, edge_count says ${m}`);
  const edgeFrom = new Int32Array(m);
  let e = 0;
  let up = 0;
  readVarints(r.edge_up as BufferLike, m, "timeline.edge_up", (z) => {
    up += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    if (up < 0 || up >= n) throw new DecodeError(`timeline.edge_up: edge ${e}'s upstream row ${up} is not a row (n = ${n})`);
    edgeFrom[e++] = up;
  });
  return { ...mode, edgeCount: m, edgeFrom, edgeTo, edgeFlags, edgeVersion: 1 };
}

/** `count` LEB128 varints (7 bits a byte, low first; high bit = more bytes), exact up to 2^49. */
export function decodeVarints(b: BufferLike, count: number, name = "varint column"): Float64Array {
  const out = new Float64Array(count);
  let k = 0;
  readVarints(b, count, name, (value) => (out[k++] = value));
  return out;
}

/** Calls `each` with each of `count` LEB128 varints in turn; throws when the bytes hold another number. */
function readVarints(b: BufferLike, count: number, name: string, each: (value: number) => void): void {
  const bytes = toBytes(b) ?? new Uint8Array(0);
  const refuse = () => new DecodeError(`${name}: ${bytes.length} bytes are not ${count} varints`);
  let k = 0;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte < 0x80 && scale === 1) {
      // a one-byte value, by far the most common
      if (k++ >= count) throw refuse();
      each(byte);
      continue;
    }
    value += (byte & 0x7f) * scale; // arithmetic, not shifts: values above 2^31 stay exact
    if (byte & 0x80) {
      scale *= 128;
      if (scale > 2 ** 49) throw new DecodeError(`${name}: a varint wider than 49 bits`);
      continue;
    }
    if (k++ >= count) throw refuse();
    each(value);
    value = 0;
    scale = 1;
  }
  if (k !== count || scale !== 1) throw refuse();
}

/** Optional `timeline.gaps` ({n, row int32, start/end float32}) grouped by bar index. */
export function decodeGaps(raw: unknown): Map<number, number[]> | null {
  if (raw == null || typeof raw !== "object") return null;
  const g = raw as Record<string, unknown>;
  const m = Number(g.n ?? 0);
  if (!Number.isInteger(m) || m <= 0) return null;
  const rows = decodeIntInto(g.row as BufferLike, m, new Int32Array(m), true, -1, "timeline.gaps.row");
  const start = decodeFloat32(g.start as BufferLike, m, m, "timeline.gaps.start");
  const end = decodeFloat32(g.end as BufferLike, m, m, "timeline.gaps.end");
  const out = new Map<number, number[]>();
  for (let k = 0; k < m; k++) {
    if (rows[k] < 0) continue;
    const list = out.get(rows[k]) ?? [];
    list.push(start[k], end[k]);
    out.set(rows[k], list);
  }
  return out;
}

/** Label prefix shown for a row that stands for a subflow run (its parent task run). */
export const SUBFLOW_PREFIX = "\u2937 ";

/** Whether row i stands for a subflow run (`kind[i] === 1`). */
export function isSubflow(tl: Timeline, i: number): boolean {
  return !!tl.kind && i >= 0 && i < tl.n && tl.kind[i] === 1;
}

/** Tooltip label: keys[key[i]] + "[map_index]" when mapped; subflow runs prefixed "⤷ ". */
export function labelOf(tl: Timeline, i: number): string {
  const k = tl.key[i];
  const base = k >= 0 && k < tl.keys.length ? tl.keys[k] : "task";
  const m = tl.mapIndex[i];
  const label = m >= 0 ? `${base}[${m}]` : base;
  return isSubflow(tl, i) ? SUBFLOW_PREFIX + label : label;
}

/** Effective end offset of bar i: max(start, end), NaN end -> `now`. */
export function effectiveEnd(tl: Timeline, i: number, now: number): number {
  const s = tl.start[i];
  const e = tl.end[i];
  const v = e === e ? e : now; // NaN check
  return v > s ? v : s;
}

/** [min start, max effective end] over started bars (offsets), or null when none started. */
export function extentOf(tl: Timeline, now: number, visible?: Uint8Array | null): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < tl.n; i++) {
    const s = tl.start[i];
    if (s !== s) continue;
    if (visible && !visible[i]) continue;
    if (s < lo) lo = s;
    const e = effectiveEnd(tl, i, now);
    if (e > hi) hi = e;
  }
  return lo === Infinity ? null : [lo, hi];
}
