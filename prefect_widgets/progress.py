"""A progress bar for long paged fetches: shown once a fetch has taken over a second."""

from __future__ import annotations

import time
from typing import Any


class PageProgress:
    """`enabled=None` shows a tqdm bar (notebook-aware) only for fetches longer than `after` s."""

    def __init__(self, enabled: bool | None = None, unit: str = "rows", after: float = 1.0) -> None:
        self.enabled = enabled
        self.unit = unit
        self.after = after
        self._started = time.monotonic()
        self._bar: Any = None

    def __enter__(self) -> PageProgress:
        return self

    def update(self, done: int, total: int | None) -> None:
        if self.enabled is False:
            return
        if self._bar is None:
            if self.enabled is None and time.monotonic() - self._started < self.after:
                return
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit=f" {self.unit}", leave=False)
        self._bar.update(done - self._bar.n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
