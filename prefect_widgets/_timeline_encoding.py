"""Binary encoding of task-run timelines for the widget's ``timeline`` trait.

The browser side (``js/src/decode.ts``, ``js/src/patch.ts``) reads exactly
what this module writes; ``js/README.md`` is the contract. In short, the
``timeline`` dict holds::

    n          int      number of task runs (rows, in frame order)
    t0         float    epoch milliseconds all offsets are relative to
    start      bytes    float32 LE, ms offset from t0, NaN = never started
    end        bytes    float32 LE, ms offset from t0, NaN = not ended
    state      bytes    uint8, index into STATE_TYPES
    key        bytes    int32 LE (or narrower), index into ``keys``
    keys       list[str] task keys (labels), in order of first appearance; the widget
                        prefixes subflow runs' labels with "\u2937 " (js/README.md)
    map_index  bytes    int32 LE (or narrower), -1 = not mapped (the widget sends -1
                        for a task name with a single run)
    run_count  bytes    uint16 LE (or narrower)
    highlight  bytes | None  uint8, 1 = on the critical path
    kind       bytes    uint8, 1 = the row stands for a subflow run (only when the
                        frame has a ``kind`` column)
    edge_count int      number of dependency edges ``m`` (the edge keys are present only
                        when ``edges`` is given); edges are sent sorted by downstream row,
                        then upstream row
    edge_in    bytes    varint × n: row i's number of upstream edges (its edges are the
                        next that many), summing to ``m``
    edge_up    bytes    varint × m: the upstream row of each edge as a zigzag delta from
                        the previous edge's upstream row (0 before the first)
    edge_flags bytes    uint8 × m bits, absent when every edge's are 0: 1 = inferred from
                        the call order (never recorded by Prefect; drawn dashed), 2 = on
                        the critical path
    edge_mode  str      set by the widget, not here: "auto", "all", "selection" or "off"
    tag_keys   list[str] the distinct task-run tags (present only when some run has tags:
                        ``encode_tags``, which the widget adds to the whole timeline)
    tag_offsets bytes   uint8/16/32 LE (narrowest), n + 1 CSR offsets: row i's tags are
                        ``tag_ids[tag_offsets[i]:tag_offsets[i + 1]]``
    tag_ids    bytes    uint8/16/32 LE (narrowest), indices into ``tag_keys``
    parent     bytes    int8/16/32 LE (narrowest), the subflow row a row is nested under
                        (-1 = the flow run's own task run); present only when a subflow is
                        expanded inline (``encode_nesting``, which the widget adds)
    expanded   list[int] the subflow rows shown expanded (their child runs' rows follow)

Integer columns are narrowed to the smallest little-endian width (1, 2 or 4
bytes) that holds their values unless ``narrow=False``; the browser infers the
width from ``byteLength / n``. Buffers are ``memoryview`` objects so that the
widget machinery sends them as binary (out-of-band) buffers.

Edges cost what a saved notebook can afford (issue 19: <= 30 bytes per task run with
edges at 100,000): a varint is LEB128 (7 bits a byte, low bits first, high bit set on all
but a value's last byte), zigzag maps a delta d to 2d (d >= 0) or -2d - 1. Sorted edges of
mapped runs (run j after run j of the stage before) cost about two bytes each. Format 2
(``FlowRunWidget.format``) sent ``edge_from``/``edge_to`` (one narrowest unsigned width,
m each) instead of ``edge_in``/``edge_up`` and always ``edge_flags``: both decoders still
read it. Live patches keep that plain form (``encode_patch``).

Pure numpy/pandas: no Prefect or widget imports.

Long module: the whole wire contract with ``js/src/decode.ts`` and ``patch.ts`` (columns,
dependency edges, live patches, and the decoders the tests check them with) stays in one
place, so that each key is defined once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STATE_TYPES",
    "COLUMNS",
    "encode_timeline",
    "encode_patch",
    "decode_timeline",
    "decode_patch",
    "timeline_nbytes",
    "EDGE_INFERRED",
    "EDGE_CRITICAL",
    "encode_tags",
    "decode_tags",
    "encode_nesting",
    "decode_nesting",
]

#: `edge_flags` bits: the edge is inferred from the call order / lies on the critical path
EDGE_INFERRED, EDGE_CRITICAL = 1, 2

#: Fixed wire order of state types: ``timeline.state`` holds indices into it.
STATE_TYPES: tuple[str, ...] = (
    "SCHEDULED",
    "PENDING",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "CRASHED",
    "PAUSED",
    "CANCELLING",
)
_STATE_INDEX = {name: i for i, name in enumerate(STATE_TYPES)}
#: State used for missing or unrecognised state types.
_FALLBACK_STATE = _STATE_INDEX["PENDING"]

#: Columns ``encode_timeline`` reads from the frame (``kind`` is optional).
COLUMNS: tuple[str, ...] = ("task_key", "map_index", "state_type", "start_time", "end_time",
                            "run_count")


def _kind_codes(frame: pd.DataFrame) -> np.ndarray | None:
    """Optional ``kind`` column -> uint8 (1 = subflow run): "subflow-run" strings, or
    truthy numbers/booleans; None when the frame has no such column."""
    if "kind" not in frame.columns:
        return None

    def code(v: Any) -> int:
        if isinstance(v, str):
            return int(v == "subflow-run")
        try:
            return int(not pd.isna(v) and bool(v))
        except (TypeError, ValueError):
            return 0

    values = frame["kind"].reset_index(drop=True).astype(object)
    return np.array([code(v) for v in values], dtype=np.uint8)

_INT_BUFFERS = {
    # name: (signed, default width when not narrowing)
    "key": (True, 4),
    "map_index": (True, 4),
    "run_count": (False, 2),
}


# --------------------------------------------------------------------------- helpers


def _as_series(frame: pd.DataFrame, column: str, n: int, default: Any) -> pd.Series:
    if column in frame.columns:
        return frame[column].reset_index(drop=True)
    return pd.Series([default] * n, dtype=object)


def _state_codes(values: pd.Series) -> np.ndarray:
    """State type names (str, enum with ``.value``, "StateType.X") -> uint8 codes."""

    def code(v: Any) -> int:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return _FALLBACK_STATE
        v = getattr(v, "value", v)  # prefect.client.schemas.objects.StateType
        s = str(v).strip().upper()
        if "." in s:
            s = s.rsplit(".", 1)[1]
        return _STATE_INDEX.get(s, _FALLBACK_STATE)

    # map over unique values only: frames are large, state vocabularies tiny
    inverse, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([code(u) for u in uniques] + [_FALLBACK_STATE], dtype=np.uint8)
    return table[inverse]  # inverse == -1 (NA) picks the trailing fallback


def _epoch_ms(values: pd.Series) -> np.ndarray:
    """Datetimes (tz-aware, naive = UTC, strings, NaT/None) -> float64 epoch ms, NaN for NaT.

    Works whatever the datetime unit is (pandas 3 infers microseconds).
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.float64)
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        dt = pd.to_datetime(values, utc=True)
    else:  # python datetimes / ISO strings / None
        try:
            dt = pd.to_datetime(values, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            dt = pd.to_datetime(values, utc=True, format="mixed", errors="coerce")
    # explicit unit: pandas 3 infers microseconds; go through int64 nanoseconds
    naive = dt.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    arr = naive.to_numpy(dtype="datetime64[ns]")
    ns = arr.view(np.int64)
    # split so whole milliseconds stay exact in float64 (ns since epoch do not fit 53 bits)
    ms = (ns // 1_000_000).astype(np.float64) + (ns % 1_000_000).astype(np.float64) / 1e6
    ms[np.isnat(arr)] = np.nan
    return ms


def _int_column(values: pd.Series, default: int) -> np.ndarray:
    """Nullable ints (Int64 with NA, floats with NaN, None) -> int64 with NA -> default."""
    num = pd.to_numeric(values, errors="coerce")
    arr = np.asarray(num.astype("Float64").fillna(default), dtype=np.float64)
    return np.rint(arr).astype(np.int64)


def _narrowest(values: np.ndarray, signed: bool, default_width: int, narrow: bool) -> np.dtype:
    if signed:
        candidates = ("<i1", "<i2", "<i4")
    else:
        candidates = ("<u1", "<u2", "<u4")
    if not narrow:
        return np.dtype(("<i" if signed else "<u") + str(default_width))
    lo = int(values.min()) if values.size else 0
    hi = int(values.max()) if values.size else 0
    for c in candidates:
        info = np.iinfo(np.dtype(c))
        if info.min <= lo and hi <= info.max:
            return np.dtype(c)
    return np.dtype(candidates[-1])


def _buffer(arr: np.ndarray, dtype: str | np.dtype) -> memoryview:
    """Contiguous little-endian bytes of ``arr`` as a byte-format memoryview."""
    a = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<"))
    return a.data.cast("B")


def _encode_int(values: np.ndarray, name: str, narrow: bool) -> memoryview:
    signed, width = _INT_BUFFERS[name]
    if signed:
        values = np.clip(values, -(2**31), 2**31 - 1)
    else:  # run_count: uint16 at most by contract
        values = np.clip(values, 0, 2 ** (8 * width) - 1)
    return _buffer(values, _narrowest(values, signed, width, narrow))


def _factorize_keys(values: pd.Series, keys: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """Task keys -> int codes into a key list (existing ``keys`` kept, new ones appended)."""
    out_keys = [str(k) for k in (keys or [])]
    index = {k: i for i, k in enumerate(out_keys)}
    labels = values.astype(object).where(values.notna(), "")
    inverse, uniques = pd.factorize(labels, use_na_sentinel=False)
    table = np.empty(len(uniques), dtype=np.int64)
    for j, u in enumerate(uniques):
        s = str(u)
        if s not in index:
            index[s] = len(out_keys)
            out_keys.append(s)
        table[j] = index[s]
    return (table[inverse] if len(inverse) else np.empty(0, dtype=np.int64)), out_keys


def _columns(frame: pd.DataFrame, t0: float | None, keys: Sequence[str] | None):
    n = len(frame)
    start_ms = _epoch_ms(_as_series(frame, "start_time", n, None))
    end_ms = _epoch_ms(_as_series(frame, "end_time", n, None))
    if t0 is None:
        finite = np.concatenate([start_ms[np.isfinite(start_ms)], end_ms[np.isfinite(end_ms)]])
        t0 = float(np.floor(finite.min())) if finite.size else 0.0
    start = (start_ms - t0).astype(np.float32)
    end = (end_ms - t0).astype(np.float32)
    state = _state_codes(_as_series(frame, "state_type", n, None))
    key, out_keys = _factorize_keys(_as_series(frame, "task_key", n, ""), keys)
    map_index = _int_column(_as_series(frame, "map_index", n, -1), -1)
    map_index[map_index < 0] = -1
    run_count = _int_column(_as_series(frame, "run_count", n, 0), 0)
    return float(t0), start, end, state, key, out_keys, map_index, run_count


def _highlight_mask(frame: pd.DataFrame, highlight: Any) -> np.ndarray | None:
    n = len(frame)
    if highlight is None:
        return None
    if isinstance(highlight, str):
        if highlight not in frame.columns:
            raise KeyError(f"highlight column {highlight!r} not in frame")
        return np.asarray(frame[highlight].fillna(False), dtype=bool).astype(np.uint8)
    arr = np.asarray(list(highlight) if not hasattr(highlight, "__array__") else highlight)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"boolean highlight mask must have length {n}, got {arr.shape}")
        return arr.astype(np.uint8)
    # otherwise: positional row indices
    mask = np.zeros(n, dtype=np.uint8)
    if arr.size:
        pos = arr.astype(np.int64).ravel()
        if (pos < 0).any() or (pos >= n).any():
            raise IndexError("highlight positions out of range")
        mask[pos] = 1
    return mask


def _edge_arrays(edges: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(from rows, to rows, flags)`` -> int64, int64, uint8 arrays of one length."""
    up, down, flags = (np.asarray(a).ravel() for a in edges)
    up, down = up.astype(np.int64), down.astype(np.int64)
    flags = flags.astype(np.uint8) if flags.size else np.zeros(up.size, dtype=np.uint8)
    if not up.size == down.size == flags.size:
        raise ValueError(f"edges: {up.size} upstream rows, {down.size} downstream rows and "
                         f"{flags.size} flags; all three must have one entry per edge")
    if up.size and (min(up.min(), down.min()) < 0):
        raise IndexError("edge rows must be >= 0")
    return up, down, flags


def _edge_buffers(edges: Any, narrow: bool) -> tuple[int, list[memoryview]]:
    """Edge count and the plain ``[edge_from, edge_to, edge_flags]`` buffers of a patch (one
    unsigned width for both row columns: the narrowest that holds the largest row unless
    ``narrow=False``)."""
    up, down, flags = _edge_arrays(edges)
    rows = np.concatenate([up, down])
    width = _narrowest(rows, False, 4, narrow)
    return int(up.size), [_buffer(up, width), _buffer(down, width), _buffer(flags, "u1")]


def _varints(values: np.ndarray) -> memoryview:
    """Non-negative integers as LEB128 varints (the module docstring)."""
    values = values.astype(np.uint64)
    sizes = np.ones(values.size, dtype=np.int64)
    for bits in range(7, 64, 7):
        sizes += values >= np.uint64(1 << bits)
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if values.size else 0, dtype=np.uint8)
    first = ends - sizes
    for j in range(int(sizes.max()) if values.size else 0):
        on = sizes > j
        low = (values[on] >> np.uint64(7 * j)) & np.uint64(0x7F)
        more = np.where(sizes[on] > j + 1, 0x80, 0).astype(np.uint64)
        out[first[on] + j] = (low | more).astype(np.uint8)
    return out.data.cast("B")


def _timeline_edges(edges: Any, n: int) -> dict[str, Any]:
    """The ``edge_*`` keys of a whole timeline of ``n`` rows (the module docstring)."""
    up, down, flags = _edge_arrays(edges)
    if up.size and max(up.max(), down.max()) >= n:
        raise IndexError(f"edge rows must be < {n}, the timeline's row count")
    order = np.lexsort((up, down))
    up, down, flags = up[order], down[order], flags[order]
    deltas = np.diff(up, prepend=0)
    zigzag = np.where(deltas >= 0, 2 * deltas, -2 * deltas - 1)
    out: dict[str, Any] = {"edge_count": int(up.size),
                           "edge_in": _varints(np.bincount(down, minlength=n)),
                           "edge_up": _varints(zigzag)}
    if flags.any():
        out["edge_flags"] = _buffer(flags, "u1")
    return out


# --------------------------------------------------------------------------- public


def encode_timeline(
    frame: pd.DataFrame,
    highlight: Any = None,
    *,
    t0: float | None = None,
    narrow: bool = True,
    edges: Any = None,
) -> dict[str, Any]:
    """Encode task runs (one row each, in frame order) as the ``timeline`` trait value.

    ``frame`` columns: ``task_key`` (str), ``map_index`` (int / nullable Int64;
    -1 or NA = not mapped), ``state_type`` (str such as "COMPLETED"),
    ``start_time`` / ``end_time`` (datetimes, tz-aware or naive-as-UTC, NaT
    allowed), ``run_count`` (int). Missing columns get defaults.

    ``highlight``: ``None``; a boolean mask of length ``len(frame)``; an
    iterable of positional row indices; or the name of a boolean column.
    ``t0``: epoch ms origin (default: floor of the earliest start/end).
    ``narrow``: store integer columns in the smallest width that fits
    (default) instead of the nominal int32/uint16.
    ``edges``: ``(from_rows, to_rows, flags)`` of the dependency edges (row positions;
    flags: ``EDGE_INFERRED`` | ``EDGE_CRITICAL`` bits), written as ``edge_*`` keys, sorted
    by downstream row (varints: ``narrow`` does not apply).

    Row ``i`` of the result is ``frame.iloc[i]`` (``selected_index`` refers to it).
    """
    n = len(frame)
    t0, start, end, state, key, keys, map_index, run_count = _columns(frame, t0, None)
    mask = _highlight_mask(frame, highlight)
    kind = _kind_codes(frame)
    extra: dict[str, Any] = {} if kind is None else {"kind": _buffer(kind, "u1")}
    if edges is not None:
        extra.update(_timeline_edges(edges, n))
    return {
        "n": int(n),
        "t0": t0,
        "start": _buffer(start, "<f4"),
        "end": _buffer(end, "<f4"),
        "state": _buffer(state, "u1"),
        "key": _encode_int(key, "key", narrow),
        "keys": keys,
        "map_index": _encode_int(map_index, "map_index", narrow),
        "run_count": _encode_int(run_count, "run_count", narrow),
        "highlight": None if mask is None else _buffer(mask, "u1"),
        **extra,
    }


def encode_patch(
    old_n: int,
    frame_rows_with_index: pd.DataFrame,
    *,
    t0: float | None = None,
    keys: Sequence[str] | None = None,
    narrow: bool = True,
    edges: Any = None,
    replace_edges: bool = False,
) -> tuple[dict[str, Any], list[memoryview]]:
    """Encode changed/new rows as a ``{"type": "patch"}`` custom message.

    ``frame_rows_with_index`` has the ``encode_timeline`` columns plus the
    target row position, taken from an ``index`` column when present, else
    from the frame's (integer) index. Rows with position ``>= old_n`` are
    appended by the browser, the others updated in place.

    Pass the ``t0`` and ``keys`` of the timeline being patched (from
    ``encode_timeline``'s result or the previous patch message) so that
    offsets and key codes line up; the returned message carries the full,
    possibly extended, ``keys`` list and the ``t0`` used: keep both for the
    next patch. If ``t0`` differs from the browser's, the browser rebases its
    rows, so omitting it is safe, just wasteful. A ``t0`` of 0 (what
    ``encode_timeline`` returns when no run has started yet) is treated as
    unset, since float32 offsets from the epoch would lose minutes of
    precision.

    Returns ``(msg, buffers)`` for ``widget.send(msg, buffers)``; buffers are
    ``[index int32, start float32, end float32, state uint8, key, map_index,
    run_count]``, plus ``kind`` uint8 (1 = subflow run) when the rows have a
    ``kind`` column.

    ``edges`` (as in ``encode_timeline``): dependency edges that came with these rows;
    the message then says ``"edges": {"mode": "add" | "replace", "count": m}`` and the
    last three buffers are ``edge_from``, ``edge_to``, ``edge_flags``. "add" appends them
    to the browser's edges; ``replace_edges=True`` ("replace") makes them all its edges
    (send every edge then: for a flag or an inferred edge that changed).
    """
    rows = frame_rows_with_index
    if "index" in rows.columns:
        index = np.asarray(pd.to_numeric(rows["index"]), dtype=np.int64)
    else:
        index = np.asarray(rows.index, dtype=np.int64)
    if index.size and index.min() < 0:
        raise ValueError("patch row positions must be >= 0")
    if t0 is not None and not t0 > 0:
        t0 = None  # "no origin yet" (see above)
    t0_used, start, end, state, key, out_keys, map_index, run_count = _columns(rows, t0, keys)
    n = int(max(int(old_n), int(index.max()) + 1 if index.size else 0))
    msg = {"type": "patch", "n": n, "keys": out_keys, "t0": t0_used}
    buffers = [
        _buffer(index, "<i4"),
        _buffer(start, "<f4"),
        _buffer(end, "<f4"),
        _buffer(state, "u1"),
        _encode_int(key, "key", narrow),
        _encode_int(map_index, "map_index", narrow),
        _encode_int(run_count, "run_count", narrow),
    ]
    kind = _kind_codes(rows)
    if kind is not None:
        buffers.append(_buffer(kind, "u1"))
    if edges is not None:
        count, edge_buffers = _edge_buffers(edges, narrow)
        msg["edges"] = {"mode": "replace" if replace_edges else "add", "count": count}
        buffers += edge_buffers
    return msg, buffers


def _decode_int(buf: Any, n: int, signed: bool) -> np.ndarray:
    b = bytes(buf) if buf is not None else b""
    if n == 0 or not b:
        return np.full(n, -1 if signed else 0, dtype=np.int64)
    width = len(b) // n
    if width * n != len(b) or width not in (1, 2, 4):
        raise ValueError(f"buffer of {len(b)} bytes is not {n} elements of 1/2/4 bytes")
    return np.frombuffer(b, dtype=f"<{'i' if signed else 'u'}{width}").astype(np.int64)


def _decode_edges(count: int, buffers: Sequence[Any]) -> dict[str, np.ndarray]:
    """Plain edge columns (a patch's, or a format 2 timeline's) -> numpy arrays."""
    return {"edge_from": _decode_int(buffers[0], count, False),
            "edge_to": _decode_int(buffers[1], count, False),
            "edge_flags": _decode_int(buffers[2], count, False).astype(np.uint8)}


def _decode_varints(buf: Any, count: int, name: str) -> np.ndarray:
    """``count`` LEB128 varints (``_varints``) -> int64; ValueError when the bytes hold
    another number of values or a value wider than 63 bits."""
    b = np.frombuffer(bytes(buf) if buf is not None else b"", dtype=np.uint8)
    last = b < 0x80
    if int(last.sum()) != count or (b.size and not last[-1]):
        raise ValueError(f"{name}: {b.size} bytes are not {count} varints")
    if not count:
        return np.zeros(0, dtype=np.int64)
    value_of = np.concatenate([[0], np.cumsum(last)[:-1]]).astype(np.int64)
    first = np.concatenate([[0], np.flatnonzero(last)[:-1] + 1]).astype(np.int64)
    shift = (np.arange(b.size) - first[value_of]) * 7
    if b.size and shift.max() > 56:
        raise ValueError(f"{name}: a varint wider than 63 bits")
    out = np.zeros(count, dtype=np.int64)
    np.add.at(out, value_of, (b & 0x7F).astype(np.int64) << shift)
    return out


def _decode_timeline_edges(timeline: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    """A timeline's ``edge_*`` keys (either format, the module docstring) -> plain columns."""
    count = int(timeline.get("edge_count") or 0)
    if timeline.get("edge_in") is None:  # format 2, or no edges
        return _decode_edges(count, [timeline.get(k) for k in ("edge_from", "edge_to",
                                                               "edge_flags")])
    per_row = _decode_varints(timeline["edge_in"], n, "edge_in")
    if int(per_row.sum()) != count:
        raise ValueError(f"edge_in counts {int(per_row.sum())} edges, edge_count says {count}")
    zigzag = _decode_varints(timeline["edge_up"], count, "edge_up")
    deltas = np.where(zigzag % 2 == 0, zigzag // 2, -(zigzag + 1) // 2)
    flags = timeline.get("edge_flags")
    return {"edge_from": np.cumsum(deltas),
            "edge_to": np.repeat(np.arange(n, dtype=np.int64), per_row),
            "edge_flags": (_decode_int(flags, count, False).astype(np.uint8) if flags is not None
                           else np.zeros(count, dtype=np.uint8))}


def decode_timeline(timeline: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_timeline` (numpy arrays; for tests and debugging): edges as
    plain ``edge_from``/``edge_to``/``edge_flags`` columns (empty when there are none), of
    either format."""
    n = int(timeline["n"])
    hl = timeline.get("highlight")
    count = int(timeline.get("edge_count") or 0)
    edges = _decode_timeline_edges(timeline, n)
    return {
        "n": n,
        "t0": float(timeline["t0"]),
        "start": np.frombuffer(bytes(timeline["start"]), dtype="<f4"),
        "end": np.frombuffer(bytes(timeline["end"]), dtype="<f4"),
        "state": np.frombuffer(bytes(timeline["state"]), dtype="u1"),
        "key": _decode_int(timeline["key"], n, True),
        "keys": list(timeline["keys"]),
        "map_index": _decode_int(timeline["map_index"], n, True),
        "run_count": _decode_int(timeline["run_count"], n, False),
        "highlight": None if hl is None else np.frombuffer(bytes(hl), dtype="u1"),
        "kind": (np.frombuffer(bytes(timeline["kind"]), dtype="u1")
                 if timeline.get("kind") is not None else np.zeros(n, dtype="u1")),
        "edge_count": count, **edges,
    }


def decode_patch(msg: dict[str, Any], buffers: Sequence[Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_patch` (numpy arrays; for tests and debugging)."""
    index = np.frombuffer(bytes(buffers[0]), dtype="<i4").astype(np.int64)
    m = index.size
    edges = msg.get("edges")
    if edges:
        count = int(edges["count"])
        edge_part = {"edges_mode": str(edges["mode"]), "edge_count": count,
                     **_decode_edges(count, buffers[-3:])}
        buffers = buffers[:-3]
    else:
        edge_part = {"edges_mode": None, **_decode_edges(0, [None, None, None])}
        edge_part["edge_count"] = 0
    return {
        "n": int(msg["n"]),
        "t0": float(msg["t0"]),
        "keys": list(msg["keys"]),
        "index": index,
        "start": np.frombuffer(bytes(buffers[1]), dtype="<f4"),
        "end": np.frombuffer(bytes(buffers[2]), dtype="<f4"),
        "state": np.frombuffer(bytes(buffers[3]), dtype="u1"),
        "key": _decode_int(buffers[4], m, True),
        "map_index": _decode_int(buffers[5], m, True),
        "run_count": _decode_int(buffers[6], m, False),
        "kind": (np.frombuffer(bytes(buffers[7]), dtype="u1") if len(buffers) > 7
                 else np.zeros(m, dtype="u1")),
        **edge_part,
    }


def timeline_nbytes(timeline: dict[str, Any], *, include_highlight: bool = False) -> int:
    """Raw bytes of the binary columns of an encoded timeline (dependency edges included)."""
    names: Iterable[str] = ("start", "end", "state", "key", "map_index", "run_count",
                            "edge_in", "edge_up", "edge_from", "edge_to", "edge_flags")
    if include_highlight:
        names = (*names, "highlight")
    return sum(memoryview(timeline[k]).nbytes for k in names if timeline.get(k) is not None)


def encode_tags(tags: Sequence[Iterable[str] | None]) -> dict[str, Any]:
    """Each row's tags as a dictionary-coded CSR column (``tag_keys``, ``tag_offsets``,
    ``tag_ids``; the module docstring); {} when no row has a tag."""
    keys: dict[str, int] = {}
    offsets = np.zeros(len(tags) + 1, dtype=np.int64)
    ids: list[int] = []
    for i, row in enumerate(tags):
        for tag in dict.fromkeys(str(t) for t in row or ()):
            ids.append(keys.setdefault(tag, len(keys)))
        offsets[i + 1] = len(ids)
    if not ids:
        return {}
    id_array = np.array(ids, dtype=np.int64)
    return {"tag_keys": list(keys),
            "tag_offsets": _buffer(offsets, _narrowest(offsets, False, 4, True)),
            "tag_ids": _buffer(id_array, _narrowest(id_array, False, 4, True))}


def decode_tags(encoded: dict[str, Any]) -> list[list[str]]:
    """Each row's tags from a timeline dict of ``n`` rows (``encode_tags``'s keys)."""
    n = int(encoded.get("n", 0))
    if "tag_keys" not in encoded:
        return [[] for _ in range(n)]
    keys = list(encoded["tag_keys"])
    offsets = _decode_int(encoded["tag_offsets"], n + 1, False)
    ids = _decode_int(encoded["tag_ids"], int(offsets[-1]), False)
    return [[keys[j] for j in ids[offsets[i]:offsets[i + 1]]] for i in range(n)]


def encode_nesting(parent: Sequence[int], expanded: Iterable[int]) -> dict[str, Any]:
    """Subflow rows expanded inline: ``parent`` (each row's subflow row, -1 = top level) as
    a narrowed signed column and ``expanded`` (the subflow rows shown open, sorted); {} when
    no row is nested and none is expanded."""
    rows = np.asarray(list(parent), dtype=np.int64)
    open_rows = sorted({int(i) for i in expanded})
    if not open_rows and not (rows >= 0).any():
        return {}
    return {"parent": _buffer(rows, _narrowest(rows, True, 4, True)), "expanded": open_rows}


def decode_nesting(encoded: dict[str, Any]) -> tuple[np.ndarray, list[int]]:
    """Each row's subflow row (-1 = top level) and the expanded rows (``encode_nesting``)."""
    n = int(encoded.get("n", 0))
    if "parent" not in encoded:
        return np.full(n, -1, dtype=np.int64), []
    return _decode_int(encoded["parent"], n, True), [int(i) for i in encoded["expanded"]]
