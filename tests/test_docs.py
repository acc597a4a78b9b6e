"""The documentation site builds in strict mode with no warning, and reads well in a browser."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKER = "output-saved-by-the-test-run"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """The site built from a clean tree; the first notebook has an executed copy with an output."""
    tmp = tmp_path_factory.mktemp("docs")
    executed = tmp / "notebooks"  # docs/hooks.py wants a folder named notebooks
    executed.mkdir()
    nb = json.loads(NOTEBOOKS[0].read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": [MARKER]}]
    (executed / NOTEBOOKS[0].name).write_text(json.dumps(nb))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PREFECT_WIDGETS_DOCS_NOTEBOOKS": str(executed)}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--site-dir", str(tmp / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")
    return tmp / "site", proc.stdout + proc.stderr


def test_site_builds_in_strict_mode_with_no_warning(built):
    site, log = built
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not warnings, "\n".join(warnings)
    assert (site / "index.html").is_file()
    assert not (ROOT / ".cache" / "mkdocs-jupyter").exists()  # the build writes only site_dir


def test_every_notebook_has_a_page_with_outputs_where_the_test_run_saved_them(built):
    site, _ = built
    pages = {p.stem: (site / "notebooks" / p.stem / "index.html").read_text() for p in NOTEBOOKS}
    assert MARKER in pages[NOTEBOOKS[0].stem]
    assert all(MARKER not in html for name, html in pages.items() if name != NOTEBOOKS[0].stem)
    overview = (site / "notebooks" / "index.html").read_text()
    assert overview.count("from the test run") == 1
    assert overview.count("none (not executed yet)") == len(NOTEBOOKS) - 1


def test_api_reference_lists_the_public_names(built):
    site, _ = built
    pages = "".join(p.read_text() for p in (site / "reference").rglob("index.html"))
    import prefect_widgets

    missing = [name for name in prefect_widgets.__all__ if name != "__version__" and
               f'id="prefect_widgets.{name}"' not in pages and
               f'id="prefect_widgets.errors.{name}"' not in pages and
               f'id="prefect_widgets.widget.{name}"' not in pages and
               f'id="prefect_widgets.{name}.' not in pages]
    assert not missing, f"public names with no API entry: {missing}"


def test_reliability_page_explains_every_error(built):
    site, _ = built
    page = (site / "guides" / "reliability" / "index.html").read_text()
    import prefect_widgets.errors

    unexplained = [name for name in prefect_widgets.errors.__all__
                   if f'href="../../reference/errors/#prefect_widgets.errors.{name}"' not in page]
    assert not unexplained, f"errors missing from the reliability table: {unexplained}"


@pytest.fixture
def served(built) -> Iterator[str]:
    site, _ = built
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@pytest.mark.browser
def test_browser_finds_the_flow_run_view_api_page(served, page):
    page.set_viewport_size({"width": 1300, "height": 900})  # wide enough for the nav sidebar
    page.goto(served)
    page.locator('nav a[href$="reference/views/"]').first.click()  # API reference > Views
    page.wait_for_url("**/reference/views/")
    heading = page.locator('[id="prefect_widgets.FlowRunView"]')
    assert "FlowRunView" in heading.inner_text()
    method = page.locator('[id="prefect_widgets.FlowRunView.get_task_run"]')
    method.scroll_into_view_if_needed()
    assert method.is_visible() and "get_task_run" in method.inner_text()
    body = page.locator('[id="prefect_widgets.FlowRunView.get_task_run"] + div')
    assert "task_slug" in body.inner_text()
    assert not page.errors, page.errors
