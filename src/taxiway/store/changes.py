"""The change feed of tasks: where each task's latest change stands in the order of all changes.

Triggers (migration 0003) give a row a new ``change_seq`` whenever a column its JSON shows
changes. A change is placed by its key, ``(change_seq, task id)``. Readers never trust the newest
numbers: the *horizon* of a snapshot is a number below which every change is committed and
visible in that snapshot, and no change still to come can fall. So reading the keys in
``[cursor, horizon)`` snapshot after snapshot, moving the cursor to the horizon each time, meets
every change once, in order, on any number of servers:

- SQLite: ``change_seq`` is a counter bumped by each writing transaction, one at a time; the
  horizon is the counter + 1.
- PostgreSQL: ``change_seq`` is the writing transaction's id; the horizon is the snapshot's xmin,
  below which every transaction has ended. A change becomes readable once every transaction that
  began before its own has ended: a long transaction delays changes (for its length), never loses them.

A row shows only its latest change (the task's current state): readers get states, not history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, and_, or_, select, text
from sqlalchemy.orm import Session

from taxiway.store.models import ChangeCounter, Task


@dataclass(frozen=True, order=True)
class ChangeKey:
    """A change's place in the feed; as text ``<change_seq>-<task uuid>`` (the all-tasks stream's id)."""

    seq: int
    task_id: str = ""

    def __str__(self) -> str:
        return f"{self.seq}-{self.task_id}"

    @classmethod
    def parse(cls, value: str) -> ChangeKey | None:
        seq, _, task_id = value.strip().partition("-")
        if not seq.isdigit() or len(seq) > 19 or len(task_id) > 36:
            return None
        return cls(int(seq), task_id)


def horizon(session: Session) -> int:
    """Every change with a smaller change_seq is committed and in this session's snapshot, and no
    later change gets one as small. Read it in a snapshot (Database.snapshot) with what it guards."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")) or 0)
    counter = session.scalar(select(ChangeCounter.value).where(ChangeCounter.name == "tasks"))
    return int(counter or 0) + 1


def change_key(task: Task) -> ChangeKey:
    return ChangeKey(task.change_seq, task.id)


def after(key: ChangeKey) -> ColumnElement[bool]:
    """Changes placed after ``key``."""
    return or_(Task.change_seq > key.seq, and_(Task.change_seq == key.seq, Task.id > key.task_id))


def changed(session: Session, since: ChangeKey, below: int) -> list[Row[tuple[str, str, int, int, int, str]]]:
    """The tasks whose latest change lies after ``since`` and below the horizon ``below``, in feed
    order: (id, user_id, account_id, version, change_seq, status)."""
    return list(
        session.execute(
            select(Task.id, Task.user_id, Task.account_id, Task.version, Task.change_seq, Task.status)
            .where(after(since), Task.change_seq < below)
            .order_by(Task.change_seq, Task.id)
        ).all()
    )


def any_change(session: Session, since: ChangeKey, below: int) -> bool:
    """Whether any task at all changed after ``since`` (below the horizon)."""
    query = select(Task.id).where(after(since), Task.change_seq < below).limit(1)
    return session.scalar(query) is not None
