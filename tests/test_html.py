"""Rich reprs without a browser: structure, escaping, bounds, options, mimebundles, themes."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from prefect_widgets import Client, FlowRunView, FlowView, LogEntry, LogList, State, TaskRunView
from prefect_widgets import html as pw_html
from prefect_widgets.client import RetryPolicy
from prefect_widgets.options import display, get_option, option_context, set_option
from prefect_widgets.samples import HOSTILE, MAPPED_SIZE
from prefect_widgets.server import free_port
from prefect_widgets.states import STATE_COLORS
from prefect_widgets.views import task_runs_in_order

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
DARK_SELECTORS = ("body.vscode-dark", "html[theme=dark]", "html[data-theme=dark]",
                  "body[data-theme=dark]", "body[data-jp-theme-light=false]")


# --------------------------------------------------------------------------- helpers


def task_json(i: int, flow_run_id: str, *, failed_every: int = 97,
              hostile: bool = False) -> dict:
    state = "FAILED" if failed_every and i % failed_every == 0 else "COMPLETED"
    start = T0 + timedelta(seconds=i * 0.05)
    return {
        "id": str(uuid.UUID(int=i + 1)), "name": (HOSTILE["img"] if hostile else f"square-{i}"),
        "task_key": "square-3f1a", "dynamic_key": str(i), "flow_run_id": flow_run_id,
        "state_type": state, "state_name": state.title(),
        "state": {"type": state, "name": state.title(),
                  "message": (HOSTILE["script"] + f" task {i}") if state == "FAILED" else None},
        "start_time": start.isoformat(), "end_time": (start + timedelta(seconds=1.5)).isoformat(),
        "expected_start_time": start.isoformat(), "run_count": 2 if i % 5 == 0 else 1,
        "tags": [HOSTILE["script"], HOSTILE["emoji"]] if hostile else ["mapped"],
    }


def synthetic_flow_run(n_tasks: int, *, hostile: bool = False,
                       client: Client | None = None) -> tuple[FlowRunView, list[TaskRunView]]:
    """A flow run and its task runs built from JSON dicts, no server involved."""
    flow_run_id = str(uuid.uuid4())
    body = {
        "id": flow_run_id, "name": HOSTILE["img"] if hostile else "big-mapped-run",
        "flow_id": str(uuid.uuid4()),
        "state": {"type": "FAILED", "name": "Failed",
                  "message": HOSTILE["attr"] if hostile else "1 of 10 task runs failed"},
        "parameters": {"payload": HOSTILE["script"], "n": n_tasks,
                       HOSTILE["attr"]: [HOSTILE["img"]]} if hostile else {"n": n_tasks},
        "tags": [HOSTILE["url"], HOSTILE["rtl"]] if hostile else ["nightly"],
        "labels": {"team": HOSTILE["img"]} if hostile else {},
        "start_time": T0.isoformat(), "end_time": (T0 + timedelta(minutes=9)).isoformat(),
    }
    view = FlowRunView.from_json(body, client)
    rows = [task_json(i, flow_run_id, hostile=hostile) for i in range(n_tasks)]
    return view, task_runs_in_order(rows, client)


class Audit(HTMLParser):
    """Collects what a browser would treat as active content."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.event_attrs: list[tuple[str, str]] = []
        self.hrefs: list[str] = []
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, _value in attrs:
            if name.lower().startswith("on"):
                self.event_attrs.append((tag, name))
        if tag == "a":
            self.links.append(dict(attrs))
            self.hrefs.append(dict(attrs).get("href") or "")


def audit(markup: str) -> Audit:
    parser = Audit()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str) -> None:
    found = audit(markup)
    assert "script" not in found.tags, "a <script> element survived"
    assert "img" not in found.tags, "an <img> element survived"
    assert found.event_attrs == [], found.event_attrs
    assert not any(h.strip().lower().startswith("javascript:") for h in found.hrefs)
    assert "<script>window" not in markup
    assert "onerror=\"window" not in markup and "onmouseover=\"window" not in markup


def table_rows(markup: str) -> int:
    return markup.count("<tr><td>")


# --------------------------------------------------------------------------- stylesheet


def test_stylesheet_is_one_package_resource_read_once():
    from importlib import resources

    pw_html.stylesheet.cache_clear()
    first = pw_html.stylesheet()
    assert pw_html.stylesheet() is first
    assert pw_html.stylesheet.cache_info().hits >= 1
    assert first == (resources.files("prefect_widgets") / "resources" / "repr.css").read_text()
    view, tasks = synthetic_flow_run(3)
    markup = pw_html.flow_run_html(view, tasks, fetch=False)
    assert markup.count("<style>") == 1 and first in markup


