"""The IPython extension against the real test server, in a real InteractiveShell."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import prefect_widgets
from prefect_widgets import FlowRunView
from prefect_widgets.extension import display_client

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_watch_magic.ipynb"


def _run(shell: InteractiveShell, code: str):
    with capture_output() as cap:
        result = shell.run_cell(code, store_history=False)
    return result, cap


def _html(shell: InteractiveShell, obj) -> str:
    data, _ = shell.display_formatter.format(obj)
    return data.get("text/html", "")


@pytest.fixture(scope="module")
def flows(shell: InteractiveShell):
    """Tiny flows defined in the shell's namespace (prefect imported by the user's code)."""
    shell.run_cell('''
import time as _time
from prefect import flow, task

@task
def pw_add(a: int, b: int) -> int:
    return a + b

@flow(name="pw-ext-tiny")
def pw_tiny(x: int = 1) -> int:
    _time.sleep(1.5)
    return pw_add(x, 1)

@task
def pw_explode() -> None:
    raise RuntimeError("pw-ext boom <b>")

@flow(name="pw-ext-failing")
def pw_failing() -> None:
    pw_explode()
''', store_history=False)
    return shell.user_ns


def _watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prefect-widgets-watch"]


# --------------------------------------------------------------------------- import cost


def test_loading_the_extension_does_not_import_prefect():
    code = ("import sys; import prefect_widgets.extension\n"
            "from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance(); ip.run_cell('%load_ext prefect_widgets')\n"
            "print(json.dumps(['prefect' in sys.modules, 'prefect_runs' in "
            "ip.magics_manager.magics['line']]))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True]


# --------------------------------------------------------------------------- formatters


def test_state_and_flow_run_models_render_as_our_reprs(shell, flows, prefect_settings):
    from prefect.client.orchestration import get_client

    shell.run_cell("pw_state = pw_tiny(2, return_state=True)", store_history=False)
    state = shell.user_ns["pw_state"]
    assert type(state).__module__ == "prefect.client.schemas.objects"
    html = _html(shell, state)
    assert 'class="pw-badge pw-state-completed"' in html and ">Completed<" in html

    flow_run_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        model = client.read_flow_run(flow_run_id)
        models = client.read_flow_runs(limit=3)
        flow_model = client.read_flow(model.flow_id)
    html = _html(shell, model)
    assert 'class="pw-root"' in html and flow_run_id in html
    assert "pw-ext-tiny" in html  # the flow name: fetched, the model lacks it
    assert "Task runs" in html  # task runs fetched through our client
    plain = shell.display_formatter.format(model)[0]["text/plain"]
    assert plain.startswith("FlowRunView ") and flow_run_id in plain and "\n" in plain

    listed = _html(shell, models)
    assert "Flow runs" in listed and all(str(m.id) in listed or m.name in listed for m in models)
    assert "pw-ext-tiny" in _html(shell, flow_model)
    assert "pw-ext-tiny" in _html(shell, flows["pw_tiny"])  # a local Flow: looked up by name


def test_task_runs_and_mixed_lists(shell, flows, runs, prefect_settings):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[runs["failing"]])))
        model = client.read_flow_run(runs["hello"])
    assert task_runs
    html = _html(shell, task_runs[0])
    assert 'class="pw-root"' in html and str(task_runs[0].id) in html
    assert "Task runs" in _html(shell, task_runs)
    assert 'class="pw-badge pw-state-failed"' in _html(shell, task_runs)
    assert _html(shell, [model, 1]) == ""  # mixed: IPython falls back to text
    assert _html(shell, [1, 2, 3]) == ""
    assert _html(shell, []) == ""


def test_hostile_names_are_escaped(shell, runs, prefect_settings):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        model = client.read_flow_run(runs["hostile"])
    html = _html(shell, model)
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_unreachable_server_gives_tidy_output(shell, flows, runs, prefect_settings):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        model = client.read_flow_run(runs["hello"])
    prefect_widgets.configure(api_url="http://127.0.0.1:9/api")
    started = time.monotonic()
    html = _html(shell, model)
    flow_html = _html(shell, flows["pw_tiny"])
    result, cap = _run(shell, "%prefect_runs --limit 2")
    elapsed = time.monotonic() - started
    assert "pw-error" in html and "ServerUnreachable" in html and "Traceback" not in html
    assert model.name in html  # what the model holds still shows
    assert "pw-error" in flow_html and "ServerUnreachable" in flow_html
    assert "Traceback" not in flow_html
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert "Traceback" not in cap.stdout + cap.stderr
    assert elapsed < 30


def test_unload_restores_the_previous_formatters(flows, prefect_settings):
    ip = InteractiveShell.instance()
    state = ip.user_ns["pw_tiny"](return_state=True) if "pw_tiny" in ip.user_ns else None
    assert state is not None
    html_formatter = ip.display_formatter.formatters["text/html"]
    sentinel = lambda obj: "<b>previous</b>"  # noqa: E731
    html_formatter.for_type_by_name("prefect.server.schemas.core", "FlowRun", sentinel)
    ip.run_cell("%unload_ext prefect_widgets", store_history=False)
    try:
        assert "pw-" not in _html(ip, state)
        assert "prefect_runs" not in ip.magics_manager.magics["line"]
        assert "prefect_watch" not in ip.magics_manager.magics["cell"]
        assert list not in html_formatter.type_printers
        # a formatter that was there before loading comes back
        ip.run_cell("%load_ext prefect_widgets", store_history=False)
        assert html_formatter.lookup_by_type("prefect.server.schemas.core.FlowRun") is not sentinel
        ip.run_cell("%unload_ext prefect_widgets", store_history=False)
        assert html_formatter.lookup_by_type("prefect.server.schemas.core.FlowRun") is sentinel
    finally:
        html_formatter.pop("prefect.server.schemas.core.FlowRun", None)
        ip.run_cell("%load_ext prefect_widgets", store_history=False)
    assert "pw-badge" in _html(ip, state)


# --------------------------------------------------------------------------- magics


def test_prefect_runs_magic(shell, runs):
    result, _ = _run(shell, "%prefect_runs --flow nightly-etl --limit 5")
    got = result.result
    assert type(got).__name__ == "FlowRunList"
    expected = FlowRunView.query(flow_name="nightly-etl", limit=5, sort="START_TIME_DESC")
    assert [v.flow_run_id for v in got] == [v.flow_run_id for v in expected]
    assert runs["failing"] in [v.flow_run_id for v in got]

    result, _ = _run(shell, "%prefect_runs --state FAILED CRASHED --limit 50")
    states = {v.state.type for v in result.result}
    assert states <= {"FAILED", "CRASHED"} and runs["failing"] in {
        v.flow_run_id for v in result.result}
    result, _ = _run(shell, "%prefect_runs --state NOPE")
    assert type(result.error_in_exec).__name__ == "UsageError"


def test_prefect_run_magic_by_id_and_name(shell, runs):
    view = FlowRunView.from_flow_run_id(runs["hello"])
    result, _ = _run(shell, f"%prefect_run {runs['hello']}")
    assert isinstance(result.result, FlowRunView) and result.result.flow_run_id == view.flow_run_id
    result, _ = _run(shell, f"%prefect_run {view.name}")
    assert result.result.flow_run_id == FlowRunView.from_flow_run_name(view.name).flow_run_id
    result, cap = _run(shell, "%prefect_run no-such-run-name")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert "Traceback" not in cap.stdout + cap.stderr


def test_config_magic_sets_and_never_prints_secrets(shell, api_url, tmp_path, monkeypatch):
    (tmp_path / "profiles.toml").write_text(
        'active = "default"\n[profiles.default]\n[profiles.other]\n'
        'PREFECT_API_KEY = "pw-profile-secret-123"\n', encoding="utf-8")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    prefect_widgets.configure(api_url="http://127.0.0.1:9/api", api_key="pw-secret-key-456")
    result, cap = _run(shell, f"%prefect_widgets config --api-url {api_url} --profile other")
    assert result.success
    assert f"API URL: {api_url}" in cap.stdout and "Profile: other" in cap.stdout
    assert "API key (hidden)" in cap.stdout
    assert "pw-secret-key-456" not in cap.stdout + cap.stderr
    assert "pw-profile-secret-123" not in cap.stdout + cap.stderr
    assert display_client().api_url == api_url
    assert display_client().settings.api_key == "pw-secret-key-456"  # kept from configure()

    result, cap = _run(shell, "%prefect_widgets config --profile missing")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert display_client().settings.profile == "other"  # the working settings stay
    result, cap = _run(shell, "%prefect_widgets config --reset")
    assert "Profile: default" in cap.stdout and "Auth:    none" in cap.stdout


def test_prefect_run_live(shell, runs):
    """--live returns the run's live widget, or says tidily that widgets are unavailable."""
    try:
        import prefect_widgets.widget  # noqa: F401
    except ImportError:
        result, cap = _run(shell, f"%prefect_run {runs['hello']} --live")
        assert type(result.error_in_exec).__name__ == "UsageError"
        assert "Live widgets are not available" in str(result.error_in_exec)
        return
    from prefect_widgets.widget import FlowRunWidget

    result, _ = _run(shell, f"%prefect_run {runs['hello']} --live")
    widget = result.result
    try:
        assert isinstance(widget, FlowRunWidget)
        assert widget.flow_run.flow_run_id == runs["hello"]
    finally:
        widget.close()


