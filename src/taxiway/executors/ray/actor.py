"""What runs inside each Ray actor: a JobRunner with resident engines, driven by the dispatcher.

This module imports no `ray`: the dispatcher wraps `SlotWorker` with `ray.remote(...)`, so the
class stays importable and testable anywhere. The actor is threaded (max_concurrency > 1): `run`
holds one thread for a whole attempt while `progress` and `cancel` are served on others.

Like the local executor's child process, it never touches the database: the artifact goes to the
blob store under artifacts/<task>/<attempt>/ and the result comes back as data (JobDone).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from taxiway.blobs.factory import open_blob_store
from taxiway.core.settings import Settings
from taxiway.worker.contract import ClaimedTask, JobDone
from taxiway.worker.runner import JobRunner


@dataclass(frozen=True)
class ActorInfo:
    """Where an actor runs, for the dispatcher's log (and for tests that strike at it)."""

    pid: int
    hostname: str


@dataclass(frozen=True)
class ProgressSnapshot:
    """The latest progress of the running attempt; `seq` grows with every report."""

    task_id: str
    attempt: int
    seq: int
    ratio: float
    text: str | None
    preview_key: str | None = None  # the latest live preview still, in the shared blob store


class SlotWorker:
    """One worker slot's engines and its current attempt."""

    def __init__(self, settings_data: dict[str, Any]) -> None:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s"
        )
        settings = Settings(**settings_data)
        self._runner = JobRunner(settings, open_blob_store(settings))
        self._one_at_a_time = threading.Lock()
        self._lock = threading.Lock()  # guards the fields below, shared with progress/cancel threads
        self._stop = threading.Event()
        self._running: tuple[str, int] | None = None
        self._cancelled: tuple[str, int] | None = None
        self._progress: ProgressSnapshot | None = None

    def ready(self) -> ActorInfo:
        """Answered once the engines' process is up; the dispatcher waits for it before claiming."""
        return ActorInfo(os.getpid(), socket.gethostname())

    def run(self, job: ClaimedTask) -> JobDone:
        """Run one attempt to its end: an artifact, an error, or a stop, always as data."""
        if not self._one_at_a_time.acquire(blocking=False):
            # The dispatcher submits one attempt per slot; a second one here is a bug, not a task error.
            raise RuntimeError(f"slot worker busy; refusing task {job.task_id} attempt {job.attempt}")
        key = (job.task_id, job.attempt)
        try:
            with self._lock:
                self._running = key
                self._progress = None
                # A cancel can overtake `run` on another thread; it must still stop this attempt.
                if self._cancelled == key:
                    self._stop.set()
                else:
                    self._stop.clear()
            return self._runner.run(job, self._reporter(job), self._stop.is_set)
        finally:
            with self._lock:
                self._running = None
            self._one_at_a_time.release()

    def _reporter(self, job: ClaimedTask) -> Any:
        seq = 0
        last_text: str | None = None

        def report(ratio: float, text: str | None, preview_key: str | None) -> None:
            nonlocal seq, last_text
            with self._lock:
                # The dispatcher polls, so it may skip reports: keep the last text rather than lose it.
                last_text = text if text is not None else last_text
                seq += 1
                self._progress = ProgressSnapshot(
                    job.task_id, job.attempt, seq, ratio, last_text, preview_key
                )

        return report

    def progress(self) -> ProgressSnapshot | None:
        """The running attempt's latest progress (None before its first report)."""
        with self._lock:
            return self._progress if self._running is not None else None

    def cancel(self, task_id: str, attempt: int) -> bool:
        """Ask the attempt to stop at the engine's next progress call; True if it is running here now."""
        with self._lock:
            self._cancelled = (task_id, attempt)
            if self._running == (task_id, attempt):
                self._stop.set()
                return True
            return False