def test_stylesheet_themes_and_palette():
    css = pw_html.stylesheet()
    for selector in DARK_SELECTORS:
        assert f"{selector} .pw-root" in css, selector
    assert "var(--jp-content-font-color0" in css and "var(--jp-layout-color0" in css
    for state, colour in STATE_COLORS.items():
        assert f"--pw-{state.lower()}: {colour};" in css, state
    assert "pw-text-repr-fallback" not in css and "!important" not in css.split(".pw-wrap")[1]
    # every class the renderers use is prefixed
    view, tasks = synthetic_flow_run(30)
    import re

    classes = {c for attr in re.findall(r'class="([^"]+)"', pw_html.flow_run_html(
        view, tasks, fetch=False)) for c in attr.split()}
    assert classes and all(c.startswith("pw-") for c in classes), classes


def test_palette_follows_prefect_ui_families():
    def rgb(hex_colour):
        return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))

    c = {k: rgb(v) for k, v in STATE_COLORS.items()}
    assert max(c["COMPLETED"]) == c["COMPLETED"][1]  # green
    for red in ("FAILED", "CRASHED"):
        assert max(c[red]) == c[red][0] and c[red][0] > 2 * c[red][2]
    assert max(c["RUNNING"]) == c["RUNNING"][2]  # blue
    for amber in ("SCHEDULED", "PENDING"):
        r, g, b = c[amber]
        assert r > g > b  # orange/amber
    for grey in ("CANCELLED", "CANCELLING"):
        assert max(c[grey]) - min(c[grey]) < 40
    assert len(set(STATE_COLORS.values())) == len(STATE_COLORS)


# --------------------------------------------------------------------------- structure


def test_flow_run_repr_structure_offline():
    view, tasks = synthetic_flow_run(25)
    markup = pw_html.flow_run_html(view, tasks, fetch=False)
    assert markup.startswith('<div class="pw-root"><style>')
    assert '<div class="pw-root"><style>' in markup and '<div class="pw-wrap">' in markup
    assert "pw-text-repr-fallback" not in markup and "display:none" not in markup
    assert "<details open><summary>Task runs" in markup
    assert "pw-state-failed" in markup and "1 of 10 task runs failed" in markup
    assert "2026-11-01 12:00:00 UTC" in markup and "9m 00s" in markup
    assert "<script" not in markup  # no JavaScript at all
    assert "(25 task runs)" in markup  # the text form is the terminal's (`flow_run_text`)
    assert "25 task runs (" in pw_html.flow_run_text(view, tasks)


def test_failed_first_then_head_and_tail():
    view, tasks = synthetic_flow_run(500)
    markup = pw_html.flow_run_html(view, tasks, fetch=False)
    failed_section, all_section = markup.split("Failed task runs</span>")[1].split(
        "<table", 2)[1:]
    failed = [t for t in tasks if t.state.is_failed()]
    assert len(failed) == 6
    for task in failed[: display.max_failed]:
        assert f">{task.name}<" in failed_section
    assert f"{len(failed) - display.max_failed} more failed task runs" in failed_section
    # head and tail of all task runs, in expected-start order
    assert f">{tasks[0].name}<" in all_section and f">{tasks[-1].name}<" in all_section
    assert f"{500 - display.min_rows:,} more task runs" in all_section
    assert f">{tasks[250].name}<" not in all_section


def test_ten_thousand_task_runs_stay_small_and_fast():
    view, tasks = synthetic_flow_run(10_000)
    began = time.perf_counter()
    markup = pw_html.flow_run_html(view, tasks, fetch=False)
    elapsed = time.perf_counter() - began
    size = len(markup.encode())
    assert size < 50_000, size
    assert "9,994 more task runs" in markup
    assert "10,000" in markup  # the count is exact even though the table is bounded
    assert elapsed < 1.0, elapsed
    small = pw_html.flow_run_html(*synthetic_flow_run(500), fetch=False)
    assert abs(size - len(small.encode())) < 2_000  # size does not grow with the task count


