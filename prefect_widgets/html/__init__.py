"""Rich HTML reprs without JavaScript (xarray style), shared by the notebook and the reports.

Each repr is one `<div class="pw-root">` holding the stylesheet (a package resource read
once) and the body, once: renderers that drop `<style>` (GitHub, nbviewer, untrusted
notebooks) show the body as plain HTML, which reads on its own; the text is the
mimebundle's separate ``text/plain`` part.
Collapsing uses `<details>`. Markup is safe by construction (`markup`): every helper
returns `Markup` and escapes whatever plain value it is given; only http(s) URLs become
links. Output is bounded by `prefect_widgets.options.display`.

One concern per module: `markup` (the helpers and the repr shell), `runs` (flow runs, task
runs, flows), `lists` (run lists and logs), `debug` (failures with tracebacks, artifacts,
state histories, task inputs), `markdown` (markdown to sanitised HTML: `markdown_html`),
`bundle` (the mimebundle of each display type), `unfinished` (task runs that never reached
a final state). This package re-exports what other modules use.
"""

from __future__ import annotations

from prefect_widgets.states import STATE_COLORS

from .bundle import PLAIN_TEXT_STRINGS, mimebundle, plain_text
from .debug import (
    artifact_html,
    artifact_list_html,
    artifacts_section,
    failure_html,
    failures_section,
    state_history_html,
    task_inputs_html,
    traceback_html,
)
from .lists import flow_run_list_html, log_lines_html, log_list_html, task_run_list_html
from .markdown import markdown_html
from .markup import (
    COUNT_ORDER,
    EMPTY,
    MAX_FALLBACK,
    MAX_TITLE,
    Markup,
    badge,
    capped,
    chips,
    counts_html,
    cut,
    details,
    error_block,
    escape,
    grid,
    head_tail,
    header,
    link,
    mapping,
    mono,
    muted,
    row,
    safe_url,
    state_badge_html,
    state_class,
    stylesheet,
    table,
    trunc,
    try_load,
    wrap,
)
from .runs import (
    SLOWEST,
    TASK_HEADER,
    failed_table_html,
    flow_html,
    flow_run_body,
    flow_run_html,
    flow_run_text,
    load_task_runs,
    slowest_table_html,
    slowest_task_runs,
    task_run_html,
    task_run_text,
    task_table_html,
)

__all__ = [
    "STATE_COLORS", "stylesheet", "state_badge_html", "flow_html", "task_run_html",
    "flow_run_html", "flow_run_list_html", "task_run_list_html", "log_list_html", "mimebundle",
    "escape", "safe_url", "slowest_task_runs", "Markup", "EMPTY", "COUNT_ORDER", "MAX_TITLE",
    "MAX_FALLBACK", "badge", "capped", "chips", "counts_html", "cut", "details", "error_block",
    "grid", "head_tail", "header", "link", "mapping", "mono", "muted", "row", "state_class",
    "table", "trunc", "try_load", "wrap", "SLOWEST", "TASK_HEADER", "failed_table_html",
    "flow_run_body", "flow_run_text", "load_task_runs", "slowest_table_html", "task_run_text",
    "task_table_html", "log_lines_html", "plain_text", "PLAIN_TEXT_STRINGS",
    "failure_html", "artifact_html", "artifact_list_html", "state_history_html",
    "traceback_html", "failures_section", "artifacts_section", "task_inputs_html",
    "markdown_html",
]

# The names the live-widget extension and older callers use (same helpers, same behaviour:
# they take `Markup` or plain values and escape the plain ones).
_badge = badge
_header = header
_link = link
_wrap = wrap
