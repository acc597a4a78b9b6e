"""`%%prefect_watch` shows the runs its cell started, subflows inside them (issue 20, item 3).

Real server, real flows, a real InteractiveShell: another process runs a flow while the cell
runs; only the cell's own runs get a display, and a flow with subflows gets one.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from prefect_widgets import FlowRunView, TaskRunView
from prefect_widgets.extension.own_runs import FLOW_RUN_LOGGER, HeardFlowRuns
from prefect_widgets.samples import run_in_subprocess


@pytest.fixture(scope="module")
def flows(shell: InteractiveShell, prefect_server):
    """Flows in the shell's namespace, and `other_process_run()`: a sample flow run by
    another process, returning its flow run id."""
    shell.run_cell('''
from prefect import flow, task

@task
def own_step(x: int) -> int:
    return x + 1

@flow(name="pw-own-flat")
def own_flat() -> int:
    return own_step(1)

@flow(name="pw-own-inner")
def own_inner() -> int:
    return own_step(2)

@flow(name="pw-own-middle")
def own_middle() -> int:
    return own_inner() + 1

@flow(name="pw-own-outer")
def own_outer() -> int:
    return own_middle() + 1
''', store_history=False)
    env = prefect_server.env()
    shell.user_ns["other_process_run"] = lambda: run_in_subprocess(["hello"], env)["hello"]
    return shell.user_ns


def _run(shell: InteractiveShell, code: str):
    with capture_output() as cap:
        result = shell.run_cell(code, store_history=False)
    return result, cap


def _run_displays(cap) -> dict[str, list[dict]]:
    """The FlowRunView displays by display id, each its outputs in publish order."""
    by_id: dict[str, list[dict]] = {}
    for out in cap.outputs:
        display_id = (out.transient or {}).get("display_id")
        if display_id:
            by_id.setdefault(display_id, []).append(out.data)
    return {k: v for k, v in by_id.items()
            if v[-1].get("text/plain", "").startswith("FlowRunView(")
            or "application/vnd.jupyter.widget-view+json" in v[-1]}


def _family(flow_run_id: str) -> list[FlowRunView]:
    """The run and its subflow runs, outermost first."""
    found = [FlowRunView.from_flow_run_id(flow_run_id)]
    while True:
        children = found[-1].subflow_runs
        if not len(children):
            return found
        found.extend(children)


def _shown_ids(shown: dict[str, list[dict]]) -> set[str]:
    return {re.search(r"flow_run_id='([^']+)'", outputs[-1]["text/plain"]).group(1)
            for outputs in shown.values()}


def test_only_the_cells_runs_are_shown_each_once_with_its_subflows(shell, flows,
                                                                   prefect_settings):
    began = datetime.now(timezone.utc)
    result, cap = _run(shell, textwrap.dedent("""\
        %%prefect_watch --html --interval 0.3
        import contextvars, threading
        other = other_process_run()
        flat_runs = []
        in_thread = lambda: flat_runs.append(own_flat(return_state=True))
        # the thread keeps the test's Prefect settings (a context variable)
        worker = threading.Thread(target=contextvars.copy_context().run, args=(in_thread,))
        worker.start(); worker.join()
        nested = own_outer(return_state=True)
        str(other)
        """))
    assert result.success, result.error_in_exec
    other = result.result
    flat_id = str(flows["flat_runs"][0].state_details.flow_run_id)
    outer, middle, inner = _family(str(flows["nested"].state_details.flow_run_id))
    # the other process's run started while the cell ran: a time window would show it
    assert FlowRunView.from_flow_run_id(other).start_time >= began
    shown = _run_displays(cap)
    # one display for the run from a thread, one for the outer run: none for its subflows
    assert _shown_ids(shown) == {flat_id, outer.flow_run_id}
    assert all(len(o) > 1 for o in shown.values())  # shown during the cell, redrawn at its end
    everything = "".join(json.dumps(o.data) for o in cap.outputs)
    assert other not in everything and "hello-world" not in everything
    outer_html = next(o[-1]["text/html"] for o in shown.values()
                      if outer.flow_run_id in o[-1]["text/plain"])
    link = next(t for t in outer.task_runs() if t.kind == "subflow-run")
    assert link.child_flow_run_id == middle.flow_run_id
    assert link.name in outer_html  # the subflow run is a row of its parent's repr
    assert 'class="pw-badge pw-state-completed"' in outer_html
    assert "no flow runs started" not in cap.stdout


def test_the_widget_draws_the_subflows_inside_their_parent(shell, flows, prefect_settings):
    from ipywidgets.widgets.widget import _instances

    result, cap = _run(shell, "%%prefect_watch --widget --interval 0.3\n"
                              "nested = own_outer(return_state=True)")
    assert result.success, result.error_in_exec
    outer, middle, inner = _family(str(flows["nested"].state_details.flow_run_id))
    shown = _run_displays(cap)
    assert len(shown) == 1, shown
    (outputs,) = shown.values()
    widget = _instances[outputs[0]["application/vnd.jupyter.widget-view+json"]["model_id"]]
    try:
        assert widget.flow_run.flow_run_id == outer.flow_run_id
        assert sorted(widget.expanded_subflows) == sorted(
            [middle.parent_task_run_id, inner.parent_task_run_id])
        assert not widget.is_polling
    finally:
        widget.close()


def test_max_runs_counts_top_level_runs_not_their_subflows(shell, flows, prefect_settings):
    result, cap = _run(shell, "%%prefect_watch --html --interval 0.3 --max-runs 1\n"
                              "first = own_outer(return_state=True)\nown_flat()")
    assert result.success, result.error_in_exec
    assert _shown_ids(_run_displays(cap)) == {str(flows["first"].state_details.flow_run_id)}
    more = [o.data["text/plain"] for o in cap.outputs if "more flow runs" in
            o.data.get("text/plain", "")]
    assert more and more[-1].startswith("… and 1 more flow runs started by this cell"), more


def test_with_prefect_logging_above_info_every_run_in_the_window_shows_with_a_note(
        shell, flows, prefect_settings):
    prefect_logger = logging.getLogger("prefect")
    level = prefect_logger.level
    prefect_logger.setLevel(logging.WARNING)  # what PREFECT_LOGGING_LEVEL=WARNING configures
    try:
        result, cap = _run(shell, "%%prefect_watch --html --interval 0.3\n"
                                  "other = other_process_run()\nown_flat()")
    finally:
        prefect_logger.setLevel(level)
    assert result.success, result.error_in_exec
    notes = [o.data for o in cap.outputs if "cannot be told apart" in o.data.get("text/plain", "")]
    assert len(notes) == 1 and list(notes[0]) == ["text/plain"], notes  # one plain line
    shown = _shown_ids(_run_displays(cap))
    assert len(shown) == 2 and flows["other"] in shown, shown  # the other process's run too


PREMISE = """
import json, logging, sys
from prefect_widgets.extension.own_runs import HeardFlowRuns, hears_run_starts

