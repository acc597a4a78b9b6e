"""What a person debugging a failed run sees in a notebook (issue 18): whole tracebacks in
the flow-run, task-run, failure and State reprs, artifacts of each kind, state histories,
task inputs and logs tagged with their task runs; markdown sanitised (offline cases too)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from prefect_widgets import FlowRunView, State
from prefect_widgets.artifacts import artifact_from_json
from prefect_widgets.html import escape, markdown_html
from prefect_widgets.html.markdown import image_url
from prefect_widgets.samples import HOSTILE, PIXEL_PNG

FAILING = [
    ("task_error", "check_row", "ValueError: boom: row 'x' is not a number"),
    ("subflow_error", "lookup_region", "LookupError: unknown region 'mars'"),
    ("retries_error", "always_refused", "ConnectionError: attempt 3: the warehouse refused"),
    ("crash", "pull_plug", "Abort: the process was told to stop"),
]


def _fallback(markup: str) -> str:
    """The repr's text content (what a renderer without styles shows)."""
    return re.sub(r"<style>.*?</style>|<[^>]+>", "", markup, flags=re.S)


def _visible_part(markup: str) -> str:
    """The HTML outside the folded frames (`<details class="pw-tb-folded">`)."""
    return re.sub(r'<details class="pw-tb-folded">.*?</details>', "", markup, flags=re.S)


@pytest.mark.parametrize(("sample", "function", "line"), FAILING)
def test_flow_run_repr_shows_the_user_frame_and_the_final_line(debug_runs, sample, function,
                                                               line):
    run = FlowRunView.from_flow_run_id(debug_runs[sample])
    markup = run._repr_html_()
    body = markup.split('<div class="pw-wrap"', 1)[1]
    errors = body.split("pw-traceback", 1)[1]
    shown = _visible_part(errors)
    assert f"in {function}" in shown  # the user's frame, outside every fold
    assert str(escape(line)) in shown
    assert 'class="pw-tb-exception"' in shown
    folded = re.findall(r'<details class="pw-tb-folded"><summary>(.*?)</summary>', errors)
    assert folded and all("internal" in s or "library" in s for s in folded)
    assert "site-packages/prefect/" not in shown.split("Whole traceback text")[0]
    text = _fallback(markup)
    assert f"in {function}" in text and str(escape(line)) in text
    assert "title=" not in errors.split("Whole traceback text")[0]  # nothing tooltip-only


def test_task_run_repr_shows_its_error_history_and_linked_inputs(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["retries_error"])
    task = run.get_task_run("always_refused")
    markup = task._repr_html_()
    assert "in always_refused" in _visible_part(markup)
    assert "ConnectionError: attempt 3: the warehouse refused" in markup
    history = markup.split("State history", 1)[1]
    assert history.count(">Retrying<") == 2 and ">Failed<" in history
    assert "in always_refused" in _fallback(markup)


def test_task_inputs_name_and_link_their_upstream_runs(runs, client):
    run = FlowRunView.from_flow_run_id(runs["hello"], client=client)
    say_hello, capitalize = run.get_task_run("say_hello"), run.get_task_run("capitalize")
    markup = say_hello._repr_html_()
    inputs = markup.split("<summary>Inputs", 1)[1].split("</details>", 1)[0]
    assert str(escape(capitalize.name)) in inputs and capitalize.task_run_id[:8] in inputs
    if client.ui_url:
        assert f'href="{client.ui_url}/runs/task-run/{capitalize.task_run_id}"' in inputs


