"""The run explorer in Notebook 7 (issue 19's acceptance asks for it beside JupyterLab 4): the
same checks as the JupyterLab tests (`test_explorer_layout_browser.py`, `..._edges_browser.py`,
`..._details_browser.py`, `..._keys_browser.py`) on `jupyter notebook`'s own page, where a
notebook is alone on its page, has no status bar and its own keyboard shortcuts.

Labels in the gutter, a selected bar's edges, the details panel with logs and a traceback,
search, arrow keys and Enter, subflows expanded inline, Notebook 7's command-mode keys inert
while the widget has focus. Screenshots: tests/artifacts/nb7-labels.png, nb7-edges-selected.png,
nb7-details.png, nb7-search.png, nb7-keys-focus.png, nb7-subflows.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab import (
    Notebook7,
    chromium_browser,
    lab_page,
    require_chromium,
    wait_rendered,
    write_notebook,
)
from test_explorer_keys_browser import Kernel
from test_explorer_layout_browser import LABELS_JS
from test_saved_notebook_browser import widget_errors

from prefect_widgets.samples import MAPPED_SIZE

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDGETS = ".jp-NotebookPanel .pw-widget"
CELLS = ".jp-NotebookPanel .jp-Cell"


@pytest.fixture(scope="module")
def notebook(prefect_server, tmp_path_factory):
    """Notebook 7 for the module, its kernels pointed at the session's Prefect server."""
    require_chromium()
    server = Notebook7(tmp_path_factory.mktemp("nb7-notebooks"),
                       tmp_path_factory.mktemp("nb7-state"),
                       env={"PREFECT_API_URL": prefect_server.api_url})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(notebook):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, notebook):
    """A fresh page; `page.stacks` holds its JS errors with their stacks (for
    `widget_errors`: Notebook 7's settings loader throws "reading 'schema'" on every page)."""
    with lab_page(browser, notebook, ARTIFACTS, height=1400) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=notebook.url)
        page.stacks = []
        page.on("pageerror", lambda exc: page.stacks.append(f"{exc}\n{exc.stack}"))
        yield page


def _show(notebook: Notebook7, page: Any, name: str, run_id: str, **options: str) -> Any:
    """Open a notebook showing `run_id`'s widget (cell 0) and a cell printing its traits
    (cell 1, for `Kernel`); run cell 0 and wait until the widget has drawn."""
    args = "".join(f", {key}={value!r}" for key, value in options.items())
    write_notebook(notebook.root / name, [
        "import itertools\nfrom prefect_widgets.widget import FlowRunWidget\n"
        f"tick = itertools.count()\nw = FlowRunWidget({run_id!r}, live=False{args})\nw",
        "row = w.selected_task_run\n"
        "print('STATE', next(tick), f'index={w.selected_index}', f'search={w.search!r}',"
        " f'task={row.task_name if row else None}', f'details={w.details.get(\"index\")}', 'END')",
    ])
    notebook.open_notebook(page, name)
    notebook.run_cell(page, 0)
    wait_rendered(page, WIDGETS, timeout=90_000)
    return page.locator(WIDGETS).first


def _point_on(page: Any, widget: Any, text: str) -> tuple[float, float]:
    """Sweep the mouse over the canvas until the tooltip shows a bar holding `text`."""
    box = widget.locator("canvas.pw-canvas").bounding_box()
    tooltip = widget.locator(".pw-tooltip")
    for fy in [0.04 * i for i in range(1, 25)]:
        for fx in [0.025 * i for i in range(1, 40)]:
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            page.mouse.move(x, y)
            if tooltip.is_visible() and text in tooltip.inner_text():
                return x, y
    raise AssertionError(f"no bar with {text!r} under the mouse on the canvas")


def _edges_drawn(widget: Any) -> int:
    return int(widget.locator(".pw-gantt").get_attribute("data-edges-drawn") or -1)


def test_labels_in_the_gutter_in_notebook7(notebook, page, runs):
    """The diamond's four tasks as four labelled groups in order of first start; the mapped
    run's 450 runs as lanes of one `square` group; no label cut or overlapping."""
    write_notebook(notebook.root / "labels.ipynb", [
        "from prefect_widgets.widget import FlowRunWidget",
        f"FlowRunWidget({runs['diamond']!r}, live=False)",
        f"FlowRunWidget({runs['mapped']!r}, live=False)",
    ])
    notebook.open_notebook(page, "labels.ipynb")
    notebook.run_all(page)
    page.wait_for_function(
        """(s) => { const w = document.querySelectorAll(s);
                    return w.length === 2 && [...w].every((el) => el.dataset.rendered === '1'); }""",
        arg=WIDGETS, timeout=90_000, polling=100)
    page.screenshot(path=str(ARTIFACTS / "nb7-labels.png"), full_page=True)
    page.wait_for_function(  # the gutter labels every group tall enough for a label
        """(s) => [...document.querySelectorAll(s)].every((w) =>
                    w.querySelectorAll('.pw-gutter .pw-group').length > 0)""",
        arg=WIDGETS, timeout=10_000, polling=100)
    diamond, mapped = page.locator(WIDGETS).nth(0), page.locator(WIDGETS).nth(1)
    gantt = diamond.locator(".pw-gantt")
    assert gantt.get_attribute("data-layout") == "grouped"
    labels = gantt.evaluate(LABELS_JS)
    names = [label["name"] for label in labels]
    assert names[0] == "extract" and names[-1] == "load", names
    assert sorted(names) == ["extract", "fast_branch", "load", "slow_branch"]
    for label, below in zip(labels, labels[1:]):
        assert label["bottom"] <= below["top"] + 0.5, (label, below)
    for label in labels:
        assert not label["cut"] and label["fontPx"] >= 11, label
        assert label["textBottom"] <= label["bottom"] + 0.5, label
    square = mapped.locator('.pw-group[data-name="square"]')
    assert square.locator(".pw-group-count").inner_text() == f"×{MAPPED_SIZE}"
    assert int(square.get_attribute("data-lanes")) >= 1
    assert widget_errors(page.stacks) == []


