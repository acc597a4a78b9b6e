"""`sync_history`: a server's history (flow runs, task runs, optionally logs) as a
date-partitioned Parquet dataset, brought up to date incrementally.

Layout (hive partitions that DuckDB, Polars, Spark, Dask and pyarrow read as they are)::

    DEST/flow_runs/date=2026-12-01/part-0.parquet   one row per flow run
    DEST/task_runs/date=2026-12-01/part-0.parquet   one row per task run
    DEST/logs/date=2026-12-01/part-0.parquet        one row per log line (logs=True)
    DEST/_sync_state.json                           high-water marks; no credentials

Columns are those of the library's frames (`records.FLOW_RUN_COLUMNS`, `TASK_RUN_COLUMNS`,
`LOG_COLUMNS`) with the row id first (`flow_run_id`, `task_run_id`, `log_id`): times are
`timestamp[us, UTC]`, spans `duration[us]` (DuckDB and Spark read them as int64
microseconds), categoricals plain strings, nullable ints int64 with nulls, lists
`list<string>`, a flow run's `parameters` JSON text. A row's partition is the UTC date it was
`created` (a log line's: its `timestamp`), which never changes, so a changed row replaces
its old version in the same partition.

Incremental: the server has no filter on `updated`, so a later sync reads the runs that can
have changed since the last one (not yet final, or started, ended or expected to start, or
named by a flow-run or task-run event, since the high-water mark of `updated` minus
`SETTLE`), keeps those whose `updated` differs from
the stored row, and re-reads every task run of the flow runs involved (a task run's
`map_index` is numbered among its flow run's runs; task runs outside a flow run are left
out). Not seen: a run renamed, re-tagged or deleted, and a task run's state forced through
the API on a run that has no event since (the server records no event for it): sync into a
new folder to start over.

Each partition is one file, replaced atomically (written beside it, then renamed over it): a
reader sees the old file or the new one, never half of one, and a sync that dies leaves the
dataset as it was; the next sync redoes the work. One sync at a time per folder.

Long module: the layout, the incremental reading and the atomic writing are one contract
(the state file's marks are only saved after every partition is written); split up, each
part would depend on the others' details.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import _ops
from .client import Client, get_client
from .errors import ConfigurationError, InvalidRequest, NotFound
from .logs import with_task_names
from .progress import PageProgress
from .queries import query_flow_runs, query_task_runs
from .records import (
    FLOW_RUN_COLUMNS,
    LOG_COLUMNS,
    SPAN,
    TASK_RUN_COLUMNS,
    TIME,
    LogEntry,
    logs_frame,
)
from .run_events import FLOW_RUN, TASK_RUN, flow_runs_in_events

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["sync_history", "SyncSummary", "TableChanges", "STATE_FILE", "SETTLE"]

STATE_FILE = "_sync_state.json"
#: how far before the high-water mark a later sync looks again (late commits, late events)
SETTLE = timedelta(minutes=5)
#: flow runs whose task runs are read in one export
FLOW_RUNS_PER_READ = 50
_FORMAT = 1
_NOT_FINAL = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]
_PART = "part-0.parquet"
_TEMP_PREFIX = ".part-0.parquet.tmp-"


@dataclass(frozen=True)
class _Table:
    """One table of the dataset: its frame's columns, its row id, the column that dates a
    row's partition and the one that tells a changed row (None: rows never change)."""

    name: str
    index: str
    columns: dict[str, Any]
    dated_by: str
    version: str | None


FLOW_RUNS = _Table("flow_runs", "flow_run_id", FLOW_RUN_COLUMNS, "created", "updated")
TASK_RUNS = _Table("task_runs", "task_run_id", TASK_RUN_COLUMNS, "created", "updated")
LOGS = _Table("logs", "log_id", LOG_COLUMNS, "timestamp", None)
_JSON_COLUMNS = {"parameters"}


@dataclass
class TableChanges:
    """What one sync did to one table: rows added, rows replaced by a newer version, and
    the partitions (dates) rewritten."""

    added: int = 0
    replaced: int = 0
    partitions: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SyncSummary:
    """What `sync_history` changed, per table (`flow_runs`, `task_runs`, `logs`)."""

    dest: Path
    tables: dict[str, TableChanges]
    first: bool

    def __str__(self) -> str:
        parts = [f"{name}: +{c.added} new, {c.replaced} changed, "
                 f"{len(c.partitions)} partitions written" for name, c in self.tables.items()]
        return f"{'Created' if self.first else 'Updated'} {self.dest}: " + "; ".join(parts)


# --------------------------------------------------------------------------- Arrow


