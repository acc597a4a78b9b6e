"""How run values read as text: one definition shared by HTML, figures, the widget and the CLI.

Terminal safety lives here too: `visible` is the one rule for every string that reaches a
terminal (control, bidi and invisible format characters shown as Python escapes),
`json_visible` and `csv_cell` are its JSON and CSV forms, and `shorten` bounds a text part
with a visible "… (N more characters)".
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

__all__ = ["task_label", "run_counts_text", "UNCERTAIN_NOTE", "fmt_time", "fmt_duration",
           "clock", "human_duration", "visible", "json_visible", "csv_cell",
           "shorten"]

#: the note shown wherever an uncertain map index (``[~3]``) is displayed
UNCERTAIN_NOTE = ("[~k]: created in the same millisecond as another run of the task, so its "
                  "position is a best guess (ordered by expected start).")


def task_label(task_name: str, map_index: int | None, mapped: bool,
               uncertain: bool = False) -> str:
    """``task_name[map_index]`` for a task that ran more than once, ``[~k]`` when the index
    is a best guess, else the task name alone."""
    if not mapped or map_index is None:
        return task_name
    return f"{task_name}[{'~' if uncertain else ''}{map_index}]"


def plural(n: int, noun: str) -> str:
    """"1 sample flow", "3 sample flows"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def run_counts_text(task_runs: int, subflow_runs: int) -> str:
    """"2 task runs · 1 subflow run": subflow runs counted apart, as Prefect's UI does."""
    text = plural(task_runs, "task run")
    return text + (f" · {plural(subflow_runs, 'subflow run')}" if subflow_runs else "")


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.utcoffset() == timedelta(0)
                                                   else value.strftime(" %z"))


def fmt_duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 0:
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# ---- terminal forms (the CLI's tables)


def clock(value: datetime | str | None, *, local: bool = False) -> str:
    """A timestamp for a terminal, to the second with date and zone: ``2026-12-01 14:03:07
    UTC``, or with `local` in this machine's zone (``2026-12-01 15:03:07 CET``); an ISO
    string is read first; "-" for none."""
    if value is None or value == "":
        return "-"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone() if local else when.astimezone(timezone.utc)
    zone = when.tzname() or when.strftime("%z")
    return f"{when:%Y-%m-%d %H:%M:%S} {zone}"


def human_duration(value: timedelta | float | None) -> str:
    """`850ms`, `4.2s`, `3m 05s`, `2h 01m`, `3d 04h`: minutes and hours read as
    `fmt_duration` writes them; the CLI's own forms below a minute and from a day."""
    if value is None:
        return "-"
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if math.isnan(total):
        return "-"
    if total < 1:
        return f"{total * 1000:.0f}ms"
    if total < 60:
        return f"{total:.1f}s"
    hours = int(round(total)) // 3600
    if hours < 24:
        return fmt_duration(timedelta(seconds=total))
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


# ---- terminal safety and bounded text (every terminal-bound string goes through these)

#: Characters a terminal must never receive raw: C0 controls, DEL, C1 controls (``\x9b`` is
#: CSI), Unicode format characters (bidi embeddings, overrides and isolates, LRM/RLM/ALM,
#: zero-width spaces, BOM, tag characters), line and paragraph separators and lone
#: surrogates. The zero-width joiners U+200C/U+200D stay: scripts and emoji need them.
_INVISIBLE = (
    "\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = {keep: re.compile(f"[{_INVISIBLE}]" if not keep else
                            f"(?![{re.escape(keep)}])[{_INVISIBLE}]")
           for keep in ("", "\n", "\t\n")}
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
#: a CSV cell a spreadsheet would run as a formula starts with one of these
_FORMULA_STARTS = ("=", "+", "-", "@", "\t")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def visible(value: object, keep: str = "\t\n") -> str:
    """`value` as text safe for a terminal: each control, bidi or other invisible format
    character is shown as its Python escape (``\\x1b``, ``\\x9b``, ``\\u202e``,
    ``\\U000e0041``; ``\\t``, ``\\n``, ``\\r``), except the characters in `keep` (tab and
    newline by default, "" for a one-line cell). Printable text, emoji included, is unchanged;
    a literal backslash is not doubled, so the form is for reading, not for parsing back."""
    text = "" if value is None else str(value)
    return _UNSAFE[keep].sub(_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_visible(text: str) -> str:
    """Serialised JSON with every invisible character escaped as ``\\uXXXX``: still the same
    JSON value (outside strings JSON holds only ASCII), safe for a terminal, emoji unchanged."""
    return _UNSAFE["\n"].sub(_json_escape, text)


def csv_cell(value: object) -> str:
    """A text cell for CSV: `visible` (tab and newline kept: CSV quotes them), and a leading
    ``'`` when a spreadsheet would read the cell as a formula (``=``, ``+``, ``-``, ``@``),
    unless it is a plain number such as ``-1.5``."""
    text = visible(value)
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, then "… (N more characters)"."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"
