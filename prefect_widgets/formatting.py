"""How run values read as text: one definition shared by HTML, figures, the widget and the CLI."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

__all__ = ["task_label", "run_counts_text", "UNCERTAIN_NOTE", "fmt_time", "fmt_duration",
           "local_time", "time_cell", "human_duration"]

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


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def run_counts_text(task_runs: int, subflow_runs: int) -> str:
    """"2 task runs · 1 subflow run": subflow runs counted apart, as Prefect's UI does."""
    text = _plural(task_runs, "task run")
    return text + (f" · {_plural(subflow_runs, 'subflow run')}" if subflow_runs else "")


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


def local_time(value: datetime | None) -> str:
    """A timestamp in the local time zone, to the second, for tables."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def time_cell(value: str | None) -> str:
    """Local time for a listing (from an ISO string); the year only when it is not this year."""
    if not value:
        return "-"
    when = datetime.fromisoformat(value).astimezone()
    same_year = when.year == datetime.now().astimezone().year
    return when.strftime("%m-%d %H:%M:%S" if same_year else "%Y-%m-%d %H:%M")


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
