"""A real Prefect 3 server for the whole session, populated by running the sample flows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import prefect_widgets
from prefect_widgets.client import Client
from prefect_widgets.samples import DEBUGGING, run_in_subprocess, wait_until_recorded
from prefect_widgets.server import LocalServer

ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class PrefectServer:
    server: LocalServer
    runs: dict[str, str]

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def home(self) -> Path:
        return self.server.home

    def env(self) -> dict[str, str]:
        return self.server.env()

    def run_flows(self, *names: str) -> dict[str, str]:
        return run_in_subprocess(list(names), self.env(), timeout=300)


#: set by tests/test_pandas2_leg.py for its nested run: the outer session's server and runs
OUTER_API_URL, OUTER_RUNS = "PREFECT_WIDGETS_OUTER_API_URL", "PREFECT_WIDGETS_OUTER_RUNS"


@dataclass
class OuterServer:
    """The outer session's server, lent to a nested run read-only (its runs are counted)."""

    api_url: str
    runs: dict[str, str]

    def run_flows(self, *names: str) -> dict[str, str]:
        pytest.skip("creates flow runs; a nested run only reads the outer session's server")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get(OUTER_API_URL):
        yield OuterServer(os.environ[OUTER_API_URL], json.loads(os.environ[OUTER_RUNS]))
        return
    home = tmp_path_factory.mktemp("prefect-home")
    server = LocalServer(home=home, startup_timeout=300)  # a loaded 2-core machine is slow
    server.start()
    try:
        handle = PrefectServer(server, {})
        handle.runs = handle.run_flows("--hostile")
        wait_until_recorded(server.api_url, list(handle.runs.values()))
        yield handle
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api_url(prefect_server: PrefectServer) -> str:
    return prefect_server.api_url


@pytest.fixture(autouse=True)
def _configured(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Point the library (and child processes) at the test server; isolate user settings."""
    monkeypatch.setenv("PREFECT_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "pw-no-home"))
    for name in ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILE", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    # every read goes to the server (tests count requests); tests/test_cache.py turns the
    # disk cache on in a temp directory of its own
    monkeypatch.setenv("PREFECT_WIDGETS_CACHE", "0")
    if "prefect_server" in request.fixturenames or "api_url" in request.fixturenames:
        url = request.getfixturevalue("api_url")
        monkeypatch.setenv("PREFECT_API_URL", url)
        prefect_widgets.configure(api_url=url)
    else:
        prefect_widgets.configure()
    yield
    prefect_widgets.configure()


@pytest.fixture(scope="session")
def debug_runs(prefect_server: PrefectServer) -> dict[str, str]:
    """The failed runs and the artifacts run of `samples.DEBUGGING` (issue 18), run once."""
    found = prefect_server.run_flows(*DEBUGGING)
    wait_until_recorded(prefect_server.api_url, list(found.values()))
    return found


@pytest.fixture
def client(api_url: str):
    with Client(api_url) as c:
        yield c


@pytest.fixture(scope="session")
def runs(prefect_server: PrefectServer) -> dict[str, str]:
    return prefect_server.runs


class CountingTransport(httpx.HTTPTransport):
    """A real transport that records each request's path (no faking)."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture
def counting(api_url):
    """A client whose transport counts the requests it sends."""
    transport = CountingTransport()
    with Client(api_url, transport=transport) as client:
        yield client, transport


# ------------------------------------------------------------------ a plain browser page
# Debian's Chromium driven by Playwright (tests/lab.py); JupyterLab tests override both.


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the module; skips with the reason when it is missing."""
    from lab import chromium_browser

    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    """A fresh 1200×900 page whose JS errors collect in `page.errors`."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


@pytest.fixture(scope="module")
def lab(prefect_server, tmp_path_factory):
    """JupyterLab 4 for the module, its kernels pointed at the test server (`tests/lab.py`);
    skips with the reason when Chromium is missing. Modules needing other settings override it."""
    from lab import JupyterLab, require_chromium

    require_chromium()
    server = JupyterLab(tmp_path_factory.mktemp("lab-notebooks"),
                        tmp_path_factory.mktemp("lab-state"), env=prefect_server.env())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------ the fault matrix tally
# Tests marked `fault_matrix` are the cases of issue 17's fault matrix: each must end in complete
# data or a typed error within the call's deadline. The summary prints the tally.
_FAULT_TALLY: dict[str, list[str]] = {"passed": [], "failed": []}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "fault_matrix" in report.keywords:
        _FAULT_TALLY["passed" if report.passed else "failed"].append(report.nodeid)
    elif report.when == "setup" and report.failed and "fault_matrix" in report.keywords:
        _FAULT_TALLY["failed"].append(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    passed, failed = len(_FAULT_TALLY["passed"]), len(_FAULT_TALLY["failed"])
    if passed + failed:
        terminalreporter.write_line(
            f"fault matrix: {passed}/{passed + failed} cases ended in complete data or a typed "
            f"error within the call's deadline")
        for nodeid in _FAULT_TALLY["failed"]:
            terminalreporter.write_line(f"  not held: {nodeid}")


# ------------------------------------------------------------------ the server-version matrix
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The matrix's README check runs after every version's tests (pytest groups a module's
    tests by version, which would otherwise move it)."""
    last = [i for i in items if i.name == "test_readme_support_table"]
    items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="module")
def shell():
    """An IPython shell with the extension loaded (one per test module)."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext prefect_widgets", store_history=False)
    yield ip
    ip.run_cell("%unload_ext prefect_widgets", store_history=False)


@pytest.fixture
def prefect_settings(api_url: str):
    """Prefect's own settings pointed at the test server, whatever was imported before."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield
