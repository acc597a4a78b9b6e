"""The widget's details panel of a failed task run in a real JupyterLab (issue 18): a click
on the failed bar asks the kernel, whose `details` trait brings the error (user frames and
final exception line shown, Prefect's frames folded), the state history and artifacts.
Screenshots: tests/artifacts/lab-widget-details-failed-{light,dark}.png and
lab-widget-details-artifacts.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import (
    WIDGET,
    find_bar,
    lab_page,
    wait_rendered,
)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1400) as page:
        yield page


def _widget_clicked(lab, page, name: str, flow_run_id: str):
    """The widget of `flow_run_id` in notebook `name`, run and drawn, its first bar clicked."""
    lab.open_and_run(page, name, [
        "from prefect_widgets.widget import FlowRunWidget\n"
        f"w = FlowRunWidget({flow_run_id!r}, live=False)\nw"])
    wait_rendered(page)
    widget = page.locator(WIDGET)
    page.mouse.click(*find_bar(page, widget))
    return widget


def test_details_of_a_failed_task_show_its_error_in_jupyterlab(lab, page, debug_runs):
    widget = _widget_clicked(lab, page, "failed.ipynb", debug_runs["task_error"])
    details = widget.locator(".pw-details")
    details.locator(".pw-details-error").wait_for(state="visible", timeout=30_000)

    frames = details.locator("pre.pw-tb-frame").all_inner_texts()
    assert any("in check_row" in f and "samples.py" in f for f in frames), frames
    assert not any("site-packages/prefect/" in f for f in frames)
    exception = details.locator("pre.pw-tb-exception").last
    assert exception.inner_text() == "ValueError: boom: row 'x' is not a number"
    assert exception.is_visible()
    folded = details.locator("details.pw-tb-folded").first
    assert folded.locator("summary").inner_text().endswith("internal frames")
    assert not folded.locator("pre").is_visible()  # collapsed until asked
    states = details.locator("table.pw-details-states .pw-details-state").all_inner_texts()
    assert [s.strip() for s in states] == ["Pending", "Running", "Failed"]
    labels = details.locator("dt").all_inner_texts()
    assert len(labels) == len(set(labels)), labels  # each field once
    assert "parse_rows-" in details.inner_text()

    page.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'start'})", WIDGET)
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "lab-widget-details-failed-light.png"))
    folded.locator("summary").click()
    assert folded.locator("pre").is_visible()
    assert "prefect/task_engine.py" in folded.locator("pre").inner_text()
    lab.command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    try:
        page.wait_for_selector(f"{WIDGET}.pw-dark", timeout=20_000)
        page.wait_for_timeout(500)
        widget.screenshot(path=str(ARTIFACTS / "lab-widget-details-failed-dark.png"))
    finally:
        lab.command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
    assert page.errors == []


def test_details_show_the_artifacts_rendered(lab, page, debug_runs):
    widget = _widget_clicked(lab, page, "artifacts.ipynb", debug_runs["artifacts"])
    artifacts = widget.locator(".pw-details .pw-details-artifact")
    artifacts.first.wait_for(state="visible", timeout=30_000)
    assert artifacts.count() == 6
    summary = widget.locator('.pw-details-artifact[data-key="summary"]')
    assert summary.locator("h1").inner_text() == "Summary"
    assert summary.locator("a").get_attribute("rel") == "noopener noreferrer"
    assert widget.locator('.pw-details-artifact[data-key="rows-by-region"] td').count() == 4
    assert widget.locator('.pw-details-artifact[data-key="pixel"] img').count() == 1
    assert widget.locator(".pw-details script").count() == 0
    page.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'start'})", WIDGET)
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "lab-widget-details-artifacts.png"))
    assert page.errors == []
