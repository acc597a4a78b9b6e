"""`RecordList`: a read-only sequence of records that displays itself (log lines, artifacts,
state histories and run lists are all one)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from .seam import Displayed

__all__ = ["RecordList"]

T = TypeVar("T")


class RecordList(Displayed, Sequence[T], Generic[T]):
    """Records in order; a slice is a list of the same kind."""

    def __init__(self, items: Iterable[T]) -> None:
        self._items = list(items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Any: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)
