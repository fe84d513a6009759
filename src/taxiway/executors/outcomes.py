"""What happens to an attempt, turned into task state and file cleanup: one supervision for every
executor.

A slot (a local child process, a Ray actor) only starts, watches and kills its worker; whatever
comes of an attempt it hands here: a result, a loss, an overrun time limit or an ignored cancel.
Each becomes one lifecycle call and, where an attempt's files can be of no further use, their
deletion, the same way whichever executor ran it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from enum import StrEnum

from taxiway.context import AppContext
from taxiway.tasks import lifecycle
from taxiway.worker.contract import ClaimedTask, JobDone

log = logging.getLogger(__name__)


class Overdue(StrEnum):
    """Why a slot must kill its worker now."""

    TIME_LIMIT = "exceeded the time limit"
    IGNORED_CANCEL = "ignored its cancel"


def overdue(
    ctx: AppContext, started: float, cancel_sent_at: float | None, now: float | None = None
) -> Overdue | None:
    """Whether an attempt started at ``started`` (monotonic), asked to stop at ``cancel_sent_at``,
    has overrun the time limit or the cancel grace."""
    now = time.monotonic() if now is None else now
    if now - started > ctx.settings.task_time_limit_seconds:
        return Overdue.TIME_LIMIT
    if cancel_sent_at is not None and now - cancel_sent_at > ctx.settings.cancel_grace_seconds:
        return Overdue.IGNORED_CANCEL
    return None


def record_result(ctx: AppContext, job: ClaimedTask, done: JobDone, *, stopping: bool) -> None:
    """The worker's result for ``job``: its artifact recorded, its failure, or its stop.

    Never raises: when recording fails (the database unreachable or its disk full) the slot serves
    on, the attempt's lease runs out and the task runs again, and an output nobody recorded goes.
    """
    try:
        _record_result(ctx, job, done, stopping=stopping)
    except Exception:
        log.exception("task %s attempt %s: its result could not be recorded", job.task_id, job.attempt)
        if done.artifact is not None:
            ctx.blobs.delete_prefix(job.output_prefix)
    _delete_live_previews(ctx, job)


def _delete_live_previews(ctx: AppContext, job: ClaimedTask) -> None:
    """The attempt has ended: its live preview stills go (the row no longer names one: it left
    RUNNING, or a newer attempt holds it). The artifact beside them stays."""
    try:
        ctx.blobs.delete_prefix(job.live_preview_prefix)
    except Exception:  # deleting the task deletes what is left
        log.exception("task %s attempt %s: its live previews could not be deleted", job.task_id, job.attempt)


def _record_result(ctx: AppContext, job: ClaimedTask, done: JobDone, *, stopping: bool) -> None:
    if done.artifact is not None:
        if lifecycle.complete(ctx, job.task_id, job.attempt, done.artifact, done.input_warnings):
            _delete_earlier_attempts(ctx, job)
        else:
            # Not recorded (a stale attempt, whose task a newer one owns, or an output over the
            # account's storage quota, which failed the task): its files must not linger.
            ctx.blobs.delete_prefix(job.output_prefix)
    elif done.cancelled:
        if stopping:
            lifecycle.release(ctx, job.task_id, job.attempt)
    else:
        lifecycle.fail(
            ctx,
            job.task_id,
            job.attempt,
            done.error or "Unknown error",
            done.reason or "ERROR",
            done.input_warnings,
        )


def killed_overdue(ctx: AppContext, job: ClaimedTask, why: Overdue, *, stopping: bool) -> None:
    """The slot killed ``job``'s worker for ``why``; what it had started to store goes."""
    if why is Overdue.TIME_LIMIT:
        limit = ctx.settings.task_time_limit_seconds
        lifecycle.fail(
            ctx,
            job.task_id,
            job.attempt,
            f"The task exceeded the time limit of {limit:g} seconds "
            "(TAXIWAY_TASK_TIME_LIMIT_SECONDS) and was stopped.",
            "TIME_LIMIT",
        )
    elif stopping:
        lifecycle.release(ctx, job.task_id, job.attempt)
    ctx.blobs.delete_prefix(job.output_prefix)


def attempt_lost(ctx: AppContext, job: ClaimedTask, why: str, *, stopping: bool) -> None:
    """``job``'s worker died (or is in an unknown state and was killed): the attempt counts as lost
    (handed back without counting when this process is stopping)."""
    log.error("task %s attempt %s lost: %s", job.task_id, job.attempt, why)
    ctx.blobs.delete_prefix(job.output_prefix)  # what the dead attempt had started to store
    if stopping:
        lifecycle.release(ctx, job.task_id, job.attempt)
    else:
        lifecycle.attempt_lost(ctx, job.task_id, job.attempt, why)


def _delete_earlier_attempts(ctx: AppContext, job: ClaimedTask) -> None:
    """Remove what earlier attempts of this task left in storage.

    An attempt lost with its server or dispatcher (kill -9) was never recorded by anyone, so nothing
    else deletes files it may have written. Earlier attempts are fenced out of the database and
    their workers died with their owner, so nothing can write there any more.
    """
    for attempt in range(1, job.attempt):
        ctx.blobs.delete_prefix(dataclasses.replace(job, attempt=attempt).output_prefix)
