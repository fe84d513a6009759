"""The closed set of messages between a supervisor and the worker process it owns.

Errors cross the process boundary as data (JobDone.error), never as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from taxiway.assets.storage import StoredMedia
from taxiway.scheduler.claims import ClaimedTask


# Supervisor -> worker
@dataclass(frozen=True)
class RunJob:
    job: ClaimedTask


@dataclass(frozen=True)
class CancelJob:
    task_id: str
    attempt: int


@dataclass(frozen=True)
class Shutdown:
    pass


# Worker -> supervisor
@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class JobProgress:
    task_id: str
    attempt: int
    ratio: float
    text: str | None


@dataclass(frozen=True)
class JobDone:
    task_id: str
    attempt: int
    artifact: StoredMedia | None = None
    error: str | None = None
    reason: str | None = None
    cancelled: bool = False
    input_warnings: tuple[str, ...] = ()  # what was wrong with the input and how it was handled

    @property
    def succeeded(self) -> bool:
        return self.artifact is not None