# --------------------------------------------------------------------------- %%prefect_watch


def _displays(cap) -> dict[str, list[dict]]:
    """Display outputs grouped by display id, in publish order."""
    by_id: dict[str, list[dict]] = {}
    for out in cap.outputs:
        display_id = (out.transient or {}).get("display_id")
        if display_id:
            by_id.setdefault(display_id, []).append({"data": out.data, "update": out.update})
    return by_id


def _watched_run(cap) -> tuple[str, dict]:
    shown = _displays(cap)
    runs = {}
    for display_id, outputs in shown.items():
        plain = outputs[-1]["data"].get("text/plain", "")
        if plain.startswith("FlowRunView("):
            runs[display_id] = outputs
    assert len(runs) == 1, shown
    display_id, outputs = runs.popitem()
    assert not outputs[0]["update"] and all(o["update"] for o in outputs[1:])
    return outputs[0]["data"], outputs[-1]["data"]


def test_watch_shows_the_run_and_ends_with_its_final_state(shell, flows, prefect_settings):
    before = set(threading.enumerate())
    result, cap = _run(shell, "%%prefect_watch --html --interval 0.3\n"
                              "watched = pw_tiny(5)\nwatched * 10")
    assert result.success and result.result == 60
    first, final = _watched_run(cap)
    # shown while it ran (the flow sleeps 1.5 s, the watch polls every 0.3 s), then final
    assert 'class="pw-badge pw-state-running"' in first["text/html"]
    assert 'class="pw-badge pw-state-completed"' in final["text/html"]
    assert "pw-ext-tiny" in final["text/html"]
    assert "pw_add" in final["text/html"]  # the task run, recorded before the last refresh
    updates = [o for o in cap.outputs if o.update]
    assert updates, "the display is refreshed, not re-created"
    assert not _watch_threads()
    assert not [t for t in set(threading.enumerate()) - before if "watch" in t.name.lower()]


