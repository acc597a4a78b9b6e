"""The IPython extension: `%load_ext prefect_widgets`.

Loading it does two things:

* registers display formatters **by type name** for Prefect's own objects (states, flow runs,
  task runs, flows, and lists of them), so a `State` returned by `my_flow(return_state=True)`
  or a `FlowRun` read with Prefect's client shows as our rich repr. Registering by name keeps
  `prefect` unimported until the user's code imports it;
* registers the magics `%prefect_runs`, `%prefect_run`, `%%prefect_watch` and
  `%prefect_widgets config`.

`%unload_ext prefect_widgets` removes exactly what loading added and puts back any formatter
it replaced. Formatters never put a traceback in the output: when the server cannot be
reached they render a short, escaped note instead.
"""

from __future__ import annotations

import ast
import contextvars
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .client import Client, RetryPolicy
from .display_deadline import Deadline
from .errors import DisplayLate
from .errors import NotFound, PrefectWidgetsError
from .settings import Settings, resolve_settings

__all__ = [
    "load_ipython_extension", "unload_ipython_extension", "PrefectMagics",
    "format_html", "format_list_html", "display_client", "watch_cell",
]

HTML = "text/html"
PLAIN = "text/plain"

# (module, class name) -> kind. Client models, the server's twins, and local flow objects.
STATE_TYPES = (("prefect.client.schemas.objects", "State"),
               ("prefect.server.schemas.states", "State"))
FLOW_RUN_TYPES = (("prefect.client.schemas.objects", "FlowRun"),
                  ("prefect.client.schemas.responses", "FlowRunResponse"),
                  ("prefect.server.schemas.core", "FlowRun"),
                  ("prefect.server.schemas.responses", "FlowRunResponse"))
TASK_RUN_TYPES = (("prefect.client.schemas.objects", "TaskRun"),
                  ("prefect.server.schemas.core", "TaskRun"))
FLOW_MODEL_TYPES = (("prefect.client.schemas.objects", "Flow"),
                    ("prefect.server.schemas.core", "Flow"))
LOCAL_FLOW_TYPES = (("prefect.flows", "Flow"),)

KINDS: dict[tuple[str, str], str] = {
    **{key: "state" for key in STATE_TYPES},
    **{key: "flow_run" for key in FLOW_RUN_TYPES},
    **{key: "task_run" for key in TASK_RUN_TYPES},
    **{key: "flow_model" for key in FLOW_MODEL_TYPES},
    **{key: "flow" for key in LOCAL_FLOW_TYPES},
}
#: Kinds that get a text/plain summary too (their pydantic repr is one very long line).
PLAIN_KINDS = ("flow_run", "task_run")

#: The display client's policy: short, so the loads of views made only to be shown (and of
#: the watch's polls) do not go on for a minute. How long a repr *waits* is not set here: every
#: repr, ours or a formatter's, waits at most `options.display.deadline` seconds
#: (`prefect_widgets.display_deadline`), then shows what it holds.
DISPLAY_RETRY = RetryPolicy(max_retries=1, backoff=0.25, max_backoff=1.0, max_total=5.0)
DISPLAY_TIMEOUT = 10.0


# --------------------------------------------------------------------------- display client

_clients: dict[Settings, Client] = {}
_clients_lock = threading.Lock()


def display_client() -> Client:
    """A client for the formatters' views and the watch: current settings, short timeout,
    one retry (a repr's wait is bounded by `options.display.deadline` whatever the client).
    One client per resolved settings.
    """
    settings = resolve_settings()
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            client = Client(settings.api_url, settings.api_key, settings.auth_string,
                            profile=settings.profile, timeout=DISPLAY_TIMEOUT,
                            retry=DISPLAY_RETRY)
            _clients[settings] = client
        return client


def _close_display_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


# --------------------------------------------------------------------------- conversions


def kind_of(obj: Any) -> str | None:
    """Which Prefect object `obj` is ("state", "flow_run", ...), by class name; no imports."""
    for cls in type(obj).__mro__:
        kind = KINDS.get((getattr(cls, "__module__", ""), getattr(cls, "__name__", "")))
        if kind is not None:
            return kind
    return None


