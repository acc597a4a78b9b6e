"""Pure tests of prefect_widgets._timeline_encoding (no Prefect server, no browser)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prefect_widgets._timeline_encoding import (
    STATE_TYPES,
    decode_patch,
    decode_timeline,
    encode_patch,
    encode_timeline,
    timeline_nbytes,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "js" / "tests" / "fixtures"
BUFFER_KEYS = ("start", "end", "state", "key", "map_index", "run_count")

T0 = pd.Timestamp("2024-05-01T12:00:00Z")


def ms(x: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(milliseconds=x)


def make_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task_key": ["say_hello", "fetch", "fetch", "fetch", "notify"],
            "map_index": pd.array([None, 0, 1, 2, -1], dtype="Int64"),
            "state_type": ["COMPLETED", "FAILED", "RUNNING", "PENDING", "CRASHED"],
            "start_time": [ms(0), ms(500), ms(2000), pd.NaT, ms(5000)],
            "end_time": [ms(1250), ms(3000), pd.NaT, pd.NaT, ms(5000)],
            "run_count": [1, 3, 1, 0, 2],
        }
    )


def test_state_types_order_is_the_wire_contract():
    assert STATE_TYPES == (
        "SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING",
    )


def test_round_trip_with_numpy_frombuffer():
    tl = encode_timeline(make_frame())
    assert tl["n"] == 5
    assert tl["t0"] == T0.value // 1_000_000
    start = np.frombuffer(tl["start"], dtype="<f4")
    end = np.frombuffer(tl["end"], dtype="<f4")
    np.testing.assert_array_equal(start, np.array([0, 500, 2000, np.nan, 5000], dtype="<f4"))
    np.testing.assert_array_equal(end, np.array([1250, 3000, np.nan, np.nan, 5000], dtype="<f4"))
    state = np.frombuffer(tl["state"], dtype="u1")
    assert [STATE_TYPES[s] for s in state] == ["COMPLETED", "FAILED", "RUNNING", "PENDING", "CRASHED"]
    d = decode_timeline(tl)
    assert [d["keys"][k] for k in d["key"]] == ["say_hello", "fetch", "fetch", "fetch", "notify"]
    assert d["keys"] == ["say_hello", "fetch", "notify"]  # first-appearance order
    assert d["map_index"].tolist() == [-1, 0, 1, 2, -1]
    assert d["run_count"].tolist() == [1, 3, 1, 0, 2]
    assert tl["highlight"] is None


def test_nat_becomes_nan_and_all_nat_is_fine():
    f = make_frame()
    f["start_time"] = pd.NaT
    f["end_time"] = pd.NaT
    tl = encode_timeline(f)
    assert tl["t0"] == 0.0
    assert np.isnan(np.frombuffer(tl["start"], dtype="<f4")).all()
    assert np.isnan(np.frombuffer(tl["end"], dtype="<f4")).all()


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_datetime_unit_does_not_matter(unit):
    # pandas 3 parses datetimes as microseconds; any unit must give the same bytes
    f = make_frame()
    ref = encode_timeline(f)
    g = f.copy()
    if unit == "s":  # whole seconds only
        g["start_time"] = g["start_time"].dt.floor("s")
        g["end_time"] = g["end_time"].dt.floor("s")
        ref = encode_timeline(g)
    g["start_time"] = g["start_time"].astype(f"datetime64[{unit}, UTC]")
    g["end_time"] = g["end_time"].astype(f"datetime64[{unit}, UTC]")
    out = encode_timeline(g)
    assert out["t0"] == ref["t0"]
    for k in BUFFER_KEYS:
        assert bytes(out[k]) == bytes(ref[k]), k


def test_time_zones_naive_objects_and_strings_agree():
    f = make_frame()
    ref = encode_timeline(f)
    # other zone, same instants
    g = f.copy()
    g["start_time"] = g["start_time"].dt.tz_convert("Asia/Kolkata")
    g["end_time"] = g["end_time"].dt.tz_convert("America/New_York")
    # naive = UTC
    h = f.copy()
    h["start_time"] = h["start_time"].dt.tz_localize(None)
    h["end_time"] = h["end_time"].dt.tz_localize(None)
    # python datetimes / ISO strings in object columns (as from an API)
    o = f.copy()
    o["start_time"] = [None if pd.isna(t) else t.to_pydatetime() for t in f["start_time"]]
    o["end_time"] = [None if pd.isna(t) else t.isoformat() for t in f["end_time"]]
    for other in (g, h, o):
        out = encode_timeline(other)
        assert out["t0"] == ref["t0"]
        for k in ("start", "end"):
            assert bytes(out[k]) == bytes(ref[k])


def test_millisecond_offsets_are_exact_far_from_the_epoch():
    f = pd.DataFrame({
        "task_key": ["a"] * 3,
        "map_index": [-1] * 3,
        "state_type": ["COMPLETED"] * 3,
        "start_time": pd.to_datetime(["2038-01-19T03:14:07.001Z", "2038-01-19T03:14:08.250Z", "2038-01-19T04:00:00Z"], format="ISO8601"),
        "end_time": pd.to_datetime(["2038-01-19T03:14:07.002Z", "2038-01-19T03:14:09.999Z", "2038-01-19T05:00:00.5Z"], format="ISO8601"),
        "run_count": [1, 1, 1],
    })
    d = decode_timeline(encode_timeline(f))
    assert d["start"].tolist() == [0.0, 1249.0, 2_752_999.0]
    assert d["end"].tolist() == [1.0, 2998.0, 6_353_499.0]


def test_state_spellings():
    class StateType:  # like prefect's enum
        def __init__(self, v):
            self.value = v

    f = make_frame()
    f["state_type"] = pd.Series(["completed", "StateType.FAILED", StateType("PAUSED"), None, "WAT"], dtype=object)
    d = decode_timeline(encode_timeline(f))
    assert [STATE_TYPES[s] for s in d["state"]] == ["COMPLETED", "FAILED", "PAUSED", "PENDING", "PENDING"]


def test_map_index_variants_and_defaults():
    f = make_frame()
    f["map_index"] = [np.nan, 0.0, 1.0, -5.0, None]
    d = decode_timeline(encode_timeline(f))
    assert d["map_index"].tolist() == [-1, 0, 1, -1, -1]
    # missing optional columns get defaults
    g = f[["task_key", "state_type", "start_time", "end_time"]]
    d = decode_timeline(encode_timeline(g))
    assert d["map_index"].tolist() == [-1] * 5
    assert d["run_count"].tolist() == [0] * 5


def test_highlight_forms():
    f = make_frame()
    mask = encode_timeline(f, highlight=[True, False, True, False, False])["highlight"]
    assert np.frombuffer(mask, dtype="u1").tolist() == [1, 0, 1, 0, 0]
    pos = encode_timeline(f, highlight=[4, 0])["highlight"]
    assert np.frombuffer(pos, dtype="u1").tolist() == [1, 0, 0, 0, 1]
    col = encode_timeline(f.assign(cp=[False, True, None, False, True]), highlight="cp")["highlight"]
    assert np.frombuffer(col, dtype="u1").tolist() == [0, 1, 0, 0, 1]
    assert np.frombuffer(encode_timeline(f, highlight=[])["highlight"], dtype="u1").tolist() == [0] * 5
    with pytest.raises(ValueError):
        encode_timeline(f, highlight=[True, False])
    with pytest.raises(IndexError):
        encode_timeline(f, highlight=[7])


def test_buffers_are_memoryviews_little_endian_and_contiguous():
    tl = encode_timeline(make_frame(), highlight=[1])
    for k in (*BUFFER_KEYS, "highlight"):
        mv = tl[k]
        assert isinstance(mv, memoryview), k
        assert mv.contiguous and mv.format == "B" and mv.ndim == 1
    # little-endian regardless of host: 500.0f32 == 0x43FA0000
    assert bytes(tl["start"])[4:8] == bytes.fromhex("0000fa43")
    # the rest of the dict is plain JSON
    json.dumps({k: v for k, v in tl.items() if not isinstance(v, memoryview)})


def test_ipywidgets_sends_every_column_as_a_binary_buffer():
    widget = pytest.importorskip("ipywidgets.widgets.widget")
    tl = encode_timeline(make_frame(), highlight=[0])
    state, paths, buffers = widget._remove_buffers({"timeline": tl})
    assert sorted(p[1] for p in paths) == sorted((*BUFFER_KEYS, "highlight"))
    assert json.dumps(state)  # what remains is JSON
    assert sum(len(bytes(b)) for b in buffers) == timeline_nbytes(tl, include_highlight=True)


def test_bytes_per_task_at_most_13_raw():
    n = 1000
    rng = np.random.default_rng(0)
    start = T0 + pd.to_timedelta(rng.integers(0, 3_600_000, n), unit="ms")
    f = pd.DataFrame({
        "task_key": rng.choice(["extract", "transform", "load", "say_hello", "notify"], n),
        "map_index": np.arange(n) - 1,  # -1 .. 998
        "state_type": rng.choice(["COMPLETED", "FAILED", "RUNNING"], n),
        "start_time": start,
        "end_time": start + pd.to_timedelta(rng.integers(0, 60_000, n), unit="ms"),
        "run_count": rng.integers(0, 4, n),
    })
    tl = encode_timeline(f)
    assert timeline_nbytes(tl) / n <= 13
    # int8 key + int16 map_index + uint8 run_count
    assert [memoryview(tl[k]).nbytes // n for k in BUFFER_KEYS] == [4, 4, 1, 1, 2, 1]
    # without narrowing: the nominal int32/int32/uint16 widths
    wide = encode_timeline(f, narrow=False)
    assert [memoryview(wide[k]).nbytes // n for k in BUFFER_KEYS] == [4, 4, 1, 4, 4, 2]
    np.testing.assert_array_equal(decode_timeline(wide)["map_index"], decode_timeline(tl)["map_index"])


def test_narrowing_widens_when_values_need_it():
    f = pd.concat([make_frame()] * 2, ignore_index=True)
    f.loc[0, "map_index"] = 40_000
    f.loc[1, "run_count"] = 300
    f["task_key"] = [f"k{i}" for i in range(len(f))]
    tl = encode_timeline(f)
    d = decode_timeline(tl)
    assert memoryview(tl["map_index"]).nbytes == 4 * len(f)
    assert memoryview(tl["run_count"]).nbytes == 2 * len(f)
    assert d["map_index"][0] == 40_000 and d["run_count"][1] == 300
    f.loc[2, "run_count"] = 10**6  # clamped to the uint16 contract
    assert decode_timeline(encode_timeline(f))["run_count"][2] == 65535


def test_empty_frame():
    f = make_frame().iloc[:0]
    tl = encode_timeline(f)
    assert tl["n"] == 0 and tl["keys"] == [] and tl["t0"] == 0.0
    assert all(memoryview(tl[k]).nbytes == 0 for k in BUFFER_KEYS)
    msg, bufs = encode_patch(3, f.assign(index=[]))
    assert msg["n"] == 3 and all(memoryview(b).nbytes == 0 for b in bufs)


def test_row_order_is_preserved():
    f = make_frame().iloc[::-1].reset_index(drop=True)
    d = decode_timeline(encode_timeline(f))
    assert [STATE_TYPES[s] for s in d["state"]] == ["CRASHED", "PENDING", "RUNNING", "FAILED", "COMPLETED"]


def test_encode_patch_updates_and_appends():
    tl = encode_timeline(make_frame())
    rows = pd.DataFrame({
        "index": [2, 5],
        "task_key": ["fetch", "cleanup"],
        "map_index": pd.array([1, None], dtype="Int64"),
        "state_type": ["COMPLETED", "RUNNING"],
        "start_time": [ms(2000), ms(6000)],
        "end_time": [ms(4500), pd.NaT],
        "run_count": [1, 1],
    })
    msg, bufs = encode_patch(tl["n"], rows, t0=tl["t0"], keys=tl["keys"])
    assert msg["type"] == "patch"
    assert msg["n"] == 6
    assert msg["t0"] == tl["t0"]
    assert msg["keys"] == ["say_hello", "fetch", "notify", "cleanup"]  # existing codes kept, new appended
    assert len(bufs) == 7 and all(isinstance(b, memoryview) for b in bufs)
    p = decode_patch(msg, bufs)
    assert p["index"].tolist() == [2, 5]
    assert p["start"].tolist() == [2000.0, 6000.0]
    assert p["end"][0] == 4500.0 and np.isnan(p["end"][1])
    assert [msg["keys"][k] for k in p["key"]] == ["fetch", "cleanup"]
    assert p["map_index"].tolist() == [1, -1]
    assert [STATE_TYPES[s] for s in p["state"]] == ["COMPLETED", "RUNNING"]
    assert np.frombuffer(bufs[0], dtype="<i4").tolist() == [2, 5]


def test_encode_patch_uses_the_frame_index_and_old_n():
    tl = encode_timeline(make_frame())
    rows = make_frame().iloc[[1]]  # frame index 1
    msg, bufs = encode_patch(10, rows, t0=tl["t0"], keys=tl["keys"])
    assert msg["n"] == 10
    assert np.frombuffer(bufs[0], dtype="<i4").tolist() == [1]
    with pytest.raises(ValueError):
        encode_patch(1, make_frame().iloc[:1].assign(index=[-1]))
    # no t0 given: the patch carries its own origin (the browser rebases)
    msg2, bufs2 = encode_patch(5, make_frame().iloc[[4]])
    assert msg2["t0"] == tl["t0"] + 5000
    assert np.frombuffer(bufs2[1], dtype="<f4").tolist() == [0.0]


def test_patch_after_an_empty_start_gets_its_own_origin():
    # nothing had started when the timeline was first encoded: t0 == 0
    f = make_frame()
    f["start_time"] = pd.NaT
    f["end_time"] = pd.NaT
    tl = encode_timeline(f)
    assert tl["t0"] == 0.0
    msg, bufs = encode_patch(tl["n"], make_frame().iloc[[1]], t0=tl["t0"], keys=tl["keys"])
    assert msg["t0"] == T0.value // 1_000_000 + 500  # not epoch offsets in float32
    assert np.frombuffer(bufs[1], dtype="<f4").tolist() == [0.0]
    assert np.frombuffer(bufs[2], dtype="<f4").tolist() == [2500.0]


def test_js_fixture_is_up_to_date():
    """js/tests/fixtures/encoded.json feeds the JS decoder tests; it must match this encoder."""
    spec = importlib.util.spec_from_file_location("make_fixture", FIXTURE_DIR / "make_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    committed = json.loads((FIXTURE_DIR / "encoded.json").read_text())
    assert json.loads(json.dumps(mod.build_fixture())) == committed, (
        "run `python js/tests/fixtures/make_fixture.py` and commit the result"
    )


def test_encoding_100k_rows_is_fast():
    n = 100_000
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="ms")
    f = pd.DataFrame({
        "task_key": rng.choice([f"task_{i}" for i in range(20)], n),
        "map_index": np.arange(n),
        "state_type": rng.choice(list(STATE_TYPES), n),
        "start_time": start,
        "end_time": start + pd.to_timedelta(rng.integers(0, 10**5, n), unit="ms"),
        "run_count": rng.integers(0, 3, n),
    })
    t = time.perf_counter()
    tl = encode_timeline(f)
    elapsed = time.perf_counter() - t
    assert tl["n"] == n
    assert elapsed < 5.0
    assert timeline_nbytes(tl) / n <= 15  # map_index needs int32 here