def test_watch_a_failing_flow_still_raises_and_shows_failed(shell, flows, prefect_settings):
    result, cap = _run(shell, "%%prefect_watch --html --interval 0.3\npw_failing()")
    assert isinstance(result.error_in_exec, RuntimeError)
    assert "pw-ext boom" in str(result.error_in_exec)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", cap.stdout)  # no colours
    assert "RuntimeError: pw-ext boom" in shown  # the cell's error, shown as usual
    assert "_run_cell_code" not in shown  # the watch's own frames are hidden
    _, final = _watched_run(cap)
    assert 'class="pw-badge pw-state-failed"' in final["text/html"]
    assert "pw-ext boom &lt;b&gt;" in final["text/html"]
    assert not _watch_threads()


def test_watch_with_live_widgets(shell, flows, prefect_settings):
    from ipywidgets.widgets.widget import _instances

    from prefect_widgets.widget import FlowRunWidget

    result, cap = _run(shell, "%%prefect_watch --widget\npw_tiny(7)")
    assert result.success and result.result == 8
    views = [o["data"]["application/vnd.jupyter.widget-view+json"]
             for outs in _displays(cap).values() for o in outs
             if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert len(views) == 1
    widget = _instances[views[0]["model_id"]]
    try:
        assert isinstance(widget, FlowRunWidget)
        assert widget.header["state_type"] == "COMPLETED"  # refreshed once after the cell
        assert widget.header["flow_name"] == "pw-ext-tiny"
        assert not widget.is_polling  # finished: its live polling was stopped
        assert not _watch_threads()
    finally:
        widget.close()


def test_watch_with_no_runs_and_no_server(shell, prefect_settings):
    result, cap = _run(shell, "%%prefect_watch --html\n1 + 1")
    assert result.result == 2 and "no flow runs started" in cap.stdout
    prefect_widgets.configure(api_url="http://127.0.0.1:9/api")
    result, cap = _run(shell, "%%prefect_watch --html --wait 0\n2 + 2")
    assert result.result == 4
    notes = [o.data.get("text/html", "") for o in cap.outputs]
    assert any("cannot reach the server" in n or "ServerUnreachable" in n for n in notes)
    assert "Traceback" not in cap.stdout + cap.stderr + "".join(notes)
    assert not _watch_threads()


# --------------------------------------------------------------------------- notebook


@pytest.mark.notebooks
def test_notebook_runs_and_is_saved_without_outputs(prefect_server, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is None and c.outputs == [] for c in code)
    for key, value in prefect_server.env().items():
        monkeypatch.setenv(key, value)
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.get("data", {}).get("text/html", "") for o in outputs]
    # the watched run, in its final state, with its task runs
    assert any('class="pw-badge pw-state-completed"' in h and "tutorial-etl" in h
               and "transform" in h for h in html)
    assert any('<span class="pw-kind">Flow runs</span>' in h for h in html)  # %prefect_runs