def test_a_selected_bars_edges_in_notebook7(notebook, page, runs):
    """edges="selection": none until a bar is selected; a click on fast_branch draws its two
    edges (extract → fast_branch → load) and they stay once the mouse leaves; extract's
    lineage is all four; the kernel knows the selection."""
    widget = _show(notebook, page, "edges.ipynb", runs["diamond"], edges="selection")
    kernel = Kernel(notebook, page)
    assert _edges_drawn(widget) == 0
    page.mouse.click(*_point_on(page, widget, "fast_branch"))
    page.mouse.move(0, 0)
    page.wait_for_function("(s) => document.querySelector(s).dataset.edgesDrawn === '2'",
                           arg=f"{WIDGETS} .pw-gantt", timeout=5_000)
    assert kernel.state()["task"] == "fast_branch"
    widget.screenshot(path=str(ARTIFACTS / "nb7-edges-selected.png"))
    page.mouse.click(*_point_on(page, widget, "extract"))
    page.mouse.move(0, 0)
    page.wait_for_function("(s) => document.querySelector(s).dataset.edgesDrawn === '4'",
                           arg=f"{WIDGETS} .pw-gantt", timeout=5_000)
    assert widget_errors(page.stacks) == []


def test_details_with_logs_and_traceback_in_notebook7(notebook, page, runs):
    """A click on the failed write_to_warehouse: its error, its ERROR logs with the traceback
    folded, unfolded by a click, copied whole; its upstream load_rows, selected by a click."""
    widget = _show(notebook, page, "details.ipynb", runs["failing"])
    page.mouse.click(*_point_on(page, widget, "Failed"))
    details = widget.locator(".pw-details")
    details.locator(".pw-details-error").wait_for(state="visible", timeout=30_000)
    assert "write_to_warehouse" in details.locator(".pw-details-title").inner_text()
    labels = details.locator(".pw-details-list dt").all_inner_texts()
    assert len(labels) == len(set(labels)), labels
    lines = details.locator(".pw-log-line")
    levels = [lines.nth(i).get_attribute("data-level") for i in range(lines.count())]
    assert levels.count("ERROR") >= 2, levels
    assert "Warehouse connection refused" in details.locator(".pw-log-lines").inner_text()
    fold = details.locator(".pw-log-line details.pw-log-fold").last
    assert not fold.locator("pre").is_visible()
    fold.locator("summary").click(position={"x": 5, "y": 5})
    assert "ConnectionError" in fold.locator("pre").inner_text()
    details.locator(".pw-details-error button.pw-copy").click()
    page.wait_for_function("(s) => document.querySelector(s)?.dataset.copied === '1'",
                           arg=f"{WIDGETS} .pw-details-error button.pw-copy", timeout=5_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("Traceback (most recent call last)")
    assert "ConnectionError: Could not connect to warehouse" in copied
    page.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'start'})", WIDGETS)
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "nb7-details.png"))
    details.locator(".pw-link", has_text="load_rows").click()
    page.wait_for_function("(s) => document.querySelector(s)?.textContent.includes('load_rows')",
                           arg=f"{WIDGETS} .pw-details-title", timeout=10_000)
    details.locator(".pw-link", has_text="write_to_warehouse").wait_for(state="visible",
                                                                         timeout=30_000)
    assert details.locator(".pw-details-error").count() == 0
    assert widget_errors(page.stacks) == []


