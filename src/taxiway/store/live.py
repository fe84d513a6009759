"""An account's or user's live tasks (PENDING, THROTTLED, RUNNING): the one query every caller uses,
for maxJobs, the 429 body, the scheduler listing, upload placement and what blocks a delete."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from taxiway.store.models import Task
from taxiway.store.states import LIVE_STATUSES


def live_tasks_query(*, user_id: str | None = None, account_id: int | None = None) -> Select[tuple[Task]]:
    """The live tasks of a user and/or an account, oldest first."""
    query = select(Task).where(Task.status.in_(LIVE_STATUSES))
    if user_id is not None:
        query = query.where(Task.user_id == user_id)
    if account_id is not None:
        query = query.where(Task.account_id == account_id)
    return query.order_by(Task.created_at, Task.id)


def live_tasks(session: Session, *, user_id: str | None = None, account_id: int | None = None) -> list[Task]:
    return list(session.scalars(live_tasks_query(user_id=user_id, account_id=account_id)))


def live_task_count(session: Session, account_id: int) -> int:
    query = live_tasks_query(account_id=account_id).order_by(None)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def live_counts_by_account(session: Session, user_id: str) -> dict[int, int]:
    """Live tasks per account of ``user_id`` (accounts with none left out)."""
    live = live_tasks_query(user_id=user_id).order_by(None).subquery()
    return dict(session.execute(select(live.c.account_id, func.count()).group_by(live.c.account_id)).all())
