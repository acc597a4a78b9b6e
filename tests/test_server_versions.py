"""The server-version matrix (issue 22): a contract subset of the real-server suite, against
each Prefect server version in its own cached venv (`tests/server_matrix.py`).

One server per version for the module, populated by `tests/matrix_flows.py` run with that
venv's python: one flow run (a logging task, mapped tasks, a task failing after two retries,
a subflow, a tag) covers every row of the table, where five flow runs did before. Each test
records what it measured per (version, feature) in `MEASURED`; the module's last test
(`test_readme_support_table`, kept last by `tests/conftest.py`) writes
`tests/artifacts/server-matrix.md` and compares README's table with it (`UPDATE_README=1`
rewrites README instead).
3.8.8 keeps a server of its own: the main session's samples carry neither the tag, the named
mapped runs nor the retried failure this contract reads, and the contract's flow may not be
added to the session's server (other tests count its runs).
Cost (measured under load, 2 cores): ~4.5-5 min warm, the venvs' build adds ~1 min cold.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from server_matrix import MAIN_VERSION, MAPPED, VERSIONS, build_server_venvs, matrix_server
from typer.testing import CliRunner

import prefect_widgets
from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.cli import app
from prefect_widgets.client import Client
from prefect_widgets.errors import NotFound, UnsupportedByServer
from prefect_widgets.records import task_runs_frame
from prefect_widgets.rundata import graph_nodes_since
from prefect_widgets.server_info import older_than, server_version, version_tuple

pytestmark = pytest.mark.server_matrix

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = Path(__file__).parent / "artifacts" / "server-matrix.md"
START, END = "<!-- server-matrix:start -->", "<!-- server-matrix:end -->"

#: newest first; 3.8.8 is the main suite's server (the project's venv), the others are cached
MATRIX = [MAIN_VERSION, *sorted(VERSIONS, key=lambda v: tuple(map(int, v.split("."))),
                                 reverse=True)]
#: feature -> README row
FEATURES = {
    "version": "server version read (`/api/admin/version`)",
    "view": "`FlowRunView`: from id, `get_latest`, state, flow, tags",
    "frame": "task-run frame: dtypes, retries",
    "map_index": "`map_index` of mapped task runs",
    "slug": "`get_task_run` by task name, a subflow's parent task run too",
    "logs": "logs, level filter",
    "counts": "counts by state",
    "queries": "queries with filters",
    "timeline": "timeline nodes",
    "cli": "CLI `flow-run ls`, `task-run ls`",
    "html": "HTML repr",
}
#: task runs of the matrix flow: say_hello, the squares, the subflow's, the retried one
TASK_RUNS = MAPPED + 3
#: version -> feature -> what was measured
MEASURED: dict[str, dict[str, str]] = {}


@dataclass
class Matrix:
    version: str
    api_url: str
    run_id: str

    def record(self, feature: str, cell: str = "yes") -> None:
        MEASURED.setdefault(self.version, {})[feature] = cell


@pytest.fixture(scope="session")
def server_venvs(request: pytest.FixtureRequest) -> None:
    """Every selected version's venv, built side by side before the first server starts."""
    calls = [getattr(item, "callspec", None) for item in request.session.items]
    build_server_venvs({call.params["matrix_module"] for call in calls
                        if call is not None and "matrix_module" in call.params})


