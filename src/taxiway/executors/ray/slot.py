"""One worker slot on a Ray cluster: a long-lived actor, and the dispatcher thread that supervises it.

The thread starts, watches and kills its actor; what comes of an attempt (a result, an actor that
dies of kill -9, OOM or a lost node, an overrun time limit, an ignored cancel) it hands to
`executors.outcomes`, exactly as the local executor's slot thread does for its child process.
Ray never retries anything itself (max_restarts=0, max_task_retries=0): a rerun is always the next
attempt, fenced by the database.

Progress is polled (`SlotWorker.progress`) rather than streamed from a generator: a plain actor
call's result and `ray.wait` with a timeout are Ray's most exercised path, and actor death reaches
them as an error at once, whereas streaming generators have had hangs on failures across releases.
Progress is a latest-value signal, so a poll every POLL_SECONDS loses nothing that matters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import time
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from taxiway.context import AppContext
from taxiway.executors import outcomes
from taxiway.executors.base import SlotKind
from taxiway.executors.ray.actor import ActorInfo, ProgressSnapshot
from taxiway.tasks import lifecycle
from taxiway.worker.contract import ClaimedTask, JobDone

log = logging.getLogger(__name__)

# How often a running attempt's progress is fetched (the runner reports at most 4 times a second).
POLL_SECONDS = 0.25
# An idle actor is pinged this often, so a dead one is replaced before it is given a task.
IDLE_CHECK_SECONDS = 2.0
# A progress poll or ping that takes longer is skipped, not treated as a death: the result tells that.
CALL_TIMEOUT_SECONDS = 5.0
# After this long unplaced, say which resources the actor waits for (it keeps waiting).
START_WARN_SECONDS = 60.0
RESTART_BACKOFF_SECONDS = 5.0
# run + progress + cancel + ping can all be in flight at once on a threaded actor.
ACTOR_CONCURRENCY = 4


@dataclasses.dataclass(frozen=True)
class SlotSpec:
    """What one slot's actor reserves on the cluster."""

    name: str  # "cpu-0", "gpu-1": for logs
    num_cpus: float
    num_gpus: float

    @property
    def kind(self) -> SlotKind:
        """GPU slots run neural models, CPU slots the classical engines (see executors.base.work_for)."""
        return SlotKind.NEURAL if self.num_gpus > 0 else SlotKind.CLASSIC

    def actor_options(self) -> dict[str, Any]:
        return {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            # Our leases do the retrying: a restarted actor or a replayed call would be a second,
            # unfenced run of the same attempt.
            "max_restarts": 0,
            "max_task_retries": 0,
            "max_concurrency": ACTOR_CONCURRENCY,
            # Not detached: the actor dies with the dispatcher that owns it, so a killed dispatcher
            # leaves no orphan still working on an attempt whose lease will be taken over.
        }


def describe_actor_error(exc: RayError) -> str:
    """A short reason for a task's error text, from Ray's long one."""
    text = str(exc)
    if "killed by `ray.kill`" in text:
        return "its Ray actor was killed"
    if match := re.search(r"Worker exit type: (\w+)", text):
        return f"its Ray actor's worker process died ({match.group(1)})"
    if "node" in text and "died" in text:
        return "its Ray actor's node died"
    return f"its Ray actor failed ({type(exc).__name__})"


