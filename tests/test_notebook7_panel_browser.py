"""The Prefect runs panel in Notebook 7 (issue 23): its shell has a left area too, so the same
extension adds the panel there; it lists the session server's runs and inserts cells into the
notebook on show. The test opens the panel by its id (`shell.activateById`)."""

from __future__ import annotations

import pytest
from lab import Notebook7, chromium_browser, lab_page, require_chromium, write_notebook

from prefect_widgets import FlowRunView

pytestmark = pytest.mark.browser

ROWS = "#prefect-widgets-runs .pw-lab-run"


@pytest.fixture(scope="module")
def notebook(prefect_server, tmp_path_factory):
    require_chromium()
    server = Notebook7(tmp_path_factory.mktemp("nb7-panel"),
                       tmp_path_factory.mktemp("nb7-panel-state"), env=prefect_server.env())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(notebook):
    with chromium_browser() as chromium:
        yield chromium


def test_notebook7_shows_the_panel_and_inserts_a_cell(notebook, browser, tmp_path, runs):
    with lab_page(browser, notebook, tmp_path, height=900) as page:
        write_notebook(notebook.root / "nb7.ipynb", ["1 + 1"])
        notebook.open_notebook(page, "nb7.ipynb")
        page.evaluate("() => window.jupyterapp.shell.activateById('prefect-widgets-runs')")
        page.wait_for_selector(ROWS, timeout=60_000)
        rows = page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.id)")
        assert rows == [v.flow_run_id for v in FlowRunView.query(limit=50, sort="START_TIME_DESC")]
        # the session's server holds every earlier test's runs: find the sample by its flow
        flow = FlowRunView.from_flow_run_id(runs["hello"]).flow.name
        box = page.locator('#prefect-widgets-runs input[data-filter="flow"]')
        box.fill(flow)
        box.press("Enter")
        ids = [v.flow_run_id for v in FlowRunView.query(flow_name=[flow], limit=50,
                                                         sort="START_TIME_DESC")]
        assert runs["hello"] in ids
        page.wait_for_function("([sel, ids]) => JSON.stringify([...document.querySelectorAll(sel)]"
                               ".map(r => r.dataset.id)) === JSON.stringify(ids)",
                               arg=[ROWS, ids], timeout=30_000)
        page.locator(f'{ROWS}[data-id="{runs["hello"]}"] [data-action="view"]').click()
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.content.widgets.length === 2")
        source = page.evaluate("window.jupyterapp.shell.currentWidget.content.widgets[1]"
                               ".model.sharedModel.getSource()")
        assert source.endswith(f'FlowRunView.from_flow_run_id("{runs["hello"]}")')
