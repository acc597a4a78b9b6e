"""Task slugs: finding one task run of a flow run by name, task key or task name.

A slug is a task run name (`say_hello-4a1`), a task key, or a task name. `map_index`
picks one run of a task that ran several times; Prefect 1's `map_index=-1` ("not mapped")
asks for the task's single run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import AmbiguousTaskRun, InvalidRequest, NotFound

__all__ = ["NOT_MAPPED", "check_map_index", "slug_matches", "match_slug"]

#: Prefect 1's map_index of a run that is not one of several
NOT_MAPPED = -1


class _TaskRun(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def task_key(self) -> str: ...
    @property
    def task_name(self) -> str: ...
    @property
    def task_run_id(self) -> str: ...
    @property
    def map_index(self) -> int | None: ...


def check_map_index(map_index: int | None) -> int | None:
    """`map_index` as given, or `InvalidRequest` (an int ≥ -1, or None)."""
    if map_index is None:
        return None
    if isinstance(map_index, bool) or not isinstance(map_index, int) or map_index < NOT_MAPPED:
        raise InvalidRequest(f"map_index must be an int ≥ 0, -1 (not mapped) or None, "
                             f"not {map_index!r}.")
    return map_index


def slug_matches(view: _TaskRun, slug: str) -> bool:
    """Whether `slug` names this task run (its name, task key, task name, or key stem)."""
    return slug in (view.name, view.task_key, view.task_name) or \
        view.task_key.rsplit("-", 1)[0] == slug


def _runs_of_task(views: Sequence[_TaskRun], one: _TaskRun) -> list[_TaskRun]:
    return [v for v in views if v.task_key == one.task_key and v.task_name == one.task_name]


def _ambiguous(slug: str, keyed: Sequence[_TaskRun], why: str) -> AmbiguousTaskRun:
    names = [f"{v.name} (map_index={v.map_index}, id={v.task_run_id})" for v in keyed]
    shown = ", ".join(names[:10]) + (f", … {len(names) - 10} more" if len(names) > 10 else "")
    return AmbiguousTaskRun(f"Slug {slug!r} matches {len(keyed)} task runs; {why}: {shown}",
                            [v.task_run_id for v in keyed])


def match_slug(views: Sequence[_TaskRun], slug: str, map_index: int | None) -> _TaskRun:
    """The one run in `views` that `slug` (and `map_index`) name, else `NotFound` or
    `AmbiguousTaskRun` listing the candidates."""
    map_index = check_map_index(map_index)
    named = [v for v in views if v.name == slug]
    keyed = [v for v in views if slug_matches(v, slug)]
    if map_index == NOT_MAPPED:
        if not keyed:
            raise NotFound(f"No task run matches slug {slug!r} in this flow run.")
        runs = _runs_of_task(views, named[0]) if len(named) == 1 else keyed
        if len(runs) > 1:
            raise _ambiguous(slug, runs, "map_index=-1 asks for a task that ran once; pass "
                             "map_index=0, 1, … or a task run id")
        return runs[0]
    if len(named) == 1 and map_index is None:
        return named[0]
    if map_index is not None:
        for view in keyed:
            if view.map_index == map_index:
                return view
        raise NotFound(f"No task run matches slug {slug!r} with map_index={map_index} "
                       f"({len(keyed)} runs match the slug).")
    if len(keyed) == 1:
        return keyed[0]
    if not keyed:
        raise NotFound(f"No task run matches slug {slug!r} in this flow run (a slug is a task "
                       "run name like 'say_hello-4a1', a task key, or a task name; runs with a "
                       "custom task_run_name are found by their task function's name).")
    raise _ambiguous(slug, keyed, "pass map_index= or a task run name/id")
