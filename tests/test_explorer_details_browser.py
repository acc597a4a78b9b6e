"""The run explorer's details panel in a real JupyterLab (issue 19, item 4): a click on a
failed task run's bar brings its logs (level filter, the traceback folded and copyable), its
error, and its upstream run, whose click selects that run; the hover tooltip stays inside
the widget at the canvas's right edge. Screenshots: tests/artifacts/
lab-explorer-details.png and lab-explorer-tooltip-edge.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import WIDGET, lab_page, wait_rendered

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1400) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
        yield page


def _hover_bar(page, widget, xs: list[float], text: str = "") -> tuple[float, float]:
    """Move the mouse over the canvas at the fractions `xs` of its width (top to bottom)
    until the tooltip shows, holding `text` if given; the point."""
    box = widget.locator("canvas.pw-canvas").bounding_box()
    tooltip = widget.locator(".pw-tooltip")
    for fy in [0.05 * i for i in range(1, 20)]:
        for fx in xs:
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            page.mouse.move(x, y)
            if tooltip.is_visible() and text in tooltip.inner_text():
                return x, y
    raise AssertionError(f"no bar with {text!r} under the mouse on the canvas")


def _open(lab, page, run_id: str, name: str):
    lab.open_and_run(page, name, [
        "from prefect_widgets.widget import FlowRunWidget\n"
        f"w = FlowRunWidget({run_id!r}, live=False)\nw"])
    wait_rendered(page)
    return page.locator(WIDGET)


def test_a_failed_task_runs_details_logs_traceback_copy_and_upstream(lab, page, runs):
    widget = _open(lab, page, runs["failing"], "explorer-details.ipynb")
    x, y = _hover_bar(page, widget, [0.05 * i for i in range(1, 20)], "Failed")
    page.mouse.click(x, y)
    details = widget.locator(".pw-details")
    details.locator(".pw-details-error").wait_for(state="visible", timeout=30_000)
    assert "write_to_warehouse" in details.locator(".pw-details-title").inner_text()
    labels = details.locator(".pw-details-list dt").all_inner_texts()
    assert len(labels) == len(set(labels)), labels  # each field once

    lines = details.locator(".pw-log-line")
    levels = [lines.nth(i).get_attribute("data-level") for i in range(lines.count())]
    assert levels.count("ERROR") >= 2, levels
    assert "Warehouse connection refused" in details.locator(".pw-log-lines").inner_text()
    fold = details.locator(".pw-log-line details.pw-log-fold").last
    assert not fold.locator("pre").is_visible()  # the traceback folded behind its first line
    fold.locator("summary").click(position={"x": 5, "y": 5})
    assert fold.locator("pre").is_visible()
    assert "ConnectionError" in fold.locator("pre").inner_text()

    details.locator("select.pw-log-filter").select_option("40")
    assert all(lines.nth(i).is_visible() for i in range(lines.count()))  # all ERROR here

    copy = details.locator(".pw-details-error button.pw-copy")
    copy.click()
    page.wait_for_function("(s) => document.querySelector(s)?.dataset.copied === '1'",
                           arg=f"{WIDGET} .pw-details-error button.pw-copy", timeout=5_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("Traceback (most recent call last)")
    assert "ConnectionError: Could not connect to warehouse" in copied

    page.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'start'})", WIDGET)
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "lab-explorer-details.png"))

    upstream = details.locator(".pw-link", has_text="load_rows")
    assert "rows" in upstream.inner_text()  # the argument it feeds
    upstream.click()
    page.wait_for_function(
        "(s) => document.querySelector(s)?.textContent.includes('load_rows')",
        arg=f"{WIDGET} .pw-details-title", timeout=10_000)
    downstream = details.locator(".pw-link", has_text="write_to_warehouse")
    downstream.wait_for(state="visible", timeout=30_000)  # the kernel's answer for load_rows
    assert details.locator(".pw-details-error").count() == 0
    # the level filter holds from row to row: load_rows logged only at INFO
    assert details.locator("select.pw-log-filter").input_value() == "40"
    assert lines.count() >= 1 and not any(lines.nth(i).is_visible()
                                          for i in range(lines.count()))
    assert "0 of" in details.locator(".pw-log-bar").inner_text()
    details.locator("select.pw-log-filter").select_option("0")
    assert lines.first.is_visible() and lines.first.get_attribute("data-level") == "INFO"
    assert page.errors == []


def test_the_tooltip_stays_inside_the_widget_at_the_right_edge(lab, page, runs):
    widget = _open(lab, page, runs["failing"], "explorer-tooltip.ipynb")
    _hover_bar(page, widget, [0.995, 0.99, 0.98, 0.97, 0.95, 0.93, 0.9])
    tooltip = widget.locator(".pw-tooltip")
    tip, root = tooltip.bounding_box(), widget.bounding_box()
    canvas = widget.locator("canvas.pw-canvas").bounding_box()
    assert tip["height"] > canvas["height"] * 0.5 or tip["width"] > 100
    assert root["x"] - 0.5 <= tip["x"] and tip["x"] + tip["width"] <= root["x"] + root["width"] + 0.5
    assert root["y"] - 0.5 <= tip["y"] and tip["y"] + tip["height"] <= root["y"] + root["height"] + 0.5
    clipped = page.evaluate("""(s) => {
        const tip = document.querySelector(s + ' .pw-tooltip');
        const root = document.querySelector(s);
        for (let el = tip.parentElement; el && el !== root; el = el.parentElement) {
          const style = getComputedStyle(el);
          if (style.overflow !== 'visible' || style.overflowX !== 'visible') return el.className;
        }
        return '';
    }""", WIDGET)
    assert clipped == "", f"the tooltip sits in a clipping box: {clipped}"
    widget.screenshot(path=str(ARTIFACTS / "lab-explorer-tooltip-edge.png"))
    assert page.errors == []
