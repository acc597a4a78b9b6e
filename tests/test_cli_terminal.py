"""Snapshot tests of what the CLI prints on a terminal, at 80 and 200 columns: every
command's `--help` and the table output of every listing, against the real server's
sample runs.

Snapshots live in `tests/snapshots/<name>.<width>.txt`. Values that differ between test
sessions are replaced by placeholders of the same length, so the layout stays what was
printed: ids (full and short), times, the random part of task run names, durations. Run
with `UPDATE_SNAPSHOTS=1` to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefect_widgets import FlowRunView
from prefect_widgets.cli import app

SNAPSHOTS = Path(__file__).parent / "snapshots"
WIDTHS = (80, 200)
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

HELP = [("main",), ("flow-run", "ls"), ("flow-run", "inspect"), ("task-run", "ls"),
        ("task-run", "inspect"), ("logs",), ("export",), ("report",), ("trace",), ("count",)]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
_DURATION = re.compile(r" *\b\d+(?:\.\d+)?(?:ms|s)\b|\b\d+m \d\ds\b")


def render(args: list[str], width: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(width), "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.stdout


def normalise(text: str, short_ids: list[str], names: list[str]) -> str:
    """Session-specific values → same-length placeholders."""
    text = _UUID.sub(lambda m: "#" * 8 + "-####-####-####-" + "#" * 12, text)
    for short in short_ids:
        text = text.replace(short, "#" * len(short))
    for name in names:  # task run names end in 3 random characters, kept when cut ("say…-4a1")
        text = text.replace(name, name[:-3] + "xxx")
        if name[-4:-3] == "-":
            text = text.replace(f"…{name[-4:]}", "…-xxx")
    text = _TIME.sub("YYYY-MM-DD hh:mm:ss UTC", text)
    return _DURATION.sub(lambda m: "<d>".rjust(len(m.group())), text)


def check(name: str, width: int, text: str) -> None:
    path = SNAPSHOTS / f"{name}.{width}.txt"
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), f"{name}: a line is wider than {width}"
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} was missing and has been written: review and commit it")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} at {width} columns differs from {path}; UPDATE_SNAPSHOTS=1 rewrites it")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", HELP, ids=lambda c: "-".join(c))
def test_help_snapshot(command, width):
    args = [] if command == ("main",) else list(command)
    check("help-" + "-".join(command), width, render([*args, "--help"], width))


def _listings(runs: dict[str, str]) -> dict[str, list[str]]:
    return {
        "task-run-ls-hello": ["task-run", "ls", runs["hello"]],
        "task-run-ls-diamond-wide": ["task-run", "ls", runs["diamond"], "--wide",
                                     "--sort", "NAME_ASC"],  # the branches start together
        "task-run-ls-retrying": ["task-run", "ls", runs["retrying"]],
        "task-run-ls-hostile": ["task-run", "ls", runs["hostile"]],
        "flow-run-ls-hostile": ["flow-run", "ls", "--flow", f"hostile {_attr()}"],
        "flow-run-ls-hostile-wide": ["flow-run", "ls", "--flow", f"hostile {_attr()}", "--wide"],
        "logs-say-hello": ["logs", runs["hello"], "--task-run", _say_hello(runs)],
    }


def _say_hello(runs: dict[str, str]) -> str:
    return FlowRunView.from_flow_run_id(runs["hello"]).get_task_run(task_slug="say_hello").name


def _attr() -> str:
    from prefect_widgets.samples import HOSTILE

    return HOSTILE["attr"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("listing", ["task-run-ls-hello", "task-run-ls-diamond-wide",
                                     "task-run-ls-retrying", "task-run-ls-hostile",
                                     "flow-run-ls-hostile", "flow-run-ls-hostile-wide",
                                     "logs-say-hello"])
def test_table_snapshot(runs, listing, width):
    args = _listings(runs)[listing]
    if width == 80 and listing.endswith("-wide"):
        pytest.skip("full ids folded at 80 columns: test_wide_tables_fold_ids_whole")
    views = [FlowRunView.from_flow_run_id(i) for i in runs.values()]
    ids = [v.flow_run_id for v in views]
    names = []
    for view in views:
        for task in view.task_runs():
            ids.append(task.task_run_id)
            names.append(task.name)
    short_ids = sorted({i[:length] for i in ids for length in range(8, 37)}, key=len,
                       reverse=True)
    text = render(["--output", "table", *args], width)
    check(listing, width, normalise(text, short_ids, names))


def test_wide_tables_fold_ids_whole(runs):
    text = render(["--output", "table", "task-run", "ls", runs["diamond"], "--wide"], 80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    id_width = lines[0].index("TASK")
    folded = "".join(line[:id_width].strip() for line in lines[1:])
    for task in FlowRunView.from_flow_run_id(runs["diamond"]).task_runs():
        assert task.task_run_id in folded
    assert "…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_cut_cells_show_an_ellipsis_and_numbers_are_whole(runs, width):
    text = render(["--output", "table", "task-run", "ls", runs["mapped"], "--limit", "30"], width)
    views = FlowRunView.from_flow_run_id(runs["mapped"]).task_runs()[:30]
    rows = text.splitlines()[1:]
    assert len(rows) == 30  # one line per row
    for view, row in zip(views, rows, strict=True):
        assert view.task_run_id.startswith(row.split()[0])
        assert row.rstrip().endswith(" 0")  # RETRIES whole
        label = f"square[{'~' if view.map_index_uncertain else ''}{view.map_index}]"
        assert label in row or "…" in row
        assert view.name in row or "…" in row


def _squeezed(width: int, names: list[str]) -> list[str]:
    """The lines of a table with a whole ID column, a TASK column and a NAME column (the
    listing's rules), at `width` columns."""
    import io

    from prefect_widgets.cli.output import Column, Output

    out = Output("table", io.StringIO())
    out.console.width = width
    out.rows([Column("id", "ID", whole=True), Column("task", "TASK", min_width=6, middle=True),
              Column("name", "NAME", min_width=8, middle=True, priority=True)],
             [{"id": "0123456789ab", "task": f"{name.rsplit('-', 1)[0]}[12]", "name": name}
              for name in names])
    return out.file.getvalue().splitlines()


def test_the_name_column_gets_room_first_and_is_cut_in_the_middle():
    names = ["a_rather_long_task_name-4a1", "a_rather_long_task_name-9f0"]
    roomy = _squeezed(48, names)  # room for both names, not for both task labels
    assert all(name in "\n".join(roomy) for name in names)
    assert all(line.split()[1].endswith("…[12]") for line in roomy[1:])  # the map index kept
    tight = _squeezed(32, names)
    assert all(len(line) <= 32 for line in tight)
    cut = [line.split()[2] for line in tight[1:]]
    assert all("…" in shown and shown.endswith(name[-4:])  # the run's own suffix kept
               for shown, name in zip(cut, names, strict=True))
    assert len(set(cut)) == 2  # still told apart
