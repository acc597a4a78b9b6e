"""The pandas 2.x leg (issue 22): the frame and dtype tests, run again under `pandas<3`.

A cached venv (`tests/server_matrix.py`'s `build_venv`) holds the package's dependencies with
pandas 2 and the test tools, and no Prefect: the checkout itself is put on `PYTHONPATH` (no
build), and the nested run reads this session's server (`prefect_server`) read-only, through
the variables `tests/conftest.py` honours; tests that would create flow runs there skip.
Why: a second server and its samples cost ~85 s here (the session's setup, measured), Prefect
would make the venv 724 MB instead of 520, and what pandas decides does not depend on whose
server answered.
Cost (measured under load, 2 cores, load ~5): the nested run ~40 s once the session's server
is up (run alone: 126 s warm with that server's start and samples, 191 s with a cold venv).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import OUTER_API_URL, OUTER_RUNS
from server_matrix import CACHE, build_venv

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.server_matrix

ROOT = Path(__file__).resolve().parent.parent

# Why these files: they are where pandas itself decides the results. The one reading of REST
# JSON into frames and its dtypes (nullable Int64, categoricals, the string dtype and the
# datetime unit all changed between pandas 2 and 3): test_records_fuzz, test_dataframes; the
# math on those frames: test_analytics; datetimes turned into epoch integers for the widget
# (pandas 3 parses to microseconds, pandas 2 to nanoseconds): test_timeline_encoding. Views,
# reprs, figures and the CLI read the frames these files check. Together ~35 s.
LEG_FILES = ["tests/test_records_fuzz.py", "tests/test_dataframes.py",
             "tests/test_analytics.py", "tests/test_timeline_encoding.py"]
TEST_TOOLS = ["pytest>=8", "pytest-timeout>=2.3", "hypothesis>=6.100", "pyarrow>=14"]


def _requirements() -> tuple[str, ...]:
    """The package's dependencies with pandas pinned below 3, and the test tools."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [d for d in project["dependencies"] if re.split(r"[\s<>=!~;\[]", d)[0] != "pandas"]
    return (*deps, "pandas>=2.3,<3", *TEST_TOOLS)


def test_pandas2_leg(api_url, runs):
    venv = build_venv(CACHE / "pandas2", _requirements())
    python = str(venv / "bin" / "python")
    version = subprocess.run([python, "-c", "import pandas; print(pandas.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("2."), version
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
           OUTER_API_URL: api_url, OUTER_RUNS: json.dumps(runs)}
    env.pop("VIRTUAL_ENV", None)
    before = _flow_run_count(api_url)
    done = subprocess.run([python, "-m", "pytest", *LEG_FILES, "-q",
                           "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = "\n".join(done.stdout.splitlines()[-60:])
    assert done.returncode == 0, f"pandas {version}: the leg failed:\n{tail}\n{done.stderr[-2000:]}"
    assert re.search(r"\d+ passed", tail), tail
    assert _flow_run_count(api_url) == before, "the nested run created flow runs"


def _flow_run_count(api_url: str) -> int:
    return int(httpx.post(f"{api_url}/flow_runs/count", json={}, timeout=30).json())
