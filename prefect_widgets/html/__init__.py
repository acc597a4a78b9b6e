"""Rich HTML reprs without JavaScript (xarray style), shared by the notebook and the reports.

Each repr is one `<div class="pw-root">` holding the stylesheet (a package resource read
once), a `<pre class="pw-text-repr-fallback">` text copy that the stylesheet hides, and the
styled body, which carries `style="display:none"` that the stylesheet overrides: renderers
that drop `<style>` (GitHub, nbviewer, untrusted notebooks) show the text copy instead.
Collapsing uses `<details>`. Markup is safe by construction (`markup`): every helper
returns `Markup` and escapes whatever plain value it is given; only http(s) URLs become
links. Output is bounded by `prefect_widgets.options.display`.

One concern per module: `markup` (the helpers and the repr shell), `runs` (flow runs, task
runs, flows), `lists` (run lists and logs), `bundle` (the mimebundle of each display
type). This package re-exports what other modules use.
"""

from __future__ import annotations

from prefect_widgets.states import STATE_COLORS

from .bundle import mimebundle
from .lists import flow_run_list_html, log_lines_html, log_list_html, task_run_list_html
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
    "task_table_html", "log_lines_html",
]

# The names the live-widget extension and older callers use (same helpers, same behaviour:
# they take `Markup` or plain values and escape the plain ones).
_badge = badge
_header = header
_link = link
_wrap = wrap
