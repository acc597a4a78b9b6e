/**
 * Live patches: `{type: "patch", n, keys, t0}` custom messages with buffers
 * [index Int32, start Float32, end Float32, state Uint8, key Int32,
 *  map_index Int32, run_count Uint16] and optionally [kind Uint8] (1 = subflow run). Rows with index >= the current n are
 * appended, the others updated in place. Integer widths are inferred like in
 * decode.ts (1/2/4 bytes per element). With `edges: {mode, count}` in the message the
 * last three buffers are dependency edges [edge_from, edge_to, edge_flags]: "add"
 * appends them, "replace" makes them the timeline's only edges.
 */
import { BufferLike, DecodeError, Timeline, decodeFloat32, decodeIntInto, toBytes } from "./decode";

export interface PatchMessage {
  type: "patch";
  n?: number;
  keys?: unknown[];
  t0?: number;
  edges?: { mode?: string; count?: number } | null;
}

export interface PatchResult {
  /** rows whose index was >= the previous n */
  appended: number;
  /** rows updated in place */
  updated: number;
  /** true when t0 changed and existing offsets were rebased */
  rebased: boolean;
  /** edges added (or, with mode "replace", now held) */
  edges: number;
}

function grow<T extends Float32Array | Uint8Array | Int32Array | Uint16Array>(a: T, cap: number, fill: number): T {
  if (a.length >= cap) return a;
  const b = new (a.constructor as { new (n: number): T })(cap);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** Make sure all columns can hold `n` rows (amortised doubling); new slots get defaults. */
export function ensureCapacity(tl: Timeline, n: number): void {
  if (tl.start.length >= n) return;
  const cap = Math.max(n, Math.ceil(tl.start.length * 1.5), 64);
  tl.start = grow(tl.start, cap, NaN);
  tl.end = grow(tl.end, cap, NaN);
  tl.state = grow(tl.state, cap, 0);
  tl.key = grow(tl.key, cap, -1);
  tl.mapIndex = grow(tl.mapIndex, cap, -1);
  tl.runCount = grow(tl.runCount, cap, 0);
  if (tl.highlight) tl.highlight = grow(tl.highlight, cap, 0);
  if (tl.kind) tl.kind = grow(tl.kind, cap, 0);
}

/** Add (or, `replace`, set) the edges of a patch: buffers [from, to, flags] of `count`. */
export function applyEdges(tl: Timeline, count: number, buffers: readonly BufferLike[], replace: boolean): number {
  if (!Number.isInteger(count) || count < 0) throw new DecodeError(`patch.edges.count must be a non-negative integer, got ${String(count)}`);
  const from = decodeIntInto(buffers[0], count, new Int32Array(count), false, -1, "patch.edge_from");
  const to = decodeIntInto(buffers[1], count, new Int32Array(count), false, -1, "patch.edge_to");
  const flags = decodeIntInto(buffers[2], count, new Uint8Array(count), false, 0, "patch.edge_flags");
  const base = replace ? 0 : tl.edgeCount ?? 0;
  const need = base + count;
  const have = tl.edgeFrom?.length ?? 0;
  if (!tl.edgeFrom || !tl.edgeTo || !tl.edgeFlags || have < need) {
    const cap = Math.max(need, Math.ceil(have * 1.5), 64);
    tl.edgeFrom = grow(tl.edgeFrom ?? new Int32Array(0), cap, -1);
    tl.edgeTo = grow(tl.edgeTo ?? new Int32Array(0), cap, -1);
    tl.edgeFlags = grow(tl.edgeFlags ?? new Uint8Array(0), cap, 0);
  }
  tl.edgeFrom.set(from, base);
  tl.edgeTo.set(to, base);
  tl.edgeFlags.set(flags, base);
  tl.edgeCount = need;
  tl.edgeVersion = (tl.edgeVersion ?? 0) + 1;
  return count;
}

/**
 * Apply a patch to `tl` in place. Invalid indices (negative) are ignored.
 * If `msg.t0` differs from `tl.t0`, existing offsets are rebased so that
 * every row stays at the same absolute time.
 */
export function applyPatch(tl: Timeline, msg: PatchMessage, buffers: readonly BufferLike[]): PatchResult {
  const edges = msg.edges && typeof msg.edges === "object" ? msg.edges : null;
  const rowBuffers = edges ? buffers.length - 3 : buffers?.length ?? 0;
  if (!buffers || rowBuffers < 7) throw new DecodeError(`patch needs ${edges ? 10 : 7} buffers, got ${buffers ? buffers.length : 0}`);
  const idxBytes = toBytes(buffers[0]);
  const m = idxBytes ? idxBytes.byteLength / 4 : 0;
  if (!Number.isInteger(m)) throw new DecodeError("patch index buffer is not Int32");
  const index = decodeIntInto(buffers[0], m, new Int32Array(m), true, -1, "patch.index");
  const start = decodeFloat32(buffers[1], m, m, "patch.start");
  const end = decodeFloat32(buffers[2], m, m, "patch.end");
  const state = decodeIntInto(buffers[3], m, new Uint8Array(m), false, 0, "patch.state");
  const key = decodeIntInto(buffers[4], m, new Int32Array(m), true, -1, "patch.key");
  const mapIndex = decodeIntInto(buffers[5], m, new Int32Array(m), true, -1, "patch.map_index");
  const runCount = decodeIntInto(buffers[6], m, new Uint16Array(m), false, 0, "patch.run_count");
  const kind = rowBuffers > 7 && buffers[7] != null
    ? decodeIntInto(buffers[7], m, new Uint8Array(m), false, 0, "patch.kind")
    : null;

  let rebased = false;
  const t0 = Number(msg.t0);
  if (msg.t0 != null && Number.isFinite(t0) && t0 !== tl.t0) {
    if (tl.n > 0) {
      const shift = tl.t0 - t0;
      for (let i = 0; i < tl.n; i++) {
        tl.start[i] += shift; // NaN stays NaN
        tl.end[i] += shift;
      }
      rebased = true;
    }
    tl.t0 = t0;
  }
  if (Array.isArray(msg.keys)) tl.keys = msg.keys.map((k) => (k == null ? "" : String(k)));

  let maxIdx = -1;
  for (let j = 0; j < m; j++) if (index[j] > maxIdx) maxIdx = index[j];
  const oldN = tl.n;
  const declared = Number.isInteger(msg.n) ? (msg.n as number) : 0;
  const newN = Math.max(oldN, declared, maxIdx + 1);
  if (kind && !tl.kind) tl.kind = new Uint8Array(tl.start.length);
  ensureCapacity(tl, newN);

  let appended = 0;
  let updated = 0;
  for (let j = 0; j < m; j++) {
    const i = index[j];
    if (i < 0) continue;
    if (i >= oldN) appended++;
    else updated++;
    tl.start[i] = start[j];
    tl.end[i] = end[j];
    tl.state[i] = state[j];
    tl.key[i] = key[j];
    tl.mapIndex[i] = mapIndex[j];
    tl.runCount[i] = runCount[j];
    if (kind && tl.kind) tl.kind[i] = kind[j];
  }
  tl.n = newN;
  const added = edges ? applyEdges(tl, Number(edges.count ?? 0), buffers.slice(rowBuffers), edges.mode === "replace") : 0;
  return { appended, updated, rebased, edges: added };
}