class RaySlot:
    """One long-lived actor with resident engines, and the thread that supervises it."""

    def __init__(
        self, ctx: AppContext, spec: SlotSpec, actor_class: Any, settings_data: dict[str, Any]
    ) -> None:
        self.ctx = ctx
        self.spec = spec
        self._actor_class = actor_class
        self._settings_data = settings_data
        self._lock = threading.RLock()
        self._actor: Any = None  # ray.actor.ActorHandle of SlotWorker
        self._info: ActorInfo | None = None
        self._job: ClaimedTask | None = None
        self._result: ray.ObjectRef[JobDone] | None = None  # the running attempt's JobDone, when it comes
        self._job_started = 0.0
        self._cancel_sent_at: float | None = None
        self._last_seq = 0
        self._last_idle_check = 0.0
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"ray-slot-{spec.name}", daemon=True)

    # --- used by the scheduler and the executor (other threads) ---

    @property
    def kind(self) -> SlotKind:
        return self.spec.kind

    def start(self) -> None:
        self._thread.start()

    @property
    def info(self) -> ActorInfo | None:
        return self._info

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._actor is not None and self._job is None and not self._stopping.is_set()

    def in_flight(self) -> tuple[str, int] | None:
        with self._lock:
            return (self._job.task_id, self._job.attempt) if self._job else None

    def submit(self, job: ClaimedTask) -> bool:
        with self._lock:
            if not self.idle:
                return False
            try:
                result = self._actor.run.remote(job)
            except Exception:  # the connection to the cluster is gone: the scheduler releases the task
                log.exception("slot %s: could not submit task %s", self.spec.name, job.task_id)
                # Not idle until a fresh actor starts, or every tick would claim and release again.
                actor, self._actor, self._info = self._actor, None, None
                self._kill(actor)
                return False
            self._job, self._result = job, result
            self._job_started = time.monotonic()
            self._cancel_sent_at = None
            self._last_seq = 0
        log.info("slot %s: task %s attempt %d started", self.spec.name, job.task_id, job.attempt)
        self._wake.set()
        return True

    def cancel(self, task_id: str) -> None:
        """Ask the actor to stop the attempt of `task_id` (a no-op if it is not running here)."""
        with self._lock:
            job = self._job
            if job is None or job.task_id != task_id or self._cancel_sent_at is not None:
                return
            self._cancel_sent_at = time.monotonic()
            # Fire and forget: if the call is lost, the grace period ends with the actor killed.
            with contextlib.suppress(Exception):
                self._actor.cancel.remote(job.task_id, job.attempt)

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        job = self.in_flight()
        if job:
            self.cancel(job[0])

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # --- the supervising thread ---

    def _supervise(self) -> None:
        while True:
            if self._actor is None:
                if self._stopping.is_set():
                    return
                if not self._start_actor():
                    self._stopping.wait(RESTART_BACKOFF_SECONDS)
                continue
            if self._stopping.is_set() and self.in_flight() is None:
                self._kill_actor()
                return
            try:
                if self._result is not None:
                    self._watch_attempt()
                else:
                    self._watch_idle()
            except Exception:
                # A database or cluster hiccup must not end supervision: the lease covers what was
                # not recorded, and the next step tries again.
                log.exception("slot %s: supervision step failed; retrying", self.spec.name)
                time.sleep(1.0)

    def _start_actor(self) -> bool:
        try:
            handle = self._actor_class.options(**self.spec.actor_options()).remote(self._settings_data)
            ready = handle.ready.remote()
        except Exception:
            log.exception("slot %s: could not create its actor", self.spec.name)
            return False
        started = time.monotonic()
        warned = False
        while True:
            try:
                info: ActorInfo = ray.get(ready, timeout=1.0)
                break
            except GetTimeoutError:
                if self._stopping.is_set():
                    self._kill(handle)
                    return False
                if not warned and time.monotonic() - started > START_WARN_SECONDS:
                    warned = True
                    log.warning(
                        "slot %s: the Ray cluster has not placed its actor after %.0f s; it needs "
                        "num_cpus=%g num_gpus=%g on one node",
                        self.spec.name,
                        START_WARN_SECONDS,
                        self.spec.num_cpus,
                        self.spec.num_gpus,
                    )
            except Exception as exc:  # RayActorError when __init__ failed there; others if Ray is gone
                log.error("slot %s: its actor failed to start: %s", self.spec.name, exc)
                self._kill(handle)
                return False
        with self._lock:
            self._actor, self._info = handle, info
            self._last_idle_check = time.monotonic()
        log.info("slot %s: actor ready in process %s on %s", self.spec.name, info.pid, info.hostname)
        return True

    def _watch_attempt(self) -> None:
        result = self._result
        assert result is not None
        ready, _ = ray.wait([result], timeout=POLL_SECONDS)
        if ready:
            self._take_result(result)
            return
        self._pump_progress()
        self._enforce_deadlines()

    def _take_result(self, result: ray.ObjectRef[JobDone]) -> None:
        try:
            done: JobDone = ray.get(result)
        except RayActorError as exc:
            self._actor_lost(describe_actor_error(exc))
            return
        except RayError as exc:
            # Our own code failed around the runner (which turns engine errors into data): the
            # actor's state is unknown, so it is replaced and the attempt runs again.
            log.error("slot %s: the actor's run call failed: %s", self.spec.name, exc)
            self._actor_lost(f"its Ray actor failed ({type(exc).__name__})")
            return
        self._record(done)

    def _record(self, done: JobDone) -> None:
        job = self._job
        if job is None or (done.task_id, done.attempt) != (job.task_id, job.attempt):
            return
        outcomes.record_result(self.ctx, job, done, stopping=self._stopping.is_set())
        self._forget_job()

    def _pump_progress(self) -> None:
        job, actor = self._job, self._actor
        if job is None or actor is None:
            return
        try:
            snapshot: ProgressSnapshot | None = ray.get(actor.progress.remote(), timeout=CALL_TIMEOUT_SECONDS)
        except RayError:
            return  # busy or dead: a dead actor shows in the attempt's own result next
        if (
            snapshot is None
            or (snapshot.task_id, snapshot.attempt) != (job.task_id, job.attempt)
            or snapshot.seq <= self._last_seq
        ):
            return
        self._last_seq = snapshot.seq
        if not lifecycle.record_progress(
            self.ctx,
            job.task_id,
            job.attempt,
            snapshot.ratio,
            snapshot.text,
            preview_key=snapshot.preview_key,
        ):
            self.cancel(job.task_id)  # cancelled by the user, or the attempt went stale

    def _enforce_deadlines(self) -> None:
        job = self._job
        if job is None:
            return
        why = outcomes.overdue(self.ctx, self._job_started, self._cancel_sent_at)
        if why is None:
            return
        log.warning("task %s %s; killing its actor", job.task_id, why)
        self._forget_job()
        self._kill_actor()
        outcomes.killed_overdue(self.ctx, job, why, stopping=self._stopping.is_set())

    def _watch_idle(self) -> None:
        if self._wake.wait(POLL_SECONDS):
            self._wake.clear()
            return
        if time.monotonic() - self._last_idle_check < IDLE_CHECK_SECONDS:
            return
        self._last_idle_check = time.monotonic()
        actor = self._actor
        try:
            ray.get(actor.ready.remote(), timeout=CALL_TIMEOUT_SECONDS)
        except GetTimeoutError:
            return
        except RayError as exc:
            with self._lock:
                if self._job is not None:
                    return  # a task was submitted meanwhile: its own result reports the death
                self._actor = self._info = None
            log.warning(
                "slot %s: idle actor lost (%s); starting a new one", self.spec.name, describe_actor_error(exc)
            )

    def _actor_lost(self, why: str) -> None:
        """The actor died (or is in an unknown state) while running an attempt: count the attempt."""
        job = self._job
        self._forget_job()
        self._kill_actor()  # in case it is only unreachable: it must not go on writing
        if job is not None:
            outcomes.attempt_lost(self.ctx, job, why, stopping=self._stopping.is_set())

    def _forget_job(self) -> None:
        with self._lock:
            self._job = None
            self._result = None
            self._cancel_sent_at = None

    def _kill_actor(self) -> None:
        with self._lock:
            actor, self._actor, self._info = self._actor, None, None
        if actor is not None:
            self._kill(actor)

    @staticmethod
    def _kill(actor: Any) -> None:
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)
