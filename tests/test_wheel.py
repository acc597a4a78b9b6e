"""The package as a user gets it: the built wheel, installed into a clean virtual environment.

The wheel is built from this checkout (`pip wheel . --no-deps`, ~3 s). A venv per set of
requirements (the wheel's `Requires-Dist` lines and the extra) is cached under
`$PREFECT_WIDGETS_TEST_CACHE` (default `~/.cache/prefect-widgets-tests`); when only the code
changed, the new wheel replaces the old one with `--no-deps` (~3 s). First run: ~1 min for the
plain venv, ~3 min for the `demo` extra (pip's own cache warm).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("PREFECT_WIDGETS_TEST_CACHE",
                            Path.home() / ".cache" / "prefect-widgets-tests"))


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for each absolute import in `path`."""
    tree = ast.parse(path.read_text())
    at_top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                 and node.module else [])
        found += [(name.split(".")[0], id(node) in at_top) for name in names]
    return found


#: modules only a running Jupyter server imports (the panel's routes): it brings these along
SERVER_SIDE = {"prefect_widgets/lab/_handlers.py": {"jupyter_server", "tornado"}}


def test_every_imported_module_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras = {_requirement_name(r) for reqs in project["optional-dependencies"].values()
              for r in reqs}
    distributions = importlib.metadata.packages_distributions()
    undeclared, optional_at_top = set(), set()
    for path in (ROOT / "prefect_widgets").rglob("*.py"):
        for module, top_level in _imports(path):
            if module in sys.stdlib_module_names or module == "prefect_widgets":
                continue
            names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
            if not names & (core | extras):
                undeclared.add(f"{module} ({path.relative_to(ROOT)})")
            elif (top_level and not names & core
                  and module not in SERVER_SIDE.get(str(path.relative_to(ROOT)), ())):
                optional_at_top.add(f"{module} ({path.relative_to(ROOT)})")
    assert not undeclared, f"imported but not declared in pyproject: {sorted(undeclared)}"
    assert not optional_at_top, f"an extra's module imported at module level: {optional_at_top}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", ".", "--no-deps", "-q", "-w", str(out), timeout=900)
    (built,) = out.glob("prefect_widgets-*.whl")
    return built


def _pip(*args: str, timeout: float) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                         cwd=ROOT, timeout=timeout)
    assert out.returncode == 0, f"pip {' '.join(args)} failed:\n{out.stderr[-3000:]}"


def _clean_venv(wheel: Path, extra: str = "") -> Path:
    """A venv with the wheel (and `extra`) installed from the registry: no `-e`, no test deps."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = sorted(line for line in archive.read(metadata).decode().splitlines()
                          if line.startswith("Requires-Dist:"))
    key = hashlib.sha256("\n".join([sys.version, extra, *requires]).encode()).hexdigest()[:16]
    venv = CACHE / f"venv-{extra or 'plain'}-{key}"
    python = venv / "bin" / "python"
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        _pip("--python", str(python), "install", "-q", target, timeout=1200)
        (venv / ".ready").write_text(target)
    wheel_hash = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if (venv / ".wheel").exists() and (venv / ".wheel").read_text() == wheel_hash:
        return venv
    _pip("--python", str(python), "install", "-q", "--no-deps", "--force-reinstall", str(wheel),
         timeout=300)
    (venv / ".wheel").write_text(wheel_hash)
    return venv


def test_wheel_carries_the_notebooks_and_the_widget(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("prefect_widgets/notebooks/")}
    assert shipped == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert "prefect_widgets/static/widget.js" in names
    assert "prefect_widgets/static/history.js" in names


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.timeout(1800)
def test_pip_install_enables_the_lab_panel_and_its_server_part(wheel, tmp_path):
    """The wheel's shared data puts the prebuilt JupyterLab extension and the server
    extension's switch in place: no `jupyter labextension install`, nothing to enable."""
    data = f"{wheel.name.split('-py')[0]}.data/data/"
    names = set(zipfile.ZipFile(wheel).namelist())
    labext = f"{data}share/jupyter/labextensions/prefect-widgets-frontend/"
    for shipped in ("package.json", "install.json", "static/style.js",
                    "schemas/prefect-widgets-frontend/panel.json"):
        assert labext + shipped in names, shipped
    assert any(n.startswith(f"{labext}static/remoteEntry.") for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/prefect_widgets.json" in names
    venv = _clean_venv(wheel, "demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUPYTER"))}

    def listed(*args: str) -> str:
        out = subprocess.run([venv / "bin" / "jupyter", *args], cwd=tmp_path, timeout=120,
                             env={**env, "HOME": str(tmp_path)}, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        return ANSI.sub("", out.stdout + out.stderr)

    assert re.search(r"prefect-widgets-frontend v\S+ enabled OK \(python, prefect-widgets\)",
                     listed("labextension", "list"))
    servers = listed("server", "extension", "list")
    assert re.search(r"prefect_widgets\.lab enabled", servers)
    assert re.search(r"prefect_widgets\.lab +OK", servers)


IMPORT_EVERY_PUBLIC_MODULE = """
import importlib, importlib.util, pkgutil, sys
import prefect_widgets
names = [m.name for m in pkgutil.walk_packages(prefect_widgets.__path__, "prefect_widgets.")
         if not any(part.startswith("_") for part in m.name.split(".")[1:])]
for name in names:
    importlib.import_module(name)
assert "prefect" not in sys.modules, "a module imported prefect"
assert importlib.util.find_spec("pytest") is None, "the venv is not clean"
print(len(names))
"""


@pytest.mark.timeout(1500)
def test_every_public_module_imports_in_a_clean_venv(wheel, tmp_path):
    venv = _clean_venv(wheel)
    out = subprocess.run([venv / "bin" / "python", "-c", IMPORT_EVERY_PUBLIC_MODULE],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout) > 40


@pytest.mark.timeout(1500)
def test_demo_without_the_demo_extra_says_how_to_install_it(wheel, tmp_path):
    venv = _clean_venv(wheel)
    out = subprocess.run([venv / "bin" / "prefect-widgets", "demo"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "Error: The demo needs prefect (the `demo` extra): pip install 'prefect-widgets[demo]'"]
    assert not list(tmp_path.iterdir())


def _lines(stream) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str | None], pattern: str, seen: list[str],
                timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(seen))


