"""`%%prefect_watch`: run a cell and show, below it, every flow run it starts, live.

`watch_cell` runs the cell's code while a background thread (`_Watch`) polls for the flow
runs this process started meanwhile (`own_runs`: the ids Prefect's engine logs) and keeps
one display per top-level run (an HTML repr, or a live widget in a Jupyter kernel), its
subflow runs drawn inside it; then it waits, bounded, for the runs and their task runs to
settle and draws them one last time in their final state. Where Prefect's logging is set
above INFO, run starts are not logged: the watch shows every run started while the cell ran.
"""

from __future__ import annotations

import ast
import contextvars
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from prefect_widgets.errors import PrefectWidgetsError
from prefect_widgets.polling import Poll, Settled

from .formatters import HTML, PLAIN, display_client, note_html, reason
from .own_runs import HeardFlowRuns, RunFamilies, hears_run_starts

__all__ = ["watch_cell", "has_widget"]

OPEN_TASK_STATES = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]


def has_widget() -> bool:
    """Whether live widgets can be built (`prefect_widgets.widget` and its dependencies)."""
    import importlib.util

    try:
        return importlib.util.find_spec("prefect_widgets.widget") is not None
    except (ImportError, ValueError):
        return False


def _in_kernel(shell: Any) -> bool:
    return getattr(shell, "kernel", None) is not None


@dataclass
class _Shown:
    handle: Any
    view: Any
    html: str | None = None
    widget: Any = None
    expanded: set[str] = field(default_factory=set)


