"""Output of the command line: rich tables on a terminal, plain tab-separated lines, CSV or
JSON otherwise; the CLI's compact cell forms (local times, short durations, state badges).

Every string from the server reaches the terminal through `prefect_widgets.formatting`'s one
rule (`visible`): control, bidi and invisible format characters are shown as Python escapes
(``\\x1b``, ``\\x9b``, ``\\u202e``). Per format:

- table: `clean` (one-line or multi-line), cut to `display.max_text` characters with
  "… (N more characters)"; rich markup is never parsed from data (cells are `Text`), so a
  run named ``[red]x`` prints as is. Columns fit the terminal by rule: a `whole` column
  (ids, times, numbers) is never cut or wrapped, as wide as its widest cell; a text column
  is cut with "…" to keep one line per row (at the end, or before a name's distinguishing
  end: `_cut_middle`), or with `--wide` wrapped, nothing cut; a `priority` column (a run's
  NAME) gets room before the other text columns and gives it up last;
- tsv: `visible` with tab and newline escaped too (they are the separators), never cut;
- csv: `csv_cell`: tab and newline kept (CSV quotes them), and a leading ``'`` on a cell a
  spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``; not on plain numbers);
- json: `json_visible`: the same JSON value, with C1, bidi and format characters (and DEL)
  written as ``\\uXXXX`` escapes, so nothing is lost;
- stderr (errors, notes): one line through `visible`, cut like a table cell.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.table import Table
from rich.text import Text

from prefect_widgets.formatting import csv_cell, json_visible, shorten, visible
from prefect_widgets.options import display

FORMATS = ("table", "tsv", "csv", "json")

STATE_STYLES = {
    "COMPLETED": "green", "FAILED": "bold red", "CRASHED": "bold red", "CANCELLED": "grey50",
    "CANCELLING": "grey50", "RUNNING": "blue", "PENDING": "yellow", "SCHEDULED": "yellow",
    "PAUSED": "yellow",
}
LEVEL_STYLES = {"DEBUG": "grey50", "INFO": "", "WARNING": "yellow", "ERROR": "bold red",
                "CRITICAL": "bold white on red"}

def clean(value: Any, *, multiline: bool = True) -> str:
    """A table cell or stderr text: `visible` (tab and newline kept only if `multiline`),
    cut to `display.max_text` characters with "… (N more characters)"."""
    text = shorten("" if value is None else str(value), display.max_text)
    return visible(text, "\t\n" if multiline else "")


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# --------------------------------------------------------------------------- values


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 6) if value is not None else None


def state_text(state_type: str | None, label: str | None = None) -> Text:
    kind = (state_type or "PENDING").upper()
    return Text(clean(label or kind.title(), multiline=False), style=STATE_STYLES.get(kind, ""))


def state_line(state_type: str, name: str, message: str | None) -> Text:
    """A state badge, then `: message` when there is one."""
    text = state_text(state_type, name)
    if message:
        text.append(": ")
        text.append(Text(clean(message)))
    return text


# --------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of a listing: `key` into the record, how to show it in a table (`whole`:
    never cut nor wrapped; otherwise text, between `min_width` and `max_width`, cut at the
    end or, if `middle`, before its distinguishing end; widened first if `priority`)."""

    key: str
    header: str
    table: Callable[[Any], str | Text] | None = None
    justify: str = "left"
    max_width: int | None = None
    min_width: int | None = None
    whole: bool = False
    middle: bool = False
    priority: bool = False


