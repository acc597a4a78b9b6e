"""Dependency edges drawn in the browser (issue 19, item 2): the built widget on the
standalone harness page (`benchmarks/widget_harness.py`) with the timelines the real widget
encodes for the real server's sample runs. Hovering or selecting a bar draws its lineage;
"auto" draws a small run's edges whole; inferred edges and the critical path are drawn.
Screenshots: tests/artifacts/edges-{diamond-hover,slow-inferred-critical,diamond-selected}.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prefect_widgets.widget import FlowRunWidget

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "artifacts"
sys.path.insert(0, str(ROOT / "benchmarks"))

from widget_harness import harness_html  # noqa: E402

pytestmark = pytest.mark.browser

GANTT = ".pw-gantt"


def _mount(page, widget: FlowRunWidget) -> None:
    # set_content keeps the window: a second mount must not find the first page's harness
    page.evaluate("() => { delete window.__harness; }")
    page.set_content(harness_html(widget.timeline, widget.header, auto_details=False))
    page.wait_for_function("() => window.__harness", timeout=30_000)
    page.evaluate("() => window.__harness.mount()")
    page.wait_for_selector(f"{GANTT}[data-edges-drawn]", state="attached", timeout=10_000)


def _edges_drawn(page) -> int:
    return int(page.locator(GANTT).get_attribute("data-edges-drawn") or -1)


def _bars(page) -> list[tuple[float, float, str]]:
    """Points over bars (page coordinates) with their tooltip's first line, found by
    sweeping the canvas with pointer events in the page (one round trip)."""
    box = page.locator("canvas.pw-canvas").bounding_box()
    found = page.evaluate("""() => {
        const H = window.__harness, c = H.canvas(), tip = H.el.querySelector('.pw-tooltip');
        const r = c.getBoundingClientRect(), out = {};
        for (let y = 2; y < r.height; y += 4) for (let x = 2; x < r.width; x += 8) {
            H.pointer('pointermove', x, y, { buttons: 0 });
            if (!tip.hidden) { const label = tip.innerText.split('\\n')[0];
                               if (!(label in out)) out[label] = [x, y]; }
        }
        H.pointer('pointerleave', -10, -10, { buttons: 0 });
        return out;
    }""")
    return [(box["x"] + x, box["y"] + y, label) for label, (x, y) in found.items()]


def _wait_drawn(page, predicate: str) -> int:
    page.wait_for_function(f"() => {{ const n = Number(document.querySelector('{GANTT}')"
                           f".dataset.edgesDrawn); return {predicate}; }}", timeout=5_000)
    return _edges_drawn(page)


def test_hovering_a_bar_draws_its_upstream_and_downstream_edges(page, runs):
    widget = FlowRunWidget(runs["diamond"], live=False, edges="selection")
    _mount(page, widget)
    assert _edges_drawn(page) == 0  # "selection": nothing until a bar has the focus
    bars = {label.split("-")[0]: (x, y) for x, y, label in _bars(page)}
    assert {"extract", "slow_branch", "fast_branch", "load"} <= set(bars), bars
    page.mouse.move(*bars["fast_branch"])
    assert _wait_drawn(page, "n === 2") == 2  # extract → fast_branch → load
    page.mouse.move(*bars["extract"])
    assert _wait_drawn(page, "n === 4") == 4  # everything is downstream of extract
    page.locator(".pw-widget").screenshot(path=str(ARTIFACTS / "edges-diamond-hover.png"))
    page.mouse.move(0, 0)
    assert _wait_drawn(page, "n === 0") == 0
    assert page.errors == []


def test_a_selected_bar_keeps_its_lineage_and_auto_draws_a_small_run_whole(page, runs):
    widget = FlowRunWidget(runs["diamond"], live=False)  # edges="auto"
    _mount(page, widget)
    assert _wait_drawn(page, "n === 4") == 4  # 4 edges ≤ 500: the whole run's
    bars = {label.split("-")[0]: (x, y) for x, y, label in _bars(page)}
    page.mouse.click(*bars["slow_branch"])
    page.mouse.move(0, 0)
    assert _wait_drawn(page, "n === 2") == 2  # the selection's lineage only, others dimmed
    page.locator(".pw-widget").screenshot(path=str(ARTIFACTS / "edges-diamond-selected.png"))
    assert page.errors == []


def test_inferred_edges_and_the_critical_path_of_a_sequential_pipeline(page, runs):
    widget = FlowRunWidget(runs["slow"], live=False, critical_path=True, inferred_edges=True)
    _mount(page, widget)
    # 12 stages called one after another: each but the first has one upstream, inferred
    # (or, where Prefect recorded a spurious input, recorded: see test_explorer_edges.py)
    assert _wait_drawn(page, "n === 11") == 11
    page.locator(".pw-widget").screenshot(path=str(ARTIFACTS / "edges-slow-inferred-critical.png"))
    off = FlowRunWidget(runs["slow"], live=False, edges="off", inferred_edges=True)
    _mount(page, off)
    assert _edges_drawn(page) == 0
    assert page.errors == []