class _Watch:
    """Polls for the flow runs the cell started; keeps one display per top-level run."""

    def __init__(self, started: datetime, heard: HeardFlowRuns, *, interval: float,
                 max_runs: int, use_widget: bool) -> None:
        self.started = started
        self.heard = heard
        self.families = RunFamilies()
        self.interval = interval
        self.max_runs = max_runs
        self.use_widget = use_widget
        self.shown: dict[str, _Shown] = {}
        self.skipped: set[str] = set()
        self.ignored: set[str] = set()
        self.more_handle: Any = None
        self.status_handle: Any = None
        self.window_note: Any = None
        self.problem: str | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    # ---- server access

    def _filter(self) -> dict[str, Any]:
        after = self.started.isoformat()
        return {"flow_runs": {"operator": "or_", "expected_start_time": {"after_": after},
                              "start_time": {"after_": after}}}

    def _in_window(self) -> list[Any]:
        """Every flow run started since the cell began, but those there before it."""
        from prefect_widgets.views import FlowRunView

        runs = FlowRunView.query(filter=self._filter(), sort="EXPECTED_START_TIME_ASC",
                                 limit=200, client=display_client())
        return [v for v in runs if v.flow_run_id not in self.ignored]

    def _heard(self) -> list[Any]:
        """The flow runs this process logged starting since the cell began."""
        from prefect_widgets.views import FlowRunView

        ids = self.heard.ids()
        if not ids:
            return []
        runs = FlowRunView.query(filter={"flow_runs": {"id": {"any_": ids}}},
                                 sort="EXPECTED_START_TIME_ASC", limit=None,
                                 client=display_client())
        return [v for v in runs if _began_after(v, self.started)]  # not a run from before

    def _query(self) -> list[Any]:
        """The cell's runs, their parents known (`families`)."""
        if hears_run_starts() is False:
            self._note_window()
            runs = self._in_window()
        else:
            runs = self._heard()
        self.families.learn(runs, display_client())
        return runs

    def _query_safely(self) -> list[Any] | None:
        try:
            return self._query()
        except PrefectWidgetsError as exc:
            self._report(exc)
            return None

    def snapshot(self) -> None:
        """Runs already there when the cell starts (clock margin) are not the cell's."""
        try:
            self.ignored = {v.flow_run_id for v in self._in_window()}
        except PrefectWidgetsError as exc:
            self._report(exc)

    def _task_counts(self, ids: list[str]) -> tuple[int, int]:
        from prefect_widgets.views import TaskRunView

        try:
            client = display_client()
            total = TaskRunView.count(flow_run_id=ids, client=client)
            open_ = TaskRunView.count(flow_run_id=ids, state_type=OPEN_TASK_STATES, client=client)
            return total, open_
        except PrefectWidgetsError:
            return -1, -1

    # ---- displays

    def _report(self, exc: BaseException | None) -> None:
        """Show (or clear) one small note while the server cannot be reached."""
        from IPython.display import display

        why = None if exc is None else reason(exc)
        if why == self.problem:
            return
        self.problem = why
        text = f"prefect_watch: cannot reach the server ({why})" if why else ""
        bundle = {PLAIN: text,
                  HTML: note_html("Watch", "cannot reach the server", why) if why else ""}
        if self.status_handle is None:
            if why is not None:
                self.status_handle = display(bundle, raw=True, display_id=True)
        else:
            self.status_handle.update(bundle, raw=True)

    def _note_window(self) -> None:
        """Say once that runs are matched by start time (Prefect logs no run starts here)."""
        from IPython.display import display

        if self.window_note is not None:
            return
        text = ("prefect_watch: PREFECT_LOGGING_LEVEL is above INFO, so the cell's own runs "
                "cannot be told apart: showing every flow run started while it ran.")
        self.window_note = display({PLAIN: text}, raw=True, display_id=True)  # one plain line

    def _show(self, view: Any, final: bool = False) -> None:
        from IPython.display import display

        entry = self.shown.get(view.flow_run_id)
        if entry is None:
            if len(self.shown) >= self.max_runs:
                self.skipped.add(view.flow_run_id)
                self._show_more()
                return
            widget = None
            if self.use_widget:
                try:
                    widget = view.widget(live=True)
                except Exception:  # the widget cannot be built: the HTML repr will do
                    widget = None
            if widget is not None:
                handle = display(widget, display_id=True)
                self.shown[view.flow_run_id] = _Shown(handle, view, None, widget)
                return
            bundle = view._repr_mimebundle_()
            handle = display(bundle, raw=True, display_id=True)
            self.shown[view.flow_run_id] = _Shown(handle, view, bundle.get(HTML))
            return
        entry.view = view
        if entry.widget is not None:
            if final:
                _refresh_widget(entry.widget, view.state.is_finished())
            return
        bundle = view._repr_mimebundle_()
        if final or bundle.get(HTML) != entry.html:
            entry.handle.update(bundle, raw=True)
            entry.html = bundle.get(HTML)

    def _show_more(self) -> None:
        from IPython.display import display

        text = (f"… and {len(self.skipped):,} more flow runs started by this cell "
                f"(see %prefect_runs, or raise --max-runs)")
        bundle = {PLAIN: text, HTML: note_html("Watch", "more runs", text)}
        if self.more_handle is None:
            self.more_handle = display(bundle, raw=True, display_id=True)
        else:
            self.more_handle.update(bundle, raw=True)

    def _nest(self, view: Any, top: str) -> None:
        """Draw a subflow run inside the widget of the run it belongs to (HTML reprs list
        subflow runs as rows already)."""
        entry = self.shown.get(top)
        if entry is None or entry.widget is None or view.flow_run_id in entry.expanded:
            return
        try:
            entry.widget.expand_subflow(view.flow_run_id)
        except PrefectWidgetsError:  # its row is not drawn yet: the next poll tries again
            return
        entry.expanded.add(view.flow_run_id)

    def poll(self, final: bool = False) -> list[Any]:
        """One round: find new runs, refresh the displays of runs still going."""
        with self.lock:
            try:
                runs = self._query()
            except PrefectWidgetsError as exc:
                self._report(exc)
                return []
            self._report(None)
            ours = [v.flow_run_id for v in runs]
            depth = {i: len(self.families.ancestors(i, ours)) for i in ours}
            for view in runs:
                if depth[view.flow_run_id]:
                    continue  # a subflow run: drawn inside its top-level run below
                entry = self.shown.get(view.flow_run_id)
                if (not final and entry is not None and entry.view.state.is_finished()
                        and view.state == entry.view.state and entry.html is not None
                        and entry.view.updated == view.updated):
                    continue  # finished and unchanged: nothing new to draw until the end
                self._show(view, final=final)
            for view in sorted(runs, key=lambda v: depth[v.flow_run_id]):
                if depth[view.flow_run_id]:  # outer subflows first: inner ones are their rows
                    self._nest(view, self.families.top(view.flow_run_id, ours))
            return runs

    # ---- the background thread

    def start(self) -> None:
        pace = Poll(self.interval, stop=self.stop)  # `poll` reports its own errors
        context = contextvars.copy_context()  # displays go to this cell (ipykernel parent)
        self.thread = threading.Thread(target=context.run, args=(pace.run, self.poll),
                                       name="prefect-widgets-watch", daemon=True)
        self.thread.start()

    def finish(self, wait: float) -> None:
        """Stop polling; wait (bounded) for runs and their task runs to settle; draw last."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        pace, settled = Poll(0.5, timeout=wait), Settled(2)
        while True:
            runs = self._query_safely()
            if runs is None:
                break
            ours = [v.flow_run_id for v in runs]
            mine = [v for v in runs if self.families.top(v.flow_run_id, ours) in self.shown]
            if not mine:
                break
            all_final = all(v.state.is_finished() for v in mine)
            total, open_ = self._task_counts([v.flow_run_id for v in mine])
            if settled.observe(total, ok=all_final and open_ == 0) or pace.expired():
                break
            pace.wait()
        self.poll(final=True)


def _began_after(view: Any, started: datetime) -> bool:
    return any(t is not None and t >= started
               for t in (view.start_time, view.expected_start_time))


def _refresh_widget(widget: Any, finished: bool) -> None:
    """One last update of a live widget; stop its polling once the run has finished."""
    try:
        widget.refresh()
        if finished:
            widget.stop()
    except PrefectWidgetsError:  # the widget keeps showing its last good state
        pass


def _run_cell_code(shell: Any, cell: str) -> Any:
    """Run a cell's code in the user namespace; return the last expression's value.

    Exceptions propagate, so IPython reports them as the cell's error as usual.
    """
    __tracebackhide__ = True
    source = shell.transform_cell(cell)
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(source)
    if tree.body:
        exec(compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if last is not None:
        return eval(compile(last, filename, "eval"), shell.user_global_ns, shell.user_ns)
    return None


def watch_cell(shell: Any, cell: str, *, interval: float = 1.0, wait: float = 15.0,
               max_runs: int = 20, use_widget: bool | None = None) -> Any:
    """Run `cell`, showing every flow run it starts below it; see `%%prefect_watch`."""
    __tracebackhide__ = True
    if use_widget is None:
        use_widget = has_widget() and _in_kernel(shell)
    started = datetime.now(timezone.utc) - timedelta(seconds=2)  # clock margin
    heard = HeardFlowRuns()
    watch = _Watch(started, heard, interval=interval, max_runs=max_runs,
                   use_widget=use_widget)
    watch.snapshot()
    watch.start()
    interrupted = False
    try:
        with heard.attached():
            return _run_cell_code(shell, cell)
    except KeyboardInterrupt:
        interrupted = True  # the user wants control back: no waiting for runs to settle
        raise
    finally:
        watch.finish(0.0 if interrupted else wait)
        if not watch.shown and watch.problem is None:
            print("prefect_watch: no flow runs started while this cell ran.")
