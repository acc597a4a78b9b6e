"""How a client sends a batch of calls at once: the `Pace` it keeps and the two drivers.

`send_paced` sends from a thread pool (`Client`), `gather_paced` with `asyncio.gather`
(`AsyncClient`): at most the pace's concurrency in flight, the answers in order, the first
error raised as a lone call's would be. Both take the client's one-call function, so the
retries, the deadline and the errors stay the client's.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .errors import ConfigurationError

__all__ = ["AUTO_CONCURRENCY", "PARALLEL_GAIN", "PROBE_CALLS", "THROTTLE_STATUSES", "Pace",
           "gather_paced", "send_paced"]

C = TypeVar("C")
R = TypeVar("R")

#: the most calls in flight when `max_concurrency` is not given and parallel paging pays
AUTO_CONCURRENCY = 4
#: calls timed one at a time, then twice as many two at a time, to learn whether the server
#: answers in parallel (a SQLite-backed server serves one request at a time)
PROBE_CALLS = 3
#: two calls at once must cost at most this share of one call's time to be worth it
PARALLEL_GAIN = 0.8
#: answers that mean "slow down": each one halves the concurrency
THROTTLE_STATUSES = frozenset({429, 503})


class Pace:
    """How many calls of a `Batch` a client sends at once.

    Given `max_concurrency`, that; without, the first batch large enough probes the server
    (`PROBE_CALLS` one at a time against twice as many two at a time) and settles on
    `AUTO_CONCURRENCY` if two at a time were served faster, else on 1. A 429 or 503 halves
    the concurrency (not below 1); a batch without one adds one back, up to what was settled.
    """

    def __init__(self, max_concurrency: int | None) -> None:
        if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(
                max_concurrency, int) or max_concurrency < 1):
            raise ConfigurationError(f"max_concurrency must be a whole number ≥ 1 (1: pages "
                                     f"one at a time), got {max_concurrency!r}.")
        #: the concurrency settled on (None until the probe ran), and the one in force now
        self.ceiling: int | None = max_concurrency
        self.limit = max_concurrency or 1
        self.throttles = 0
        self._one_at_a_time: float | None = None
        self._lock = threading.Lock()

    def segments(self, size: int) -> list[tuple[int, int, int | None]]:
        """A batch of `size` calls as runs of (start, stop, width); width None: `limit`."""
        if self.ceiling is not None or size < 3 * PROBE_CALLS:
            return [(0, size, None)]
        return [(0, PROBE_CALLS, 1), (PROBE_CALLS, 3 * PROBE_CALLS, 2),
                (3 * PROBE_CALLS, size, None)]

    def timed(self, start: int, stop: int, seconds: float) -> None:
        """Learn from the run of calls `start:stop` of `segments`: while probing, the first
        run is one at a time, the second two at a time; then settle the concurrency."""
        if self.ceiling is not None or stop <= start:
            return
        per_call = seconds / (stop - start)
        if start == 0:
            self._one_at_a_time = per_call
        elif self._one_at_a_time is not None:
            with self._lock:
                parallel = per_call <= PARALLEL_GAIN * self._one_at_a_time
                self.ceiling = self.limit = AUTO_CONCURRENCY if parallel else 1

    def throttled(self) -> None:
        with self._lock:
            self.throttles += 1
            self.limit = max(1, self.limit // 2)

    def recovered(self, throttles_before: int) -> None:
        """After a batch that nothing throttled: one more call in flight, up to `ceiling`."""
        with self._lock:
            if self.throttles == throttles_before and self.ceiling is not None:
                self.limit = min(self.ceiling, self.limit + 1)

    def allows(self, in_flight: int, width: int | None) -> bool:
        return in_flight < (width or self.limit)


def send_paced(send: Callable[[C], R], calls: Sequence[C], pace: Pace) -> list[R]:
    """`send` each call, up to `pace` in flight from a thread pool; the answers in order, or
    the first call's error that failed."""
    answers: list[R] = []
    throttles = pace.throttles
    for start, stop, width in pace.segments(len(calls)):
        began = time.monotonic()
        answers += _in_threads(send, calls[start:stop], pace, width)
        pace.timed(start, stop, time.monotonic() - began)
    pace.recovered(throttles)
    return answers


def _in_threads(send: Callable[[C], R], calls: Sequence[C], pace: Pace, width: int | None
                ) -> list[R]:
    if len(calls) <= 1 or (width or pace.limit) <= 1:
        return [send(call) for call in calls]
    slots = threading.Condition()
    in_flight = 0

    def one(call: C) -> R:
        nonlocal in_flight
        with slots:
            slots.wait_for(lambda: pace.allows(in_flight, width))
            in_flight += 1
        try:
            return send(call)
        finally:
            with slots:
                in_flight -= 1
                slots.notify_all()

    pool = ThreadPoolExecutor(max_workers=min(len(calls), width or pace.ceiling or 1),
                              thread_name_prefix="prefect-widgets-page")
    try:
        futures = [pool.submit(contextvars.copy_context().run, one, call) for call in calls]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def gather_paced(send: Callable[[C], Awaitable[R]], calls: Sequence[C], pace: Pace
                       ) -> list[R]:
    """`send_paced` with `asyncio.gather`."""
    answers: list[R] = []
    throttles = pace.throttles
    for start, stop, width in pace.segments(len(calls)):
        began = time.monotonic()
        answers += await _in_tasks(send, calls[start:stop], pace, width)
        pace.timed(start, stop, time.monotonic() - began)
    pace.recovered(throttles)
    return answers


async def _in_tasks(send: Callable[[C], Awaitable[R]], calls: Sequence[C], pace: Pace,
                    width: int | None) -> list[R]:
    if len(calls) <= 1 or (width or pace.limit) <= 1:
        return [await send(call) for call in calls]
    slots = asyncio.Condition()
    in_flight = 0

    async def one(call: C) -> R:
        nonlocal in_flight
        async with slots:
            await slots.wait_for(lambda: pace.allows(in_flight, width))
            in_flight += 1
        try:
            return await send(call)
        finally:
            async with slots:
                in_flight -= 1
                slots.notify_all()

    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
