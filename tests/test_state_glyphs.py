"""States that share a hue (Failed/Crashed, Scheduled/Pending, Cancelling/Cancelled) differ
without colour: every badge of the HTML reprs and reports carries its state's glyph, fixed
by the state type (never by anything the server sends), hidden from screen readers (the
name beside it says the same)."""

from __future__ import annotations

import re

import pytest

from prefect_widgets import FlowRunView, State
from prefect_widgets.html import state_badge_html
from prefect_widgets.html.markup import EMPTY, badge, wrap
from prefect_widgets.samples import HOSTILE
from prefect_widgets.states import STATE_GLYPHS, STATE_TYPES, UNKNOWN_STATE_GLYPH

SHARED_HUES = [("FAILED", "CRASHED"), ("SCHEDULED", "PENDING"), ("CANCELLING", "CANCELLED")]
GLYPH = re.compile(r'<span class="pw-badge [^"]*" data-glyph="([^"]*)"')
PAGE = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{}</body></html>"


def _glyphs(markup: str) -> list[str]:
    return GLYPH.findall(str(markup))


@pytest.mark.parametrize("state_type", STATE_TYPES)
def test_every_state_badge_carries_its_glyph(state_type):
    name = state_type.title()
    markup = str(badge(State(type=state_type, name=name, message="why")))
    glyph = STATE_GLYPHS[state_type]
    assert markup == (f'<span class="pw-badge pw-state-{state_type.lower()}" '
                      f'data-glyph="{glyph}" title="why">{name}</span>')
    assert _glyphs(state_badge_html(State(type=state_type, name=name))) == [glyph]


def test_states_that_share_a_hue_have_different_glyphs():
    for a, b in SHARED_HUES:
        assert STATE_GLYPHS[a] != STATE_GLYPHS[b], (a, b)
    assert len(set(STATE_GLYPHS.values())) == len(STATE_TYPES)
    assert set(STATE_GLYPHS) == set(STATE_TYPES)
    assert all(len(g) == 1 for g in STATE_GLYPHS.values())  # one code point, no emoji selector


def test_an_unknown_state_gets_the_unknown_glyph_and_a_hostile_name_stays_text():
    markup = str(badge(State(type="EXPLODED", name=HOSTILE["img"], message=HOSTILE["attr"])))
    assert _glyphs(markup) == [UNKNOWN_STATE_GLYPH]
    assert "pw-state-unknown" in markup
    assert "<img" not in markup and "&lt;img" in markup
    assert markup.count("<span") == 1 and markup.count("data-glyph=") == 1


def test_the_glyph_is_painted_before_the_name_but_stays_out_of_the_text(page):
    """In a browser: repr.css draws each badge's glyph (`::before`, alt text ""), while the
    badge's text, what is copied or read aloud, stays the state's name."""
    page.set_content(PAGE.format(wrap(EMPTY.join(badge(State(type=t, name=t.title()))
                                                  for t in STATE_TYPES))))
    seen = page.evaluate("""() => [...document.querySelectorAll('.pw-badge')].map(b => ({
        text: b.innerText, glyph: getComputedStyle(b, '::before').content,
        width: parseFloat(getComputedStyle(b, '::before').width)}))""")
    assert len(seen) == len(STATE_TYPES)
    for shown, state_type in zip(seen, STATE_TYPES):
        assert shown["text"] == state_type.title()
        assert STATE_GLYPHS[state_type] in shown["glyph"] and shown["width"] > 0
    assert page.errors == []


def test_real_failed_runs_show_failed_glyphs_in_reprs_and_reports(runs, tmp_path):
    run = FlowRunView.from_flow_run_id(runs["failing"])
    failed = STATE_GLYPHS["FAILED"]
    assert run.state.type == "FAILED"
    assert failed in _glyphs(run._repr_html_())
    assert failed in _glyphs(run.state._repr_html_())
    report = run.to_html(tmp_path / "report.html")
    assert failed in _glyphs(report)
    tasks = run.task_runs()
    for task in tasks:
        assert _glyphs(task.state._repr_html_()) == [STATE_GLYPHS[task.state.type]]


def test_a_real_crashed_run_is_told_from_a_failed_one_by_glyph(debug_runs):
    crashed = FlowRunView.from_flow_run_id(debug_runs["crash"])
    failed = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    assert (crashed.state.type, failed.state.type) == ("CRASHED", "FAILED")
    crashed_glyphs = set(_glyphs(crashed._repr_html_()))
    assert STATE_GLYPHS["CRASHED"] in crashed_glyphs
    assert STATE_GLYPHS["FAILED"] in set(_glyphs(failed._repr_html_()))
    assert STATE_GLYPHS["FAILED"] not in set(_glyphs(crashed.state._repr_html_()))
