"""The dependency edges of the wire (issue 19): the compact form a saved notebook holds
(format 3: ``edge_in``/``edge_up`` varints, flags only when set), the plain form of format 2
still read, the JS fixture in lock-step, and the saved bytes per task run at 100,000."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_widgets._timeline_encoding import (
    EDGE_CRITICAL,
    EDGE_INFERRED,
    _decode_varints,
    _edge_buffers,
    _varints,
    decode_timeline,
    encode_timeline,
)

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "js" / "tests" / "fixtures"


def _frame(n: int) -> pd.DataFrame:
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    offsets = pd.to_timedelta(np.arange(n), unit="s")
    return pd.DataFrame({"task_key": ["t"] * n, "map_index": np.arange(n),
                         "state_type": ["COMPLETED"] * n, "start_time": start + offsets,
                         "end_time": start + offsets + pd.Timedelta(milliseconds=500),
                         "run_count": [1] * n})


def _saved_bytes(timeline: dict) -> int:
    """What the timeline trait costs in a saved notebook: JSON scalars plus base64 buffers
    at their paths (the ipywidgets widget-state shape; `benchmarks/gantt_render.py`)."""
    scalars = {k: v for k, v in timeline.items() if not isinstance(v, memoryview)}
    buffers = [{"path": ["timeline", k], "encoding": "base64",
                "data": base64.b64encode(bytes(v)).decode()}
               for k, v in timeline.items() if isinstance(v, memoryview)]
    return len(json.dumps(scalars)) + len(json.dumps(buffers))


def _edge_set(decoded: dict) -> list[tuple[int, int, int]]:
    return sorted(zip(decoded["edge_from"].tolist(), decoded["edge_to"].tolist(),
                      decoded["edge_flags"].tolist()))


def test_varints_at_their_byte_boundaries():
    values = np.array([0, 1, 127, 128, 16_383, 16_384, 2**31 - 1, 2**32, 2**62])
    encoded = bytes(_varints(values))
    assert encoded[:6] == bytes([0, 1, 127, 0x80, 1, 0xFF])
    assert len(encoded) == 1 + 1 + 1 + 2 + 2 + 3 + 5 + 5 + 9
    assert _decode_varints(encoded, values.size, "v").tolist() == values.tolist()
    assert bytes(_varints(np.zeros(0, dtype=np.int64))) == b""


def test_broken_varints_are_refused():
    with pytest.raises(ValueError, match="are not 2 varints"):
        _decode_varints(bytes([1, 2, 3]), 2, "edge_up")
    with pytest.raises(ValueError, match="are not 1 varints"):
        _decode_varints(bytes([0x81]), 1, "edge_up")  # cut in the middle of a value
    with pytest.raises(ValueError, match="wider than 63 bits"):
        _decode_varints(bytes([0x80] * 9 + [1]), 1, "edge_up")
    tl = encode_timeline(_frame(3), edges=([0, 1], [1, 2], [0, 0]))
    with pytest.raises(ValueError, match="edge_count says 3"):
        decode_timeline({**tl, "edge_count": 3})


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.just(n), st.lists(
    st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
              st.sampled_from([0, EDGE_INFERRED, EDGE_CRITICAL, 3])), max_size=60))))
def test_any_edges_round_trip_as_a_multiset_sorted_by_downstream_row(case):
    n, edges = case
    columns = tuple(np.array([e[k] for e in edges], dtype=np.int64) for k in range(3))
    tl = encode_timeline(_frame(n), edges=columns)
    back = decode_timeline(tl)
    assert back["edge_count"] == len(edges)
    assert _edge_set(back) == sorted(edges)
    pairs = list(zip(back["edge_to"].tolist(), back["edge_from"].tolist()))
    assert pairs == sorted(pairs)  # sent by downstream row, then upstream row
    assert ("edge_flags" in tl) == any(flag for *_, flag in edges)


def test_format_2_edge_columns_still_decode():
    """A notebook saved by format 2 holds plain, narrowest-width edge_from/edge_to and
    always edge_flags, in the order they were given."""
    edges = ([299, 0, 5], [0, 299, 3], [0, EDGE_INFERRED, EDGE_CRITICAL])
    count, (edge_from, edge_to, flags) = _edge_buffers(edges, True)
    old = {**encode_timeline(_frame(300)), "edge_count": count, "edge_from": edge_from,
           "edge_to": edge_to, "edge_flags": flags}
    back = decode_timeline(old)
    assert back["edge_from"].tolist() == [299, 0, 5] and back["edge_to"].tolist() == [0, 299, 3]
    assert back["edge_flags"].tolist() == [0, EDGE_INFERRED, EDGE_CRITICAL]


def test_js_edge_fixture_is_up_to_date():
    """js/tests/fixtures/edges.json feeds the JS edge decoder tests: it must match this
    encoder (format 3) and decode to the plain columns it was made from (both formats)."""
    spec = importlib.util.spec_from_file_location("make_edges_fixture",
                                                  FIXTURE_DIR / "make_edges_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_fixture()
    committed = json.loads((FIXTURE_DIR / "edges.json").read_text())
    assert json.loads(json.dumps(built)) == committed, (
        "run `python js/tests/fixtures/make_edges_fixture.py` and commit the result")
    expected = built["format2_expected"]
    assert sorted(zip(*built["format3_expected"].values())) == sorted(zip(*expected.values()))


def _mapped_stages(n: int, size: int = 2_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stages of `size` mapped runs, run j depending on run j of the stage before; every
    5th stage a fan-in into its first run and a fan-out from it (~1 edge per task run)."""
    rows = np.arange(n)
    stage, j = rows // size, rows % size
    later = stage > 0
    up, down = rows[later] - size, rows[later]
    fan = later & (stage % 5 == 0)
    first = rows[fan & (j == 0)]
    up = np.concatenate([up[~fan[later]], first.repeat(size) - size + np.tile(np.arange(size),
                                                                            first.size),
                         np.repeat(first, size - 1)])
    down = np.concatenate([down[~fan[later]], first.repeat(size),
                           (first[:, None] + np.arange(1, size)).ravel()])
    return up, down, np.zeros(up.size, dtype=np.uint8)


def test_saved_bytes_per_task_run_with_edges_at_100k_stay_under_thirty():
    n = 100_000
    frame = _frame(n)
    plain = _saved_bytes(encode_timeline(frame)) / n
    mapped = encode_timeline(frame, edges=_mapped_stages(n))
    assert mapped["edge_count"] > 0.9 * n
    assert _saved_bytes(mapped) / n - plain < 4  # about 2 raw bytes per edge
    rng = np.random.default_rng(0)  # the worst case: upstreams anywhere, every edge flagged
    down = np.sort(rng.integers(1, n, int(1.2 * n)))
    up = rng.integers(0, n, down.size)
    scattered = encode_timeline(frame, edges=(up, down, np.full(down.size, EDGE_INFERRED)))
    assert _saved_bytes(scattered) / n <= 30
