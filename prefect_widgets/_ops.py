"""Read operations as generators of `Call`s, shared by the sync and async APIs.

`export` is the one way a listing is paged: anchored pages (each re-reads the end of the
previous one) so that a row that exists for the whole export is returned exactly once even
while rows are deleted and added, checked against the server's count; when the count is
known and `read_ahead` asked for, the pages it promises are requested in `Batch`es (the
client sends them at once where the server serves in parallel) and the anchored pass reads
them as if one by one.
`rows_after` is the one way a follower reads only what is new (a `Tail` remembers where it
stands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._parse import expect, parse_datetime
from .client import Batch, Call, Operation
from .errors import BadResponse, IncompleteData

PAGE_SIZE = 200  # the server refuses larger pages
#: rows at the end of one page that the next page reads again, to find where it continues
OVERLAP = 10
#: pages read again (stepping back) in one pass before the export gives up
MAX_STEPS_BACK = 8
#: whole passes over a listing before `IncompleteData`
PASSES = 2
#: pages asked for in one `Batch` (how many are in flight is the client's `Pace`)
READ_AHEAD = 16


def get(path: str, not_found: str, params: dict[str, Any] | None = None) -> Operation[dict]:
    body = yield Call("GET", path, params=params, not_found=not_found)
    return expect(dict, body, path)


def get_list(path: str, params: dict[str, Any] | None = None) -> Operation[list]:
    body = yield Call("GET", path, params=params)
    return expect(list, body, path)


def count(path: str, body: dict[str, Any]) -> Operation[int]:
    answer = yield Call("POST", path, json=body, not_found=(
        f"The server has no {path} endpoint (404): is PREFECT_API_URL the API of a Prefect 3 "
        "server?"))
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 0:
        raise BadResponse(f"The count from {path} is not a non-negative integer: "
                          f"{str(answer)[:60]!r}.")
    return answer


def filter_page(path: str, body: dict[str, Any]) -> Operation[list[dict]]:
    answer = yield Call("POST", path, json=body)
    return expect(list, answer, path)


@dataclass(frozen=True)
class Listing:
    """The rows of a listing, and how many rows the server counted for the whole filter
    (before `offset` and `limit`; None when it was not counted)."""

    rows: list[dict]
    total: int | None


def _row_id(row: Any, path: str) -> str:
    row_id = row.get("id") if isinstance(row, dict) else None
    if not isinstance(row_id, str) or not row_id:
        raise BadResponse(f"A row from {path} has no id: the answer is malformed.")
    return row_id


@dataclass
class _ReadAhead:
    """Pages of one pass read ahead, at the offsets the pass asks for when nothing moves
    (`offset + k * (PAGE_SIZE - OVERLAP)`, up to where the count says the listing ends).

    The anchor check does not depend on when a page was read: two pages sharing a row cover
    every row between them that existed at both reads, since the sort keys do not change.
    So pages read at once serve the pass as if read one by one. Each is used once: a pass
    stepping back, or reading a page again, reads it live.
    """

    path: str
    body: dict[str, Any]
    offset: int
    end: int | None  # the listing position after the last counted row; None: no read-ahead
    pages: dict[int, list[dict]] = field(default_factory=dict)
    asked: set[int] = field(default_factory=set)

    def page(self, start: int, wanted: int) -> Operation[list[dict]]:
        stride = PAGE_SIZE - OVERLAP
        if wanted == PAGE_SIZE and start not in self.asked and self.end is not None \
                and (start - self.offset) % stride == 0:
            # the pages until the first the count says is short (`end` minus `OVERLAP`)
            offsets = [at for at in range(start, start + READ_AHEAD * stride, stride)
                       if at == start or at <= self.end - OVERLAP]
            if len(offsets) > 1:
                answers = yield Batch(tuple(Call("POST", self.path, json={
                    **self.body, "limit": PAGE_SIZE, "offset": at}) for at in offsets))
                self.pages.update((at, expect(list, answer, self.path))
                                  for at, answer in zip(offsets, answers))
                self.asked.update(offsets)
        if start in self.pages:
            return self.pages.pop(start)
        return (yield from filter_page(self.path, {**self.body, "limit": wanted,
                                                   "offset": start}))


def _pass(path: str, body: dict[str, Any], limit: int | None, offset: int,
          on_page: Callable[[int, int | None], None] | None, expected: int | None,
          read_ahead: bool = False) -> Operation[dict[str, dict]]:
    """One pass over the listing, by anchored pages (with `read_ahead`, read ahead when
    `expected` is known and `limit` is not).

    Each page after the first starts `OVERLAP` rows before the end of what was read. A row
    read before found in it is the anchor: the rows after it continue the listing with
    nothing left out, whatever moved meanwhile. A page holding no row read before means rows
    before it were deleted: step back a page and look again (then `IncompleteData`).
    """
    ahead = _ReadAhead(path, body, offset, offset + expected if read_ahead
                       and expected is not None and limit is None else None)
    rows: dict[str, dict] = {}
    position = offset  # the listing position right after the last row read
    steps_back = 0
    while limit is None or len(rows) < limit:
        start = max(offset, position - OVERLAP)
        wanted = PAGE_SIZE if limit is None else \
            min(PAGE_SIZE, limit - len(rows) + position - start)
        page = yield from ahead.page(start, wanted)
        ids = [_row_id(row, path) for row in page]
        if start > offset and rows:
            if not any(i in rows for i in ids):
                steps_back += 1
                if steps_back > MAX_STEPS_BACK:
                    raise IncompleteData(
                        f"Paging {path}: the rows read last kept moving ({steps_back - 1} pages "
                        "read again); the listing changed too much while paging. Try again; no "
                        "partial result is returned.")
                position = max(offset, start - PAGE_SIZE + 2 * OVERLAP)
                continue
        for row_id, row in zip(ids, page):
            rows.setdefault(row_id, row)
        position = start + len(page)
        if on_page is not None:
            on_page(len(rows), expected)
        if len(page) < wanted:
            break
    return rows


def export(path: str, body: dict[str, Any], *, limit: int | None = None, offset: int = 0,
           count_path: str | None = None,
           on_page: Callable[[int, int | None], None] | None = None,
           read_ahead: bool = False) -> Operation[Listing]:
    """Every row of a listing (or the first `limit` after `offset`), never silently short.

    Every row that exists for the whole export is returned exactly once (rows created or
    deleted meanwhile may or may not be); this holds for sorts whose keys do not change
    while paging (`ID_DESC` always). With `count_path`, the server's count is read first and
    again if fewer rows came back: a listing still short of both counts is read once more,
    then `IncompleteData`. With `read_ahead` (and `count_path`, no `limit`), up to
    `READ_AHEAD` pages are asked for at once (`Batch`), with the same guarantees.
    """
    total = None
    count_body = {k: v for k, v in body.items() if k not in ("sort", "limit", "offset")}
    if count_path is not None:
        total = yield from count(count_path, count_body)
    rows: dict[str, dict] = {}
    expected = None
    for _ in range(PASSES):
        expected = None if total is None else _expected(total, limit, offset)
        rows = yield from _pass(path, body, limit, offset, on_page, expected, read_ahead)
        if count_path is None or expected is None or len(rows) >= expected:
            break
        recount = yield from count(count_path, count_body)
        if len(rows) >= _expected(recount, limit, offset):
            total = recount
            break
    else:
        raise IncompleteData(
            f"Paging {path} returned {len(rows)} distinct rows but the server counted "
            f"{expected}; rows were deleted or the server changed while paging. Try again; "
            "no partial result is returned.")
    result = list(rows.values())[:limit]
    if total is not None and limit is None:
        total = max(total, offset + len(result))
    return Listing(result, total)


def _expected(total: int, limit: int | None, offset: int) -> int:
    rest = max(0, total - offset)
    return rest if limit is None else min(rest, limit)


@dataclass
class Tail:
    """Where a follower of a listing sorted oldest first stands: the newest time read, and
    the ids of the rows read at exactly that time (the server's time bound is inclusive, so
    those rows come again and are skipped)."""

    since: datetime | None = None
    ids_at_since: set[str] = field(default_factory=set)

    def is_new(self, when: datetime, row_id: str) -> bool:
        return self.since is None or when > self.since or (
            when == self.since and row_id not in self.ids_at_since)

    def advance(self, when: datetime, row_id: str) -> None:
        if self.since is None or when > self.since:
            self.since, self.ids_at_since = when, {row_id}
        else:
            self.ids_at_since.add(row_id)


def _row_time(row: dict, key: str, path: str) -> datetime:
    """The row's `key` time (UTC when it has no zone)."""
    when = parse_datetime(row.get(key))
    if when is None:
        raise BadResponse(f"A row from {path} has no {key}: the answer is malformed.")
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def rows_after(path: str, body_since: Callable[[datetime | None], dict[str, Any]], tail: Tail,
               time_key: str = "timestamp") -> Operation[list[dict]]:
    """The rows after the last one `tail` read, oldest first, and `tail` moved past them.

    `body_since(since)` is the filter body of rows at or after `since`, sorted by `time_key`
    ascending. About one request per `PAGE_SIZE` new rows; a full page with nothing new
    (more rows than a page in one time) reads on by offset from the same bound.
    """
    fresh: list[dict] = []
    offset = 0
    while True:
        page = yield from filter_page(path, {**body_since(tail.since), "limit": PAGE_SIZE,
                                             "offset": offset})
        keyed = [(_row_id(row, path), row) for row in page]
        timed = [(row_id, _row_time(row, time_key, path), row) for row_id, row in keyed]
        new = [entry for entry in timed if tail.is_new(entry[1], entry[0])]
        for row_id, when, _ in new:  # moved only now: the whole page is new against one bound
            tail.advance(when, row_id)
        fresh += [row for _, _, row in new]
        if len(page) < PAGE_SIZE:
            return fresh
        offset = 0 if new else offset + len(page)


def changed_task_rows(flow_run_id: str, since: datetime) -> Operation[list[dict]]:
    """The task-run records of a flow run that `graph-v2?since=` would answer: still open
    (no end time) or ended at or after `since`. For runs whose graph the server refuses
    (over 10,000 nodes): two counted exports of what changed, not the whole run."""
    body: dict[str, Any] = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "ID_DESC"}
    rows: dict[str, dict] = {}
    for end_time in ({"is_null_": True}, {"after_": since.isoformat()}):
        listing = yield from export("/task_runs/filter", {
            **body, "task_runs": {"end_time": end_time}}, count_path="/task_runs/count",
            read_ahead=True)
        rows.update((_row_id(row, "/task_runs/filter"), row) for row in listing.rows)
    return list(rows.values())
