"""Search, keyboard and accessibility of the run explorer in a real JupyterLab (issue 19,
items 5 and 6): typing in the search box (task name, state or tag) dims the other bars and
shows "N of M"; Enter steps to a match (the kernel's `selected_index` follows),
`widget.search = ...` from Python fills the box, Escape clears it; arrow keys move the
selection, Enter opens the details; JupyterLab's command-mode keys (A, B, X, D D) do nothing
while the widget has focus; a live run's state changes are announced in the polite live
region. Screenshots: tests/artifacts/lab-keys-search.png, lab-keys-focus.png,
lab-keys-live.png."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from lab import JupyterLab, lab_page, write_notebook
from test_lab_browser import LIVE_CELL

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDGETS = ".jp-NotebookPanel:not(.lm-mod-hidden) .pw-widget"
CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell"


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1400) as page:
        yield page


class Kernel:
    """Cell 1 of the notebook prints the widget's traits, numbered so each print is new."""

    def __init__(self, lab: JupyterLab, page) -> None:
        self.lab, self.page, self.k = lab, page, 0

    def state(self) -> dict[str, str]:
        self.lab.run_cell(self.page, 1)
        out = self.lab.wait_output(self.page, 1, rf"STATE {self.k} .*END", timeout=30_000)
        self.k += 1
        return dict(re.findall(r"(\w+)=(\S*)", out))


def _cells(page) -> int:
    return page.locator(CELLS).count()


