"""Read operations as generators of `Call`s, shared by the sync and async APIs.

`export` is the one way a listing is paged: anchored pages (each re-reads the end of the
previous one) so that a row that exists for the whole export is returned exactly once even
while rows are deleted and added, checked against the server's count. `rows_after` is the
one way a follower reads only what is new (a `Tail` remembers where it stands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ._parse import expect, parse_datetime
from .client import Call, Operation
from .errors import BadResponse, IncompleteData

PAGE_SIZE = 200  # the server refuses larger pages
#: rows at the end of one page that the next page reads again, to find where it continues
OVERLAP = 10
#: pages read again (stepping back) in one pass before the export gives up
MAX_STEPS_BACK = 8
#: whole passes over a listing before `IncompleteData`
PASSES = 2


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


def _pass(path: str, body: dict[str, Any], limit: int | None, offset: int,
          on_page: Callable[[int, int | None], None] | None, expected: int | None
          ) -> Operation[dict[str, dict]]:
    """One pass over the listing, by anchored pages.

    Each page after the first starts `OVERLAP` rows before the end of what was read. A row
    read before found in it is the anchor: the rows after it continue the listing with
    nothing left out, whatever moved meanwhile. A page holding no row read before means rows
    before it were deleted: step back a page and look again (then `IncompleteData`).
    """
    rows: dict[str, dict] = {}
    position = offset  # the listing position right after the last row read
    steps_back = 0
    while limit is None or len(rows) < limit:
        start = max(offset, position - OVERLAP)
        wanted = PAGE_SIZE if limit is None else \
            min(PAGE_SIZE, limit - len(rows) + position - start)
        page = yield from filter_page(path, {**body, "limit": wanted, "offset": start})
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
           on_page: Callable[[int, int | None], None] | None = None) -> Operation[Listing]:
    """Every row of a listing (or the first `limit` after `offset`), never silently short.

    Every row that exists for the whole export is returned exactly once (rows created or
    deleted meanwhile may or may not be); this holds for sorts whose keys do not change
    while paging (`ID_DESC` always). With `count_path`, the server's count is read first and
    again if fewer rows came back: a listing still short of both counts is read once more,
    then `IncompleteData`.
    """
    total = None
    count_body = {k: v for k, v in body.items() if k not in ("sort", "limit", "offset")}
    if count_path is not None:
        total = yield from count(count_path, count_body)
    rows: dict[str, dict] = {}
    expected = None
    for _ in range(PASSES):
        expected = None if total is None else _expected(total, limit, offset)
        rows = yield from _pass(path, body, limit, offset, on_page, expected)
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
