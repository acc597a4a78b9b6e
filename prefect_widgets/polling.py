"""Polling: the pace of every loop that asks the server again and again.

A `Poll` holds what those loops share: an interval that backs off (multiplied by `factor`, up
to `maximum`) when a round fails or brings nothing, and resets after a good round; waits on
a `threading.Event`, so `stop()` ends a wait at once; and an optional deadline. It serves
loops of both kinds:

* a thread's loop, callback style: `Poll(...).run(step, retry_on=..., on_retry=...)`, or by
  hand: `while poll.wait(): ...`;
* a generator's loop: between rounds, `poll.succeeded()` or `poll.failed()`, then
  `poll.expired(within=poll.delay)` to give up before a wait that would pass the deadline,
  then `poll.wait()`.

`Settled` counts rounds in which a polled value held still, for loops that wait for the
server to catch up. A base-layer module: the standard library only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Poll", "Settled"]

_UNSET = object()


class Poll:
    """The interval, back-off, stop event and deadline of one polling loop.

    `interval`: seconds between rounds while all goes well. `maximum`: the longest back-off
    (default: `interval`, no back-off; a `maximum` below `interval` caps a backed-off delay,
    as `min(maximum, delay * factor)`). `factor`: how much each `failed()` round lengthens
    the wait. `timeout`: seconds from now until `expired()` (default: never). `stop`: an
    event to share with whoever stops the loop (default: a new one).
    """

    def __init__(self, interval: float, *, maximum: float | None = None, factor: float = 2.0,
                 timeout: float | None = None, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if factor < 1:
            raise ValueError("factor must be >= 1: a back-off never shortens the wait.")
        self.interval = float(interval)
        self.maximum = self.interval if maximum is None else float(maximum)
        self.factor = float(factor)
        self.delay = self.interval
        self.stop_event = stop if stop is not None else threading.Event()
        self._clock = clock
        self.deadline = None if timeout is None else clock() + float(timeout)

    # ---- pace

    def succeeded(self) -> float:
        """A good round: back to the base interval. Returns the next delay."""
        self.delay = self.interval
        return self.delay

    def failed(self) -> float:
        """A failed (or empty) round: wait longer, up to `maximum`. Returns the next delay."""
        self.delay = min(self.maximum, self.delay * self.factor)
        return self.delay

    # ---- waiting and stopping

    def wait(self, seconds: float | None = None) -> bool:
        """Wait `seconds` (default: the current delay) unless stopped; True to go on."""
        return not self.stop_event.wait(self.delay if seconds is None else seconds)

    def stop(self) -> None:
        """End the loop: a wait in progress returns at once."""
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    # ---- the deadline

    def remaining(self) -> float | None:
        """Seconds left until the deadline (never below 0); None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self._clock())

    def expired(self, within: float = 0.0) -> bool:
        """Whether the deadline has passed, or will have `within` seconds from now."""
        return self.deadline is not None and self._clock() + within >= self.deadline

    # ---- a thread's loop

    def run(self, step: Callable[[], Any], *,
            retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
            on_retry: Callable[[BaseException, float], Any] | None = None) -> None:
        """Wait, call `step()`, and again, until stopped.

        `step` raising one of `retry_on` is a failed round: the wait backs off and
        `on_retry(exc, next_delay)` is told. Any other exception ends the loop and propagates.
        """
        while self.wait():
            try:
                step()
            except retry_on as exc:
                delay = self.failed()
                if on_retry is not None:
                    on_retry(exc, delay)
            else:
                self.succeeded()


class Settled:
    """Whether a polled value has held still: `observe` it each round; it answers True once
    the value came back the same, with `ok`, `needed` rounds in a row."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.count = 0
        self._last: Any = _UNSET

    def observe(self, value: Any, ok: bool = True) -> bool:
        self.count = self.count + 1 if ok and value == self._last else 0
        self._last = value
        return self.count >= self.needed
