"""The timeline's rows grouped by task in a real JupyterLab (issue 19, item 1): a label per
task in the gutter (name and run count), in order of first start, readable (not cut, not
overlapping, at least the label height); a click collapses a group into one summary row;
the picker above the timeline switches to packed rows. Screenshots:
tests/artifacts/lab-layout-grouped.png, lab-layout-collapsed.png, lab-layout-packed.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import lab_page, write_notebook

from prefect_widgets.errors import InvalidRequest
from prefect_widgets.samples import MAPPED_SIZE
from prefect_widgets.widget import LAYOUT_MODES, FlowRunWidget

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDGETS = ".jp-NotebookPanel:not(.lm-mod-hidden) .pw-widget"

#: per label: its text, whether its name is cut, its box and its font size
LABELS_JS = """(gantt) => [...gantt.querySelectorAll('.pw-gutter .pw-group')].map((b) => {
  const name = b.querySelector('.pw-group-name'), r = b.getBoundingClientRect();
  const n = name.getBoundingClientRect();
  return {name: name.textContent, count: b.querySelector('.pw-group-count').textContent,
          cut: name.scrollWidth > name.clientWidth + 1, top: r.top, bottom: r.bottom,
          textBottom: n.bottom, fontPx: parseFloat(getComputedStyle(name).fontSize),
          expanded: b.getAttribute('aria-expanded'), lanes: Number(b.dataset.lanes)};
})"""


def test_layout_trait_takes_the_three_modes_and_refuses_others(runs):
    widget = FlowRunWidget(runs["diamond"], live=False, row_layout="packed")
    try:
        assert widget.row_layout == "packed"
        assert widget.trait_metadata("row_layout", "sync") is True
        widget.row_layout = "grouped"
        assert LAYOUT_MODES == ("auto", "grouped", "packed")
        with pytest.raises(InvalidRequest, match="use one of 'auto', 'grouped', 'packed'"):
            widget.row_layout = "sideways"
        assert widget.row_layout == "grouped"
    finally:
        widget.close()
    assert FlowRunWidget(runs["diamond"], live=False).row_layout == "auto"


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1500) as page:
        yield page


@pytest.mark.browser
def test_rows_grouped_by_task_with_readable_labels_in_jupyterlab(lab, page, runs):
    stacks: list[str] = []
    page.on("pageerror", lambda exc: stacks.append(exc.stack or str(exc)))
    write_notebook(lab.root / "layout.ipynb", [
        "from prefect_widgets.widget import FlowRunWidget",
        f"diamond = FlowRunWidget({runs['diamond']!r}, live=False)\ndiamond",
        f"mapped = FlowRunWidget({runs['mapped']!r}, live=False)\nmapped",
    ])
    lab.open_notebook(page, "layout.ipynb")
    lab.run_all(page)
    page.wait_for_function(
        """(s) => { const w = document.querySelectorAll(s);
                    return w.length === 2 && [...w].every((el) => el.dataset.rendered === '1'); }""",
        arg=WIDGETS, timeout=90_000, polling=100)
    diamond = page.locator(WIDGETS).nth(0)
    mapped = page.locator(WIDGETS).nth(1)

    # the diamond: four tasks, one group each, ordered by first start (extract first, load last)
    gantt = diamond.locator(".pw-gantt")
    assert gantt.get_attribute("data-layout") == "grouped"
    assert gantt.get_attribute("data-layout-mode") == "auto"
    labels = gantt.evaluate(LABELS_JS)
    assert [label["name"] for label in labels][0] == "extract"
    assert [label["name"] for label in labels][-1] == "load"
    assert sorted(label["name"] for label in labels) == ["extract", "fast_branch", "load",
                                                         "slow_branch"]
    assert {label["count"] for label in labels} == {"×1"}
    for label, below in zip(labels, labels[1:]):
        assert label["bottom"] <= below["top"] + 0.5, (label, below)  # no overlap
    for label in labels:
        assert not label["cut"], label
        assert label["fontPx"] >= 11, label
        assert label["textBottom"] <= label["bottom"] + 0.5, label  # the text inside its group
    assert diamond.locator(".pw-layout-note").inner_text() == "4 tasks, 4 lanes"

    # the mapped flow: one group holding every mapped run, in lanes
    mapped.scroll_into_view_if_needed()
    square = mapped.locator('.pw-group[data-name="square"]')
    assert square.is_visible()
    assert square.locator(".pw-group-count").inner_text() == f"×{MAPPED_SIZE}"
    lanes = int(square.get_attribute("data-lanes"))
    assert lanes >= 1
    page.screenshot(path=str(ARTIFACTS / "lab-layout-grouped.png"), full_page=True)

    # a click on the label collapses the group into one summary row; another expands it
    square.click()
    page.wait_for_function(
        """(s) => document.querySelectorAll(s)[1]
                   .querySelector('.pw-group[data-name="square"]')?.ariaExpanded === 'false'""",
        arg=WIDGETS, timeout=10_000)
    assert square.get_attribute("data-lanes") == "1"
    page.screenshot(path=str(ARTIFACTS / "lab-layout-collapsed.png"), full_page=True)
    square.click()
    page.wait_for_function(
        """(s) => document.querySelectorAll(s)[1]
                   .querySelector('.pw-group[data-name="square"]')?.ariaExpanded === 'true'""",
        arg=WIDGETS, timeout=10_000)
    assert int(square.get_attribute("data-lanes")) == lanes

    # the picker switches the diamond to packed rows: no gutter, fewer rows
    diamond.scroll_into_view_if_needed()
    diamond.locator("select.pw-layout").select_option("packed")
    page.wait_for_function(
        """(s) => document.querySelector(s).querySelector('.pw-gantt').dataset.layout === 'packed'""",
        arg=WIDGETS, timeout=10_000)
    assert diamond.locator(".pw-gutter").is_hidden()
    assert diamond.locator(".pw-layout-note").inner_text().endswith("rows")
    diamond.screenshot(path=str(ARTIFACTS / "lab-layout-packed.png"))
    assert not stacks, stacks
