"""The embedded executor: one supervised worker process per slot.

Each slot's thread owns one child process (forked from a clean forkserver, so no state leaks from
the server, and given only worker settings and the server's environment less its secrets): it
starts, watches and kills it, and hands what comes of an attempt (a
result, a death, an overrun time limit, an ignored cancel) to `executors.outcomes`; a dead child
is replaced by a fresh one, never a dead server.
Slots are of two kinds (``workers`` classic, ``neural_workers`` neural, each of those pinned to one
GPU), so that neural models live in a few processes with a GPU each, not in every worker.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import multiprocessing.context
import os
import threading
import time
from collections.abc import Callable
from multiprocessing import forkserver, spawn
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from taxiway.context import AppContext
from taxiway.core import metrics
from taxiway.core.settings import Settings
from taxiway.engines.devices import visible_gpu_ids
from taxiway.executors import outcomes
from taxiway.executors.base import SlotKind, SlotPool
from taxiway.executors.local.child import child_main
from taxiway.executors.local.preload import MAIN_PATH_VARIABLE
from taxiway.tasks import lifecycle
from taxiway.worker.contract import (
    CancelJob,
    ClaimedTask,
    JobDone,
    JobProgress,
    Ready,
    RunJob,
    Shutdown,
    worker_settings,
)

log = logging.getLogger(__name__)

CHILD_START_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.1
# Environment variables a worker process does not get (it gets neither setting either).
SECRET_ENVIRONMENT = ("TAXIWAY_DATABASE_URL", "TAXIWAY_SECRET_KEY")


@functools.cache
def worker_process_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from a forkserver that has imported the worker's modules
    once (a worker then starts in milliseconds, where a spawned one imported them again, about half
    a CPU-second each time), or spawned where the platform has no forkserver.

    The forkserver is a fresh interpreter, not a fork of the server: no threads, connections or
    state of the server reach a worker either way.

    multiprocessing re-runs the parent's main module in every child it starts, unless the child
    has it already: for `taxiway serve` that is the whole CLI and API, about a CPU-second per worker
    start. So the forkserver loads it once: a main script through ``preload`` (the forkserver's
    own ``"__main__"`` preload never gets the script's path), a ``python -m`` module by name (a
    child then re-runs only that module's body, its imports already loaded).
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    preparation = spawn.get_preparation_data("taxiway-worker")
    main_name = preparation.get("init_main_from_name")
    by_name = [main_name] if main_name and not main_name.endswith("__main__") else []
    context.set_forkserver_preload(
        [*by_name, "taxiway.executors.local.preload", "taxiway.executors.local.child"]
    )
    main_path = preparation.get("init_main_from_path")
    if main_path:
        # The forkserver takes the environment as it starts, now; it drops the variable at once.
        os.environ[MAIN_PATH_VARIABLE] = main_path
        try:
            forkserver.ensure_running()
        finally:
            os.environ.pop(MAIN_PATH_VARIABLE, None)
    return context


def worker_environment() -> dict[str, str]:
    """The environment a worker process runs with: the server's as it is now (a forkserver's own is
    the one it started with), less the database URL and the link-signing key."""
    return {name: value for name, value in os.environ.items() if name not in SECRET_ENVIRONMENT}


def _exit_description(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"its worker process was killed by signal {-code}"
    return f"its worker process exited unexpectedly (exit code {code})"


class WorkerSlot:
    """One worker process and the thread that supervises it."""

    def __init__(
        self, ctx: AppContext, index: int, kind: SlotKind = SlotKind.CLASSIC, gpu: str | None = None
    ) -> None:
        self.ctx = ctx
        self.index = index
        self.kind = kind
        self.gpu = gpu  # the CUDA_VISIBLE_DEVICES its child gets; None: what this process has
        self.name = f"{kind}-{index}"
        self._lock = threading.RLock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._job: ClaimedTask | None = None
        self._job_started = 0.0
        self._cancel_sent_at: float | None = None
        self._stopping = threading.Event()
        self._shown: str | None = None  # the state the slot gauge counts this slot in
        self._thread = threading.Thread(target=self._supervise, name=f"worker-slot-{self.name}", daemon=True)

    # --- used by the scheduler (other threads) ---

    def start(self) -> None:
        self._show_state()
        self._thread.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._ready and self._job is None and not self._stopping.is_set()

    def in_flight(self) -> tuple[str, int] | None:
        with self._lock:
            return (self._job.task_id, self._job.attempt) if self._job else None

    def submit(self, job: ClaimedTask) -> bool:
        with self._lock:
            if not self.idle or self._conn is None:
                return False
            self._job = job
            self._job_started = time.monotonic()
            self._cancel_sent_at = None
            # If the child just died, the supervising thread sees it and counts the attempt as lost.
            with contextlib.suppress(OSError):
                self._conn.send(RunJob(job))
            self._show_state()
        log.info("worker slot %s: task %s attempt %d started", self.name, job.task_id, job.attempt)
        return True

    def cancel(self, task_id: str) -> None:
        """Ask the child to stop the job of `task_id` (a no-op if it is not running here)."""
        with self._lock:
            job = self._job
            if (
                job is None
                or job.task_id != task_id
                or self._cancel_sent_at is not None
                or self._conn is None
            ):
                return
            self._cancel_sent_at = time.monotonic()
            with contextlib.suppress(OSError):
                self._conn.send(CancelJob(job.task_id, job.attempt))

    def request_stop(self) -> None:
        self._stopping.set()
        job = self.in_flight()
        if job:
            self.cancel(job[0])

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # --- the supervising thread ---

    def _show_state(self, gone: bool = False) -> None:
        """Keep the slot gauge in step with this slot: busy, idle, or starting its process."""
        with self._lock:
            state = None if gone else "busy" if self._job else "idle" if self._ready else "starting"
            if state != self._shown:
                metrics.slot_moved(self.kind, self._shown, state)
                self._shown = state

    def _supervise(self) -> None:
        try:
            self._supervise_child()
        finally:
            self._show_state(gone=True)

    def _supervise_child(self) -> None:
        while True:
            if self._process is None or not self._process.is_alive():
                if self._process is not None:
                    self._child_died()
                if self._stopping.is_set():
                    return
                if not self._spawn():
                    time.sleep(2.0)
                    continue
            if self._stopping.is_set() and self.in_flight() is None:
                self._shutdown_child()
                return
            try:
                self._pump_messages()
                self._enforce_deadlines()
            except Exception:  # a database error must not end the slot's supervision
                log.exception("worker slot %s: supervising failed; carrying on", self.name)
                time.sleep(1.0)

    def _spawn(self) -> bool:
        context = worker_process_context()
        parent_conn, child_conn = context.Pipe()
        settings_data = worker_settings(self.ctx.settings)  # no database URL, no signing key
        process = context.Process(
            target=child_main,
            args=(child_conn, settings_data, self.gpu, worker_environment()),
            name=f"taxiway-worker-{self.name}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        deadline = time.monotonic() + CHILD_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.is_alive():
            if parent_conn.poll(0.2):
                try:
                    message = parent_conn.recv()
                except (EOFError, OSError):
                    break
                if isinstance(message, Ready):
                    with self._lock:
                        self._process, self._conn, self._ready = process, parent_conn, True
                        self._show_state()
                    log.info("worker slot %s: process %s ready", self.name, process.pid)
                    return True
        log.error("worker slot %s: process failed to start", self.name)
        process.kill()
        process.join(5)
        return False

    def _pump_messages(self) -> None:
        """Handle everything the child has sent: its result, else only its latest progress.

        Progress is coalesced because each report is a database write: on a CPU saturated by the
        engine those can fall behind the child's few per second, and a result queued behind a
        backlog would wait (a cancelled job would even outlive its grace and be killed).
        """
        latest = self._drain(POLL_SECONDS)
        if latest is not None:
            self._on_progress(latest)

    def _drain(self, timeout: float) -> JobProgress | None:
        """Read the pipe until it is empty (waiting up to ``timeout`` for a first message); a
        result is handled at once, progress only returned, the latest of it."""
        conn = self._conn
        if conn is None:
            return None
        latest: JobProgress | None = None
        try:
            ready = conn.poll(timeout)
            while ready:
                message = conn.recv()
                if isinstance(message, JobDone):
                    self._on_done(message)
                    return None
                if isinstance(message, JobProgress):
                    latest = message
                ready = conn.poll(0)
        except (EOFError, OSError):
            assert self._process is not None
            self._process.join(5)
            return None
        return latest

    def _current(self, task_id: str, attempt: int) -> ClaimedTask | None:
        job = self._job
        return job if job is not None and (job.task_id, job.attempt) == (task_id, attempt) else None

    def _on_progress(self, message: JobProgress) -> None:
        if self._current(message.task_id, message.attempt) is None:
            return
        if not lifecycle.record_progress(
            self.ctx,
            message.task_id,
            message.attempt,
            message.ratio,
            message.text,
            preview_key=message.preview_key,
        ):
            self.cancel(message.task_id)  # cancelled by the user, or the attempt went stale

    def _on_done(self, message: JobDone) -> None:
        job = self._current(message.task_id, message.attempt)
        if job is None:
            return
        outcomes.record_result(self.ctx, job, message, stopping=self._stopping.is_set())
        self._forget_job()

    def _enforce_deadlines(self) -> None:
        job = self._job
        if job is None:
            return
        why = outcomes.overdue(self.ctx, self._job_started, self._cancel_sent_at)
        if why is None:
            return
        # A result may be in the pipe already (the pump waits on progress writes, and a slow
        # database makes it late): it is taken, not killed.
        self._drain(0)
        if self._job is not job:
            return
        log.warning("task %s %s; killing its worker", job.task_id, why)
        self._kill_child()
        self._forget_job()
        outcomes.killed_overdue(self.ctx, job, why, stopping=self._stopping.is_set())

    def _forget_job(self) -> None:
        with self._lock:
            self._job = None
            self._cancel_sent_at = None
            self._show_state()

    def _child_died(self) -> None:
        process = self._process
        assert process is not None
        with self._lock:
            job, self._job = self._job, None
            self._ready = False
            self._process = None
            self._conn = None
            self._cancel_sent_at = None
            self._show_state()
        if process.pid is not None:
            metrics.process_gone(process.pid)
        if job is not None:
            outcomes.attempt_lost(self.ctx, job, _exit_description(process), stopping=self._stopping.is_set())

    def _kill_child(self) -> None:
        process = self._process
        if process is not None:
            process.kill()
            process.join(5)
        with self._lock:
            self._ready = False
            self._show_state()

    def _shutdown_child(self) -> None:
        process, conn = self._process, self._conn
        if process is None:
            return
        try:
            if conn is not None:
                conn.send(Shutdown())
        except OSError:
            pass
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        if process.pid is not None:
            metrics.process_gone(process.pid)


def neural_worker_count(settings: Settings, gpus: Callable[[], int]) -> int:
    """``neural_workers``, or its default: one per GPU (at least one) when a neural model is configured.

    ``gpus`` is only called (it may probe, which takes seconds) when the count depends on it.
    """
    if settings.neural_workers is not None:
        return settings.neural_workers
    if not settings.all_models or not settings.run_neural or settings.workers == 0:
        return 0
    return max(1, gpus())


class LocalExecutor(SlotPool[WorkerSlot]):
    """A fixed set of worker slots inside this server process."""

    def __init__(self, ctx: AppContext, workers: int, neural_gpus: list[str | None]) -> None:
        classic = [WorkerSlot(ctx, index) for index in range(workers)]
        neural = [WorkerSlot(ctx, index, SlotKind.NEURAL, gpu) for index, gpu in enumerate(neural_gpus)]
        super().__init__(classic + neural, run_neural=ctx.settings.run_neural)
        for kind in {slot.kind for slot in self.slots}:
            metrics.declare_slot_kind(kind)

    @classmethod
    def from_settings(cls, ctx: AppContext) -> LocalExecutor:
        """``workers`` classic slots and the neural ones, pinned to the GPUs torch sees, round robin."""
        settings = ctx.settings
        count = neural_worker_count(settings, ctx.devices.local_gpus)
        # No GPU ids without a neural model, on neural_device "cpu", or without a GPU.
        ids = visible_gpu_ids(ctx.devices.local_gpus()) if count else []
        pins: list[str | None] = [ids[index % len(ids)] if ids else None for index in range(count)]
        return cls(ctx, settings.workers, pins)

    def describe(self) -> str:
        """For the startup log: "4 classic + 1 neural (GPU 0) worker slot(s)"."""
        classic = sum(slot.kind is SlotKind.CLASSIC for slot in self.slots)
        neural = [slot for slot in self.slots if slot.kind is SlotKind.NEURAL]
        pins = sorted({slot.gpu for slot in neural if slot.gpu is not None})
        where = f" (GPU {', '.join(pins)})" if pins else ""
        leaving = "" if self.run_neural else ", neural tasks left to other dispatchers"
        return f"{classic} classic + {len(neural)} neural{where} worker slot(s){leaving}"
