"""Reprs never block a notebook: a short deadline, then what the snapshot holds, noted."""

from __future__ import annotations

import threading
import time

import pytest
from fake_sockets import never_answering

from prefect_widgets import Client, FlowRunView
from prefect_widgets.display_deadline import Deadline, DisplayLate
from prefect_widgets.options import display, option_context
from prefect_widgets.rundata import RunData
from prefect_widgets.server import free_port

STALE = "may be stale"
LIMIT = 3.0  # seconds a display may take, whatever the server does


@pytest.fixture
def silent_url():
    """A server that accepts connections and never answers."""
    with never_answering() as url:
        yield url


@pytest.fixture
def refusing_url():
    """A port with nothing listening: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/api"


def _timed(render):
    started = time.monotonic()
    out = render()
    return out, time.monotonic() - started


def _elsewhere(view: FlowRunView, api_url: str) -> FlowRunView:
    """The same snapshot's record, with a new (empty) snapshot whose client points there."""
    return FlowRunView.from_json(view.raw, Client(api_url))


def _assert_quick_and_noted(view: FlowRunView) -> None:
    markup, took = _timed(view._repr_html_)
    assert took < LIMIT, f"_repr_html_ took {took:.2f} s"
    assert STALE in markup and "pw-stale" in markup and "Traceback" not in markup
    assert f"within {display.deadline:g} s" in markup
    assert view.flow_run_id in markup  # what the snapshot holds is still shown
    bundle, took = _timed(view._repr_mimebundle_)
    assert took < LIMIT, f"_repr_mimebundle_ took {took:.2f} s"
    assert STALE in bundle["text/html"] and STALE in bundle["text/plain"]
    assert set(bundle) == {"text/plain", "text/html", "text/markdown"}


@pytest.mark.parametrize("where", ["refusing", "silent"])
def test_display_is_quick_and_says_stale(where, runs, request):
    url = request.getfixturevalue(f"{where}_url")
    view = _elsewhere(FlowRunView.from_flow_run_id(runs["failing"]), url)
    _assert_quick_and_noted(view)
    # a second display, while the first one's load is still hanging, does not block either
    _assert_quick_and_noted(view)


def test_healthy_server_shows_everything_without_a_note(runs):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    expected = view.get_all_task_runs()
    # about what is shown, not speed: a generous deadline, so a busy machine cannot fail it
    with option_context("display.deadline", 20):
        markup = view._repr_html_()
    assert STALE not in markup and "pw-stale" not in markup and 'class="pw-error' not in markup
    assert len(expected) <= display.max_rows  # the whole table is shown
    for task in expected:
        assert task.task_run_id and task.name in markup
    assert view.data.holds("task_views") and len(view.data.peek("task_views")) == len(expected)
    bundle = view._repr_mimebundle_()
    assert STALE not in bundle["text/plain"] and STALE not in bundle["text/html"]


def test_late_load_fills_the_snapshot_for_the_next_display(runs):
    view = FlowRunView.from_flow_run_id(runs["diamond"])
    with option_context("display.deadline", 0.001):
        first = view._repr_html_()
    assert STALE in first
    assert view.data.wait("task_views", 30) and view.data.wait("flow", 30)
    second, took = _timed(view._repr_html_)
    assert STALE not in second and took < LIMIT
    for task in view.data.peek("task_views"):
        assert task.name in second


def test_task_run_repr_keeps_the_deadline_and_names_what_it_could_not_load(runs, silent_url):
    """A failed task run's repr loads its error, artifacts, state history and upstream run
    names (issue 18). Against a server that never answers it still renders within the
    display deadline: the run's own record, and a note naming each part not loaded."""
    from prefect_widgets import TaskRunView

    failing = FlowRunView.from_flow_run_id(runs["failing"])
    task = next(t for t in failing.task_runs() if t.state.type == "FAILED")
    offline = TaskRunView.from_json(task.raw, Client(silent_url))
    with option_context("display.deadline", 0.3):
        markup, took = _timed(offline._repr_html_)
    assert took < 0.3 + 0.4, took
    assert task.name in markup and task.task_run_id in markup and "pw-state-failed" in markup
    note = markup.split('<div class="pw-error pw-stale">', 1)[1].split("</div>", 1)[0]
    assert STALE in note and "within 0.3 s" in note
    for part in ("the artifacts", "the state history", "the error"):
        assert part in note, part
    bundle, took = _timed(offline._repr_mimebundle_)  # the default deadline
    assert took < LIMIT and STALE in bundle["text/html"]
    assert bundle["text/plain"] == repr(offline)  # the text part never waits
    live, took = _timed(task._repr_html_)  # the same run on a server that answers: all of it
    assert took < LIMIT and STALE not in live and "Task run encountered an exception" in live