def plain(value: Any) -> str:
    """A value as one plain-text cell: JSON for lists and dicts, ISO for times."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=json_default, ensure_ascii=False)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value.total_seconds())
    return str(value)


class Output:
    """Writes one command's answer in the chosen format to stdout."""

    def __init__(self, fmt: str, file: TextIO | None = None, *, wide: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self.format = fmt
        self.wide = wide
        self.file = file or sys.stdout
        self.console = Console(file=self.file, highlight=False, soft_wrap=False)
        if not self.console.is_terminal and "COLUMNS" not in os.environ:
            self.console.width = 160  # a table sent to a file: don't squeeze it to 80

    @property
    def is_table(self) -> bool:
        return self.format == "table"

    def json(self, value: Any) -> None:
        text = json.dumps(value, default=json_default, indent=2, ensure_ascii=False)
        self.file.write(json_visible(text) + "\n")

    def json_line(self, value: Any) -> None:
        text = json.dumps(value, default=json_default, ensure_ascii=False)
        self.file.write(json_visible(text) + "\n")
        self.file.flush()

    def plain_row(self, values: Sequence[Any]) -> None:
        """One line of values: a CSV row with `--output csv`, tab-separated otherwise."""
        if self.format == "csv":
            csv.writer(self.file, lineterminator="\n").writerow(
                [csv_cell(plain(v)) for v in values])
        else:
            self.file.write("\t".join(visible(plain(v), "") for v in values) + "\n")

    def rows(self, columns: Sequence[Column], records: Sequence[dict[str, Any]], *,
             title: str | None = None, empty: str = "Nothing found.") -> None:
        """A listing: a rich table, tab-separated lines (no header), CSV (header) or JSON."""
        if self.format == "json":
            self.json(list(records))
        elif self.format in ("csv", "tsv"):
            if self.format == "csv":
                self.plain_row([c.key for c in columns])
            for record in records:
                self.plain_row([record.get(c.key) for c in columns])
        else:
            if not records:
                self.console.print(Text(empty, style="dim"))
                return
            self.console.print(self._table(columns, records, title))

    def _table(self, columns: Sequence[Column], records: Sequence[dict[str, Any]],
               title: str | None) -> Table:
        """The rich table of a listing, its columns sized by the rules of the module doc."""
        cells = [[_cell(column, record.get(column.key)) for column in columns]
                 for record in records]
        natural = [max([len(column.header), *(row[i].cell_len for row in cells)])
                   for i, column in enumerate(columns)]
        widths = natural if self.wide else _fitted(columns, natural, self.console.width)
        if not self.wide:
            for i, column in enumerate(columns):
                if column.middle:
                    for row in cells:
                        row[i] = _cut_middle(row[i], widths[i])
        tight = sum(widths) + 2 * (len(columns) - 1) > self.console.width
        table = Table(title=Text(clean(title)) if title else None, title_justify="left",
                      header_style="bold", box=None, pad_edge=False, collapse_padding=tight)
        for column, width in zip(columns, widths, strict=True):
            justify: Any = column.justify
            if column.whole:
                table.add_column(column.header, justify=justify, min_width=width,
                                 no_wrap=True, overflow="ellipsis")
            elif self.wide:
                table.add_column(column.header, justify=justify, min_width=column.min_width,
                                 overflow="fold")
            else:
                table.add_column(column.header, justify=justify, width=width, no_wrap=True,
                                 overflow="ellipsis")
        for row in cells:
            table.add_row(*row)
        return table

    def pairs(self, items: Iterable[tuple[str, Any]]) -> None:
        """Key/value lines for plain formats (`key<TAB>value` or CSV `key,value`)."""
        if self.format == "csv":
            writer = csv.writer(self.file, lineterminator="\n")
            writer.writerow(["field", "value"])
            for key, value in items:
                writer.writerow([csv_cell(key), csv_cell(plain(value))])
        else:
            for key, value in items:
                self.file.write(f"{visible(key, '')}\t{visible(plain(value), '')}\n")

    def print(self, *renderables: Any) -> None:
        self.console.print(*renderables)


def _fitted(columns: Sequence[Column], natural: list[int], width: int) -> list[int]:
    """Column widths for one line per row: `whole` columns as wide as their widest cell;
    text columns at most `max_width`, each at least its `min_width` (lowered, to 2, only
    when the whole columns leave no room: the other columns' before a `priority` one's).
    What is left goes first to `priority` columns, then evenly to the others (a narrow
    column keeps its natural width, the others get the rest)."""
    widths = [min(n, c.max_width or n) if not c.whole else n
              for c, n in zip(columns, natural, strict=True)]
    gaps = len(columns) - 1
    if sum(widths) + 2 * gaps <= width:
        return widths
    text = sorted((i for i, c in enumerate(columns) if not c.whole), key=lambda i: widths[i])
    floors = {i: min(widths[i], columns[i].min_width or 1) for i in text}
    left = width - gaps - sum(w for c, w in zip(columns, widths, strict=True) if c.whole)
    left -= sum(floors.values())
    while left < 0 and max(floors.values(), default=2) > 2:  # too narrow: lower the floors
        widest = max((i for i in floors if floors[i] > 2),
                     key=lambda i: (not columns[i].priority, floors[i]))
        floors[widest] -= 1
        left += 1
    text.sort(key=lambda i: not columns[i].priority)  # stable: narrow first within each
    for done, index in enumerate(text):
        share = left if columns[index].priority else left // (len(text) - done)
        extra = min(widths[index] - floors[index], max(share, 0))
        widths[index] = floors[index] + extra
        left -= extra
    return widths


def _cut_middle(text: Text, width: int) -> Text:
    """`text` in `width` cells, cut with "…" before its end from the last "-" or "[" (a run
    name's random suffix, a task label's map index), which tells runs apart; text without
    such an end, or one too long to keep, is cut at the end."""
    plain_text = text.plain
    if cell_len(plain_text) <= width or width < 2:
        return text
    start = max(plain_text.rfind("-"), plain_text.rfind("["))
    tail = plain_text[start:] if start > 0 else ""
    if not tail or cell_len(tail) > width - 2:
        tail = ""
    head = set_cell_size(plain_text, width - 1 - cell_len(tail))
    return Text(f"{head}…{tail}", style=text.style)


def _cell(column: Column, value: Any) -> Text:
    if column.table is not None:
        shown = column.table(value)
        return shown if isinstance(shown, Text) else Text(clean(shown, multiline=False))
    if value is None or value == "":
        return Text("-", style="dim")
    return Text(clean(plain(value), multiline=False))


def note(message: str) -> None:
    """A hint for people, on stderr (never mixed into the data on stdout)."""
    sys.stderr.write(clean(message) + "\n")


def detail_table(rows: Iterable[tuple[str, str | Text]]) -> Table:
    """A two-column label/value grid for `inspect` commands."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else Text(clean(value)))
    return grid
