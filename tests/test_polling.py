"""The polling helper: back-off, reset, deadline, and a stop that ends a wait at once."""

from __future__ import annotations

import threading
import time

import pytest

from prefect_widgets.errors import ServerUnreachable
from prefect_widgets.polling import Poll, Settled


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_failures_double_the_delay_up_to_the_maximum():
    poll = Poll(1.0, maximum=5.0)
    assert poll.delay == 1.0
    assert [poll.failed() for _ in range(5)] == [2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_success_resets_the_delay():
    poll = Poll(0.5, maximum=30.0)
    poll.failed()
    poll.failed()
    assert poll.delay == 2.0
    assert poll.succeeded() == 0.5 and poll.delay == 0.5
    assert poll.failed() == 1.0  # backs off again from the base interval


def test_other_factors_and_no_backoff_by_default():
    poll = Poll(2.0, maximum=10.0, factor=1.5)
    assert [poll.failed() for _ in range(5)] == [3.0, 4.5, 6.75, 10.0, 10.0]
    steady = Poll(1.0)
    assert steady.failed() == 1.0  # maximum defaults to the interval
    with pytest.raises(ValueError):
        Poll(1.0, factor=0.5)


def test_a_maximum_below_the_interval_caps_a_backed_off_delay():
    poll = Poll(60.0, maximum=30.0)
    assert poll.delay == 60.0 and poll.failed() == 30.0


def test_stop_ends_a_wait_at_once():
    poll = Poll(30.0)
    threading.Timer(0.1, poll.stop).start()
    started = time.monotonic()
    assert poll.wait() is False
    assert time.monotonic() - started < 2.0 and poll.stopped
    assert poll.wait() is False  # stays stopped


def test_a_shared_event_stops_it():
    event = threading.Event()
    poll = Poll(30.0, stop=event)
    event.set()
    started = time.monotonic()
    assert not poll.wait() and time.monotonic() - started < 0.5


def test_wait_without_stop_waits_the_delay():
    poll = Poll(0.05)
    started = time.monotonic()
    assert poll.wait() is True
    assert time.monotonic() - started >= 0.04
    assert poll.wait(0.0) is True


def test_deadline():
    clock = FakeClock()
    poll = Poll(1.0, timeout=10.0, clock=clock)
    assert not poll.expired() and poll.remaining() == 10.0
    assert poll.expired(within=10.0) and not poll.expired(within=9.0)
    clock.now += 10.0
    assert poll.expired() and poll.remaining() == 0.0
    clock.now += 5.0
    assert poll.remaining() == 0.0
    endless = Poll(1.0)
    assert endless.remaining() is None and not endless.expired(within=1e9)


def test_run_calls_the_step_backs_off_on_retryable_errors_and_resets():
    outcomes = iter([None, ServerUnreachable("down"), ServerUnreachable("down"), None, "stop"])
    poll = Poll(0.01, maximum=0.03)
    delays, retries = [], []

    def step() -> None:
        outcome = next(outcomes)
        delays.append(poll.delay)
        if outcome == "stop":
            poll.stop()
        elif outcome is not None:
            raise outcome

    poll.run(step, retry_on=ServerUnreachable,
             on_retry=lambda exc, delay: retries.append((str(exc), delay)))
    assert retries == [("down", 0.02), ("down", 0.03)]
    assert delays == [0.01, 0.01, 0.02, 0.03, 0.01]  # the wait before each call


def test_run_lets_other_errors_end_the_loop():
    poll = Poll(0.0)
    with pytest.raises(KeyError):
        poll.run(lambda: {}["missing"], retry_on=ServerUnreachable)


def test_run_in_a_thread_stops_immediately():
    poll = Poll(30.0)
    calls = []
    thread = threading.Thread(target=poll.run, args=(lambda: calls.append(1),), daemon=True)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    poll.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2.0
    assert calls == []  # it waits before the first round


def test_a_generator_loop():
    """The shape `watch_flow_run` uses: rounds, back-off on quiet ones, give up in time."""
    clock = FakeClock()
    poll = Poll(1.0, maximum=4.0, timeout=10.0, clock=clock)

    def rounds(fresh: list[bool]):
        for got in fresh:
            yield got
            delay = poll.succeeded() if got else poll.failed()
            if poll.expired(within=delay):
                raise TimeoutError
            clock.now += delay  # stands for poll.wait()

    with pytest.raises(TimeoutError):
        list(rounds([True, False, False, True, False, False, False]))
    assert clock.now == 108.0  # 1 + 2 + 4 + 1 + 2 = 10 would reach the deadline: stopped first


def test_settled_counts_still_rounds():
    settled = Settled(2)
    assert not settled.observe(3)  # first sight
    assert not settled.observe(3, ok=False)  # not ok: start again
    assert not settled.observe(3)
    assert settled.observe(3)  # the same, ok, twice in a row
    assert not settled.observe(4)  # changed
    assert not Settled(1).observe(-1)  # never equal to the first sight