@pytest.fixture(scope="module", params=MATRIX)
def matrix_module(request: pytest.FixtureRequest, server_venvs: None,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    version = request.param
    with matrix_server(version, tmp_path_factory.mktemp(f"prefect-{version}")) as (server, run):
        yield Matrix(version, server.api_url, run)


@pytest.fixture
def matrix(matrix_module: Matrix, monkeypatch: pytest.MonkeyPatch) -> Matrix:
    """The version's server, configured as the library's (and the CLI's) API."""
    monkeypatch.setenv("PREFECT_API_URL", matrix_module.api_url)
    prefect_widgets.configure(api_url=matrix_module.api_url)
    return matrix_module


def test_server_version_is_read_once(matrix):
    with Client(matrix.api_url) as client:
        assert server_version(client) == matrix.version
        assert server_version(client) == matrix.version
    matrix.record("version")


def test_flow_run_view(matrix):
    run = FlowRunView.from_flow_run_id(matrix.run_id)
    assert run.state.is_failed() and run.name and run.end_time is not None
    assert run.flow.name == "matrix"
    assert "matrix" in run.tags
    latest = run.get_latest()
    assert latest.flow_run_id == run.flow_run_id and latest.state.is_failed()
    matrix.record("view")


def test_task_runs_frame(matrix):
    frame = FlowRunView.from_flow_run_id(matrix.run_id).to_dataframe()
    expected = task_runs_frame([]).dtypes.astype(str).to_dict()
    assert frame.dtypes.astype(str).to_dict() == expected
    (flaky,) = frame[frame["task_name"] == "write_to_warehouse"].itertuples()
    assert (flaky.state_type, flaky.run_count, flaky.retries, flaky.max_retries) == (
        "FAILED", 3, 2, 2)
    (hello,) = frame[frame["task_name"] == "say_hello"].itertuples()
    assert (hello.state_type, hello.retries, hello.max_retries) == ("COMPLETED", 0, 0)
    matrix.record("frame")


def test_map_index_is_the_true_index_or_flagged(matrix):
    frame = FlowRunView.from_flow_run_id(matrix.run_id).to_dataframe()
    mapped = frame[frame["task_key"].str.startswith("square-")]
    assert len(mapped) == MAPPED and mapped["mapped"].all()
    assert (mapped["task_name"] == "square").all()
    assert not frame.loc[frame["task_name"] != "square", "mapped"].any()
    true_index = mapped["name"].str.removeprefix("square-").astype(int)
    exact = mapped["map_index"].astype(int) == true_index
    assert (exact | mapped["map_index_uncertain"]).all(), mapped[~exact]
    assert sorted(mapped["map_index"]) == list(range(MAPPED))
    stored = mapped["dynamic_key"].str.isdigit().all()  # Prefect 2 keeps the index there
    assert not stored or (exact.all() and not mapped["map_index_uncertain"].any())
    matrix.record("map_index", "exact (stored by the server)" if stored else
                  "derived; guesses flagged `map_index_uncertain`")


def test_get_task_run_by_task_name(matrix):
    run = FlowRunView.from_flow_run_id(matrix.run_id)
    assert run.get_task_run("say_hello").task_name == "say_hello"
    assert run.get_task_run("square", map_index=3).map_index == 3
    task = run.get_task_run("matrix-child")
    assert task.kind == "subflow-run"
    (child,) = FlowRunView.query(flow_name="matrix-child")
    assert task.child_flow_run_id == child.flow_run_id
    assert child.parent_flow_run.flow_run_id == run.flow_run_id
    with pytest.raises(NotFound, match="No task run matches slug 'matrix-nothing'"):
        run.get_task_run("matrix-nothing")
    matrix.record("slug")


def test_logs(matrix):
    run = FlowRunView.from_flow_run_id(matrix.run_id)
    logs = run.get_logs()
    messages = [entry.message for entry in logs]
    assert "Saying hello to world" in messages and "Hello, world!" in messages
    said = next(entry for entry in logs if entry.message == "Hello, world!")
    assert said.task_name == "say_hello"
    errors = run.get_logs(level="ERROR")
    assert "Warehouse connection refused" in [entry.message for entry in errors]
    assert "Hello, world!" not in [entry.message for entry in errors]
    matrix.record("logs")


def test_counts_by_state(matrix):
    # the run failed (its retried task did), its subflow completed
    assert FlowRunView.count_by_state(tags=["matrix"]) == {"COMPLETED": 1, "FAILED": 1}
    # say_hello, the squares and the subflow's task run completed; the retried task failed
    assert TaskRunView.count_by_state(flow_run_id=matrix.run_id) == {
        "COMPLETED": MAPPED + 2, "FAILED": 1}
    matrix.record("counts")


def test_queries_with_filters(matrix):
    failed = FlowRunView.query(tags=["matrix"], state_type="FAILED")
    assert [r.flow_run_id for r in failed] == [matrix.run_id]
    assert [r.flow_run_id for r in FlowRunView.query(flow_name="matrix")] == [matrix.run_id]
    page = TaskRunView.query(flow_run_id=matrix.run_id, limit=5, offset=5)
    assert len(page) == 5 and page.total == TASK_RUNS
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    started = TaskRunView.count(flow_run_id=matrix.run_id, start_time_after=an_hour_ago)
    assert started == TASK_RUNS
    try:
        expected = TaskRunView.query(flow_run_id=matrix.run_id, limit=None,
                                     expected_start_time_after=an_hour_ago)
    except UnsupportedByServer as refused:
        assert (refused.minimum_version, refused.server_version) == ("3.0.0", matrix.version)
        assert matrix.version.startswith("2.")
        matrix.record("queries", "yes; `expected_start_time_*`: `UnsupportedByServer`")
        return
    assert len(expected) == TASK_RUNS
    matrix.record("queries")


def test_timeline_nodes(matrix):
    graph = httpx.get(f"{matrix.api_url}/flow_runs/{matrix.run_id}/graph-v2", timeout=30)
    run = FlowRunView.from_flow_run_id(matrix.run_id)
    frame = run.to_dataframe()
    with Client(matrix.api_url) as client:
        nodes = graph_nodes_since(client, matrix.run_id)
    # a subflow is a node of its own flow run's id; every other node is a task run
    tasks, subflows = frame[frame["kind"] == "task-run"], frame[frame["kind"] == "subflow-run"]
    task_nodes = nodes[nodes["kind"] == "task-run"]
    assert task_nodes["state_type"].astype(str).to_dict() == (
        tasks["state_type"].astype(str).to_dict())
    assert set(nodes.index.difference(task_nodes.index)) == set(subflows["child_flow_run_id"])
    timeline = run.to_dataframe(columns="timeline")
    assert set(timeline.index) == set(frame.index)
    matrix.record("timeline", "graph-v2" if graph.status_code == 200 else
                  "from task-run records (no graph-v2)")


def _cli_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, ["--output", "json", *args])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def test_cli_listings(matrix):
    (listed_run,) = _cli_json("flow-run", "ls", "--flow", "matrix")
    assert listed_run["flow_run_id"] == matrix.run_id
    assert listed_run["state_type"] == "FAILED"
    listed = _cli_json("task-run", "ls", matrix.run_id, "--limit", "0")
    assert len(listed) == TASK_RUNS
    # the subflow's task run is named after its flow (3.x) or its function (2.20)
    subflow = {"matrix-child"} if matrix.version.startswith("3.") else {"child"}
    assert {row["task_name"] for row in listed} == {
        "say_hello", "square", "write_to_warehouse", *subflow}
    matrix.record("cli")