def test_search_and_keys_in_notebook7(notebook, page, runs):
    """Search dims all but the matches and counts them, Enter steps through them, Escape
    clears; arrow keys move the selection between task groups, Enter opens the details;
    Notebook 7's command-mode keys (A, B, X, D D) do nothing while the widget has focus, and
    the same key with the notebook focused does add a cell (the control)."""
    widget = _show(notebook, page, "keys.ipynb", runs["diamond"])
    kernel = Kernel(notebook, page)
    assert widget.get_attribute("tabindex") == "0"
    assert widget.get_attribute("data-lm-suppress-shortcuts") == "true"

    box = widget.locator("input.pw-search-input")
    box.fill("BRANCH")
    page.wait_for_function("(s) => document.querySelector(s).dataset.searchCount === '2'",
                           arg=WIDGETS, timeout=10_000)
    assert widget.locator(".pw-search-count").inner_text() == "2 matches"
    assert kernel.state()["search"] == "'BRANCH'"
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "nb7-search.png"))
    box.press("Enter")
    assert widget.locator(".pw-search-count").inner_text() == "1 of 2"
    state = kernel.state()
    assert state["task"] in ("slow_branch", "fast_branch"), state
    box.press("Enter")
    assert widget.locator(".pw-search-count").inner_text() == "2 of 2"
    assert kernel.state()["index"] != state["index"]
    box.press("Escape")
    page.wait_for_function("(s) => !('searchCount' in document.querySelector(s).dataset)",
                           arg=WIDGETS, timeout=10_000)
    assert box.input_value() == ""

    def press(key: str, moves: bool = True) -> None:
        page.wait_for_timeout(300)
        widget.evaluate("(el) => el.focus()")
        assert widget.evaluate("(el) => document.activeElement === el")
        before = widget.get_attribute("data-selected")
        page.keyboard.press(key)
        if moves:
            page.wait_for_function("([s, b]) => document.querySelector(s).dataset.selected !== b",
                                   arg=[WIDGETS, before], timeout=5_000)

    press("Escape")
    assert kernel.state()["index"] == "-1"
    press("ArrowDown")
    assert kernel.state()["task"] == "extract"
    press("ArrowDown")
    state = kernel.state()
    assert state["task"] in ("slow_branch", "fast_branch") and state["details"] == "None", state
    press("ArrowUp")
    assert kernel.state()["task"] == "extract"
    press("Enter", moves=False)
    page.wait_for_function("(s) => !document.querySelector(s).querySelector('.pw-details').hidden",
                           arg=WIDGETS, timeout=10_000)
    for _ in range(20):
        state = kernel.state()
        if state["details"] != "None":
            break
    assert state["details"] == state["index"], state
    widget.evaluate("(el) => el.focus()")
    assert widget.evaluate("(el) => getComputedStyle(el).outlineStyle") == "solid"
    widget.screenshot(path=str(ARTIFACTS / "nb7-keys-focus.png"))

    cells = page.locator(CELLS).count()
    page.wait_for_timeout(300)
    widget.evaluate("(el) => el.focus()")
    for key in ("a", "b", "x", "d", "d", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    assert widget.evaluate("(el) => el.contains(document.activeElement)")
    page.wait_for_timeout(500)
    assert page.locator(CELLS).count() == cells
    assert page.locator(WIDGETS).count() == 1

    notebook.command(page, "notebook:enter-command-mode")
    page.locator(".jp-NotebookPanel .jp-Notebook").focus()
    page.keyboard.press("b")
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length === n",
                           arg=[CELLS, cells + 1], timeout=10_000)
    assert widget_errors(page.stacks) == []


@pytest.fixture(scope="module")
def nested_run(prefect_server, tmp_path_factory) -> str:
    from test_widget_subflows import run_nested_flow, settled

    run_id = run_nested_flow(prefect_server, tmp_path_factory.mktemp("nested-nb7"))
    settled(prefect_server.api_url, run_id)
    return run_id


def test_subflow_expand_in_notebook7(notebook, page, nested_run):
    """A click on the subflow's label nests the child run's groups under it; Right on the
    selected inner subflow expands that one; a nested run opens its details; Left folds."""
    from test_browser_subflows import _click_bar_in, _group, _wait_group
    from test_widget_subflows import INNER_ROW, MIDDLE_ROW

    widget = _show(notebook, page, "nb7-subflows.ipynb", nested_run, row_layout="grouped")
    middle = _group(widget, MIDDLE_ROW)
    assert middle.get_attribute("aria-expanded") == "false"
    middle.click()
    _wait_group(page, "mid_extract")
    assert middle.get_attribute("aria-expanded") == "true"
    assert _group(widget, "mid_map").get_attribute("data-depth") == "1"
    _click_bar_in(page, widget, INNER_ROW)
    page.wait_for_function(
        """([s, name]) => (document.querySelector(s)?.querySelector('.pw-details-title')
                           ?.textContent || '').includes(name)""",
        arg=[WIDGETS, INNER_ROW], timeout=30_000)
    page.keyboard.press("ArrowRight")  # the canvas has the focus, as after any click
    _wait_group(page, "inner_a")
    assert _group(widget, "inner_a").get_attribute("data-depth") == "2"
    _click_bar_in(page, widget, "inner_b")
    page.wait_for_function(
        """(s) => (document.querySelector(s)?.querySelector('.pw-details-title')?.textContent
                   || '').includes('inner_b')""", arg=WIDGETS, timeout=30_000)
    widget.screenshot(path=str(ARTIFACTS / "nb7-subflows.png"))
    _click_bar_in(page, widget, INNER_ROW)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        """(s) => !document.querySelector(s)
             .querySelector('.pw-gutter .pw-group[data-name="inner_a"]')""",
        arg=WIDGETS, timeout=10_000)
    assert widget_errors(page.stacks) == []
