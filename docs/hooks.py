"""MkDocs hook: the notebooks of notebooks/ as pages, with outputs where the test run left them.

`tests/test_notebooks.py` saves each executed notebook to `tests/artifacts/notebooks/`; a
notebook found there is rendered from that copy (with its outputs), any other from
`notebooks/` as committed (without outputs). The Notebooks page says which is which.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
#: where the test run saves executed notebooks; PREFECT_WIDGETS_DOCS_NOTEBOOKS overrides it
EXECUTED = Path(os.environ.get("PREFECT_WIDGETS_DOCS_NOTEBOOKS")
                or ROOT / "tests" / "artifacts" / "notebooks")

INTRO = """# Notebooks

The notebooks in the repository's `notebooks/` folder, rendered here. The repository keeps
them without outputs; the test suite (`tests/test_notebooks.py`) runs each one against a real
Prefect server and saves the executed copy, which this site shows when the build finds it.
Run `./dev test` (or `pytest tests/test_notebooks.py`) before `./dev docs` to see outputs.

Each notebook connects to `PREFECT_API_URL`, or starts a throwaway server when none is set.

| notebook | outputs |
|---|---|
"""


def _source(path: Path) -> tuple[Path, bool]:
    """The executed copy of a notebook if the test run left one, else the committed one."""
    executed = EXECUTED / path.name
    return (executed, True) if executed.is_file() else (path, False)


def _title(path: Path) -> str:
    """The notebook's first markdown heading, else its file name."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]).strip()
            if text.startswith("#"):
                return text.splitlines()[0].lstrip("#").strip()
    return path.stem


def _index() -> str:
    rows = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        _, executed = _source(path)
        outputs = "from the test run" if executed else "none (not executed yet)"
        rows.append(f"| [{_title(path)}]({path.name}) | {outputs} |")
    return INTRO + "\n".join(rows) + "\n"


def on_config(config):
    """Put every notebook under the Notebooks section of the navigation."""
    pages = [{_title(p): f"notebooks/{p.name}"} for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    for i, item in enumerate(config["nav"]):
        if isinstance(item, dict) and "Notebooks" in item:
            config["nav"][i] = {"Notebooks": [{"Overview": "notebooks/index.md"}, *pages]}
    return config


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config) -> Files:
    """Add the notebooks (executed copies first) and their overview page to the site."""
    files.append(File.generated(config, "notebooks/index.md", content=_index()))
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        source, _ = _source(path)
        # a real source folder (not File.generated): mkdocs-jupyter reads the path through it
        files.append(File(f"notebooks/{path.name}", src_dir=str(source.parent.parent),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files
