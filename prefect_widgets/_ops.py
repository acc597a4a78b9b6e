"""Read operations as generators of `Call`s, shared by the sync and async APIs."""

from __future__ import annotations

from typing import Any

from ._parse import expect
from .client import Call, Operation
from .errors import BadResponse, IncompleteData

PAGE_SIZE = 200  # the server refuses larger pages


def get(path: str, not_found: str, params: dict[str, Any] | None = None) -> Operation[dict]:
    body = yield Call("GET", path, params=params, not_found=not_found)
    return expect(dict, body, path)


def get_list(path: str, params: dict[str, Any] | None = None) -> Operation[list]:
    body = yield Call("GET", path, params=params)
    return expect(list, body, path)


def count(path: str, body: dict[str, Any]) -> Operation[int]:
    answer = yield Call("POST", path, json=body)
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise BadResponse(f"The count from {path} is not an integer: {str(answer)[:60]!r}.")
    return answer


def filter_page(path: str, body: dict[str, Any]) -> Operation[list[dict]]:
    answer = yield Call("POST", path, json=body)
    return expect(list, answer, path)


def filter_all(
    path: str, body: dict[str, Any], *, limit: int | None = None, offset: int = 0,
    count_path: str | None = None, on_page: Any = None,
) -> Operation[list[dict]]:
    """Page through `path` past the server's 200-row cap and never return a partial list.

    With `count_path`, the server's count is read first; every row that existed then is
    returned exactly once (rows created while paging may also appear). If paging ends with
    fewer distinct rows than counted, the pages are read once more, then `IncompleteData`.
    """
    expected = None
    if count_path is not None:
        count_body = {k: v for k, v in body.items() if k not in ("sort", "limit", "offset")}
        expected = yield from count(count_path, count_body)
        expected = max(0, expected - offset)
        if limit is not None:
            expected = min(expected, limit)
    for _ in range(2):  # once more if the count was not reached
        rows: dict[str, dict] = {}
        position = offset
        while limit is None or len(rows) < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(rows))
            page = yield from filter_page(path, {**body, "limit": size, "offset": position})
            for row in page:
                row_id = row.get("id") if isinstance(row, dict) else None
                if row_id is None:
                    raise BadResponse(f"A row from {path} has no id: the answer is malformed.")
                rows.setdefault(row_id, row)
            position += len(page)
            if on_page is not None:
                on_page(len(rows), expected)
            if len(page) < size:
                break
        if expected is None or len(rows) >= expected:
            result = list(rows.values())
            return result if limit is None else result[:limit]
    raise IncompleteData(
        f"Paging {path} returned {len(rows)} distinct rows but the server counted {expected}; "
        "rows were deleted or the server changed while paging. Try again; no partial result "
        "is returned."
    )
