"""Every change of a task's state after admission, each in one transaction.

Reports from workers are fenced: they carry the attempt number they were given at claim time,
and a report whose attempt is not the task's current one (or whose task is no longer RUNNING)
changes nothing. So a worker that lost its lease can never overwrite a newer attempt's work.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.accounts.service import adjust_credits_used
from taxiway.accounts.storage import StorageQuotaExceeded, check_room, gb, lock_account, used_bytes
from taxiway.blobs.stored_media import StoredMedia
from taxiway.context import AppContext
from taxiway.core import ids, metrics
from taxiway.core.db import after_commit
from taxiway.core.errors import NotFound
from taxiway.store import states
from taxiway.store.models import Asset, Task, utcnow
from taxiway.tasks.events import enqueue_progress_event, enqueue_task_event

log = logging.getLogger(__name__)


def error_body(message: str, reason: str) -> dict[str, Any]:
    return {"errorMessage": message, "reason": reason, "message": message}


def _finish(
    ctx: AppContext,
    session: Session,
    task: Task,
    status: str,
    error: dict[str, Any] | None = None,
    output_seconds: float | None = None,
) -> None:
    """Move a task to a terminal status: refund if the user got nothing, release, notify."""
    now = utcnow()
    if status in (states.SUCCEEDED, states.FAILED) and task.started_at is not None:
        _observe_finish(session, task, status, (now - task.started_at).total_seconds(), output_seconds)
    task.status = status
    task.error = error
    task.updated_at = now
    task.finished_at = now
    task.lease_owner = None
    task.lease_expires_at = None
    task.estimated_time_to_start = 0
    task.preview_key = None  # its attempt's stills are deleted with its files (executors.outcomes)
    if status in states.REFUNDED_STATUSES and task.cost:
        adjust_credits_used(session, task.account_id, -task.cost)
    enqueue_task_event(session, ctx.links(), task, terminal=True)


def _observe_finish(
    session: Session, task: Task, status: str, run_seconds: float, output_seconds: float | None
) -> None:
    """The task's run time (and output length) in the metrics, once its end is committed."""
    operation, engine = task.operation, task.engine or "unknown"
    after_commit(
        session, lambda: metrics.task_finished(operation, engine, status, run_seconds, output_seconds)
    )


def _locked(session: Session, task_id: str) -> Task | None:
    return session.scalar(select(Task).where(Task.id == task_id).with_for_update(of=Task))


def _current(session: Session, task_id: str, attempt: int) -> Task | None:
    """The task, locked, if `attempt` still holds it; None for a stale or finished attempt."""
    task = _locked(session, task_id)
    if task is None or task.status != states.RUNNING or task.attempt != attempt:
        return None
    return task


def record_progress(
    ctx: AppContext,
    task_id: str,
    attempt: int,
    ratio: float,
    text: str | None,
    *,
    preview_key: str | None = None,
) -> bool:
    """Store progress, and the attempt's latest live preview still (already in the blob store);
    False tells the worker its attempt is no longer current (stop)."""
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        task.progress_ratio = round(min(max(ratio, 0.0), 1.0), 4)
        if text is not None:
            task.progress_text = text[:500]
        if preview_key is not None:
            task.preview_key = preview_key
        task.updated_at = utcnow()
        enqueue_progress_event(session, ctx.links(), task, ctx.settings.webhook_progress_interval_seconds)
        return True


def _note_input_warnings(task: Task, warnings: tuple[str, ...] | list[str]) -> None:
    """Echo what was wrong with the input, and how it was handled, in options.input_warnings."""
    if warnings:
        task.options = {**task.options, "input_warnings": list(warnings)}


def complete(
    ctx: AppContext, task_id: str, attempt: int, artifact: StoredMedia, input_warnings: tuple[str, ...] = ()
) -> bool:
    """Commit SUCCEEDED with its artifact asset. The blobs were written before this call.

    False when the artifact was not recorded, so the caller deletes its files: the attempt is
    stale, or the artifact would take the account over its storage quota (the task FAILED then).
    """
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        _note_input_warnings(task, input_warnings)
        try:
            check_room(session, lock_account(session, task.account_id), artifact.size, "The output")
        except StorageQuotaExceeded as exc:
            _finish(ctx, session, task, states.FAILED, error_body(exc.message, exc.REASON))
            return False
        asset = Asset(
            id=ids.new_uuid(),
            user_id=task.user_id,
            account_id=task.account_id,
            name=task.params.get("artifact_name") or f"{task.name}.mp4",
            is_user_upload=False,
            task_id=task.id,
            extended_count=int(task.params.get("extended_count", 0)),
            group_id=task.params.get("asset_group_id") or _source_group(session, task),
            **artifact.asset_columns(),
        )
        session.add(asset)
        task.progress_ratio = 1.0
        _finish(ctx, session, task, states.SUCCEEDED, output_seconds=artifact.info.duration)
        return True


