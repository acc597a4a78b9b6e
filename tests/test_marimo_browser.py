"""The same FlowRunWidget in marimo (anywidget's other big host, issue 19 item 8): a marimo
app (`marimo run --headless`) shows `mo.ui.anywidget(FlowRunWidget(...))` of a run that is
going on, against the session's Prefect server, in headless Chromium.

The app's cell starts the slow sample flow itself, so the widget is made while the run is
still going and the patches that follow it arrive in the browser through marimo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lab import chromium_browser, find_bar, free_port, require_chromium

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
#: the widget's root; marimo mounts anywidgets in a shadow root, which Playwright's
#: locators pierce
WIDGET = ".pw-widget"
#: slow-pipeline's task runs (prefect_widgets.samples)
SLOW_TASKS = 12

APP = '''\
import marimo

app = marimo.App()


@app.cell
def _():
    import os, subprocess, sys, time

    import httpx
    import marimo as mo

    from prefect_widgets import FlowRunView

    api = os.environ["PREFECT_API_URL"]

    def slow_runs():
        r = httpx.post(f"{api}/flow_runs/filter",
                       json={"flows": {"name": {"any_": ["slow-pipeline"]}}, "limit": 200})
        r.raise_for_status()
        return {x["id"] for x in r.json()}

    before = slow_runs()
    proc = subprocess.Popen([sys.executable, "-m", "prefect_widgets.samples", "slow"],
                            env=os.environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    new, deadline = set(), time.monotonic() + 90
    while not new and time.monotonic() < deadline:
        time.sleep(0.2)
        new = slow_runs() - before
    run = FlowRunView.from_flow_run_id(new.pop())
    view = mo.ui.anywidget(run.widget(live=True, interval=0.5))
    view
    return


if __name__ == "__main__":
    app.run()
'''


@pytest.fixture(scope="module")
def marimo_app(prefect_server, tmp_path_factory) -> Iterator[str]:
    """`marimo run app.py --headless` on a free port, pointed at the test server: its URL."""
    require_chromium()
    root = tmp_path_factory.mktemp("marimo")
    (root / "app.py").write_text(APP)
    port = free_port()
    log = root / "marimo.log"
    env = {**os.environ, **prefect_server.env(), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", str(root / "app.py"), "--headless",
             "--host", "127.0.0.1", "--port", str(port), "--no-token"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"marimo exited:\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"marimo did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture(scope="module")
def browser(marimo_app):
    with chromium_browser() as chromium:
        yield chromium


def _snapshot(widget: Any) -> dict[str, str]:
    return {"bars": widget.get_attribute("data-bars") or "0",
            "badge": widget.locator(".pw-badge").first.inner_text()}


def test_marimo_renders_hovers_and_follows_a_live_run(marimo_app, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(marimo_app)
        widget = page.locator(WIDGET)
        page.locator(f'{WIDGET}[data-rendered="1"]').wait_for(timeout=120_000)
        first = _snapshot(widget)
        seen = [first]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # follow the run through patches, to its end
            now = _snapshot(widget)
            if now != seen[-1]:
                seen.append(now)
            if now["badge"] == "Completed" and int(now["bars"]) == SLOW_TASKS:
                break
            time.sleep(0.2)
        assert seen[-1] == {"bars": str(SLOW_TASKS), "badge": "Completed"}, seen
        assert first["badge"] != "Completed" or int(first["bars"]) < SLOW_TASKS, seen

        widget.scroll_into_view_if_needed()
        find_bar(page, widget)
        tooltip = widget.locator(".pw-tooltip").inner_text()
        assert "stage" in tooltip and "Completed" in tooltip, tooltip
        page.screenshot(path=str(ARTIFACTS / "marimo-widget.png"))
        assert errors == []
    finally:
        context.close()
