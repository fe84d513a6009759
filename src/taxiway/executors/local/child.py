"""The worker process: holds engines, runs one job at a time, talks to its supervisor by pipe.

A listener thread reads the pipe while a job runs, so a cancel is seen at the engine's next
progress call. When the supervisor's end of the pipe closes (the server died, even by SIGKILL),
this process exits at once rather than finishing orphaned work.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from multiprocessing.connection import Connection
from typing import Any

from taxiway.blobs.factory import open_blob_store
from taxiway.core.settings import Settings
from taxiway.worker.contract import CancelJob, ClaimedTask, JobProgress, Ready, RunJob, Shutdown
from taxiway.worker.runner import JobRunner


def child_main(
    conn: Connection,
    settings_data: dict[str, Any],
    gpu: str | None = None,
    environment: dict[str, str] | None = None,
) -> None:
    if environment is not None:
        # Forked from a forkserver, this process has the environment that started the forkserver:
        # take the supervisor's as it is now (the metrics directory, thread counts, ...).
        os.environ.clear()
        os.environ.update(environment)
    if gpu is not None:
        # Before anything imports torch (engines load lazily): this worker sees only its GPU.
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s"
    )
    settings = Settings(**settings_data)
    runner = JobRunner(settings, open_blob_store(settings))
    jobs: queue.Queue[ClaimedTask | None] = queue.Queue()
    send_lock = threading.Lock()
    stop = threading.Event()
    current: list[tuple[str, int]] = []  # the (task_id, attempt) running now, if any

    def send(message: object) -> None:
        with send_lock:
            conn.send(message)

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # supervisor gone: nobody would record our result
            if isinstance(message, RunJob):
                jobs.put(message.job)
            elif isinstance(message, CancelJob):
                if current and current[0] == (message.task_id, message.attempt):
                    stop.set()
            elif isinstance(message, Shutdown):
                stop.set()
                jobs.put(None)
                return

    threading.Thread(target=listen, name="supervisor-pipe", daemon=True).start()
    send(Ready(os.getpid()))
    while (job := jobs.get()) is not None:
        stop.clear()
        current[:] = [(job.task_id, job.attempt)]

        def report(ratio: float, text: str | None, preview_key: str | None, job: ClaimedTask = job) -> None:
            send(JobProgress(job.task_id, job.attempt, ratio, text, preview_key))

        result = runner.run(job, report, stop.is_set)
        current.clear()
        send(result)