def _source_group(session: Session, task: Task) -> str | None:
    """The input video's group, for a task admitted before groups were recorded in its params."""
    video = session.get(Asset, (task.input_asset_ids or {}).get("video") or "")
    return (video.group_id or video.id) if video is not None else None


def fail_if_storage_full(ctx: AppContext, session: Session, task: Task) -> bool:
    """Before a task runs: when its account has no storage left, FAIL it now (credits refunded)
    rather than run work whose output could not be kept. True if it was failed."""
    account = task.account
    used = used_bytes(session, account.id)
    if used < account.storage_quota_bytes:
        return False
    message = (
        f"Account {account.email} has no storage left ({gb(used)} GB used of "
        f"{gb(account.storage_quota_bytes)} GB allowed), so the output could not be kept. Delete assets "
        f"or ask the operator to raise the quota (`taxiway admin account storage {account.email} GB`)."
    )
    _finish(ctx, session, task, states.FAILED, error_body(message, StorageQuotaExceeded.REASON))
    return True


def fail(
    ctx: AppContext,
    task_id: str,
    attempt: int,
    message: str,
    reason: str,
    input_warnings: tuple[str, ...] = (),
) -> bool:
    """The attempt failed for a reason that would repeat: FAILED, credits refunded."""
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        _note_input_warnings(task, input_warnings)
        _finish(ctx, session, task, states.FAILED, error_body(message, reason))
        return True


def _requeue_or_fail(ctx: AppContext, session: Session, task: Task, why: str) -> None:
    """A lost attempt (crash, expired lease): run again, up to max_attempts, then FAILED."""
    task.failed_attempts += 1
    if task.failed_attempts >= ctx.settings.max_attempts:
        message = (
            f"The task was attempted {task.failed_attempts} times and each attempt was lost ({why}); "
            "it will not be retried."
        )
        _finish(ctx, session, task, states.FAILED, error_body(message, "ATTEMPTS_EXHAUSTED"))
        return
    _back_to_pending(task, f"Retrying after a lost attempt ({why})")
    enqueue_task_event(session, ctx.links(), task, terminal=False)


def _back_to_pending(task: Task, progress_text: str) -> None:
    task.status = states.PENDING
    task.lease_owner = None
    task.lease_expires_at = None
    task.progress_ratio = None
    task.progress_text = progress_text
    task.preview_key = None
    task.updated_at = utcnow()


def attempt_lost(ctx: AppContext, task_id: str, attempt: int, why: str) -> bool:
    """The worker running this attempt died: count it, then retry or fail."""
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        _requeue_or_fail(ctx, session, task, why)
        return True


def release(ctx: AppContext, task_id: str, attempt: int) -> bool:
    """Give a task back on orderly shutdown: PENDING again, and no attempt counted against it."""
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        _back_to_pending(task, "Waiting for a worker after a server restart")
        return True


def renew_lease(ctx: AppContext, task_id: str, attempt: int) -> bool:
    """Extend the lease; False means the attempt is no longer current (cancelled or taken over)."""
    with ctx.db.write() as session:
        task = _current(session, task_id, attempt)
        if task is None:
            return False
        task.lease_expires_at = utcnow() + timedelta(seconds=ctx.settings.lease_seconds)
        return True


def requeue_expired(ctx: AppContext) -> int:
    """Tasks whose worker stopped renewing its lease (crashed process or machine) run again."""
    expired_query = select(Task.id).where(Task.status == states.RUNNING, Task.lease_expires_at < utcnow())
    with ctx.db.read() as session:
        if session.scalar(expired_query.limit(1)) is None:
            return 0  # the common case: no write lock taken
    with ctx.db.write() as session:
        expired = list(
            session.scalars(
                select(Task)
                .where(Task.status == states.RUNNING, Task.lease_expires_at < utcnow())
                .with_for_update(skip_locked=True, of=Task)
            )
        )
        for task in expired:
            log.warning("lease of task %s attempt %s expired", task.id, task.attempt)
            _requeue_or_fail(ctx, session, task, "its worker stopped responding")
        return len(expired)


def cancel(ctx: AppContext, user_id: str, task_id: str) -> Task:
    """Cancel a live task of this user (the worker notices and stops); credits are refunded."""
    with ctx.db.write() as session:
        task = _locked(session, task_id)
        if task is None or task.user_id != user_id:
            raise NotFound()
        if task.status in states.LIVE_STATUSES:
            _finish(ctx, session, task, states.CANCELLED)
        return task
