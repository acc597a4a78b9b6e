"""Which repr each display type gets: `mimebundle` (text/plain, text/html, text/markdown).

The flow run's repr is the one display that loads (within the display deadline); when it
shows less than it wanted, its note is added to the text/plain copy too. The Markdown is
a short summary for the single objects (states, flows, runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect_widgets.formatting import fmt_duration, fmt_time
from prefect_widgets.states import State

from .lists import flow_run_list_html, log_list_html, task_run_list_html
from .markup import cut, escape, state_badge_html
from .runs import flow_html, flow_run_repr, task_run_html

__all__ = ["mimebundle"]


def _md(value: Any) -> str:
    text = str(escape(cut(value)))
    for ch in "\\`*_[]|#":
        text = text.replace(ch, "\\" + ch)
    return text


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
        return "\n".join(lines)
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
    bundle = {"text/plain": repr(obj)}
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
