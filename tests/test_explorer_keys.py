"""Search over tags (issue 19, item 5): the task runs' tags cross to the browser as a
dictionary-coded CSR column (`encode_tags`, js/README.md), and the `search` trait is
synced both ways (the browser side: js/tests/search.test.ts, keys.test.ts, a11y.test.ts and
tests/test_explorer_keys_browser.py)."""

from __future__ import annotations

from prefect_widgets._timeline_encoding import decode_tags, encode_tags
from prefect_widgets.widget import FlowRunWidget


def test_tags_round_trip_dictionary_coded_in_the_narrowest_width():
    rows = [["nightly", "gpu"], [], None, ["gpu", "gpu"], ["nightly"]]
    encoded = encode_tags(rows)
    assert encoded["tag_keys"] == ["nightly", "gpu"]  # each distinct tag once
    assert bytes(encoded["tag_offsets"]) == bytes([0, 2, 2, 2, 3, 4])  # uint8: n + 1 offsets
    assert bytes(encoded["tag_ids"]) == bytes([0, 1, 1, 0])  # a repeated tag counts once
    assert decode_tags({"n": len(rows), **encoded}) == [
        ["nightly", "gpu"], [], [], ["gpu"], ["nightly"]]


def test_many_tags_widen_the_columns_and_no_tags_send_nothing():
    rows = [[f"tag-{i}"] for i in range(300)]
    encoded = encode_tags(rows)
    assert len(bytes(encoded["tag_ids"])) == 300 * 2  # 300 distinct ids: uint16
    assert len(bytes(encoded["tag_offsets"])) == 301 * 2
    assert decode_tags({"n": 300, **encoded})[299] == ["tag-299"]
    assert encode_tags([[], None, ()]) == {}
    assert decode_tags({"n": 2}) == [[], []]


def test_the_widget_sends_each_task_runs_tags_and_a_synced_search_trait(runs):
    widget = FlowRunWidget(runs["diamond"], live=False, search="fast")
    try:
        assert widget.search == "fast"
        assert widget.trait_metadata("search", "sync") is True
        timeline = widget.timeline
        assert decode_tags(timeline) == [["fast"]] * timeline["n"]  # samples: @task(tags=["fast"])
        assert isinstance(timeline["tag_offsets"], memoryview)  # a binary buffer, not JSON
    finally:
        widget.close()
    assert FlowRunWidget(runs["diamond"], live=False).search == ""
