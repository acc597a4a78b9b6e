"""Which repr each display type gets: `mimebundle` (text/plain, text/html, text/markdown).

The flow run's repr is the one display that loads (within the display deadline); when it
shows less than it wanted, its note is added to the text/plain copy too. The Markdown is
a short summary for the single objects (states, flows, runs); a failed run's lists its
failures with their exception lines (those its HTML repr loaded: no request of its own).

The text/plain part goes to terminals too (IPython's console shows only it): `plain_text`
makes it terminal-safe (`formatting.visible`) and bounds it to `PLAIN_TEXT_STRINGS` times
`display.max_text` characters, whatever the object's repr holds (each repr also cuts its
own strings to `display.max_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect_widgets.formatting import fmt_duration, fmt_time, shorten, visible
from prefect_widgets.options import display
from prefect_widgets.states import State

from .lists import flow_run_list_html, log_list_html, task_run_list_html
from .markup import cut, escape, state_badge_html
from .runs import flow_html, flow_run_repr, task_run_html

__all__ = ["mimebundle", "plain_text", "PLAIN_TEXT_STRINGS", "MARKDOWN_FAILURES"]

#: a text/plain part holds at most this many `display.max_text` strings' worth of characters
PLAIN_TEXT_STRINGS = 10


def plain_text(obj: Any) -> str:
    """`repr(obj)` for a text/plain part: control and bidi characters made visible, cut to
    `PLAIN_TEXT_STRINGS * display.max_text` characters with "… (N more characters)"."""
    return visible(shorten(repr(obj), PLAIN_TEXT_STRINGS * display.max_text))


def _md(value: Any, width: int | None = None) -> str:
    """`value` as Markdown text: its Markdown characters backslash-escaped, then its HTML
    (in that order, so the entities HTML escaping makes stay entities)."""
    text = cut(value, width)
    for ch in "\\`*_[]|#":
        text = text.replace(ch, "\\" + ch)
    return str(escape(text))


#: failures listed in a run's Markdown summary
MARKDOWN_FAILURES = 10


def _held_failures(obj: Any) -> list[Any]:
    """The failures a run's display already loaded (no request): a flow run's snapshot's
    `failures`, a task run's `error`."""
    from prefect_widgets.views import FlowRunView

    if obj.state.type not in ("FAILED", "CRASHED"):
        return []
    if isinstance(obj, FlowRunView):
        try:
            data = obj.data
        except Exception:  # no usable client: nothing was loaded
            return []
        return list(data.peek("failures")) if data.holds("failures") else []
    held = obj._cache.values.get("error")  # the task run's repr loaded it (or not, in time)
    return [held] if held is not None else []


def _failure_lines(failures: list[Any]) -> list[str]:
    """"**Errors**" and one line per failure: its run, then its exception line."""
    if not failures:
        return []
    lines = ["", "**Errors**", ""]
    for failure in failures[:MARKDOWN_FAILURES]:
        run = "task run" if failure.task_run_id else "flow run"
        line = (failure.exception_line or failure.message or "").strip().splitlines()
        last = line[-1] if line else ""
        lines.append(f"- {run} {_md(failure.run_name)}: {_md(last, 4 * display.max_colwidth)}")
    if len(failures) > MARKDOWN_FAILURES:
        lines.append(f"- … {len(failures) - MARKDOWN_FAILURES:,} more")
    return lines


def _markdown(obj: Any) -> str | None:
    from prefect_widgets.views import FlowRunView, FlowView, TaskRunView

    if isinstance(obj, State):
        return f"**{_md(obj.name)}**" + (f": {_md(obj.message)}" if obj.message else "")
    if isinstance(obj, FlowView):
        return f"**Flow** {_md(obj.name)} (`{obj.flow_id}`)"
    if isinstance(obj, (FlowRunView, TaskRunView)):
        kind = "Flow run" if isinstance(obj, FlowRunView) else "Task run"
        ident = obj.flow_run_id if isinstance(obj, FlowRunView) else obj.task_run_id
        lines = [f"**{kind}** {_md(obj.name)} — **{_md(obj.state.name)}**", "",
                 "| | |", "|---|---|", f"| id | `{ident}` |",
                 f"| start | {fmt_time(obj.start_time)} |", f"| end | {fmt_time(obj.end_time)} |",
                 f"| duration | {fmt_duration(obj.duration)} |"]
        if obj.state.message:
            lines.append(f"| message | {_md(obj.state.message)} |")
        return "\n".join(lines + _failure_lines(_held_failures(obj)))
    return None


def mimebundle(obj: Any) -> dict[str, str]:
    """`_repr_mimebundle_` for every display type: text/plain, text/html, and text/markdown
    for the single objects (states, flows, runs) where a short summary reads well."""
    from prefect_widgets.logs import LogList
    from prefect_widgets.queries import FlowRunList, TaskRunList
    from prefect_widgets.views import FlowRunView, FlowView, TaskRunView

    renderers: list[tuple[type, Callable[[Any], str]]] = [
        (State, state_badge_html), (TaskRunView, task_run_html), (FlowView, flow_html),
        (FlowRunList, flow_run_list_html), (TaskRunList, task_run_list_html),
        (LogList, log_list_html),
    ]
    bundle = {"text/plain": plain_text(obj)}
    if isinstance(obj, FlowRunView):  # the one display that loads: note what did not come
        bundle["text/html"], note = flow_run_repr(obj)
        if note:
            bundle["text/plain"] += f"\n# {note}"
    else:
        render = next((r for cls, r in renderers if isinstance(obj, cls)), None)
        if render is not None:
            bundle["text/html"] = render(obj)
    markdown = _markdown(obj)
    if markdown is not None:
        bundle["text/markdown"] = markdown
    return bundle