def test_failed_state_repr_shows_its_message(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    state = run.get_task_run("parse_rows").state
    markup = state._repr_html_()
    assert 'class="pw-badge pw-state-failed"' in markup
    assert "pw-state-message" in markup and "ValueError" in markup


def test_failure_and_history_reprs(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["subflow_error"])
    failure = run.failures()[0]
    markup = failure._repr_html_()
    assert "in lookup_region" in _visible_part(markup)
    assert "The above exception was the direct cause" in markup
    assert str(escape("KeyError: 'mars'")) in markup
    history = run.state_history._repr_html_()
    assert ">Running<" in history and ">Failed<" in history and "time in state" in history


def test_every_artifact_kind_shows_in_the_flow_and_task_run_reprs(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["artifacts"])
    task = run.get_task_run("report_artifacts")
    for markup in (run._repr_html_(), task._repr_html_(), run.artifacts._repr_html_()):
        section = markup.split("pw-artifact", 1)[1]
        assert "<h1>Summary</h1>" in section  # markdown, rendered
        assert ('<a href="https://docs.prefect.io" target="_blank" '
                'rel="noopener noreferrer">the docs</a>') in section
        assert section.count("<td>eu</td>") >= 2  # both table shapes
        assert 'href="https://docs.prefect.io/"' in section and "Prefect docs" in section
        assert '<progress class="pw-progress" max="100" value="42.0">' in section
        assert section.count(f'src="{PIXEL_PNG}"') >= 2  # the image, and the markdown's


def test_logs_repr_tags_lines_with_their_task_run(debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["task_error"])
    logs = run.get_logs()
    task = run.get_task_run("parse_rows")
    markup = logs._repr_html_()
    assert f'<span class="pw-log-task">{escape(task.name)}</span>' in markup
    assert "pw-level-info" in markup and "pw-level-error" in markup


# ---------------------------------------------------------------- offline: sanitising


def _artifact(kind: str, data: object) -> object:
    return artifact_from_json({"id": "00000000-0000-4000-8000-000000000001", "key": "k",
                               "type": kind, "data": data, "description": HOSTILE["img"]})


HOSTILE_MARKDOWN = "\n\n".join([
    HOSTILE["script"], HOSTILE["img"], HOSTILE["attr"], f"[click]({HOSTILE['url']})",
    "[rel](/relative/path)", "![x](javascript:window.__pw_xss=1)",
    "![y](http://insecure.example/a.png)", "![z](data:text/html,<script>1</script>)",
    "<a href='javascript:window.__pw_xss=1'>raw</a>", "<iframe src=x></iframe>",
    f"| a | {HOSTILE['img']} |\n|---|---|\n| {HOSTILE['script']} | [c]({HOSTILE['url']}) |",
])


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _assert_inert(markup: str) -> None:
    """No active element, no event handler, links only to http(s)/mailto, images only from
    https: and data:image/ (text that merely reads "javascript:" is inert)."""
    parser = _Tags()
    parser.feed(markup)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "object", "embed", "svg", "math", "form"), tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("https://", "http://", "mailto:")), attrs
            assert attrs.get("rel") == "noopener noreferrer", attrs
        if tag == "img":
            assert (attrs.get("src") or "").startswith(("https://", "data:image/")), attrs
        assert "style" not in attrs or tag == "div", attrs  # only the shell's own div


def test_markdown_keeps_only_safe_markup_and_urls():
    markup = str(markdown_html(HOSTILE_MARKDOWN))
    _assert_inert(markup)
    assert "<table>" in markup and "&lt;script&gt;" in markup
    assert "image not shown" in markup and 'src="http://' not in markup
    assert str(markdown_html("[d](https://docs.prefect.io)")).count(
        'target="_blank" rel="noopener noreferrer"') == 1


@pytest.mark.parametrize(("url", "kept"), [
    ("https://example.org/a.png", True), (PIXEL_PNG, True), ("http://example.org/a.png", False),
    ("javascript:alert(1)", False), ("data:text/html;base64,PHNjcmlwdD4=", False),
    ("//example.org/a.png", False), (" DATA:IMAGE/png;base64,AA", True), (None, False),
])
def test_image_urls(url, kept):
    assert (image_url(url) is not None) is kept


@pytest.mark.parametrize(("kind", "data"), [
    ("markdown", HOSTILE_MARKDOWN),
    ("table", [{HOSTILE["img"]: HOSTILE["script"], "u": HOSTILE["url"]}]),
    ("table", {HOSTILE["attr"]: [HOSTILE["img"], HOSTILE["url"]]}),
    ("markdown", f"[{HOSTILE['img']}]({HOSTILE['url']})"),  # a link artifact
    ("image", HOSTILE["url"]), ("image", "http://insecure.example/a.png"),
    ("progress", HOSTILE["script"]), ("result", {"html": HOSTILE["script"]}),
])
def test_hostile_artifacts_render_inert(kind, data):
    artifact = _artifact(kind, data)
    _assert_inert(str(artifact._repr_html_()))


def test_state_repr_of_a_hostile_message_is_escaped():
    markup = State("FAILED", "Failed", HOSTILE["script"] + HOSTILE["img"])._repr_html_()
    assert "<script>window" not in markup and "&lt;img src=x" in markup
