"""Rich display of Prefect's own objects, and the display client's policy.

Registers display formatters **by type name** for Prefect's states, flow runs, task runs,
flows, and lists of them, so a `State` returned by `my_flow(return_state=True)` or a `FlowRun`
read with Prefect's client shows as our rich repr. Registering by name keeps `prefect`
unimported until the user's code imports it. A formatter never puts a traceback in the
output: when the server cannot be reached it renders a short, escaped note instead.

`display_client()` is the short-policy client the formatters' views and the watch use.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect_widgets.client import Client, RetryPolicy
from prefect_widgets.display_deadline import Deadline
from prefect_widgets.errors import DisplayLate, NotFound, PrefectWidgetsError
from prefect_widgets.settings import Settings, resolve_settings

__all__ = ["display_client", "format_html", "format_list_html", "install_formatters",
           "FormatterRegistration", "kind_of", "to_view", "note_html", "reason"]

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


def close_display_clients() -> None:
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
    from prefect_widgets.states import State
    from prefect_widgets.views import FlowRunView, FlowView, TaskRunView

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


def note_html(kind: str, title: str, message: str) -> str:
    """A small escaped repr for when the full one cannot be built."""
    from prefect_widgets.html import Markup, _header, _wrap

    body = _header(kind, title) + Markup('<div class="pw-error">{}</div>').format(message)
    return _wrap(body)


def reason(exc: BaseException) -> str:
    """An error in one line: its type and the first line of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _title(obj: Any) -> str:
    name = getattr(obj, "name", None)
    return str(name) if name is not None else type(obj).__name__


_KIND_LABELS = {"state": "State", "flow_run": "Flow run", "task_run": "Task run",
                "flow_model": "Flow", "flow": "Flow"}


# --------------------------------------------------------------------------- formatters


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
        return note_html(_KIND_LABELS[kind], _title(obj), str(exc))
    except NotFound:
        if kind == "flow":
            return note_html("Flow", _title(obj), "Not on the server yet: the flow has no runs.")
        raise
    except PrefectWidgetsError as exc:
        return note_html(_KIND_LABELS[kind], _title(obj), reason(exc))
    return view._repr_html_()


def _html_printer(obj: Any) -> str | None:
    try:
        return format_html(obj)
    except PrefectWidgetsError as exc:
        return note_html(_KIND_LABELS.get(kind_of(obj) or "", "Prefect object"), _title(obj),
                         reason(exc))
    except Exception:  # never a traceback in a repr: let IPython fall back to text/plain
        return None


def format_list_html(items: Any) -> str | None:
    """Lists made only of flow runs, only of task runs, or only of states; else None."""
    if not isinstance(items, list) or not items:
        return None
    kind = kind_of(items[0])
    if kind not in ("flow_run", "task_run", "state") or any(kind_of(i) != kind for i in items):
        return None
    from prefect_widgets.html import Markup, _badge, _header, _wrap
    from prefect_widgets.queries import FlowRunList, TaskRunList

    client = _client_for(kind)
    views = [to_view(item, client) for item in items]
    if kind == "flow_run":
        return FlowRunList(views)._repr_html_()
    if kind == "task_run":
        return TaskRunList(views)._repr_html_()
    badges = Markup(" ").join(_badge(v) for v in views)
    return _wrap(_header("States", f"{len(views):,}") + Markup("<div>{}</div>").format(badges))


def _plain_printer(obj: Any, p: Any, cycle: bool) -> None:
    """text/plain summary of flow runs and task runs (no server requests), terminal-safe and
    bounded like every text/plain part (`html.plain_text`)."""
    from prefect_widgets.html import flow_run_text, plain_text, task_run_text

    try:
        view = to_view(obj, None)
        text = flow_run_text(view, None) if kind_of(obj) == "flow_run" else task_run_text(view)
    except Exception:  # fall back to the model's own repr, never a traceback
        text = plain_text(obj)
    p.text(text)


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


# --------------------------------------------------------------------------- registration


@dataclass
class FormatterRegistration:
    """The formatters `install_formatters` set on one shell, to undo it exactly."""

    by_name: list[tuple[Any, str, str, Any, Any]] = field(default_factory=list)
    by_type: list[tuple[Any, type, Any, Any]] = field(default_factory=list)

    def _by_name(self, formatter: Any, module: str, name: str, func: Any) -> None:
        # pop first: a class already resolved in type_printers would shadow a deferred entry
        previous = formatter.pop(f"{module}.{name}", None)
        formatter.for_type_by_name(module, name, func)
        self.by_name.append((formatter, module, name, func, previous))

    def remove(self) -> None:
        """Remove what was installed; put back the formatters it replaced."""
        for formatter, module, name, func, previous in reversed(self.by_name):
            try:
                current = formatter.lookup_by_type(f"{module}.{name}")
            except KeyError:
                current = None
            if current is func:  # leave alone a formatter someone set after us
                formatter.pop(f"{module}.{name}", None)
                if previous is not None:
                    formatter.for_type_by_name(module, name, previous)
        for formatter, typ, func, previous in reversed(self.by_type):
            if formatter.type_printers.get(typ) is func:
                if previous is not None:
                    formatter.type_printers[typ] = previous
                else:
                    formatter.type_printers.pop(typ, None)


def install_formatters(ipython: Any) -> FormatterRegistration:
    """Register the formatters by type name (`prefect` is not imported)."""
    reg = FormatterRegistration()
    html = ipython.display_formatter.formatters[HTML]
    plain = ipython.display_formatter.formatters[PLAIN]
    for (module, name), kind in KINDS.items():
        reg._by_name(html, module, name, _html_printer)
        if kind in PLAIN_KINDS:
            reg._by_name(plain, module, name, _plain_printer)
    previous_list = html.type_printers.get(list)
    list_printer = _make_list_printer(previous_list)
    html.for_type(list, list_printer)
    reg.by_type.append((html, list, list_printer, previous_list))
    return reg