@pytest.mark.timeout(1800)
def test_demo_lab_from_the_wheel_serves_the_notebooks(wheel, tmp_path):
    """`pip install 'prefect-widgets[demo]'`, then `prefect-widgets demo --lab` (as root on
    this machine: JupyterLab needs `--allow-root` there): progress from the first seconds,
    the URL JupyterLab serves with its token, `kill` (or Ctrl-C) stops both servers, next
    steps last. One sample flow (`--sample`): the demo's path is the same for all of them, and
    the session's server runs every sample."""
    venv = _clean_venv(wheel, "demo")
    notebooks = tmp_path / "notebooks"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "JUPYTER"))}
    started = time.monotonic()
    demo = subprocess.Popen(
        [venv / "bin" / "prefect-widgets", "demo", "--lab", "--no-browser",
         "--notebooks-dir", str(notebooks), "--sample", "hello"],
        cwd=tmp_path, env={**env, "HOME": str(tmp_path)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    lines, seen = _lines(demo.stdout), []
    try:
        _read_until(lines, r"^Starting a throwaway Prefect server", seen, timeout=10)
        assert time.monotonic() - started < 10
        prefect_api = _read_until(lines, r"ready at (http://\S+/api)", seen, 120).group(1)
        url = _read_until(lines, r"(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", seen, 600)
        base, token = url.groups()
        assert httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200
        contents = httpx.get(f"{base}/api/contents", params={"token": token}).json()
        names = {item["name"] for item in contents["content"]}
        assert "01_quickstart.ipynb" in names and ".jupyterlab.log" not in names
        assert httpx.get(f"{base}/api/status").status_code == 403  # the token is needed
        demo.send_signal(signal.SIGTERM)  # as `kill` does; Ctrl-C takes the same path
        assert demo.wait(timeout=60) == 0, "\n".join(seen)
    finally:
        if demo.poll() is None:
            demo.kill()
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    assert seen[-3].startswith("Stopped JupyterLab")
    assert seen[-2] == "Stopped the throwaway Prefect server."
    assert seen[-1].startswith("Next: open file://") and "demo-report.html" in seen[-1]
    for gone in (f"{base}/api/status", f"{prefect_api}/health"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(gone, timeout=2)
    assert (notebooks / "01_quickstart.ipynb").exists()


def test_browser_tests_skip_with_a_reason_without_chromium(monkeypatch):
    import lab

    monkeypatch.setattr(lab, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.skip.Exception, match=r"no Chromium at /nonexistent/chromium"):
        with lab.chromium_browser():
            pass


def test_copy_notebooks_keeps_your_edits(tmp_path):
    from prefect_widgets.demo import copy_notebooks

    copies = copy_notebooks(tmp_path / "nb")
    assert [c.name for c in copies] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    copies[0].write_text("{}")
    copy_notebooks(tmp_path / "nb")
    assert copies[0].read_text() == "{}"
    assert copies[1].read_bytes() == (ROOT / "notebooks" / copies[1].name).read_bytes()
