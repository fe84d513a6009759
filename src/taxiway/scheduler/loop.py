"""The scheduler thread of a process that runs work: claim, renew leases, apply cancels, recover.

Every tick it (1) re-queues tasks whose lease expired anywhere (a dead process or machine),
(2) claims tasks for idle worker slots, (3) renews the leases of its own running attempts,
stopping any attempt the database no longer gives it (cancelled by a user, or taken over after a
lease expiry), and (4) marks waiting tasks THROTTLED when every slot is busy, with their
estimated time to start (refreshed every few seconds).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy import select

from taxiway.context import AppContext
from taxiway.scheduler.claims import Work, claim_next, mark_throttled, refresh_estimates
from taxiway.scheduler.executor import Executor
from taxiway.store import states
from taxiway.store.models import Task
from taxiway.tasks import lifecycle

log = logging.getLogger(__name__)

REQUEUE_CHECK_SECONDS = 1.0
ESTIMATE_REFRESH_SECONDS = 5.0  # how often queued tasks' times to start are re-estimated


def new_owner_id() -> str:
    """Identifies this process in task leases (for operators reading the database)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    def __init__(self, ctx: AppContext, executor: Executor) -> None:
        self.ctx = ctx
        self.executor = executor
        self.owner = new_owner_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._last_requeue_check = 0.0
        self._last_estimate = 0.0
        self._last_renewal: dict[tuple[str, int], float] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.ctx.settings.scheduler_interval_seconds):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed; retrying next tick")

    def tick(self) -> None:
        # Renew before requeueing: after a stall of this process (CPU starvation, a slow disk)
        # longer than a lease, its own running tasks would otherwise look abandoned to itself.
        self._watch_running()
        now = time.monotonic()
        if now - self._last_requeue_check >= REQUEUE_CHECK_SECONDS:
            self._last_requeue_check = now
            lifecycle.requeue_expired(self.ctx)
        self._claim()
        try:
            self._throttle_and_estimate()
        except Exception:  # an estimate is never worth a missed claim or lease renewal
            log.exception("estimating times to start failed; trying again next tick")

    def _claim(self) -> None:
        none_waiting: set[Work] = set()  # kinds of work found empty this tick: not asked again
        for slot in self.executor.idle_slots():
            job = None
            for work in self.executor.work_for(slot):
                if work in none_waiting:
                    continue
                job = claim_next(self.ctx, self.owner, work)
                if job is not None:
                    break
                none_waiting.add(work)
            if job is None:
                continue
            if not slot.submit(job):
                # The slot's process died between the check and the submit: give the task back.
                lifecycle.release(self.ctx, job.task_id, job.attempt)
                continue
            # The claim wrote a full lease: the first renewal is due a third of a lease from now.
            self._last_renewal[(job.task_id, job.attempt)] = time.monotonic()

    def _throttle_and_estimate(self) -> None:
        """Tasks no slot took become THROTTLED; waiting tasks' times to start follow the queue."""
        if not self.executor.size:
            return
        mark_throttled(self.ctx, self.executor.size)
        now = time.monotonic()
        if now - self._last_estimate >= ESTIMATE_REFRESH_SECONDS:
            self._last_estimate = now
            refresh_estimates(self.ctx, self.executor.size)

    def _watch_running(self) -> None:
        running = self.executor.in_flight()
        if not running:
            self._last_renewal.clear()
            return
        with self.ctx.db.read() as session:
            rows = session.execute(
                select(Task.id, Task.status, Task.attempt).where(
                    Task.id.in_([task_id for task_id, _ in running])
                )
            ).all()
        current = {task_id: (status, attempt) for task_id, status, attempt in rows}
        renew_every = self.ctx.settings.lease_seconds / 3
        now = time.monotonic()
        for task_id, attempt in running:
            if current.get(task_id) != (states.RUNNING, attempt):
                self.executor.cancel(task_id)
                continue
            key = (task_id, attempt)
            if now - self._last_renewal.setdefault(key, now) >= renew_every:
                self._last_renewal[key] = now
                if not lifecycle.renew_lease(self.ctx, task_id, attempt):
                    self.executor.cancel(task_id)
        live = set(running)
        for key in list(self._last_renewal):
            if key not in live:
                del self._last_renewal[key]
