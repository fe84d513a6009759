"""Claiming runnable tasks fairly, and marking the rest THROTTLED while no worker is free.

Fairness: among accounts with runnable work, the one with the fewest RUNNING tasks goes first
(round robin across accounts), each account's oldest task first, exploreMode work only when no
paid work waits. On PostgreSQL the chosen row is locked with SKIP LOCKED, so many dispatchers
can claim at once without blocking each other or taking the same task. A slot claims only the kind
of work it runs (:class:`Work`): classic-engine tasks, neural-model tasks, or either.

tasks/queue.py plays this order forward to show each waiting task's queuePosition: a change to the
order here is a change there (tests/api/test_queue_position.py holds them together).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, not_, select, true, update
from sqlalchemy.orm import Session

from taxiway.context import AppContext
from taxiway.core import metrics
from taxiway.core.db import after_commit
from taxiway.scheduler.estimates import estimate_starts
from taxiway.store import states
from taxiway.store.models import Asset, Task, utcnow
from taxiway.tasks import lifecycle
from taxiway.tasks.events import enqueue_task_event
from taxiway.tasks.operations import OPERATIONS
from taxiway.tasks.queue import classic_condition, work_kind
from taxiway.worker.contract import ClaimedTask, InputRef


class Work(StrEnum):
    """Which tasks a slot takes, by the engine admission chose for them (``tasks.engine``)."""

    CLASSIC = "classic"  # the classical engines
    NEURAL = "neural"  # configured neural models
    ANY = "any"

    def condition(self) -> ColumnElement[bool]:
        classic = classic_condition()
        if self is Work.CLASSIC:
            return classic
        return not_(classic) if self is Work.NEURAL else true()


def _oldest_per_account(session: Session, explore: bool, work: Work) -> list[Task]:
    runnable = and_(Task.status.in_(states.RUNNABLE_STATUSES), Task.explore_mode == explore, work.condition())
    first = (
        select(Task.account_id, func.min(Task.created_at).label("first_created"))
        .where(runnable)
        .group_by(Task.account_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(Task)
            .join(
                first, and_(Task.account_id == first.c.account_id, Task.created_at == first.c.first_created)
            )
            .where(runnable)
        )
    )


def _running_per_account(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Task.account_id, func.count()).where(Task.status == states.RUNNING).group_by(Task.account_id)
    ).all()
    return {account_id: count for account_id, count in rows}


def _next_runnable(session: Session, running: dict[int, int], work: Work) -> Task | None:
    """The fairest runnable task of ``work``, locked: paid work first, then exploreMode work."""
    for explore in (False, True):
        candidates = _oldest_per_account(session, explore, work)
        candidates.sort(key=lambda t: (running.get(t.account_id, 0), t.created_at, t.id))
        task = _lock_first_free(session, candidates)
        if task is not None:
            return task
    return None


def _lock_first_free(session: Session, candidates: list[Task]) -> Task | None:
    for candidate in candidates:
        task = session.scalar(
            select(Task)
            .where(Task.id == candidate.id, Task.status.in_(states.RUNNABLE_STATUSES))
            .with_for_update(skip_locked=True, of=Task)
        )
        if task is not None:
            return task
    return None


def claim_next(ctx: AppContext, owner: str, work: Work = Work.ANY) -> ClaimedTask | None:
    """Claim one runnable task of `work` for `owner`: RUNNING, attempt + 1, lease set. None if none waits."""
    with ctx.db.write() as session:
        running = _running_per_account(session)
        while (task := _next_runnable(session, running, work)) is not None:
            if not lifecycle.fail_if_storage_full(ctx, session, task):
                break
        if task is None:
            return None
        now = utcnow()
        if task.started_at is None:  # its first claim: how long it waited in the queue
            work, waited = work_kind(task.engine), (now - task.created_at).total_seconds()
            after_commit(session, lambda: metrics.queue_wait(work, waited))
        task.status = states.RUNNING
        task.attempt += 1
        task.lease_owner = owner
        task.lease_expires_at = now + timedelta(seconds=ctx.settings.lease_seconds)
        task.started_at = task.started_at or now
        task.updated_at = now
        task.progress_ratio = 0.0
        task.progress_text = None
        task.preview_key = None  # a new attempt: no still of its own yet
        task.estimated_time_to_start = 0
        inputs = {
            role: InputRef(
                asset.blob_key, asset.content_type, "video" if asset.media_type == "video" else "image"
            )
            for role, asset_id in (task.input_asset_ids or {}).items()
            if (asset := session.get(Asset, asset_id)) is not None
        }
        enqueue_task_event(session, ctx.links(), task, terminal=False)
        return ClaimedTask(
            task_id=task.id,
            attempt=task.attempt,
            operation=OPERATIONS[task.operation].engine_operation,
            params=dict(task.params),
            inputs=inputs,
            engine=task.engine,
        )


def mark_throttled(ctx: AppContext, slots: int) -> int:
    """PENDING tasks that found no free worker become THROTTLED, with their time to start."""
    with ctx.db.read() as session:
        if session.scalar(select(Task.id).where(Task.status == states.PENDING).limit(1)) is None:
            return 0  # the common case: no write lock taken
        # Estimated outside the write transaction: it reads history, and writers wait for none of it.
        starts = estimate_starts(session, slots)
    if not starts:
        return 0
    with ctx.db.write() as session:
        # Only tasks that were estimated: one created since the reading waits for the next tick
        # rather than showing a time to start of 0.
        pending = list(
            session.scalars(
                select(Task)
                .where(Task.status == states.PENDING, Task.id.in_(starts))
                .order_by(Task.created_at)
                .with_for_update(skip_locked=True, of=Task)
            )
        )
        for task in pending:
            task.status = states.THROTTLED
            task.estimated_time_to_start = round(starts[task.id])
            task.updated_at = utcnow()
            enqueue_task_event(session, ctx.links(), task, terminal=False)
        return len(pending)


def refresh_estimates(ctx: AppContext, slots: int) -> int:
    """Re-estimate every THROTTLED task's time to start as the queue moves; only estimates that
    moved by more than 2 s and 10 % are written (a short write, after the reading). Returns how
    many were."""
    with ctx.db.read() as session:
        shown = dict(
            session.execute(
                select(Task.id, Task.estimated_time_to_start).where(Task.status == states.THROTTLED)
            ).all()
        )
        if not shown:
            return 0
        starts = estimate_starts(session, slots)
    moved = {
        task_id: round(starts[task_id])
        for task_id, old in shown.items()
        if task_id in starts and abs(starts[task_id] - (old or 0.0)) > max(2.0, 0.1 * (old or 0.0))
    }
    if not moved:
        return 0
    with ctx.db.write() as session:
        for task_id, seconds in moved.items():
            session.execute(
                update(Task)
                .where(Task.id == task_id, Task.status == states.THROTTLED)
                .values(estimated_time_to_start=seconds)
            )
    return len(moved)