def test_options_bound_rows_and_restore():
    view, tasks = synthetic_flow_run(40)
    tasks = [t for t in tasks if not t.state.is_failed()]
    with option_context("display.max_rows", 5, "display.min_rows", 4):
        assert get_option("display.max_rows") == 5
        markup = pw_html.task_table_html(tasks)
        assert table_rows(markup) == 4 and f"{len(tasks) - 4} more task runs" in markup
        assert pw_html.task_table_html(tasks[:5]).count("more task runs") == 0
    assert display.max_rows == 10 and display.min_rows == 6
    assert table_rows(pw_html.task_table_html(tasks)) == 6
    set_option("display.max_rows", 50)
    try:
        assert table_rows(pw_html.task_table_html(tasks)) == len(tasks)
    finally:
        set_option("display.max_rows", 10)
    with pytest.raises(ValueError):
        display.max_rows = 0
    with pytest.raises(AttributeError):
        display.max_roows = 3
    with pytest.raises(KeyError):
        with option_context("display.nope", 1):
            pass
    assert display.max_rows == 10


def test_max_colwidth_truncates_with_full_value_in_title():
    long_name = "extract-" + "x" * 200
    view, tasks = synthetic_flow_run(1)
    body = dict(view.raw, name=long_name)
    view = FlowRunView.from_json(body)
    with option_context("display.max_colwidth", 30):
        markup = pw_html.flow_run_html(view, tasks, fetch=False)
    assert f'title="{long_name}"' in markup
    assert "extract-" + "x" * 21 + "…" in markup
    assert f">{long_name}<" not in markup


def test_max_items_bounds_parameters_and_tags():
    view, tasks = synthetic_flow_run(1)
    body = dict(view.raw, parameters={f"p{i}": i for i in range(100)},
                tags=[f"t{i}" for i in range(100)])
    markup = pw_html.flow_run_html(FlowRunView.from_json(body), tasks, fetch=False)
    assert "… 80 more" in markup and ">80 more<" in markup
    assert ">p19<" in markup and ">p20<" not in markup
    assert ">t19<" in markup and ">t20<" not in markup


# --------------------------------------------------------------------------- escaping


def test_hostile_strings_escaped_everywhere_offline():
    view, tasks = synthetic_flow_run(30, hostile=True)
    markup = pw_html.flow_run_html(view, tasks, fetch=False)
    assert_inert(markup)
    assert "&lt;script&gt;window.__pw_xss=1&lt;/script&gt;" in markup
    assert "&lt;img src=x onerror=&quot;window.__pw_xss=1&quot;&gt;" in markup
    assert "&quot; onmouseover=&quot;window.__pw_xss=1&quot; x=&quot;" in markup
    assert HOSTILE["rtl"] in markup and HOSTILE["emoji"] in pw_html.task_run_html(tasks[0])
    for task in tasks[:3]:
        assert_inert(pw_html.task_run_html(task))
    logs = LogList([LogEntry(T0, 40, HOSTILE["script"]), LogEntry(T0, 30, HOSTILE["img"])])
    assert_inert(pw_html.log_list_html(logs))
    assert_inert(pw_html.state_badge_html(State("FAILED", HOSTILE["img"], HOSTILE["attr"])))
    flow = FlowView.from_json({"id": str(uuid.uuid4()), "name": HOSTILE["script"],
                               "tags": [HOSTILE["img"]], "labels": {"x": HOSTILE["attr"]}})
    assert_inert(pw_html.flow_html(flow))


def test_only_http_urls_become_links():
    assert pw_html.safe_url("http://127.0.0.1:4200/runs/flow-run/1") is not None
    assert pw_html.safe_url("https://app.prefect.cloud/account/a") is not None
    for bad in (HOSTILE["url"], " javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,x",
                "vbscript:x", "//evil.example/x", "http:/nohost", "https://a b.example",
                "http://x.example/\x00", None, 3):
        assert pw_html.safe_url(bad) is None, bad
    assert pw_html._link("x", HOSTILE["url"]) == "x"
    link = pw_html._link("run", 'https://h.example/a"onmouseover="x')
    assert audit(link).event_attrs == [] and 'rel="noopener noreferrer"' in link


# --------------------------------------------------------------------------- other reprs


def test_log_list_repr_tail_levels_and_bound():
    entries = [LogEntry(T0 + timedelta(seconds=i), (10, 20, 30, 40, 50)[i % 5], f"line {i}")
               for i in range(1_000)]
    markup = pw_html.log_list_html(LogList(entries))
    assert "950 earlier lines" in markup and ">line 999<" in markup and ">line 949<" not in markup
    for level in ("debug", "info", "warning", "error", "critical"):
        assert f"pw-level-{level}" in markup
    assert len(markup.encode()) < 30_000
    assert "no log lines" in pw_html.log_list_html(LogList([]))


