"""The package's shape (docs/architecture.md): layers, no import cycles, typed entry points."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import prefect_widgets

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "prefect_widgets"
BIN = Path(sys.executable).parent
#: modules above ~400 lines must say why in their docstring, after "Long module:"
MAX_LINES = 420


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """module -> modules of the package it imports (anywhere in the file, TYPE_CHECKING too)."""
    modules = {_module_name(p, package.parent): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        base = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                root = base[: len(base) - node.level + 1] if node.level else []
                module = ".".join(root + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_inside_the_package():
    graph = import_graph(PACKAGE)
    # the package's face re-exports everything; what matters is below it
    graph.pop("prefect_widgets", None)
    for targets in graph.values():
        targets.discard("prefect_widgets")
    assert cycles(graph) == []


def test_cycle_detector_sees_a_planted_cycle(tmp_path):
    planted = tmp_path / "prefect_widgets"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    (planted / "a.py").write_text("def f():\n    from .b import g\n")
    (planted / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from . import a\n")
    assert cycles(import_graph(planted)) == [["prefect_widgets.a", "prefect_widgets.b"]]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(cwd), "PATH": str(BIN)})


def test_layer_contracts_hold():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_layer_contracts_are_live(tmp_path):
    """A copy of the package with one upward import (the model importing presentation)."""
    copy = tmp_path / "prefect_widgets"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    records = copy / "records.py"
    records.write_text(records.read_text("utf-8") + "\n\ndef _planted():\n"
                       "    from . import report  # noqa: F401\n", "utf-8")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0
    assert "prefect_widgets.records -> prefect_widgets.report" in done.stdout


def test_ruff_and_mypy_pass_and_catch_planted_faults(tmp_path):
    for tool in (["ruff", "check", "prefect_widgets", "tests", "benchmarks"], ["mypy"]):
        done = subprocess.run([str(BIN / tool[0]), *tool[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:]
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f() -> int:\n    return 'x'\n")
    ruff = subprocess.run([str(BIN / "ruff"), "check", "--config", str(ROOT / "pyproject.toml"),
                           str(bad)], capture_output=True, text=True)
    assert ruff.returncode != 0 and "F401" in ruff.stdout
    mypy = subprocess.run([str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"),
                           str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert mypy.returncode != 0 and "Incompatible return value" in mypy.stdout


#: public callables whose value is the user's own data, of any type
RETURNS_USER_DATA = {"get_result"}


def _public_callables() -> list[tuple[str, object]]:
    found = []
    for name in prefect_widgets.__all__:
        obj = getattr(prefect_widgets, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or attr in RETURNS_USER_DATA:
                    continue
                func = getattr(member, "__func__", member)
                if inspect.isfunction(func):
                    found.append((f"{name}.{attr}", func))
        elif inspect.isfunction(obj):
            found.append((name, obj))
    return found


def test_public_entry_points_do_not_return_any():
    untyped = [name for name, func in _public_callables()
               if inspect.signature(func).return_annotation in ("Any", inspect.Signature.empty)]
    assert untyped == []


def test_modules_stay_small_or_say_why():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text("utf-8").count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
        if lines > MAX_LINES and "long module:" not in doc.lower():
            long.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert long == [], "modules over ~400 lines whose docstring does not say why"


@pytest.mark.parametrize("module", ["records", "rundata", "views", "queries", "states", "logs"])
def test_the_model_never_imports_presentation_or_entry(module):
    graph = import_graph(PACKAGE)
    above = {"prefect_widgets.html", "prefect_widgets.report", "prefect_widgets.widget",
             "prefect_widgets.gantt", "prefect_widgets.plots", "prefect_widgets.analytics",
             "prefect_widgets.cli", "prefect_widgets.extension", "prefect_widgets.lab"}
    reached = {t for t in graph[f"prefect_widgets.{module}"]
               if any(t == a or t.startswith(a + ".") for a in above)}
    assert reached == set()
