"""A small harness for browser tests: a private JupyterLab server driven by Playwright, the
widget helpers (rendered, a bar under the mouse), and offline pages on local files.

JupyterLab gets its own runtime, settings and workspace directories (extensions still come
from `sys.prefix/share/jupyter`), no token, no news pop-up, and exposes `window.jupyterapp`
so tests can run application commands (theme switch, run a cell) without hunting menus.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

#: Debian's Chromium (`./dev test` apt-installs it); another one with PREFECT_WIDGETS_CHROMIUM
CHROMIUM = os.environ.get("PREFECT_WIDGETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: the live widget of the notebook on show
WIDGET = ".jp-NotebookPanel:not(.lm-mod-hidden) .pw-widget"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells (nbformat 4) with the default Python 3 kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))
    return path


class JupyterLab:
    """`jupyter lab` in a subprocess on a free loopback port, rooted at `root`; subclasses
    name another Jupyter app (`APP`, the flag that exposes it to the page: `EXPOSE`)."""

    APP = "lab"
    EXPOSE = "--LabApp.expose_app_in_browser=True"
    #: the server's token ("" : no authentication)
    TOKEN = ""

    def __init__(self, root: Path, state: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state / "jupyterlab.log"

    def _settings(self) -> Path:
        settings = self.state / "settings"
        apputils = settings / "@jupyterlab" / "apputils-extension"
        apputils.mkdir(parents=True, exist_ok=True)
        (apputils / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return settings

    def start(self, timeout: float = 60.0) -> JupyterLab:
        env = {**self.env,
               "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"),
               "JUPYTERLAB_SETTINGS_DIR": str(self._settings()),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.state / "workspaces"),
               "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "jupyter", self.APP, "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.TOKEN}", "--ServerApp.password=",
               f"--ServerApp.root_dir={self.root}", "--ServerApp.allow_root=True",
               self.EXPOSE, "--ServerApp.port_retries=0"]
        self._log_file = open(self.log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.APP} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/status", headers=self.auth(),
                             timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"jupyter {self.APP} did not start in {timeout} s:\n"
                           f"{self.log.read_text()[-3000:]}")

    def auth(self) -> dict[str, str]:
        """The header a client of the server's REST API sends (none without a token)."""
        return {"Authorization": f"token {self.TOKEN}"} if self.TOKEN else {}

    def stop(self) -> None:
        """Stop the server and its kernels (the whole process group we started)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        self._log_file.close()

    # ---- page helpers

    def open_notebook(self, page: Any, name: str, timeout: float = 60_000) -> None:
        """Open a notebook and wait until its kernel is idle and every cell is rendered."""
        import nbformat

        cells = len(nbformat.read(str(self.root / name), as_version=4).cells)
        page.goto(f"{self.url}/lab/tree/{name}?reset")
        page.wait_for_selector(".jp-NotebookPanel", timeout=timeout)
        page.wait_for_function(
            """(n) => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')
                        .length === n
                     && /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')
                                                  ?.textContent || '')""",
            arg=cells, timeout=timeout, polling=100)

    def run_all(self, page: Any) -> None:
        page.locator('#jp-MainMenu .lm-MenuBar-item:has-text("Run")').click()
        page.locator('li[data-command="runmenu:run-all"]').click()

    def open_and_run(self, page: Any, name: str, cells: list[str]) -> float:
        """Write notebook `name` of `cells`, open it and run all; the `time.monotonic()` at
        which the run started."""
        write_notebook(self.root / name, cells)
        self.open_notebook(page, name)
        started = time.monotonic()
        self.run_all(page)
        return started

    def command(self, page: Any, command: str, args: dict[str, Any] | None = None) -> Any:
        return page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a)",
                             [command, args or {}])

    def run_cell(self, page: Any, index: int) -> None:
        """Make cell `index` of the open notebook active and run it."""
        page.evaluate("""(i) => { const nb = window.jupyterapp.shell.currentWidget.content;
                                   nb.activeCellIndex = i; nb.deselectAll(); }""", index)
        self.command(page, "notebook:run-cell")

    @staticmethod
    def cell(page: Any, index: int) -> Any:
        return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(index)

    def wait_output(self, page: Any, index: int, pattern: str, timeout: float = 60_000) -> str:
        """Wait until cell `index`'s output text matches the regex `pattern`; return the text."""
        page.wait_for_function(
            """([i, p]) => {
                 const cell = document.querySelectorAll(
                   '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')[i];
                 const out = cell && cell.querySelector('.jp-OutputArea');
                 return out && new RegExp(p).test(out.innerText);
               }""", arg=[index, pattern], timeout=timeout, polling=100)
        return self.cell(page, index).locator(".jp-OutputArea").inner_text()

    def shutdown_kernels(self, page: Any) -> None:
        """Delete every session (and so its kernel), with the page's XSRF cookie."""
        cookies = {c["name"]: c["value"] for c in page.context.cookies(self.url)}
        token = cookies.get("_xsrf", "")
        with httpx.Client(base_url=self.url, cookies=cookies, timeout=10,
                          headers={"X-XSRFToken": token}) as http:
            for session in http.get("/api/sessions").json():
                http.delete(f"/api/sessions/{session['id']}")