def test_task_run_repr_offline():
    _, tasks = synthetic_flow_run(6)
    task = tasks[5]
    body = dict(task.raw, task_inputs={"x": [{"input_type": "task_run", "id": tasks[0].task_run_id}],
                                       "n": [{"input_type": "parameter", "name": "n"}]},
                empirical_policy={"retries": 3, "retry_delay": 10})
    markup = pw_html.task_run_html(TaskRunView.from_json(body))
    assert "Task run" in markup and "2 (retries: 1)" in markup
    assert f"task run {tasks[0].task_run_id}" in markup and "parameter n" in markup
    assert "<summary>Retry policy</summary>" in markup and ">retry_delay<" in markup
    assert tasks[0].task_run_id in markup  # upstream


def test_unreachable_server_renders_a_tidy_message():
    port = free_port()
    with Client(f"http://127.0.0.1:{port}/api", timeout=2,
                retry=RetryPolicy(max_retries=0)) as dead:
        view, _ = synthetic_flow_run(1, client=dead)
        markup = pw_html.flow_run_html(view)
        bundle = pw_html.mimebundle(view)
    assert "Could not load the task runs: ServerUnreachable" in markup
    assert "Could not load the flow: ServerUnreachable" in markup
    assert "Traceback" not in markup and "pw-error" in markup
    assert view.name in markup  # the data the view holds is still shown
    assert set(bundle) == {"text/plain", "text/html", "text/markdown"}


# --------------------------------------------------------------------------- real server


def test_flow_run_repr_from_server(runs):
    view = FlowRunView.from_flow_run_id(runs["failing"])
    markup = view._repr_html_()
    assert ">flow nightly-etl<" in markup  # flow name from the cached `.flow`
    links = [a for a in audit(markup).links if a.get("href") == view.ui_url]
    assert links and links[0]["rel"] == "noopener noreferrer" and links[0]["target"] == "_blank"
    assert view.ui_url.startswith("http://127.0.0.1:")
    assert "write_to_warehouse" in markup and "Failed task runs" in markup
    assert "pw-state-failed" in markup and "pw-state-completed" in markup
    cached = view.data.peek("task_views")
    view._repr_html_()
    assert view.data.peek("task_views") is cached  # fetched once per snapshot
    assert len(cached) == 2


def test_mapped_run_repr_is_bounded(runs):
    view = FlowRunView.from_flow_run_id(runs["mapped"])
    markup = view._repr_html_()
    assert f"{MAPPED_SIZE:,} more task runs".replace(str(MAPPED_SIZE), str(MAPPED_SIZE - 6)) \
        in markup
    assert f"({MAPPED_SIZE:,} task runs)" in markup and len(markup.encode()) < 50_000


def test_hostile_run_repr_from_server(runs):
    view = FlowRunView.from_flow_run_id(runs["hostile"])
    assert view.name == HOSTILE["img"]
    bundle = view._repr_mimebundle_()
    markup = bundle["text/html"]
    assert_inert(markup)
    assert "&lt;img src=x onerror=&quot;window.__pw_xss=1&quot;&gt;" in markup  # names
    assert "&lt;script&gt;window.__pw_xss=1&lt;/script&gt;" in markup  # tags, messages
    assert "<script" not in bundle["text/markdown"] and "&lt;" in bundle["text/markdown"]
    task = view.get_all_task_runs()[0]
    assert_inert(task._repr_html_())
    logs = view.get_logs()
    log_markup = logs._repr_html_()
    assert_inert(log_markup)
    assert "&lt;script&gt;window.__pw_xss=1&lt;/script&gt;" in log_markup
    flow = view.flow
    assert_inert(flow._repr_html_())


def test_mimebundles_of_every_type(runs):
    view = FlowRunView.from_flow_run_id(runs["retrying"])
    task = view.get_all_task_runs()[0]
    objects = {
        "state": view.state, "flow_run": view, "task_run": task, "flow": view.flow,
        "flow_runs": FlowRunView.query(limit=5), "task_runs": TaskRunView.query(limit=5),
        "logs": view.get_logs(),
    }
    with_markdown = {"state", "flow_run", "task_run", "flow"}
    for name, obj in objects.items():
        bundle = obj._repr_mimebundle_()
        expected = {"text/plain", "text/html"} | ({"text/markdown"} if name in with_markdown
                                                  else set())
        assert set(bundle) == expected, name
        assert bundle["text/plain"] == repr(obj)
        assert bundle["text/html"].startswith('<div class="pw-root">') or name == "state"
        assert "pw-text-repr-fallback" not in bundle["text/html"]  # the text is text/plain
    assert "retries: 2" in objects["task_run"]._repr_html_()  # flaky_download ran 3 times
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(view)
    assert data["text/html"].startswith('<div class="pw-root">')
    assert data["text/plain"] == repr(view)


