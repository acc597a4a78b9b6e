"""The report's debugging parts: the failures with their whole tracebacks and each failed
task run's state history, the run's own state history, and the artifacts of the run and
its task runs grouped by run.

The notebook's renderers draw each part (`html.debug`: `failure_body`,
`state_history_table`, `artifact_body`); this module bounds them for a file: whole
tracebacks for the first `MAX_TRACEBACKS` failures (the failed-task table lists every
failed run and its message), and artifact content up to `ARTIFACT_CHARS` characters in
all (past it an artifact shows its kind, key and description only, and says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prefect_widgets.formatting import fmt_duration
from prefect_widgets.html.debug import artifact_body, failure_body, state_history_table
from prefect_widgets.html.markup import EMPTY, Markup, details, muted, try_load
from prefect_widgets.state_history import state_history

if TYPE_CHECKING:
    from prefect_widgets.artifacts import Artifact
    from prefect_widgets.states import State
    from prefect_widgets.tracebacks import Failure
    from prefect_widgets.views import FlowRunView, TaskRunView

__all__ = ["MAX_TRACEBACKS", "MAX_ARTIFACTS", "ARTIFACT_CHARS", "errors_html",
           "run_history_html", "artifacts_html"]

#: failures shown with their whole traceback and state history
MAX_TRACEBACKS = 25
#: artifacts listed in one report section
MAX_ARTIFACTS = 200
#: characters of artifact content in one report section, all artifacts together
ARTIFACT_CHARS = 300_000


def _history(states: Sequence[State] | None, open_: bool = True,
             summary: str = "State history") -> Markup:
    if not states:
        return EMPTY
    history = state_history(list(states))
    return details(summary, state_history_table(history),
                   f"{len(history):,} states, {fmt_duration(history.total)}", open_=open_)


def errors_html(view: FlowRunView) -> Markup:
    """Each failure (task runs in run order, subflows' in their place; the flow run's own
    when no task run failed): state, message, whole traceback, then its state history."""
    failures, error = try_load("the errors", view.failures)
    if failures is None:
        return error
    if not failures:
        return EMPTY
    shown: list[Failure] = failures[:MAX_TRACEBACKS]
    ids = [f.task_run_id for f in shown if f.task_run_id]
    histories, history_error = try_load("the state histories", lambda: view.data.histories(ids))
    parts = [history_error]
    for failure in shown:
        states = (histories or {}).get(failure.task_run_id or "")
        parts.append(Markup('<div class="pw-report-failure">{}{}</div>').format(
            failure_body(failure), _history(states)))
    more = len(failures) - len(shown)
    if more > 0:
        parts.append(muted(f"… {more:,} more failed runs: their messages are in the "
                           "task-run tables"))
    return EMPTY.join(parts)


def run_history_html(view: FlowRunView) -> Markup:
    """The flow run's own state history (closed unless the run failed or crashed)."""
    states, error = try_load("the state history", lambda: view.states)
    if states is None:
        return error
    return _history(states, open_=view.state.type in ("FAILED", "CRASHED"),
                    summary="Flow run") or muted("no states")


def _owner(artifact: Artifact, names: dict[str, str]) -> str:
    if not artifact.task_run_id:
        return "flow run"
    return f"task run {names.get(artifact.task_run_id, artifact.task_run_id)}"


def _content_size(artifact: Artifact) -> int:
    data = artifact.data
    return len(data) if isinstance(data, str) else len(str(data))


def _left_out(artifact: Artifact) -> Markup:
    return muted(f"content left out to keep the report small "
                 f"({_content_size(artifact):,} characters)")


def artifacts_html(view: FlowRunView, tasks: Sequence[TaskRunView]) -> Markup:
    """The user's artifacts (Prefect's own ``result`` records counted, not shown), grouped
    by the run that made them: the flow run's first, then each task run's."""
    artifacts, error = try_load("the artifacts", lambda: view.artifacts)
    if artifacts is None:
        return error
    user = [a for a in artifacts if a.type != "result"]
    results = len(artifacts) - len(user)
    note = muted(f"{results:,} result records not shown") if results else EMPTY
    if not user:
        return muted("no artifacts") + note
    order = {t.task_run_id: i for i, t in enumerate(tasks)}
    names = {t.task_run_id: t.name for t in tasks}
    shown = sorted(user[:MAX_ARTIFACTS],
                   key=lambda a: -1 if not a.task_run_id else order.get(a.task_run_id, 1 << 30))
    budget = ARTIFACT_CHARS
    groups: dict[str, list[Markup]] = {}
    for artifact in shown:
        budget -= _content_size(artifact)
        body = artifact_body(artifact, None if budget >= 0 else _left_out(artifact))
        groups.setdefault(_owner(artifact, names), []).append(body)
    parts = EMPTY.join(Markup('<h4 class="pw-artifact-owner">{}</h4>{}').format(
        owner, EMPTY.join(bodies)) for owner, bodies in groups.items())
    more = len(user) - len(shown)
    if more > 0:
        parts += muted(f"… {more:,} more artifacts")
    return parts + note