def _dump(model: Any) -> dict[str, Any]:
    """`model.model_dump(mode="json")`; state data that cannot be serialised is left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns about odd result objects
        try:
            return model.model_dump(mode="json")
        except Exception:  # an arbitrary in-memory result in State.data: not needed to display
            return model.model_dump(mode="json", exclude={"data": True, "state": {"data"}})


def to_view(obj: Any, client: Client | None = None) -> Any:
    """Our view of one Prefect model: State, FlowRunView, TaskRunView or FlowView."""
    from .states import State
    from .views import FlowRunView, FlowView, TaskRunView

    kind = kind_of(obj)
    if kind == "state":
        return State.from_json(_dump(obj))
    if kind == "flow_run":
        return FlowRunView.from_json(_dump(obj), client)
    if kind == "task_run":
        return TaskRunView.from_json(_dump(obj), client)
    if kind == "flow_model":
        return FlowView.from_json(_dump(obj), client)
    if kind == "flow":
        return FlowView.from_flow_name(str(obj.name), client=client)
    raise TypeError(f"Not a Prefect state, flow, flow run or task run: {type(obj).__name__}")


def _client_for(kind: str | None) -> Client | None:
    """The display client where a repr may fetch; None for states or without settings."""
    if kind in (None, "state"):
        return None
    try:
        return display_client()
    except PrefectWidgetsError:  # no API URL: the repr says so where it would fetch
        return None


def _note_html(kind: str, title: str, message: str) -> str:
    """A small escaped repr for when the full one cannot be built."""
    from .html import _header, _wrap, escape

    body = _header(kind, escape(title)) + f'<div class="pw-error">{escape(message)}</div>'
    return _wrap(body, f"{kind} {title}: {message}")


def _title(obj: Any) -> str:
    name = getattr(obj, "name", None)
    return str(name) if name is not None else type(obj).__name__


def format_html(obj: Any) -> str | None:
    """The text/html formatter for single Prefect objects."""
    kind = kind_of(obj)
    if kind is None:
        return None
    try:
        if kind == "flow":  # the only conversion that asks the server: within the deadline
            client = _client_for(kind)
            view = Deadline().call("the flow", lambda: to_view(obj, client))
        else:
            view = to_view(obj, _client_for(kind))
    except DisplayLate as exc:
        return _note_html(_KIND_LABELS[kind], _title(obj), str(exc))
    except NotFound:
        if kind == "flow":
            return _note_html("Flow", _title(obj), "Not on the server yet: the flow has no runs.")
        raise
    except PrefectWidgetsError as exc:
        return _note_html(_KIND_LABELS[kind], _title(obj), _reason(exc))
    return view._repr_html_()


_KIND_LABELS = {"state": "State", "flow_run": "Flow run", "task_run": "Task run",
                "flow_model": "Flow", "flow": "Flow"}


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safe_html(obj: Any) -> str | None:
    try:
        return format_html(obj)
    except PrefectWidgetsError as exc:
        return _note_html(_KIND_LABELS.get(kind_of(obj) or "", "Prefect object"), _title(obj),
                          _reason(exc))
    except Exception:  # never a traceback in a repr: let IPython fall back to text/plain
        return None


def format_list_html(items: Any) -> str | None:
    """Lists made only of flow runs, only of task runs, or only of states; else None."""
    if not isinstance(items, list) or not items:
        return None
    kind = kind_of(items[0])
    if kind not in ("flow_run", "task_run", "state") or any(kind_of(i) != kind for i in items):
        return None
    from .html import _badge, _header, _wrap
    from .queries import FlowRunList, TaskRunList

    client = _client_for(kind)
    views = [to_view(item, client) for item in items]
    if kind == "flow_run":
        return FlowRunList(views)._repr_html_()
    if kind == "task_run":
        return TaskRunList(views)._repr_html_()
    badges = " ".join(_badge(v) for v in views)
    return _wrap(_header("States", f"{len(views):,}") + f"<div>{badges}</div>",
                 "[" + ", ".join(repr(v) for v in views) + "]")


def _plain_printer(obj: Any, p: Any, cycle: bool) -> None:
    """text/plain summary of flow runs and task runs (no server requests)."""
    from .html import flow_run_text, task_run_text

    try:
        view = to_view(obj, None)
        text = flow_run_text(view, None) if kind_of(obj) == "flow_run" else task_run_text(view)
    except Exception:  # fall back to the model's own repr, never a traceback
        text = repr(obj)
    p.text(text)


# --------------------------------------------------------------------------- registration


@dataclass
class _Registration:
    """What `load_ipython_extension` changed on one shell, to undo it exactly."""

    by_name: list[tuple[Any, str, str, Any, Any]] = field(default_factory=list)
    by_type: list[tuple[Any, type, Any, Any]] = field(default_factory=list)
    magics: Any = None
    replaced_magics: dict[tuple[str, str], Any] = field(default_factory=dict)


_loaded: dict[int, _Registration] = {}


def _register_by_name(reg: _Registration, formatter: Any, module: str, name: str,
                      func: Any) -> None:
    # pop first: a class already resolved in type_printers would shadow a deferred entry
    previous = formatter.pop(f"{module}.{name}", None)
    formatter.for_type_by_name(module, name, func)
    reg.by_name.append((formatter, module, name, func, previous))


def _html_printer(obj: Any) -> str | None:
    return _safe_html(obj)


def _make_list_printer(previous: Any) -> Callable[[Any], Any]:
    def list_printer(items: Any) -> Any:
        try:
            rendered = format_list_html(items)
        except Exception:  # server trouble or an odd model: defer to what was there before
            rendered = None
        if rendered is None and previous is not None:
            return previous(items)
        return rendered
    return list_printer


def load_ipython_extension(ipython: Any) -> None:
    """Register the formatters (by type name: `prefect` is not imported) and the magics."""
    if id(ipython) in _loaded:
        return
    reg = _Registration()
    html = ipython.display_formatter.formatters[HTML]
    plain = ipython.display_formatter.formatters[PLAIN]
    for (module, name), kind in KINDS.items():
        _register_by_name(reg, html, module, name, _html_printer)
        if kind in PLAIN_KINDS:
            _register_by_name(reg, plain, module, name, _plain_printer)
    previous_list = html.type_printers.get(list)
    list_printer = _make_list_printer(previous_list)
    html.for_type(list, list_printer)
    reg.by_type.append((html, list, list_printer, previous_list))

    magics = PrefectMagics(ipython)
    for kind, names in magics.magics.items():
        for name in names:
            existing = ipython.magics_manager.magics[kind].get(name)
            if existing is not None:
                reg.replaced_magics[(kind, name)] = existing
    ipython.register_magics(magics)
    reg.magics = magics
    _loaded[id(ipython)] = reg


def unload_ipython_extension(ipython: Any) -> None:
    """Remove what loading added; restore replaced formatters and magics."""
    reg = _loaded.pop(id(ipython), None)
    if reg is None:
        return
    for formatter, module, name, func, previous in reversed(reg.by_name):
        try:
            current = formatter.lookup_by_type(f"{module}.{name}")
        except KeyError:
            current = None
        if current is func:  # leave alone a formatter someone set after us
            formatter.pop(f"{module}.{name}", None)
            if previous is not None:
                formatter.for_type_by_name(module, name, previous)
    for formatter, typ, func, previous in reversed(reg.by_type):
        if formatter.type_printers.get(typ) is func:
            if previous is not None:
                formatter.type_printers[typ] = previous
            else:
                formatter.type_printers.pop(typ, None)
    manager = ipython.magics_manager
    for kind, names in reg.magics.magics.items():
        for name in names:
            current = manager.magics[kind].get(name)
            if getattr(current, "__self__", None) is reg.magics:
                manager.magics[kind].pop(name)
                if (kind, name) in reg.replaced_magics:
                    manager.magics[kind][name] = reg.replaced_magics[(kind, name)]
    if manager.registry.get(type(reg.magics).__name__) is reg.magics:
        manager.registry.pop(type(reg.magics).__name__)
    if not _loaded:
        _close_display_clients()


# --------------------------------------------------------------------------- %%prefect_watch

OPEN_TASK_STATES = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]


def _has_widget() -> bool:
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


class _Watch:
    """Polls for flow runs started since the cell began and keeps one display per run."""

    def __init__(self, started: datetime, *, interval: float, max_runs: int,
                 use_widget: bool) -> None:
        self.started = started
        self.interval = interval
        self.max_runs = max_runs
        self.use_widget = use_widget
        self.shown: dict[str, _Shown] = {}
        self.skipped: set[str] = set()
        self.ignored: set[str] = set()
        self.more_handle: Any = None
        self.status_handle: Any = None
        self.problem: str | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    # ---- server access

    def _filter(self) -> dict[str, Any]:
        after = self.started.isoformat()
        return {"flow_runs": {"operator": "or_", "expected_start_time": {"after_": after},
                              "start_time": {"after_": after}}}

    def _query(self) -> list[Any]:
        from .views import FlowRunView

        runs = FlowRunView.query(filter=self._filter(), sort="EXPECTED_START_TIME_ASC",
                                 limit=200, client=display_client())
        return [v for v in runs if v.flow_run_id not in self.ignored]

    def snapshot(self) -> None:
        """Runs already there when the cell starts (clock margin) are not the cell's."""
        try:
            self.ignored = {v.flow_run_id for v in self._query()}
        except PrefectWidgetsError as exc:
            self._report(exc)

    # ---- displays

    def _report(self, exc: BaseException | None) -> None:
        """Show (or clear) one small note while the server cannot be reached."""
        from IPython.display import display

        reason = None if exc is None else _reason(exc)
        if reason == self.problem:
            return
        self.problem = reason
        text = f"prefect_watch: cannot reach the server ({reason})" if reason else ""
        bundle = {PLAIN: text,
                  HTML: _note_html("Watch", "cannot reach the server", reason) if reason else ""}
        if self.status_handle is None:
            if reason is not None:
                self.status_handle = display(bundle, raw=True, display_id=True)
        else:
            self.status_handle.update(bundle, raw=True)

    def _bundle(self, view: Any) -> dict[str, str]:
        return view._repr_mimebundle_()

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
            bundle = self._bundle(view)
            handle = display(bundle, raw=True, display_id=True)
            self.shown[view.flow_run_id] = _Shown(handle, view, bundle.get(HTML))
            return
        entry.view = view
        if entry.widget is not None:
            if final:
                _refresh_widget(entry.widget, view.state.is_finished())
            return
        bundle = self._bundle(view)
        if final or bundle.get(HTML) != entry.html:
            entry.handle.update(bundle, raw=True)
            entry.html = bundle.get(HTML)

    def _show_more(self) -> None:
        from IPython.display import display

        text = (f"… and {len(self.skipped):,} more flow runs started by this cell "
                f"(see %prefect_runs, or raise --max-runs)")
        bundle = {PLAIN: text, HTML: _note_html("Watch", "more runs", text)}
        if self.more_handle is None:
            self.more_handle = display(bundle, raw=True, display_id=True)
        else:
            self.more_handle.update(bundle, raw=True)

    def poll(self, final: bool = False) -> list[Any]:
        """One round: find new runs, refresh the displays of runs still going."""
        with self.lock:
            try:
                runs = self._query()
            except PrefectWidgetsError as exc:
                self._report(exc)
                return []
            self._report(None)
            for view in runs:
                entry = self.shown.get(view.flow_run_id)
                if (not final and entry is not None and entry.view.state.is_finished()
                        and view.state == entry.view.state and entry.html is not None
                        and entry.view.updated == view.updated):
                    continue  # finished and unchanged: nothing new to draw until the end
                self._show(view, final=final)
            return runs

    # ---- the background thread

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.poll()

    def start(self) -> None:
        context = contextvars.copy_context()  # displays go to this cell (ipykernel parent)
        self.thread = threading.Thread(target=context.run, args=(self._loop,),
                                       name="prefect-widgets-watch", daemon=True)
        self.thread.start()

    def finish(self, wait: float) -> None:
        """Stop polling; wait (bounded) for runs and their task runs to settle; draw last."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        deadline = time.monotonic() + wait
        last_total, stable = -1, 0
        while True:
            runs = self._query_safely()
            if runs is None:
                break
            ids = [v.flow_run_id for v in runs if v.flow_run_id in self.shown]
            if not ids:
                break
            all_final = all(v.state.is_finished() for v in runs if v.flow_run_id in self.shown)
            total, open_ = self._task_counts(ids)
            stable = stable + 1 if (all_final and open_ == 0 and total == last_total) else 0
            last_total = total
            if stable >= 2 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.poll(final=True)

    def _query_safely(self) -> list[Any] | None:
        try:
            return self._query()
        except PrefectWidgetsError as exc:
            self._report(exc)
            return None

    def _task_counts(self, ids: list[str]) -> tuple[int, int]:
        from .views import TaskRunView

        try:
            client = display_client()
            total = TaskRunView.count(flow_run_id=ids, client=client)
            open_ = TaskRunView.count(flow_run_id=ids, state_type=OPEN_TASK_STATES, client=client)
            return total, open_
        except PrefectWidgetsError:
            return -1, -1


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
        use_widget = _has_widget() and _in_kernel(shell)
    started = datetime.now(timezone.utc) - timedelta(seconds=2)  # clock margin
    watch = _Watch(started, interval=interval, max_runs=max_runs, use_widget=use_widget)
    watch.snapshot()
    watch.start()
    interrupted = False
    try:
        return _run_cell_code(shell, cell)
    except KeyboardInterrupt:
        interrupted = True  # the user wants control back: no waiting for runs to settle
        raise
    finally:
        watch.finish(0.0 if interrupted else wait)
        if not watch.shown and watch.problem is None:
            print("prefect_watch: no flow runs started while this cell ran.")


# --------------------------------------------------------------------------- magics


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def settings_summary(settings: Settings) -> str:
    """The resolved settings as text, without secrets."""
    auth = ("API key (hidden)" if settings.api_key else
            "basic auth string (hidden)" if settings.auth_string else "none")
    return "\n".join([
        f"API URL: {settings.api_url}",
        f"UI URL:  {settings.ui_url or '—'}",
        f"Profile: {settings.profile or '—'}",
        f"Auth:    {auth}",
    ])


@magics_class
class PrefectMagics(Magics):
    """`%prefect_runs`, `%prefect_run`, `%%prefect_watch` and `%prefect_widgets config`."""

    @magic_arguments()
    @argument("--flow", default=None, help="only runs of the flow with this name")
    @argument("--state", nargs="+", default=None, metavar="TYPE",
              help="only runs in these state types, e.g. FAILED CRASHED")
    @argument("--tag", action="append", default=None, help="only runs with this tag (repeat)")
    @argument("--limit", type=int, default=20, help="how many runs, newest first (default 20)")
    @line_magic
    def prefect_runs(self, line: str) -> Any:
        """Recent flow runs, newest first, as a FlowRunList."""
        from .views import FlowRunView

        args = parse_argstring(self.prefect_runs, line)
        try:
            return FlowRunView.query(flow_name=args.flow, state_type=args.state, tags=args.tag,
                                     limit=args.limit, sort="START_TIME_DESC")
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None

    @magic_arguments()
    @argument("run", help="a flow run id, or a flow run name (the newest run with that name)")
    @argument("--live", action="store_true", help="return the live widget instead of a view")
    @line_magic
    def prefect_run(self, line: str) -> Any:
        """One flow run as a FlowRunView (or its live widget with --live)."""
        from .views import FlowRunView

        args = parse_argstring(self.prefect_run, line)
        ref = args.run.strip("'\"")
        try:
            if _looks_like_uuid(ref):
                view = FlowRunView.from_flow_run_id(ref)
            else:
                view = FlowRunView.from_flow_run_name(ref)
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None
        if not args.live:
            return view
        try:
            return view.widget(live=True)
        except ImportError as exc:
            raise UsageError(f"Live widgets are not available: {exc}") from None

    @magic_arguments()
    @argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    @argument("--wait", type=float, default=15.0,
              help="after the cell, wait up to this many seconds for runs to settle (default 15)")
    @argument("--max-runs", type=int, default=20, help="show at most this many runs (default 20)")
    @argument("--html", action="store_true", help="HTML reprs even where live widgets work")
    @argument("--widget", action="store_true", help="live widgets (needs a Jupyter kernel)")
    @cell_magic
    def prefect_watch(self, line: str, cell: str) -> Any:
        """Run the cell and show, below it, every flow run it starts, live, ending final."""
        __tracebackhide__ = True
        args = parse_argstring(self.prefect_watch, line)
        if args.html and args.widget:
            raise UsageError("Pass --html or --widget, not both.")
        if args.interval <= 0 or args.wait < 0 or args.max_runs < 1:
            raise UsageError("--interval must be > 0, --wait >= 0 and --max-runs >= 1.")
        use_widget = False if args.html else True if args.widget else None
        if use_widget and not _has_widget():
            raise UsageError("Live widgets are not available (prefect_widgets.widget is missing).")
        try:
            resolve_settings()
        except PrefectWidgetsError as exc:
            raise UsageError(str(exc)) from None
        return watch_cell(self.shell, cell, interval=args.interval, wait=args.wait,
                          max_runs=args.max_runs, use_widget=use_widget)

    @magic_arguments()
    @argument("action", choices=["config"], help="config: set or show the connection settings")
    @argument("--api-url", default=None, help="the Prefect API URL, e.g. http://127.0.0.1:4200/api")
    @argument("--profile", default=None, help="a profile from $PREFECT_HOME/profiles.toml")
    @argument("--reset", action="store_true",
              help="forget settings made in this session (back to env and profiles)")
    @line_magic
    def prefect_widgets(self, line: str) -> None:
        """`%prefect_widgets config [--api-url URL] [--profile NAME] [--reset]`."""
        from . import settings as settings_module
        from .settings import configure

        args = parse_argstring(self.prefect_widgets, line)
        previous = dict(settings_module._configured)
        if args.reset:
            configure()
        elif args.api_url is not None or args.profile is not None:
            given = {k: v for k, v in (("api_url", args.api_url), ("profile", args.profile))
                     if v is not None}
            configure(**{**previous, **given})
        try:
            resolved = resolve_settings()
        except PrefectWidgetsError as exc:
            configure(**previous)  # keep the settings that worked
            raise UsageError(str(exc)) from None
        text = settings_summary(resolved)
        for secret in resolved.secrets:  # belt and braces: never print a secret
            text = text.replace(secret, "***")
        print(text)