def _arrow_schema(table: _Table) -> pa.Schema:
    """The Arrow schema of `table`'s files: the id, then the frame's columns."""
    import pyarrow as pa

    def arrow_type(name: str, dtype: Any) -> pa.DataType:
        if name in _JSON_COLUMNS or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)) \
                or dtype == "category":
            return pa.string()
        known = {TIME: pa.timestamp("us", tz="UTC"), SPAN: pa.duration("us"),
                 "Int64": pa.int64(), "int64": pa.int64(), "float64": pa.float64(),
                 "bool": pa.bool_(), "object": pa.list_(pa.string())}
        return known[dtype]

    return pa.schema([pa.field(table.index, pa.string(), nullable=False),
                      *(pa.field(n, arrow_type(n, d)) for n, d in table.columns.items())])


def _to_arrow(frame: pd.DataFrame, table: _Table) -> pa.Table:
    """A typed frame of `table` as an Arrow table of its schema (times to the microsecond)."""
    import pyarrow as pa

    data = frame.reset_index()
    for name, dtype in table.columns.items():
        column = data[name]
        if name in _JSON_COLUMNS:
            data[name] = [None if v is None else json.dumps(v, sort_keys=True, default=str)
                          for v in column]
        elif isinstance(dtype, pd.CategoricalDtype) or dtype == "category":
            data[name] = column.astype(object).where(column.notna(), None)
        elif dtype in (TIME, SPAN):
            data[name] = column.dt.floor("us")
    arrow = pa.Table.from_pandas(data, schema=_arrow_schema(table), preserve_index=False)
    return arrow.replace_schema_metadata(None)


# --------------------------------------------------------------------------- partitions


def _dates(frame: pd.DataFrame, table: _Table) -> pd.Series:
    """Each row's partition: the UTC date of its `dated_by` time (else of `updated`)."""
    when = frame[table.dated_by]
    if table.version is not None:
        when = when.fillna(frame[table.version])
    return when.dt.strftime("%Y-%m-%d").fillna("1970-01-01")


def _read_part(path: Path, schema: pa.Schema) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        found = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{path} is not a readable Parquet file ({exc}); sync into a new "
                             "folder to rebuild the dataset.") from None
    if not found.schema.equals(schema):
        raise InvalidRequest(f"{path} has other columns than this version of prefect-widgets "
                             "writes; sync into a new folder to rebuild the dataset.")
    return found


