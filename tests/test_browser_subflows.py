"""Subflows expanded inline in a real JupyterLab (issue 19, item 3): the subflow's gutter
button expands it (the kernel reads the child run and its task groups appear one level
deeper), Right on a selected nested subflow expands that one, a child task run's bar selects
it and opens its details, search finds nested runs, Left collapses. Screenshots:
tests/artifacts/lab-subflows-collapsed.png, lab-subflows-expanded.png,
lab-subflows-details.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import WIDGET, lab_page, wait_rendered
from test_widget_subflows import INNER_ROW, MIDDLE_ROW, run_nested_flow, settled

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def nested_run(prefect_server, tmp_path_factory) -> str:
    run_id = run_nested_flow(prefect_server, tmp_path_factory.mktemp("nested-browser"))
    settled(prefect_server.api_url, run_id)
    return run_id


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1400) as page:
        yield page


def _group(widget, name: str):
    return widget.locator(f'.pw-gutter .pw-group[data-name="{name}"]')


def _wait_group(page, name: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        """([s, n]) => !!document.querySelector(s)
             ?.querySelector(`.pw-gutter .pw-group[data-name="${n}"]`)""",
        arg=[WIDGET, name], timeout=timeout, polling=100)


def _click_bar_in(page, widget, name: str) -> None:
    """Click the bar in the rows of gutter group `name` (swept left to right until the
    tooltip names it)."""
    row = _group(widget, name).bounding_box()
    box = widget.locator("canvas.pw-canvas").bounding_box()
    tooltip = widget.locator(".pw-tooltip")
    y = row["y"] + min(row["height"], 22) / 2
    for step in range(60):
        x = row["x"] + row["width"] + 8 + (box["x"] + box["width"] - row["x"] - row["width"]
                                           - 16) * step / 59
        page.mouse.move(x, y)
        if tooltip.is_visible() and name in tooltip.inner_text():
            page.mouse.click(x, y)
            return
    raise AssertionError(f"no bar of {name!r} under the mouse along its row")


def test_expand_by_click_and_key_select_a_nested_run(lab, page, nested_run):
    lab.open_and_run(page, "subflows.ipynb", [
        "from prefect_widgets.widget import FlowRunWidget\n"
        f"w = FlowRunWidget({nested_run!r}, live=False, row_layout='grouped')\nw"])
    wait_rendered(page)
    widget = page.locator(WIDGET)
    middle = _group(widget, MIDDLE_ROW)
    assert "pw-group-subflow" in middle.get_attribute("class")
    assert middle.get_attribute("aria-expanded") == "false"
    assert middle.locator(".pw-group-glyph").inner_text() == "▸"
    assert middle.locator(".pw-group-name").inner_text() == f"⤷ {MIDDLE_ROW}"
    assert _group(widget, "mid_extract").count() == 0
    widget.screenshot(path=str(ARTIFACTS / "lab-subflows-collapsed.png"))

    # a click on the subflow's label: the kernel reads the child run, its groups nest under it
    middle.click()
    _wait_group(page, "mid_extract")
    assert middle.get_attribute("aria-expanded") == "true"
    assert middle.locator(".pw-group-glyph").inner_text() == "▾"
    names = widget.locator(".pw-gutter .pw-group").evaluate_all(
        "(bs) => bs.map((b) => [b.dataset.name, b.dataset.depth, b.dataset.count])")
    order = [n for n, _, _ in names]
    assert order.index(MIDDLE_ROW) < order.index("mid_extract") < order.index("finish")
    depth = {n: (d, c) for n, d, c in names}
    assert depth["mid_extract"] == ("1", "1") and depth["mid_map"] == ("1", "3")
    assert depth[INNER_ROW] == ("1", "1") and depth["prepare"] == ("0", "1")
    indent = _group(widget, "mid_map").evaluate("(b) => parseFloat(b.style.paddingLeft)")
    assert indent >= 12
    # the nested rows are drawn: more bars than the run's own three
    page.wait_for_function("(s) => Number(document.querySelector(s).dataset.bars) >= 8",
                           arg=WIDGET, timeout=10_000)

    # Right on the selected nested subflow expands it too
    _click_bar_in(page, widget, INNER_ROW)
    page.wait_for_function("(s) => document.querySelector(s).dataset.selected !== '-1'",
                           arg=WIDGET, timeout=10_000)
    assert INNER_ROW in widget.locator(".pw-details-title").inner_text()
    page.keyboard.press("ArrowRight")
    _wait_group(page, "inner_a")
    assert _group(widget, "inner_a").get_attribute("data-depth") == "2"
    assert _group(widget, INNER_ROW).get_attribute("aria-expanded") == "true"
    widget.screenshot(path=str(ARTIFACTS / "lab-subflows-expanded.png"))

    # a nested task run selects like any other and opens its own details
    _click_bar_in(page, widget, "inner_b")
    details = widget.locator(".pw-details")
    page.wait_for_function(
        """(s) => (document.querySelector(s)?.querySelector('.pw-details-title')?.textContent
                   || '').includes('inner_b')""", arg=WIDGET, timeout=10_000)
    page.wait_for_function(
        """(s) => [...document.querySelector(s).querySelectorAll('.pw-details-list dt')]
                   .some((dt) => dt.textContent === 'Task run id')""",
        arg=WIDGET, timeout=30_000)
    assert "Completed" in details.inner_text()
    widget.screenshot(path=str(ARTIFACTS / "lab-subflows-details.png"))

    # search finds nested runs
    widget.locator("input.pw-search-input").fill("inner_")
    page.wait_for_function("(s) => document.querySelector(s).dataset.searchCount === '2'",
                           arg=WIDGET, timeout=10_000)
    widget.locator("input.pw-search-input").fill("")

    # Left on the selected subflow row collapses it again
    _click_bar_in(page, widget, INNER_ROW)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        """(s) => !document.querySelector(s)
             .querySelector('.pw-gutter .pw-group[data-name="inner_a"]')""",
        arg=WIDGET, timeout=10_000)
    assert _group(widget, INNER_ROW).get_attribute("aria-expanded") == "false"
    assert not page.errors, page.errors