heard = HeardFlowRuns()
with heard.attached():  # before Prefect's first import configures logging
    from prefect import flow

    @flow(name="pw-premise-child")
    def child():
        return 1

    @flow(name="pw-premise-parent")
    def parent():
        return child()

    state = parent(return_state=True)
print(json.dumps({"hears": hears_run_starts(), "heard": heard.ids(),
                  "parent": str(state.state_details.flow_run_id),
                  "left": [type(f).__name__ for f in logging.getLogger("prefect.flow_runs").filters]}))
"""


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_prefect_logs_each_run_start_with_its_id_at_info_only(prefect_server, level):
    """The premise, against the installed Prefect: in a fresh process, a listener attached
    before `import prefect` hears the parent and subflow runs at INFO, nothing at WARNING."""
    env = {**prefect_server.env(), "PREFECT_LOGGING_LEVEL": level}
    done = subprocess.run([sys.executable, "-c", PREMISE], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "HeardFlowRuns" not in found["left"]  # removed after the block
    if level == "WARNING":
        assert found == {**found, "hears": False, "heard": []}
        return
    assert found["hears"] is True
    parent = FlowRunView.from_flow_run_id(found["parent"])
    (child,) = parent.subflow_runs
    assert found["heard"] == [parent.flow_run_id, child.flow_run_id]
    assert TaskRunView.from_task_run_id(child.parent_task_run_id).flow_run_id == found["parent"]


def test_the_listener_ignores_unknown_ids_never_raises_and_detaches():
    logger = logging.getLogger(FLOW_RUN_LOGGER)
    heard = HeardFlowRuns()
    run_id = "0f6e0b6c-2a43-4d5e-9a8b-2c1d3e4f5a6b"

    class Odd:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    def logged(**extra) -> bool:
        """The logger's filters on a record (no handler: nothing goes to Prefect's API)."""
        return bool(logger.filter(logging.makeLogRecord({"name": FLOW_RUN_LOGGER, **extra})))

    with pytest.raises(KeyError), heard.attached():
        for extra in ({"flow_run_id": "<unknown>"}, {"flow_run_id": Odd()}, {},
                      {"flow_run_id": run_id.upper()}, {"flow_run_id": run_id}):
            assert logged(**extra)  # every record goes through
        raise KeyError("the cell failed")
    assert heard.ids() == [run_id]
    assert heard not in logger.filters
    assert logged(flow_run_id="1f6e0b6c-2a43-4d5e-9a8b-2c1d3e4f5a6b")
    assert heard.ids() == [run_id]