def _write_atomically(arrow: pa.Table, target: Path) -> None:
    """`arrow` as Parquet at `target`, written beside it and renamed over it."""
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{_TEMP_PREFIX}{uuid.uuid4().hex}")
    try:
        pq.write_table(arrow, temp, compression="zstd")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_rows(dest: Path, table: _Table, frame: pd.DataFrame,
               changes: TableChanges) -> None:
    """Put the rows of `frame` into `table`'s partitions under `dest`: new ids are added, a
    row whose version differs from the stored one replaces it, the same version is left as
    it is; only partitions that get a row are rewritten."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.empty:
        return
    schema = _arrow_schema(table)
    frame = frame[~frame.index.duplicated(keep="last")]
    for date, rows in frame.groupby(_dates(frame, table), sort=True):
        target = dest / table.name / f"date={date}" / _PART
        stored = _read_part(target, schema) if target.exists() else schema.empty_table()
        versions = dict(zip(stored[table.index].to_pylist(),
                            stored[table.version].to_pylist() if table.version else
                            [None] * stored.num_rows))
        incoming = _to_arrow(rows, table)
        ids = incoming[table.index].to_pylist()
        new_versions = incoming[table.version].to_pylist() if table.version else [None] * len(ids)
        fresh = [i for i in ids if i not in versions]
        changed = [i for i, v in zip(ids, new_versions) if i in versions and versions[i] != v]
        if not fresh and not changed:
            continue
        wanted = pa.array([*fresh, *changed], pa.string())
        keep = stored.filter(pc.invert(pc.is_in(stored[table.index], value_set=wanted)))
        added = incoming.filter(pc.is_in(incoming[table.index], value_set=wanted))
        _write_atomically(pa.concat_tables([keep, added]), target)
        changes.added += len(fresh)
        changes.replaced += len(changed)
        changes.partitions.add(str(date))


def _clear_temp_files(dest: Path) -> None:
    """Remove what a sync that died left half-written (readers never see these files)."""
    for table in (FLOW_RUNS, TASK_RUNS, LOGS):
        for temp in (dest / table.name).glob(f"date=*/{_TEMP_PREFIX}*"):
            temp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- state


def server_key(api_url: str) -> str:
    """A hash naming the server (never the URL's credentials, never an API key)."""
    return "sha256:" + hashlib.sha256(api_url.rstrip("/").encode()).hexdigest()


def _load_state(dest: Path, server: str) -> dict[str, Any] | None:
    path = dest / STATE_FILE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        marks = {name: datetime.fromisoformat(state["marks"][name])
                 if state["marks"][name] else None for name in (FLOW_RUNS.name, TASK_RUNS.name)}
        fmt, stored_server = state["format"], state["server"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(f"{path} is unreadable ({type(exc).__name__}); sync into a new "
                             "folder to rebuild the dataset.") from None
    if fmt != _FORMAT:
        raise InvalidRequest(f"{dest} was written in another format ({fmt}); sync into a new "
                             "folder.")
    if stored_server != server:
        raise ConfigurationError(f"{dest} holds the history of another server; sync this "
                                 "server into a folder of its own.")
    return {**state, "marks": marks}


def _save_state(dest: Path, state: dict[str, Any]) -> None:
    path = dest / STATE_FILE
    temp = path.with_name(f".{STATE_FILE}.tmp-{uuid.uuid4().hex}")
    try:
        temp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- reading


def _flow_runs_to_sync(client: Client, flows: list[str] | None, since: datetime | None,
                       after: datetime | None) -> pd.DataFrame:
    """Every flow run of the window on a first sync (`after` None); later, the ones that can
    have changed since `after`."""
    common: dict[str, Any] = {"flow_name": flows, "limit": None, "sort": "ID_DESC"}
    if after is None:
        return query_flow_runs(client, start_time_after=since, **common).to_dataframe()
    later = max(after, since) if since is not None else after
    by_event = sorted(_flow_runs_with_events(client, after))
    frames = [
        *(query_flow_runs(client, start_time_after=since, **common,
                          filter={"flow_runs": {"id": {"any_": chunk}}})
          for chunk in _chunks(by_event, _ops.PAGE_SIZE)),
        query_flow_runs(client, state_type=_NOT_FINAL, start_time_after=since, **common),
        query_flow_runs(client, start_time_after=later, **common),
        *(query_flow_runs(client, start_time_after=since, **common,
                          filter={"flow_runs": {bound: {"after_": after.isoformat()}}})
          for bound in ("end_time", "expected_start_time")),
    ]
    found = pd.concat([f.to_dataframe() for f in frames])
    return found[~found.index.duplicated()]


def _flow_runs_with_events(client: Client, after: datetime) -> set[str]:
    """Flow runs named by a flow-run or task-run event since `after` (a forced state change
    moves no time field; the server records it as an event). Nothing on a server without
    the events API."""
    try:
        return client.run(flow_runs_in_events(after.isoformat(), [FLOW_RUN, TASK_RUN],
                                              count_related=True))
    except NotFound:
        return set()


def _flow_runs_with_changed_tasks(client: Client, flows: list[str] | None,
                                  since: datetime | None, after: datetime) -> set[str]:
    """Flow runs with a task run not yet final, or started, ended or expected since `after`."""
    runs: dict[str, Any] = {"start_time": {"after_": since.isoformat()}} if since else {}
    common: dict[str, Any] = {"flow_name": flows, "limit": None, "sort": "ID_DESC"}
    found = [query_task_runs(client, state_type=_NOT_FINAL, filter={"flow_runs": runs}, **common)]
    for bound in ("start_time", "end_time", "expected_start_time"):
        found.append(query_task_runs(client, **common, filter={
            "flow_runs": runs, "task_runs": {bound: {"after_": after.isoformat()}}}))
    return {v.flow_run_id for listing in found for v in listing if v.flow_run_id}


def _chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for at in range(0, len(ids), size):
        yield list(ids[at:at + size])


def _logs(client: Client, flow_run_ids: list[str], tasks: pd.DataFrame) -> pd.DataFrame:
    """Every log line of the flow runs, each with its task run's and task's names."""
    body = {"logs": {"flow_run_id": {"any_": flow_run_ids}}, "sort": "TIMESTAMP_ASC"}
    rows = client.run(_ops.export("/logs/filter", body)).rows
    known = {i: (n, t) for i, n, t in zip(tasks.index, tasks["name"], tasks["task_name"])}
    return logs_frame(with_task_names([LogEntry.from_json(r) for r in rows], known, client))


def _latest(frame: pd.DataFrame, mark: datetime | None) -> datetime | None:
    newest = frame["updated"].max() if not frame.empty else pd.NaT
    if pd.isna(newest):
        return mark
    newest = newest.to_pydatetime()
    return newest if mark is None else max(mark, newest)


# --------------------------------------------------------------------------- the sync


def sync_history(dest: str | os.PathLike[str], *, since: datetime | None = None,
                 flows: str | Iterable[str] | None = None, logs: bool = False,
                 client: Client | None = None, progress: bool | None = None) -> SyncSummary:
    """Write the server's flow runs and task runs (and with `logs=True` their log lines)
    under `dest` as a date-partitioned Parquet dataset, or bring one up to date.

    `since` (aware) keeps flow runs started at or after it, `flows` those of these flow
    names; these and `logs` are fixed by the first sync of `dest` (kept in its state file)
    and later syncs reuse them (other `flows`, or logs for a dataset without them, raise
    `InvalidRequest`). A later sync adds the new
    rows and replaces the changed ones, rewriting only the partitions they fall in (see the
    module docstring). `progress` as for frames: None shows a bar on long syncs.

        >>> sync_history("history/", flows="etl")  # doctest: +SKIP
        >>> duckdb.sql("select count(*) from 'history/task_runs/*/*.parquet'")  # doctest: +SKIP
    """
    from importlib.util import find_spec

    if find_spec("pyarrow") is None:
        raise ConfigurationError("sync_history needs pyarrow: pip install "
                                 "'prefect-widgets[parquet]' (or pip install pyarrow).")
    if since is not None and (not isinstance(since, datetime) or since.tzinfo is None):
        raise InvalidRequest("since= must be a timezone-aware datetime, e.g. "
                             "datetime(2026, 1, 1, tzinfo=timezone.utc).")
    names = sorted({flows} if isinstance(flows, str) else set(flows)) if flows is not None \
        else None
    if names is not None and (not names or not all(isinstance(n, str) and n for n in names)):
        raise InvalidRequest("flows= takes a flow name or a list of flow names.")
    root = Path(dest).expanduser()
    if root.exists() and not root.is_dir():
        raise InvalidRequest(f"Cannot sync into {root}: it is a file, not a folder.")
    client = get_client(client)
    server = server_key(client.api_url)
    stored = _load_state(root, server)
    if stored is not None:
        if names is not None and names != stored["flows"]:
            raise InvalidRequest(f"{root} holds the flows {stored['flows'] or 'all'}; sync "
                                 f"other flows into a folder of their own.")
        if logs and not stored.get("logs"):
            raise InvalidRequest(f"{root} was synced without logs; sync with logs into a new "
                                 "folder to have every run's log lines.")
        names, logs = stored["flows"], bool(stored.get("logs"))
        since = datetime.fromisoformat(stored["since"]) if stored["since"] else None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequest(f"Cannot create {root}: {exc.strerror or exc}.") from None
    _clear_temp_files(root)
    marks: dict[str, datetime | None] = dict(stored["marks"]) if stored else \
        {FLOW_RUNS.name: None, TASK_RUNS.name: None}
    summary = SyncSummary(root, {t.name: TableChanges() for t in
                                 (FLOW_RUNS, TASK_RUNS, *((LOGS,) if logs else ()))},
                          first=stored is None)
    flow_mark = marks[FLOW_RUNS.name]
    flow_runs = _flow_runs_to_sync(client, names, since, flow_mark - SETTLE if flow_mark else None)
    involved = list(flow_runs.index)
    if flow_mark is not None:
        task_mark = marks[TASK_RUNS.name] or flow_mark
        extra = _flow_runs_with_changed_tasks(client, names, since, task_mark - SETTLE)
        involved += sorted(extra - set(involved))
    try:
        write_rows(root, FLOW_RUNS, flow_runs, summary.tables[FLOW_RUNS.name])
        with PageProgress(progress, unit="flow runs") as bar:
            for done, chunk in enumerate(_chunks(involved, FLOW_RUNS_PER_READ)):
                tasks = query_task_runs(client, flow_run_id=chunk, limit=None,
                                        sort="ID_DESC").to_dataframe()
                write_rows(root, TASK_RUNS, tasks, summary.tables[TASK_RUNS.name])
                marks[TASK_RUNS.name] = _latest(tasks, marks[TASK_RUNS.name])
                if logs:
                    write_rows(root, LOGS, _logs(client, chunk, tasks),
                               summary.tables[LOGS.name])
                bar.update(min(len(involved), (done + 1) * FLOW_RUNS_PER_READ), len(involved))
    except OSError as exc:
        raise InvalidRequest(f"Cannot write under {root}: {exc.strerror or exc}.") from None
    marks[FLOW_RUNS.name] = _latest(flow_runs, marks[FLOW_RUNS.name])
    _save_state(root, {
        "format": _FORMAT, "server": server, "flows": names, "logs": logs,
        "since": since.isoformat() if since else None,
        "marks": {k: v.isoformat() if v else None for k, v in marks.items()},
        "synced_at": datetime.now(timezone.utc).isoformat(),
    })
    return summary
