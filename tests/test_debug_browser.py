"""Debugging reprs (issue 18) in a browser: hostile artifact content stays inert in
Chromium; text cells read left-aligned and the parameter grid keeps its columns under
JupyterLab's own output CSS; and a failed run's repr in JupyterLab light and dark
(screenshots kept under tests/artifacts/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import JupyterLab, lab_page, write_notebook
from test_debug_display import HOSTILE_MARKDOWN

from prefect_widgets import ArtifactList, FlowRunView
from prefect_widgets.artifacts import artifact_from_json
from prefect_widgets.samples import HOSTILE, PIXEL_PNG

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
PAGE = "<!DOCTYPE html><html><head><meta charset='utf-8'>{}</head><body>{}</body></html>"
#: the rules of JupyterLab 4's output CSS that fought our reprs (see repr.css)
JUPYTER_CSS = """<style>
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon tr { text-align: right; }
.jp-RenderedHTMLCommon table { table-layout: fixed; margin-left: auto; margin-right: auto; }
.jp-OutputArea-output dl, .jp-OutputArea-output dt, .jp-OutputArea-output dd { display: block; }
.jp-OutputArea-output dt { font-weight: bold; float: left; width: 20%; padding: 0; margin: 0; }
.jp-OutputArea-output dd { float: left; width: 80%; padding: 0; margin: 0; }
</style>"""


def _hostile_artifacts() -> ArtifactList:
    rows = [("markdown", HOSTILE_MARKDOWN),
            ("table", [{HOSTILE["img"]: HOSTILE["script"], "link": HOSTILE["url"]}]),
            ("table", {HOSTILE["attr"]: [HOSTILE["img"], f"[x]({HOSTILE['url']})"]}),
            ("markdown", f"[{HOSTILE['img']}]({HOSTILE['url']})"),
            ("image", HOSTILE["url"]), ("image", "http://insecure.example/x.png"),
            ("image", PIXEL_PNG), ("progress", HOSTILE["attr"])]
    return ArtifactList([artifact_from_json(
        {"id": f"00000000-0000-4000-8000-{i:012d}", "key": HOSTILE["attr"], "type": kind,
         "data": data, "description": HOSTILE["img"]}) for i, (kind, data) in enumerate(rows)])


def test_hostile_artifact_content_executes_nothing_in_chromium(page):
    page.set_content(PAGE.format("", _hostile_artifacts()._repr_html_()))
    for element in page.locator(".pw-root *").all()[:400]:
        if element.is_visible():
            element.hover()
    for anchor in page.locator("a").all():  # what a click would open: only http(s), or nothing
        href = anchor.get_attribute("href")
        assert href is None or href.startswith(("https://", "http://")), href
        assert anchor.get_attribute("rel") == "noopener noreferrer"
        assert anchor.get_attribute("target") == "_blank"
    sources = [img.get_attribute("src") for img in page.locator("img").all()]
    assert sources == [PIXEL_PNG]  # the one image from an allowed URL
    assert page.evaluate("() => typeof window.__pw_xss") == "undefined"
    assert page.locator("script, iframe, object, embed").count() == 0
    assert page.errors == []


def test_text_cells_align_left_and_the_grid_keeps_its_columns_under_jupyter_css(page, runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    markup = view._repr_html_()
    host = (f'<div class="jp-OutputArea-output jp-RenderedHTMLCommon jp-RenderedHTML">{markup}'
            "</div>")
    page.set_content(PAGE.format(JUPYTER_CSS, host))
    cells = page.evaluate("""() => Array.from(document.querySelectorAll('.pw-table td'))
        .map(td => [td.className, getComputedStyle(td).textAlign])""")
    assert cells and all(align == ("right" if "pw-num" in cls else "left")
                         for cls, align in cells), cells
    table = page.locator(".pw-table").first.bounding_box()
    wrap = page.locator(".pw-wrap").first.bounding_box()
    assert abs(table["x"] - wrap["x"]) < 2  # not centred
    grids = page.evaluate("""() => Array.from(document.querySelectorAll('.pw-grid')).map(dl =>
        Array.from(dl.children).map(c => [c.tagName, Math.round(c.getBoundingClientRect().x)]))""")
    for children in grids:
        keys = {x for tag, x in children if tag == "DT"}
        values = {x for tag, x in children if tag == "DD"}
        assert len(keys) == 1 and len(values) == 1 and min(values) > max(keys), children


@pytest.fixture(scope="module")
def lab(prefect_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-debug")
    server = JupyterLab(root, tmp_path_factory.mktemp("lab-debug-state"),
                        env=prefect_server.env())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_failed_run_repr_in_jupyterlab_light_and_dark(lab, browser, debug_runs):
    """Screenshots of a failed run (traceback, state history) and of the artifacts run."""
    cells = ["import prefect_widgets as pw",
             f"run = pw.FlowRunView.from_flow_run_id({debug_runs['subflow_error']!r}); run",
             f"pw.FlowRunView.from_flow_run_id({debug_runs['artifacts']!r})"]
    write_notebook(lab.root / "debug.ipynb", cells)
    with lab_page(browser, lab, ARTIFACTS, height=1800) as page:
        lab.open_notebook(page, "debug.ipynb")
        lab.run_all(page)
        lab.wait_output(page, 1, "lookup_region")
        lab.wait_output(page, 2, "Summary")
        page.evaluate("""() => document.querySelectorAll('.pw-root details')
                                 .forEach(d => { d.open = true; })""")
        output = lab.cell(page, 1).locator(".jp-OutputArea")
        assert "LookupError: unknown region 'mars'" in output.inner_text()
        for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            lab.command(page, "apputils:change-theme", {"theme": theme})
            page.wait_for_function(
                "(light) => document.body.dataset.jpThemeLight === light",
                arg="true" if name == "light" else "false", timeout=30_000)
            page.wait_for_timeout(500)
            output.screenshot(path=str(ARTIFACTS / f"debug-repr-{name}.png"))
            lab.cell(page, 2).locator(".jp-OutputArea").screenshot(
                path=str(ARTIFACTS / f"debug-artifacts-{name}.png"))
        lab.command(page, "apputils:change-theme", {"theme": "JupyterLab Light"})
        assert page.errors == []
