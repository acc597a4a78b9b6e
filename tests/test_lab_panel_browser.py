"""The Prefect runs panel in a real JupyterLab, driven by headless Chromium (issue 23).

One JupyterLab for the module: its Prefect server is the session's, reached through a proxy
that can drop every connection, with `PREFECT_API_KEY` in its environment and the panel's
refresh interval set to 1 s in the settings registry. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fault_proxy import Fault, FaultProxy
from lab import (
    JupyterLab,
    chromium_browser,
    lab_page,
    require_chromium,
    wait_rendered,
    write_notebook,
)

from prefect_widgets import FlowRunView
from prefect_widgets.queries import count_flow_runs_by_state
from prefect_widgets.states import STATE_COLORS, STATE_COLORS_DARK

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
API_KEY = "pw-panel-browser-secret-8c21"
PANEL = "#prefect-widgets-runs"
ROWS = f"{PANEL} .pw-lab-run"


@pytest.fixture(scope="module")
def proxy(prefect_server):
    proxy = FaultProxy(prefect_server.api_url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def lab(prefect_server, proxy, tmp_path_factory):
    require_chromium()
    state = tmp_path_factory.mktemp("panel-lab-state")
    settings = state / "settings" / "prefect-widgets-frontend"
    settings.mkdir(parents=True)
    (settings / "panel.jupyterlab-settings").write_text(json.dumps({"refreshSeconds": 1}))
    env = {**prefect_server.env(), "PREFECT_API_URL": proxy.api_url, "PREFECT_API_KEY": API_KEY}
    server = JupyterLab(tmp_path_factory.mktemp("panel-notebooks"), state, env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab, ARTIFACTS, height=900) as page:
        yield page


def open_panel(lab: JupyterLab, page, notebook: str | None = None) -> None:
    """Open JupyterLab (on `notebook`, if given) and show the panel until it lists runs."""
    if notebook:
        lab.open_notebook(page, notebook)
    else:
        page.goto(f"{lab.url}/lab?reset")
    page.locator('.jp-SideBar [data-id="prefect-widgets-runs"]').click()
    page.wait_for_selector(ROWS, timeout=60_000)


def shown(page) -> list[tuple[str, str]]:
    rows = page.eval_on_selector_all(ROWS, "rows => rows.map(r => [r.dataset.id, r.dataset.state])")
    return [tuple(row) for row in rows]


def filter_flow(page, flow: str) -> list[str]:
    """Narrow the panel to one flow's runs (by now the session's server holds every earlier
    test's runs, so a sample run need not be among the newest) and wait until it lists what
    the library does; returns those run ids."""
    box = page.locator(f'{PANEL} input[data-filter="flow"]')
    box.fill(flow)
    box.press("Enter")
    ids = [v.flow_run_id for v in FlowRunView.query(flow_name=[flow], limit=50,
                                                     sort="START_TIME_DESC")]
    page.wait_for_function("([sel, ids]) => JSON.stringify([...document.querySelectorAll(sel)]"
                           ".map(r => r.dataset.id)) === JSON.stringify(ids)",
                           arg=[ROWS, ids], timeout=30_000)
    return ids


def flow_of(run_id: str) -> str:
    return FlowRunView.from_flow_run_id(run_id).flow.name


def test_panel_lists_the_servers_runs_states_and_counts(lab, page, runs):
    open_panel(lab, page)
    views = FlowRunView.query(limit=50, sort="START_TIME_DESC")
    assert shown(page) == [(v.flow_run_id, v.state.type) for v in views]
    counts = page.eval_on_selector_all(f"{PANEL} .pw-lab-counts [data-state]",
                                       "els => els.map(e => [e.dataset.state, +e.dataset.count])")
    assert dict(counts) == count_flow_runs_by_state(None)
    # the hostile run's names are text: nothing ran
    filter_flow(page, flow_of(runs["hostile"]))
    hostile = page.locator(f'{ROWS}[data-id="{runs["hostile"]}"] .pw-lab-run-name')
    assert hostile.inner_text() == FlowRunView.from_flow_run_id(runs["hostile"]).name
    assert page.evaluate("window.__pw_xss") is None
    # a failed run's message shows on hover (its title) and under it
    failing = FlowRunView.from_flow_run_id(runs["failing"])
    filter_flow(page, failing.flow.name)
    row = page.locator(f'{ROWS}[data-id="{runs["failing"]}"]')
    assert failing.state.message and row.get_attribute("title") == failing.state.message
    assert page.errors == []


def test_a_filter_narrows_the_list(lab, page, runs):
    open_panel(lab, page)
    flow = FlowRunView.from_flow_run_id(runs["failing"]).flow.name
    page.locator(f'{PANEL} input[data-filter="flow"]').fill(flow)
    page.locator(f'{PANEL} input[data-filter="flow"]').press("Enter")
    expected = [(v.flow_run_id, v.state.type)
                for v in FlowRunView.query(flow_name=[flow], limit=50, sort="START_TIME_DESC")]
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                           arg=[ROWS, len(expected)], timeout=30_000)
    assert shown(page) == expected
    page.locator(f'{PANEL} select[data-filter="state"]').select_option("COMPLETED")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 0 || "
                           "[...document.querySelectorAll(sel)].every(r => r.dataset.state === 'COMPLETED')",
                           arg=ROWS, timeout=30_000)
    assert all(state == "COMPLETED" for _, state in shown(page))


def test_the_list_follows_a_running_flow(lab, page, prefect_server, runs):
    open_panel(lab, page)
    before = filter_flow(page, flow_of(runs["slow"]))
    started: dict[str, str] = {}
    worker = threading.Thread(target=lambda: started.update(prefect_server.run_flows("slow")))
    worker.start()
    try:
        run_id = page.wait_for_function(
            "([sel, before]) => { const row = [...document.querySelectorAll(sel)].find(r =>"
            " r.dataset.state === 'RUNNING' && !before.includes(r.dataset.id) &&"
            " r.querySelector('.pw-lab-duration[data-ticking]')); return row && row.dataset.id; }",
            arg=[ROWS, before], timeout=120_000).json_value()
        running = page.locator(f'{ROWS}[data-id="{run_id}"]')
        ticking = running.locator(".pw-lab-duration")
        first = ticking.inner_text()
        page.wait_for_function("([el, t]) => el.textContent !== t",
                               arg=[ticking.element_handle(), first], timeout=10_000)
    finally:
        worker.join(300)
    assert started["slow"] == run_id
    page.wait_for_selector(f'{ROWS}[data-id="{run_id}"][data-state="COMPLETED"]', timeout=60_000)


def test_insert_cells_that_run(lab, page, runs):
    write_notebook(lab.root / "panel.ipynb", ["1 + 1"])
    open_panel(lab, page, "panel.ipynb")
    filter_flow(page, flow_of(runs["hello"]))
    row = page.locator(f'{ROWS}[data-id="{runs["hello"]}"]')
    row.locator('[data-action="view"]').click()
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.widgets.length === 2")
    source = page.evaluate("window.jupyterapp.shell.currentWidget.content.widgets[1].model.sharedModel.getSource()")
    assert source == ("from prefect_widgets import FlowRunView\n\n"
                      f'FlowRunView.from_flow_run_id("{runs["hello"]}")')
    lab.run_cell(page, 1)
    name = FlowRunView.from_flow_run_id(runs["hello"]).name
    assert name in lab.wait_output(page, 1, name)
    row.locator('[data-action="widget"]').click()
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.widgets.length === 3")
    lab.run_cell(page, 2)
    wait_rendered(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(3) .pw-widget")
    assert page.errors == []


def test_prefect_down_is_said_and_the_panel_recovers(lab, page, proxy):
    open_panel(lab, page)
    proxy.faults.append(Fault("drop", path="/api/"))
    try:
        page.wait_for_selector(f'{PANEL}[data-status="error"]', timeout=60_000)
        assert "Prefect server unreachable" in page.locator(f"{PANEL} .pw-lab-status").inner_text()
    finally:
        proxy.faults.clear()
    page.wait_for_selector(f'{PANEL}[data-status="ok"]', timeout=60_000)
    assert page.locator(f"{PANEL} .pw-lab-status").inner_text() == ""


def test_the_api_key_reaches_no_page_request_or_storage_and_screenshots(lab, page, runs):
    seen: list[str] = []

    def record(response) -> None:
        request = response.request
        body = ""
        if "/prefect-widgets/" in request.url:
            body = response.text()
        seen.append(json.dumps([request.url, request.headers, request.post_data, body]))

    page.on("response", record)
    open_panel(lab, page)
    for _ in range(2):  # two more polls go through `record`
        page.wait_for_event("response", lambda r: "/prefect-widgets/flow-runs" in r.url)
    assert any("/prefect-widgets/flow-runs" in s for s in seen)
    storage = page.evaluate("JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    cookies = json.dumps(page.context.cookies())
    for place in (page.content(), storage, cookies, *seen):
        assert API_KEY not in place
    ARTIFACTS.mkdir(exist_ok=True)
    assert badge_colour(page) == rgb(STATE_COLORS["COMPLETED"])  # the reprs' palette
    page.screenshot(path=str(ARTIFACTS / "lab-panel-light.png"))
    lab.command(page, "apputils:change-theme", {"theme": "JupyterLab Dark"})
    try:
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_selector("#jupyterlab-splash", state="detached")
        assert badge_colour(page) == rgb(STATE_COLORS_DARK["COMPLETED"])
        page.screenshot(path=str(ARTIFACTS / "lab-panel-dark.png"))
    finally:
        lab.command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})


def badge_colour(page) -> str:
    return page.eval_on_selector(f'{PANEL} .pw-lab-counts [data-state="COMPLETED"]',
                                 "el => getComputedStyle(el).backgroundColor")


def rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def test_the_settings_turn_the_panel_off(lab, page):
    settings = lab.state / "settings" / "prefect-widgets-frontend" / "panel.jupyterlab-settings"
    kept = settings.read_text()
    settings.write_text(json.dumps({"enabled": False}))
    try:
        page.goto(f"{lab.url}/lab?reset")
        page.wait_for_selector(".jp-SideBar.jp-mod-left [data-id='filebrowser']")
        page.wait_for_function("() => window.jupyterapp")
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")  # plugins active
        assert page.locator('.jp-SideBar [data-id="prefect-widgets-runs"]').count() == 0
    finally:
        settings.write_text(kept)


def test_copy_id_and_the_prefect_ui_link(lab, page, runs, proxy):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url)
    open_panel(lab, page)
    filter_flow(page, flow_of(runs["hello"]))
    row = page.locator(f'{ROWS}[data-id="{runs["hello"]}"]')
    row.locator('[data-action="copy"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == runs["hello"]
    link = row.locator('[data-action="ui"]')
    assert link.get_attribute("href") == f"{proxy.base_url}/runs/flow-run/{runs['hello']}"
    assert (link.get_attribute("target"), link.get_attribute("rel")) == (
        "_blank", "noopener noreferrer")


def test_the_panel_stops_asking_while_hidden(lab, page):
    open_panel(lab, page)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/prefect-widgets/flow-runs" in r.url
            else None)
    page.locator('.jp-SideBar [data-id="filebrowser"]').click()
    page.wait_for_selector(PANEL, state="hidden")
    asked.clear()
    page.wait_for_timeout(3500)  # three refresh intervals: a poll that kept going would ask
    assert asked == []
    with page.expect_request(lambda r: "/prefect-widgets/flow-runs" in r.url, timeout=5000):
        page.locator('.jp-SideBar [data-id="prefect-widgets-runs"]').click()