def test_run_lists_show_flow_names_parents_and_readable_durations(runs):
    parent = FlowRunView.from_flow_run_id(runs["subflow"])
    link = next(t for t in parent.task_runs() if t.kind == "subflow-run")
    children = FlowRunView.query(parent_task_run_id=[link.task_run_id])
    child = children[0]
    markup = children._repr_html_()
    assert ("<tr><th>state</th><th>name</th><th>flow</th><th>start</th><th>duration</th>"
            "<th>parent task run</th><th>tags</th></tr>") in markup
    row = markup.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert f"<td>{child.flow.name}</td>" in row  # looked up, within the display deadline
    assert f'title="{link.task_run_id}">{link.task_run_id[:8]}</span>' in row
    assert re.search(r'<td class="pw-num">(\d+\.\d+ s|\d+m \d\ds)</td>', row)
    tasks = TaskRunView.query(flow_run_id=[parent.flow_run_id])
    markup = tasks._repr_html_()
    assert ("<th>name</th><th>task</th><th>flow run</th><th>start</th><th>duration</th>"
            "<th>retries</th>") in markup
    assert markup.count(f">{parent.name}</a></td>") + markup.count(
        f"<td>{parent.name}</td>") == len(tasks)
    top = FlowRunView.query(limit=3)._repr_html_()
    assert top.count("<td><span class=\"pw-muted\">—</span></td>") >= 1  # no parent


def test_markdown_summary_lists_the_failures_with_their_exception_lines(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    markdown = run._repr_mimebundle_()["text/markdown"]
    task = run.get_task_run("parse_rows")
    line = "ValueError: boom: row &#x27;x&#x27; is not a number"
    assert markdown.endswith(f"**Errors**\n\n- task run {task.name.replace('_', chr(92) + '_')}"
                             f": {line}")
    assert task._repr_mimebundle_()["text/markdown"].endswith(line)
    hello = FlowRunView.from_flow_run_id(debug_runs["artifacts"])._repr_mimebundle_()
    assert "**Errors**" not in hello["text/markdown"]


# --------------------------------------------------------------------------- safe by construction


def test_plain_strings_are_escaped_where_markup_goes():
    from prefect_widgets.html import markup

    assert markup.grid([("<b>", "<i>")]) == \
        '<dl class="pw-grid"><dt>&lt;b&gt;</dt><dd>&lt;i&gt;</dd></dl>'
    assert pw_html._header("<k>", "<t>", '<x onclick="y">') == (
        '<div class="pw-header"><span class="pw-kind">&lt;k&gt;</span> <span class="pw-title">'
        '&lt;t&gt;</span> &lt;x onclick=&quot;y&quot;&gt;</div>')
    body = pw_html._wrap("<script>x</script>")
    assert "<script>" not in body and "&lt;script&gt;x&lt;/script&gt;" in body
    assert markup.details("<s>", "<b>", 3) == ("<details open><summary>&lt;s&gt; <span "
                                               'class="pw-count">(3)</span></summary>&lt;b&gt;'
                                               "</details>")
    assert markup.table(["<h>"], ["<tr>"], 0, [], "x").count("&lt;") == 2
    # markup is kept as is, and stays markup through joins and concatenation
    kept = markup.grid([(markup.Markup("<b>k</b>"), markup.trunc("<v>"))])
    assert "<dt><b>k</b></dt><dd>&lt;v&gt;</dd>" in kept
    assert isinstance(kept + "<i>", markup.Markup) and (kept + "<i>").endswith("&lt;i&gt;")
    assert isinstance(pw_html.flow_run_html(*synthetic_flow_run(2), fetch=False), str)


def test_every_stylesheet_rule_is_scoped_under_pw_root():
    import re

    css = re.sub(r"/\*.*?\*/", "", str(pw_html.stylesheet()), flags=re.S)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]
    assert len(selectors) > 50
    unscoped = [s for s in selectors if not re.search(r"(^|\s)\.pw-root(?![\w-])", s)]
    assert unscoped == []