@pytest.mark.browser
def test_search_keys_and_live_announcements_in_jupyterlab(lab, page, runs):
    write_notebook(lab.root / "keys.ipynb", [
        "import itertools\nfrom prefect_widgets.widget import FlowRunWidget\n"
        f"tick = itertools.count()\nw = FlowRunWidget({runs['diamond']!r}, live=False)\nw",
        "row = w.selected_task_run\n"
        "print('STATE', next(tick), f'index={w.selected_index}', f'search={w.search!r}',"
        " f'task={row.task_name if row else None}', f'details={w.details.get(\"index\")}', 'END')",
        "w.search = 'LOAD'",
        LIVE_CELL,
        "proc.wait(120)",
    ])
    lab.open_notebook(page, "keys.ipynb")
    lab.run_cell(page, 0)
    page.wait_for_function("(s) => document.querySelector(s)?.dataset.rendered === '1'",
                           arg=WIDGETS, timeout=90_000, polling=100)
    widget = page.locator(WIDGETS).nth(0)
    kernel = Kernel(lab, page)

    # the root: focusable, JupyterLab's shortcuts off inside it, a summary for screen readers
    assert widget.get_attribute("tabindex") == "0"
    assert widget.get_attribute("data-lm-suppress-shortcuts") == "true"
    assert re.fullmatch(r"Flow run \S+: 4 task runs, 4 Completed", widget.get_attribute("aria-label"))
    box = widget.locator("input.pw-search-input")
    assert box.get_attribute("aria-label").startswith("Search task runs")

    # typing: "N matches", the rest dimmed (the root says how many), the kernel follows
    box.fill("BRANCH")
    page.wait_for_function("(s) => document.querySelector(s).dataset.searchCount === '2'",
                           arg=WIDGETS, timeout=10_000)
    assert widget.locator(".pw-search-count").inner_text() == "2 matches"
    assert kernel.state()["search"] == "'BRANCH'"
    page.wait_for_timeout(300)
    widget.screenshot(path=str(ARTIFACTS / "lab-keys-search.png"))  # extract and load dimmed
    box.press("Enter")  # the first match in time, selected and counted
    assert widget.locator(".pw-search-count").inner_text() == "1 of 2"
    state = kernel.state()
    assert state["task"] in ("slow_branch", "fast_branch"), state
    first = state["index"]
    box.press("Enter")
    assert widget.locator(".pw-search-count").inner_text() == "2 of 2"
    state = kernel.state()
    assert state["task"] in ("slow_branch", "fast_branch") and state["index"] != first, state
    box.fill("FAS")  # fast_branch by name, and every run by its tag "fast"
    page.wait_for_function("(s) => document.querySelector(s).dataset.searchCount === '4'",
                           arg=WIDGETS, timeout=10_000)
    box.press("Escape")  # clears the search (the selection stays)
    page.wait_for_function("(s) => !('searchCount' in document.querySelector(s).dataset)",
                           arg=WIDGETS, timeout=10_000)
    assert box.input_value() == ""
    assert kernel.state()["search"] == "''"

    # from Python: the box shows the query and its count
    lab.run_cell(page, 2)
    page.wait_for_function("(s) => document.querySelector(s).dataset.searchCount === '1'",
                           arg=WIDGETS, timeout=30_000)
    assert box.input_value() == "LOAD"
    box.press("Escape")

    # keys on the focused root (running a cell takes the focus: give it back each time):
    # arrows move the selection between the task groups
    def press(key: str, moves: bool = True) -> None:
        """Focus the widget (once the notebook has settled after the last run) and press."""
        page.wait_for_timeout(300)
        widget.evaluate("(el) => el.focus()")
        assert widget.evaluate("(el) => document.activeElement === el")
        before = widget.get_attribute("data-selected")
        page.keyboard.press(key)
        if moves:
            page.wait_for_function("([s, b]) => document.querySelector(s).dataset.selected !== b",
                                   arg=[WIDGETS, before], timeout=5_000)

    press("Escape")  # clears the selection
    assert kernel.state()["index"] == "-1"
    press("ArrowDown")  # nothing selected: the first bar in time
    state = kernel.state()
    assert state["task"] == "extract", state
    press("ArrowDown")  # the row below: a branch
    state = kernel.state()
    assert state["task"] in ("slow_branch", "fast_branch"), state
    assert state["details"] == "None"  # moving does not fetch details
    press("ArrowUp")
    assert kernel.state()["task"] == "extract"
    press("ArrowRight", moves=False)  # extract has one run: the selection stays
    page.wait_for_timeout(300)
    assert kernel.state()["task"] == "extract"
    press("Enter", moves=False)  # opens the details: the kernel sends them
    details = widget.locator(".pw-details")
    page.wait_for_function("(s) => !document.querySelector(s).querySelector('.pw-details').hidden",
                           arg=WIDGETS, timeout=10_000)
    for _ in range(20):  # the kernel answers the panel's ask in its own time
        state = kernel.state()
        if state["details"] != "None":
            break
    assert state["details"] == state["index"], state
    assert details.is_visible()
    widget.evaluate("(el) => el.focus()")
    outline = widget.evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # the focus ring
    widget.screenshot(path=str(ARTIFACTS / "lab-keys-focus.png"))

    # JupyterLab's command-mode keys do nothing while the widget has focus
    cells = _cells(page)
    page.wait_for_timeout(300)
    widget.evaluate("(el) => el.focus()")
    for key in ("a", "b", "x", "d", "d", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    assert widget.evaluate("(el) => el.contains(document.activeElement)")
    page.wait_for_timeout(500)
    assert _cells(page) == cells
    assert page.locator(WIDGETS).count() == 1  # its cell was not cut

    # a live run started from the notebook: its state changes are announced, politely (an
    # observer in the page records every text the live region takes, with its time)
    page.evaluate("""() => { window.heard = [];
      new MutationObserver((changes) => { for (const m of changes) {
        const node = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        const region = node && node.closest('.pw-live-region');
        if (region && region.textContent) window.heard.push([performance.now(), region.textContent]);
      } }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    lab.run_cell(page, 3)
    lab.wait_output(page, 3, r"RUN \S+ \w+", timeout=120_000)
    lab.run_cell(page, 4)
    live = page.locator(WIDGETS).nth(1)
    page.wait_for_function("(s) => document.querySelectorAll(s)[1]?.dataset.rendered === '1'",
                           arg=WIDGETS, timeout=60_000, polling=100)
    region = live.locator(".pw-live-region")
    assert region.get_attribute("aria-live") == "polite"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 90:
        if live.locator(".pw-badge").inner_text() == "Completed" and \
                not live.locator(".pw-live").is_visible():
            break
        page.wait_for_timeout(100)
    live.screenshot(path=str(ARTIFACTS / "lab-keys-live.png"))
    heard = [(ms / 1000, text) for ms, text in page.evaluate("() => window.heard")]
    assert len(heard) >= 2, heard
    assert all(re.fullmatch(r"(stage\S* [A-Z]\w+(; )?)+|\d+ task runs changed state: .+", text)
               for _, text in heard), heard
    assert any(re.search(r"stage\S* Running", text) for _, text in heard), heard
    assert any(re.search(r"stage\S* Completed", text) for _, text in heard), heard
    gaps = [b[0] - a[0] for a, b in zip(heard, heard[1:])]
    assert min(gaps) >= 0.95, heard  # at most one announcement a second
    assert re.match(r"Flow run \S+: \d+ task runs?, ", live.get_attribute("aria-label"))
    lab.wait_output(page, 4, r"\b0\s*$", timeout=60_000)

    # the control: the same key in command mode, with the notebook focused, does add a cell
    lab.command(page, "notebook:enter-command-mode")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").focus()
    page.keyboard.press("b")
    page.wait_for_function("([s, n]) => document.querySelectorAll(s).length === n",
                           arg=[CELLS, cells + 1], timeout=10_000)
    assert not [e for e in page.errors if "blob:" in e or "jupyterlab-manager" not in e], page.errors
