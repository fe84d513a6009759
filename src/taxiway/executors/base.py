"""What the scheduler needs from an executor, whichever backend runs the work.

Two backends satisfy it: `local` (supervised child processes inside `taxiway serve`) and `ray`
(long-lived actors on a Ray cluster, driven by `taxiway dispatcher`). The scheduler claims a task
from the database and hands it to an idle slot; everything after that (progress, results, lost
workers, time limits) is the executor's to record with `tasks.lifecycle`, fenced by attempt.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from taxiway.scheduler.claims import Work
from taxiway.worker.contract import ClaimedTask


class SlotKind(StrEnum):
    """What a slot is for: the classical engines (CPU), or neural models (a GPU where there is one)."""

    CLASSIC = "classic"
    NEURAL = "neural"


def work_for(kind: SlotKind, kinds: Collection[SlotKind], *, run_neural: bool = True) -> tuple[Work, ...]:
    """What a slot of `kind` claims, in order, in a pool whose slots are of `kinds`.

    Each kind runs only its own tasks while the pool has both, so a neural model is never loaded
    into a CPU slot and a classic task never holds a GPU; a pool of one kind runs everything on it
    (neural tasks first on a neural-only pool), unless `run_neural` is off: then neural tasks are
    left to other pools (a fleet's GPU dispatchers).
    """
    if kind is SlotKind.NEURAL:
        return (Work.NEURAL,) if SlotKind.CLASSIC in kinds else (Work.NEURAL, Work.CLASSIC)
    if SlotKind.NEURAL in kinds or not run_neural:
        return (Work.CLASSIC,)
    return (Work.ANY,)


class Slot(Protocol):
    """One worker that runs one attempt at a time."""

    @property
    def kind(self) -> SlotKind: ...

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


class SupervisedSlot(Slot, Protocol):
    """A slot with a thread of its own that supervises one worker (a child process, a Ray actor)."""

    @property
    def idle(self) -> bool: ...

    def start(self) -> None: ...

    def in_flight(self) -> tuple[str, int] | None: ...

    def cancel(self, task_id: str) -> None: ...

    def request_stop(self) -> None: ...

    def join(self, timeout: float) -> None: ...


S = TypeVar("S", bound=SupervisedSlot)


class SlotPool(Generic[S]):
    """An Executor made of supervised slots: the bookkeeping both backends share."""

    def __init__(self, slots: list[S], *, run_neural: bool = True) -> None:
        self.slots = slots
        self.run_neural = run_neural

    @property
    def size(self) -> int:
        return len(self.slots)

    def start(self) -> None:
        for slot in self.slots:
            slot.start()

    def idle_slots(self) -> list[S]:
        return [slot for slot in self.slots if slot.idle]

    def work_for(self, slot: Slot) -> tuple[Work, ...]:
        return work_for(slot.kind, {each.kind for each in self.slots}, run_neural=self.run_neural)

    def in_flight(self) -> list[tuple[str, int]]:
        return [job for slot in self.slots if (job := slot.in_flight()) is not None]

    def cancel(self, task_id: str) -> None:
        for slot in self.slots:
            slot.cancel(task_id)

    def stop(self, timeout: float = 15.0) -> None:
        for slot in self.slots:
            slot.request_stop()
        deadline = time.monotonic() + timeout
        for slot in self.slots:
            slot.join(max(0.1, deadline - time.monotonic()))
