"""The threads and handoffs under every frame pipeline (media.pipeline.Stages), with plain items.

Each scenario runs on a helper thread with a deadline, so that a pipeline that fails to stop fails
its test instead of hanging the run.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from taxiway.media.pipeline import Handoff, Stages


class Cancelled(Exception):
    pass


def _within(seconds: float, scenario: Callable[[], None]) -> None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            scenario()
        except BaseException as exc:
            failure.append(exc)

    helper = threading.Thread(target=run, daemon=True)
    helper.start()
    helper.join(seconds)
    assert not helper.is_alive(), f"the pipeline did not stop within {seconds} s"
    if failure:
        raise failure[0]


def test_items_arrive_in_order_up_to_the_end() -> None:
    def scenario() -> None:
        with Stages() as stages:
            numbers: Handoff[int] = stages.handoff(2)
            stages.feed(range(20), numbers, name="test-feed")
            assert list(numbers.items()) == list(range(20))

    _within(5, scenario)


def test_a_failure_in_the_feeder_is_raised_on_the_receiver_after_the_items_before_it() -> None:
    def numbers_then_failure() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("decoding failed")

    def scenario() -> None:
        received: list[int] = []
        before = threading.active_count()
        with pytest.raises(RuntimeError, match="decoding failed"), Stages() as stages:
            numbers: Handoff[int] = stages.handoff(4)
            stages.feed(numbers_then_failure(), numbers, name="test-feed")
            for number in numbers.items():
                received.append(number)
        assert received == [1, 2]
        assert threading.active_count() == before

    _within(5, scenario)


def test_a_cancel_while_the_feeder_waits_on_a_full_handoff_stops_it() -> None:
    def scenario() -> None:
        before = threading.active_count()
        with pytest.raises(Cancelled), Stages() as stages:
            numbers: Handoff[int] = stages.handoff(1)
            stages.feed(itertools.count(), numbers, name="test-feed")  # never ends by itself
            for _ in numbers.items():
                time.sleep(0.3)  # the feeder fills the handoff and waits
                raise Cancelled()
        assert threading.active_count() == before

    _within(3, scenario)


def test_a_cancel_while_the_caller_waits_on_a_full_handoff_stops_the_consumer() -> None:
    handled: list[int] = []
    taken, release = threading.Event(), threading.Event()

    def stuck(number: int) -> None:
        taken.set()
        release.wait()  # a slow encoder: the handoff fills behind it
        handled.append(number)

    def tick() -> None:
        release.set()  # the item in hand finishes; nothing after it should be taken
        raise Cancelled()

    def scenario() -> None:
        before = threading.active_count()
        with pytest.raises(Cancelled), Stages() as stages:
            numbers: Handoff[int] = stages.handoff(1)
            stages.consume(numbers, stuck, name="test-consume")
            numbers.put(0)
            taken.wait()
            for number in range(1, 100):
                numbers.put(number, tick)
        assert handled[0] == 0 and len(handled) <= 2  # at most the one queued slipped through
        assert threading.active_count() == before

    _within(5, scenario)


def test_a_cancel_while_waiting_for_a_slow_feeder_stops_it() -> None:
    ticks: list[int] = []
    release = threading.Event()

    def slowly() -> Iterator[int]:
        for number in itertools.count():
            release.wait()  # a slow decode: nothing arrives until the first tick
            yield number

    def scenario() -> None:
        received: list[int] = []
        before = threading.active_count()

        def tick() -> None:
            ticks.append(len(received))
            release.set()
            raise Cancelled()

        with pytest.raises(Cancelled), Stages() as stages:
            numbers: Handoff[int] = stages.handoff(4)
            stages.feed(slowly(), numbers, name="test-feed")
            for number in numbers.items(tick, every=0.1):
                received.append(number)
        assert ticks == [0] and received == []
        assert threading.active_count() == before

    _within(5, scenario)


def test_a_failing_consumer_is_raised_on_the_thread_that_waits_for_it() -> None:
    def broken(number: int) -> None:
        raise OSError("disk full")

    def scenario() -> None:
        before = threading.active_count()
        with pytest.raises(OSError, match="disk full"), Stages() as stages:
            numbers: Handoff[int] = stages.handoff(1)
            encoding = stages.consume(numbers, broken, name="test-consume")
            # Nobody reads the handoff any more: the put's tick is where the failure surfaces.
            for number in range(100):
                numbers.put(number, encoding.check)
            numbers.end(encoding.check)
            encoding.wait(encoding.check)
        assert threading.active_count() == before

    _within(5, scenario)


def test_waiting_for_a_consumer_ticks_and_returns_when_it_is_done() -> None:
    handled: list[int] = []
    ticks: list[int] = []
    release = threading.Event()

    def stuck(number: int) -> None:
        release.wait()  # until the first tick
        handled.append(number)

    def tick() -> None:
        ticks.append(len(handled))
        release.set()

    def scenario() -> None:
        with Stages() as stages:
            numbers: Handoff[int] = stages.handoff(4)
            encoding = stages.consume(numbers, stuck, name="test-consume")
            for number in range(3):
                numbers.put(number)
            numbers.end()
            encoding.wait(tick, every=0.1)
            assert handled == [0, 1, 2]
        assert ticks[0] == 0  # ticked while the consumer was still working

    _within(5, scenario)
