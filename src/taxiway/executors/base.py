"""What both executor backends share: slot kinds, which work each kind claims, and a pool of
supervised slots that satisfies the scheduler's Executor interface (taxiway.scheduler.executor).

Two backends: `local` (supervised child processes inside `taxiway serve`) and `ray` (long-lived
actors on a Ray cluster, driven by `taxiway dispatcher`).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from taxiway.scheduler.claims import Work
from taxiway.scheduler.executor import Slot


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


class SupervisedSlot(Slot, Protocol):
    """A slot with a thread of its own that supervises one worker (a child process, a Ray actor)."""

    @property
    def kind(self) -> SlotKind: ...

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