def test_extension_formatters_use_the_deadline(runs, silent_url):
    import prefect_widgets
    from prefect_widgets.extension import format_html

    pytest.importorskip("prefect")
    from prefect import flow
    from prefect.client.schemas.objects import FlowRun

    model = FlowRun.model_validate(FlowRunView.from_flow_run_id(runs["hello"]).raw)

    @flow(name="pw-deadline-local")
    def local_flow() -> None:
        pass

    prefect_widgets.configure(api_url=silent_url)
    for obj in (model, local_flow):
        markup, took = _timed(lambda obj=obj: format_html(obj))
        assert took < LIMIT, f"{type(obj).__name__}: {took:.2f} s"
        assert STALE in markup and "Traceback" not in markup


def test_deadline_option_is_seconds():
    assert display.deadline == 2.5
    with option_context("display.deadline", 1):
        assert display.deadline == 1.0
    for bad in (0, -1, True, "2", float("nan"), float("inf")):
        with pytest.raises(ValueError):
            display.deadline = bad
    assert display.deadline == 2.5


# --------------------------------------------------------------------------- RunData.once


def _data() -> RunData:
    return RunData("00000000-0000-0000-0000-000000000000", Client("http://127.0.0.1:9/api"))


def test_once_loads_once_for_concurrent_callers():
    data, calls, release = _data(), [], threading.Event()

    def load() -> int:
        calls.append(1)
        release.wait(5)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(data.once("k", load)))
               for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert data.loading("k") and not data.holds("k")
    assert data.once("other", lambda: 7) == 7  # other keys are not held up by the lock
    assert not data.wait("k", 0.1)  # a bounded wait for the load in progress
    release.set()
    for t in threads:
        t.join(5)
    assert results == [42] * 5 and len(calls) == 1 and not data.loading("k")


def test_once_after_a_failed_load_tries_again():
    data, calls = _data(), []

    def load() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return "ok"

    with pytest.raises(RuntimeError):
        data.once("k", load)
    assert not data.holds("k") and not data.loading("k")
    assert data.once("k", load) == "ok" and data.once("k", load) == "ok" and len(calls) == 2


def test_deadline_waits_on_a_load_in_progress_instead_of_starting_another():
    data, calls, release = _data(), [], threading.Event()

    def load() -> str:
        calls.append(1)
        release.wait(5)
        return "done"

    background = threading.Thread(target=lambda: data.once("k", load), daemon=True)
    background.start()
    time.sleep(0.1)
    budget = Deadline(0.2)
    value, error = budget.result(budget.start("the thing", lambda: data.once("k", load),
                                              data, "k"))
    assert value is None and isinstance(error, DisplayLate) and len(calls) == 1
    assert "may be stale" in budget.note() and "the thing" in budget.note()
    release.set()
    background.join(5)
    budget = Deadline(0.2)
    assert budget.result(budget.start("the thing", lambda: data.once("k", load), data, "k")) \
        == ("done", None)
    assert budget.note() is None and len(calls) == 1


def test_run_list_names_keep_the_deadline(runs, silent_url):
    """A run list looks up flow names within one display deadline; against a server that
    never answers it shows each flow's short id and says what did not come."""
    from prefect_widgets.run_lists import FlowRunList

    record = FlowRunView.from_flow_run_id(runs["hello"]).raw
    views = FlowRunList([FlowRunView.from_json(record, Client(silent_url))])
    with option_context("display.deadline", 0.3):
        markup, took = _timed(views._repr_html_)
    assert took < 0.3 + 0.4, took
    assert f'title="{record["flow_id"]}">{record["flow_id"][:8]}</span>' in markup
    assert STALE in markup and "the name of" in markup
