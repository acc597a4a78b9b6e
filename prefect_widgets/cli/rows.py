"""Runs as the CLI prints them: one record (dict) per flow run or task run, and the columns
of the run listings. The derived fields (task_name, map_index, retries, kind, ...) are the
views', defined once in `prefect_widgets.records`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prefect_widgets.formatting import human_duration, task_label

from .app import shown_time
from .output import Column, Output, iso, seconds, state_text

if TYPE_CHECKING:
    from prefect_widgets.views import FlowRunView, TaskRunView


def flow_run_record(view: FlowRunView, flow_name: str | None = None) -> dict[str, Any]:
    return {
        "flow_run_id": view.flow_run_id, "name": view.name, "flow_id": view.flow_id,
        "flow_name": flow_name, "state_type": view.state.type, "state_name": view.state.name,
        "state_message": view.state.message, "start_time": iso(view.start_time),
        "end_time": iso(view.end_time), "duration": seconds(view.duration),
        "tags": list(view.tags), "parameters": view.parameters,
    }


def task_run_record(view: TaskRunView) -> dict[str, Any]:
    """One task run as the CLI prints it."""
    return {
        "task_run_id": view.task_run_id, "name": view.name, "task_name": view.task_name,
        "task_label": task_label(view.task_name, view.map_index, view.mapped,
                                 view.map_index_uncertain),
        "map_index": view.map_index, "map_index_uncertain": view.map_index_uncertain,
        "mapped": view.mapped, "kind": view.kind, "task_key": view.task_key,
        "flow_run_id": view.flow_run_id, "child_flow_run_id": view.child_flow_run_id,
        "state_type": view.state.type,
        "state_name": view.state.name, "state_message": view.state.message,
        "start_time": iso(view.start_time), "end_time": iso(view.end_time),
        "duration": seconds(view.duration), "run_count": view.run_count,
        "retries": view.retries, "max_retries": view.max_retries,
        "tags": list(view.tags),
    }


def _state_cell(record: dict[str, Any]) -> Any:
    return state_text(record["state_type"], record["state_name"])


def state_column(out: Output, records: list[dict[str, Any]]) -> Column:
    """The STATE column: a coloured badge in tables, the plain state type elsewhere."""
    if not out.is_table:
        return Column("state_type", "STATE")
    for record in records:
        record["_state"] = record
    return Column("_state", "STATE", table=_state_cell, min_width=9, max_width=14)


#: the fewest characters of an id a table shows without `--wide`
SHORT_ID = 8


def short_id_length(ids: Sequence[str]) -> int:
    """The shortest id prefix that tells `ids` apart: from `SHORT_ID` characters for random
    (version 4) ids, as flow runs have; from 13 for time-ordered (version 7) ids, as Prefect 3
    gives task runs, whose first 12 hex digits are the creation millisecond (runs created in
    the same millisecond need more)."""
    time_ordered = any(value[14:15] == "7" for value in ids)
    length = 13 if time_ordered else SHORT_ID
    while length < 36 and len({value[:length] for value in ids}) < len(set(ids)):
        length += 1
    return length + 1 if length < 36 and ids and ids[0][length - 1:length] == "-" else length


def _id_cell(length: int) -> Any:
    def cell(value: str | None) -> str:
        return value[:length] if value else "-"
    return cell


def print_runs(out: Output, records: list[dict[str, Any]], *, id_key: str,
               names: Sequence[Column], extra: Sequence[Column] = (), empty: str) -> None:
    """A run listing: ID, the name columns, STATE, STARTED, DURATION, then `extra`."""
    out.rows([
        Column(id_key, "ID", whole=not out.wide, min_width=SHORT_ID,
               table=_id_cell(36 if out.wide else short_id_length(
                   [r[id_key] for r in records if r.get(id_key)]))),
        *names,
        state_column(out, records),
        Column("start_time", "STARTED", table=shown_time, whole=True),
        Column("duration", "DURATION", table=human_duration, justify="right", whole=True),
        *extra,
    ], records, empty=empty)
