"""`%%prefect_watch` in a real JupyterLab, driven by headless Chromium (issue 9 acceptance).

A notebook loads the extension and runs a small Prefect flow inside a `%%prefect_watch` cell,
in the kernel itself (PREFECT_API_URL points at the session's server). While the cell runs,
a live widget appears below it and its bars grow; when the cell ends the widget shows the
final state with one bar per task run the server recorded.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from lab import JupyterLab, chromium_browser, lab_page, require_chromium, write_notebook

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.samples import wait_until_recorded

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
TASKS = 8

WATCH_CELL = """\
%%prefect_watch --interval 0.5
import time
from prefect import flow, task

@task
def step(i):
    time.sleep(0.5)
    return i

@flow(name={flow_name!r})
def watched():
    return [step(i) for i in range({tasks})]

print("FLOW RESULT", watched())
"""


@pytest.fixture(scope="module")
def lab(prefect_server, tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab-watch-notebooks")
    state = tmp_path_factory.mktemp("lab-watch-state")
    # Prefect's INFO logs would push the widget out of the screenshot; warnings still show.
    env = {**prefect_server.env(), "PREFECT_LOGGING_LEVEL": "WARNING"}
    server = JupyterLab(root, state, env=env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=1100) as page:
        yield page


def _cell_running(page, index: int) -> bool:
    """True while cell `index` shows the busy prompt `[*]`."""
    return page.evaluate(
        """([panel, i]) => {
             const cell = document.querySelectorAll(`${panel} .jp-Cell`)[i];
             const prompt = cell && cell.querySelector('.jp-InputPrompt');
             return !!prompt && prompt.innerText.includes('*');
           }""", [PANEL, index])


def test_prefect_watch_shows_a_live_widget_that_ends_completed(lab: JupyterLab, page, api_url):
    flow_name = f"lab-watch-{uuid.uuid4().hex[:8]}"
    name = "watch.ipynb"
    write_notebook(lab.root / name, [
        "%load_ext prefect_widgets",
        WATCH_CELL.format(flow_name=flow_name, tasks=TASKS),
        "print('AFTER WATCH')",
    ])
    lab.open_notebook(page, name)
    t0 = time.monotonic()
    lab.run_all(page)

    widget = lab.cell(page, 1).locator(".jp-OutputArea .pw-widget")
    widget.wait_for(state="attached", timeout=90_000)  # the kernel imports Prefect first
    appeared_at = time.monotonic() - t0

    # Sample the widget while the cell is still running: (seconds, badge, bars).
    seen: list[tuple[float, str, int]] = []
    running_samples = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = _cell_running(page, 1)
        badge = widget.locator(".pw-badge").inner_text() if widget.count() else ""
        bars = int(widget.get_attribute("data-bars") or 0)
        if running:
            running_samples += 1
            if not seen or seen[-1][1:] != (badge, bars):
                seen.append((round(time.monotonic() - t0, 2), badge, bars))
        else:
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail(f"the watch cell was still running after 60 s: {seen}")

    lab.wait_output(page, 2, r"AFTER WATCH", timeout=30_000)
    out = lab.cell(page, 1).locator(".jp-OutputArea").inner_text()
    assert f"FLOW RESULT {list(range(TASKS))}" in out, out
    assert "Traceback" not in out and "no flow runs started" not in out, out

    # The server's view of the run the cell started.
    runs = FlowRunView.query(flow_name=flow_name)
    assert len(runs) == 1, runs
    run = runs[0]
    wait_until_recorded(api_url, [run.flow_run_id])
    expected = TaskRunView.count(flow_run_id=run.flow_run_id)
    assert expected == TASKS

    # While the cell ran, the live widget grew: at least two different bar counts, below
    # the final count at first.
    bar_values = sorted({b for _, _, b in seen})
    assert len(bar_values) >= 2, seen
    assert bar_values[0] < expected, seen

    # After the cell: the final state and one bar per recorded task run.
    assert len(page.locator(f"{PANEL} .pw-widget").all()) == 1  # one display per run
    page.wait_for_function(
        """(el) => el.querySelector('.pw-badge')?.innerText === 'Completed'""",
        arg=widget.element_handle(), timeout=30_000, polling=100)
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.bars) === n",
        arg=[widget.element_handle(), expected], timeout=30_000, polling=100)
    assert widget.locator(".pw-badge").inner_text() == "Completed"
    assert flow_name in widget.locator(".pw-flow-name").inner_text()

    lab.cell(page, 1).scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    lab.cell(page, 1).screenshot(path=str(ARTIFACTS / "lab-prefect-watch.png"))
    (ARTIFACTS / "lab-prefect-watch.json").write_text(json.dumps(
        {"widget_appeared_s": round(appeared_at, 2), "running_samples": running_samples,
         "timeline": seen, "expected_bars": expected}, indent=2))
    assert page.errors == []
