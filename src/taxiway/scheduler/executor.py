"""What the scheduler needs from an executor, whichever backend runs the work (see
taxiway.executors): slots to hand claimed attempts to, and control of the running ones.

The scheduler claims a task from the database and hands it to an idle slot; everything after that
(progress, results, lost workers, time limits) is the executor's to record, fenced by attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from taxiway.scheduler.claims import Work
from taxiway.worker.contract import ClaimedTask


class Slot(Protocol):
    """One worker that runs one attempt at a time."""

    def submit(self, job: ClaimedTask) -> bool:
        """Start `job`; False if the worker went away since it was reported idle (the caller releases)."""
        ...


class Executor(Protocol):
    """A fixed set of slots, and the running attempts on them."""

    @property
    def size(self) -> int:
        """How many slots exist (busy or not): the scheduler's estimate of parallel capacity."""
        ...

    def start(self) -> None: ...

    def idle_slots(self) -> Sequence[Slot]: ...

    def work_for(self, slot: Slot) -> tuple[Work, ...]:
        """What `slot` claims, in order of preference."""
        ...

    def in_flight(self) -> list[tuple[str, int]]:
        """(task_id, attempt) of every attempt running on a slot now."""
        ...

    def cancel(self, task_id: str) -> None:
        """Stop the attempt of `task_id` if it runs here; a no-op otherwise."""
        ...

    def stop(self, timeout: float = 15.0) -> None:
        """Hand running attempts back (no attempt counted) and shut the slots down."""
        ...
