"""Issue 17, item 1: no raw control, bidi or invisible format character reaches a terminal.

Property tests (hypothesis, every Unicode category, surrogates included) drive arbitrary
text through each output path of `prefect_widgets.cli.output` and the stderr error line;
then a run whose names, tags, parameters, state messages and log lines hold every terminal
payload of `tests/hostile.py` (written through the real server's REST API) is printed by
every CLI command in every output format.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import subprocess
import sys
import unicodedata
import uuid
from datetime import datetime, timezone

import pytest
import typer
from hostile import JOINERS, TERMINAL, TERMINAL_ALL, assert_terminal_safe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from writer import post, writer

from prefect_widgets.cli import app
from prefect_widgets.cli.app import State as CliState
from prefect_widgets.cli.app import _fail
from prefect_widgets.cli.logs import _print_log
from prefect_widgets.cli.output import Column, Output
from prefect_widgets.errors import NotFound
from prefect_widgets.formatting import csv_cell, json_visible, visible
from prefect_widgets.logs import LogEntry

#: any text: every category, lone surrogates included
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[tnr])")
_SHORT = {"t": "\t", "n": "\n", "r": "\r"}


def _unescape(shown: str) -> str:
    """The inverse of `visible` for text without a backslash of its own."""
    return _ESCAPE.sub(lambda m: _SHORT.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), shown)


def _printable(text: str) -> bool:
    return "\\" not in text


# --------------------------------------------------------------------------- the one rule


@given(ANY_TEXT)
def test_visible_leaves_nothing_raw_and_reads_back(text):
    for keep in ("\t\n", ""):
        shown = visible(text, keep)
        assert_terminal_safe(shown, keep=keep)
        if _printable(text):
            assert _unescape(shown) == text


def test_every_format_character_of_this_python_is_escaped():
    formats = [chr(c) for c in range(0x110000)
               if unicodedata.category(chr(c)) in ("Cf", "Cc", "Zl", "Zp")
               and chr(c) not in JOINERS]
    assert_terminal_safe(visible("".join(formats), ""), keep="")


def test_the_rule_on_named_payloads():
    assert visible(TERMINAL["osc52-clipboard"]) == "\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07"
    assert visible("\x9b2J") == "\\x9b2J"
    assert visible("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert visible("tag\U000e0041") == "tag\\U000e0041"
    assert visible("a\tb\nc\rd", "") == "a\\tb\\nc\\rd"
    assert visible("données 🚀 👩\u200d💻 [bold]x[/]") == "données 🚀 👩\u200d💻 [bold]x[/]"


@given(ANY_TEXT)
def test_json_visible_is_the_same_json_value(text):
    shown = json_visible(json.dumps({"name": text}, ensure_ascii=False))
    assert_terminal_safe(shown)
    assert json.loads(shown) == {"name": text}


@pytest.mark.parametrize(("cell", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+cmd", "'+1+cmd"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("-1.5", "-1.5"),
    ("+3", "+3"), ("plain", "plain"), ("a=b", "a=b")])
def test_csv_cells_never_start_a_formula(cell, expected):
    assert csv_cell(cell) == expected


# --------------------------------------------------------------------------- output paths


def _render(fmt: str, text: str) -> str:
    buffer = io.StringIO()
    out = Output(fmt, buffer)
    out.rows([Column("name", "NAME"), Column("tags", "TAGS")],
             [{"name": text, "tags": [text]}], title=text)
    out.pairs([("message", text)])
    out.json_line({"message": text})
    return buffer.getvalue()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_every_output_format_is_terminal_safe(text):
    for fmt in ("table", "tsv", "csv", "json"):
        assert_terminal_safe(_render(fmt, text), what=fmt)


@given(ANY_TEXT)
def test_tsv_keeps_one_line_per_row_and_json_keeps_the_value(text):
    buffer = io.StringIO()
    Output("tsv", buffer).plain_row([text, text])
    line = buffer.getvalue()
    assert line.count("\n") == 1 and line.count("\t") == 1
    if _printable(text):
        assert _unescape(line[:-1].split("\t")[0]) == text
    buffer = io.StringIO()
    Output("json", buffer).json([{"name": text}])
    assert json.loads(buffer.getvalue()) == [{"name": text}]


@given(ANY_TEXT)
def test_csv_rows_parse_back_to_visible_cells(text):
    buffer = io.StringIO()
    Output("csv", buffer).plain_row([text])
    assert_terminal_safe(buffer.getvalue())
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [csv_cell(text)]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_log_lines_are_terminal_safe_in_every_format(text):
    entry = LogEntry(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), level=40,
                     message=text, logger=text, task_run_id=str(uuid.uuid4()))
    for fmt in ("table", "tsv", "csv", "json"):
        buffer = io.StringIO()
        _print_log(Output(fmt, buffer), entry, stream=True)
        assert_terminal_safe(buffer.getvalue(), what=fmt)


@given(ANY_TEXT)
def test_the_error_line_on_stderr_is_terminal_safe(text):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(typer.Exit):
        _fail(CliState(), NotFound(f"No flow run named {text}"), 1)
    assert_terminal_safe(stderr.getvalue())
    assert stderr.getvalue().count("\n") == 1
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), pytest.raises(typer.Exit):
        _fail(CliState(debug=True), NotFound(text), 1)
    assert_terminal_safe(stderr.getvalue())


def test_usage_errors_show_arguments_escaped():
    for args in (["count", TERMINAL_ALL], ["--output", TERMINAL["csi-cursor"], "count"],
                 [TERMINAL["osc8-link"]]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert_terminal_safe(result.stdout + result.stderr)


# --------------------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def hostile_run(api_url):
    """A flow run, two task runs of one task and log lines, every string holding every
    terminal payload (written with the REST API, as a flow with such names would)."""
    text = TERMINAL_ALL
    now = datetime.now(timezone.utc).isoformat()
    failed = {"type": "FAILED", "name": "Failed", "message": text}
    with writer(api_url, timeout=30) as http:
        flow = post(http, "/flows/", {"name": f"terminal-{uuid.uuid4().hex[:8]}",
                                       "tags": [text]})
        run = post(http, "/flow_runs/", {
            "flow_id": flow["id"], "name": text, "tags": [text, "=cmd|' /C calc'!A0"],
            "parameters": {text: text}, "state": failed})
        tasks = [post(http, "/task_runs/", {
            "flow_run_id": run["id"], "task_key": f"{text}-key", "dynamic_key": str(i),
            "name": text, "tags": [text], "state": failed}) for i in range(2)]
        post(http, "/logs/", [{
            "name": text, "level": 40, "message": text, "timestamp": now,
            "flow_run_id": run["id"], "task_run_id": task["id"]} for task in tasks])
    return {"flow_run": run["id"], "flow": flow["name"], "task_runs": [t["id"] for t in tasks]}


def _commands(ids: dict) -> list[list[str]]:
    run, task = ids["flow_run"], ids["task_runs"][0]
    return [["flow-run", "ls", "--flow", ids["flow"]], ["flow-run", "inspect", run],
            ["task-run", "ls", run], ["task-run", "inspect", task], ["logs", run],
            ["count", "task-runs", "--flow-run", run, "--by-state"]]


@pytest.mark.parametrize("fmt", ["table", "tsv", "csv", "json"])
def test_every_command_prints_the_hostile_run_inert(hostile_run, fmt):
    for args in _commands(hostile_run):
        result = CliRunner().invoke(app, ["--output", fmt, *args], env={"COLUMNS": "400"})
        assert result.exit_code == 0, (args, result.stderr, result.exception)
        assert_terminal_safe(result.stdout + result.stderr, what=f"{fmt} {args}")
    listing = CliRunner().invoke(app, ["--output", fmt, "task-run", "ls", "--wide",
                                       hostile_run["flow_run"]])  # --wide: cells fold, never cut
    shown = {"json": "\\u001b]52;c;", "table": "\\x1b]52;c;"}.get(fmt, "\\x1b]52;c;")
    assert shown in listing.stdout  # the payload is there, visible


def test_csv_of_the_hostile_run_holds_no_formula(hostile_run):
    result = CliRunner().invoke(app, ["--output", "csv", "flow-run", "inspect",
                                      hostile_run["flow_run"]])
    cells = [cell for row in csv.reader(io.StringIO(result.stdout)) for cell in row]
    assert all(not cell.startswith(("=", "+", "@")) for cell in cells)
    tags = next(row[1] for row in csv.reader(io.StringIO(result.stdout)) if row[0] == "tags")
    assert "=cmd|" in tags  # inside a JSON list: not at the start of a cell


def test_export_to_stdout_and_files_is_terminal_safe(hostile_run, tmp_path):
    run = hostile_run["flow_run"]
    for fmt in ("csv", "json"):
        result = CliRunner().invoke(app, ["export", run, "-o", "-", "--format", fmt])
        assert result.exit_code == 0, result.stderr
        assert_terminal_safe(result.stdout + result.stderr, what=f"export {fmt}")
    records = json.loads(CliRunner().invoke(app, ["export", run, "-o", "-", "--format",
                                                  "json"]).stdout)
    assert {r["name"] for r in records} == {TERMINAL_ALL}  # JSON is exact
    for name in ("runs.csv", "runs.json"):
        result = CliRunner().invoke(app, ["export", run, "-o", tmp_path / name])
        assert result.exit_code == 0, result.stderr
        assert_terminal_safe(result.stderr)
        assert_terminal_safe((tmp_path / name).read_text(encoding="utf-8"), what=name)


def test_the_ambiguous_task_run_error_is_terminal_safe(hostile_run):
    result = CliRunner().invoke(app, ["task-run", "inspect", hostile_run["flow_run"],
                                      "--slug", TERMINAL_ALL])
    assert result.exit_code == 2, (result.stdout, result.stderr)  # AmbiguousRun: exit 2
    assert "matches 2 task runs" in result.stderr
    assert_terminal_safe(result.stderr)
    unknown = CliRunner().invoke(app, ["flow-run", "inspect", f"no such run {TERMINAL_ALL}"])
    assert unknown.exit_code == 1
    assert "No flow run has the id, id prefix or name" in unknown.stderr
    assert "\\x1b]8;;" in unknown.stderr  # the payload is there, visible (the line is cut)
    assert_terminal_safe(unknown.stderr)


def test_logs_follow_in_a_real_process_is_terminal_safe(hostile_run, prefect_server):
    for fmt in ("csv", "json", "tsv"):
        done = subprocess.run(
            [sys.executable, "-m", "prefect_widgets", "logs", hostile_run["flow_run"],
             "--follow", "--output", fmt], env=prefect_server.env(), capture_output=True,
            timeout=120)
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode("utf-8")
        assert_terminal_safe(out + done.stderr.decode("utf-8"), what=f"--follow {fmt}")
        assert "\\x9b2J" in out or "\\u009b2J" in out