def wait_rendered(page: Any, selector: str = WIDGET, timeout: float = 60_000) -> dict[str, Any]:
    """Wait until the widget at `selector` has drawn; its `data-*` attributes and the page's
    clock (`now`)."""
    page.wait_for_function(
        "(s) => { const el = document.querySelector(s); return el && el.dataset.rendered === '1'; }",
        arg=selector, timeout=timeout, polling=50)
    return page.evaluate("(s) => ({...document.querySelector(s).dataset, now: Date.now()})",
                         selector)


def find_bar(page: Any, widget: Any) -> tuple[float, float]:
    """Sweep the mouse over the widget's canvas until the tooltip shows over a bar; return
    that point (the mouse stays there)."""
    box = widget.locator("canvas.pw-canvas").bounding_box()
    tooltip = widget.locator(".pw-tooltip")
    for fy in [0.1 + 0.05 * i for i in range(17)]:
        for fx in [0.05 + 0.05 * i for i in range(19)]:
            x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
            page.mouse.move(x, y)
            if tooltip.is_visible():
                return x, y
    raise AssertionError("no bar found under the mouse anywhere on the canvas")


def require_chromium() -> None:
    """Skip the calling test, with the reason, when there is no Chromium to drive."""
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run the tests with `./dev test` (it installs "
                    "Debian's chromium) or set PREFECT_WIDGETS_CHROMIUM")


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`); skips
    the test when it is missing."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def offline_page(browser: Any, path: Path, *, width: int = 1200, height: int = 900,
                 scheme: str = "light", javascript: bool = True) -> Any:
    """A page (in its own context: close `page.context`) on the local file `path`, any other
    request refused; `page.requests` records every URL asked for, `page.errors` the JS
    errors."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme=scheme, java_script_enabled=javascript)
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url == path.as_uri() else route.abort())
    page.goto(path.as_uri())
    return page


@contextmanager
def lab_page(browser: Any, lab: JupyterLab, artifacts: Path, height: int) -> Iterator[Any]:
    """A fresh page that records JS errors in `page.errors`; kernels shut down afterwards."""
    artifacts.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        try:
            lab.shutdown_kernels(page)
        finally:
            context.close()


class JupyterServer(JupyterLab):
    """`jupyter server` alone, with a token: the server extensions' routes, no front end."""

    APP = "server"
    EXPOSE = "--ServerApp.open_browser=False"
    TOKEN = "pw-jupyter-token"


class Notebook7(JupyterLab):
    """`jupyter notebook` (Notebook 7) with the harness's isolated dirs: a notebook opens on
    its own page (`/notebooks/NAME`), with no status bar; `window.jupyterapp` runs commands."""

    APP = "notebook"
    EXPOSE = "--JupyterNotebookApp.expose_app_in_browser=True"

    def open_notebook(self, page: Any, name: str, timeout: float = 60_000) -> None:
        """Open a notebook and wait until its kernel is idle and every cell is rendered."""
        import nbformat

        cells = len(nbformat.read(str(self.root / name), as_version=4).cells)
        page.goto(f"{self.url}/notebooks/{name}")
        page.wait_for_function(
            """(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === n
                     && window.jupyterapp?.shell?.currentWidget?.sessionContext?.session
                          ?.kernel?.status === 'idle'""",
            arg=cells, timeout=timeout, polling=100)

    def run_all(self, page: Any) -> None:
        self.command(page, "notebook:run-all-cells")
