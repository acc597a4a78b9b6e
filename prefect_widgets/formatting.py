"""How run values read as text: one definition shared by HTML, figures, the widget and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["task_label", "run_counts_text", "UNCERTAIN_NOTE", "fmt_time", "fmt_duration"]

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