def test_html_repr(matrix):
    html = FlowRunView.from_flow_run_id(matrix.run_id)._repr_html_()
    assert "matrix" in html and "Failed" in html
    assert "write_to_warehouse" in html
    matrix.record("html")


# --------------------------------------------------------------------------- the README table


def measured_table() -> str:
    """The support table, one row per feature, one column per version ("FAIL": not held)."""
    lines = ["| feature | " + " | ".join(f"Prefect {v}" for v in MATRIX) + " |",
             "|---|" + "---|" * len(MATRIX)]
    for feature, label in FEATURES.items():
        cells = [MEASURED.get(v, {}).get(feature, "FAIL") for v in MATRIX]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_readme_support_table():
    """README's table between the markers is the measured one (`UPDATE_README=1` writes it)."""
    untested = [v for v in MATRIX if v not in MEASURED]
    if untested:
        pytest.skip(f"versions not run in this session: {', '.join(untested)}")
    table = measured_table()
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(table + "\n")
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(START, 1)
    current, tail = rest.split(END, 1)
    if os.environ.get("UPDATE_README") == "1":
        (ROOT / "README.md").write_text(f"{head}{START}\n{table}\n{END}{tail}")
        return
    diff = "\n".join(difflib.unified_diff(current.strip().splitlines(), table.splitlines(),
                                          "README.md", "measured", lineterm=""))
    assert current.strip() == table, (
        f"README's server table differs from the measured one (UPDATE_README=1 rewrites "
        f"it):\n{diff}")


def test_versions_compare_numerically():
    assert version_tuple("3.4.25.dev1") == (3, 4, 25) and version_tuple("unknown") == ()
    assert older_than("2.20.27", "3.0.0") and older_than("3.9.1", "3.10.0")
    assert not older_than("3.0.0", "3.0.0") and not older_than("unknown", "3.0.0")
