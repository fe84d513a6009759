"""queuePosition: where a waiting (PENDING or THROTTLED) task stands, 1 being the next one claimed.

The position is the claims' own order (scheduler/claims.py) played forward on the waiting tasks
as they are now, nothing finishing meanwhile: paid work before exploreMode work; within each, the
account with the fewest RUNNING tasks goes first (each claim counts as one more running task of
its account), and each account's oldest task first. Tasks only queue behind tasks of their own
kind of work (classic engines, or neural models): slots claim by kind, so a task's position
counts the waiting tasks of its kind claimed before it. Computed when a task is shown, never
stored: one query per kind, cached in the session until a flush moves the queue.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, event, func, inspect, not_, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from taxiway.engines.catalog import CLASSIC_ENGINES
from taxiway.store import states
from taxiway.store.models import Task

CLASSIC_WORK = "classic"
NEURAL_WORK = "neural"
_CACHE = "taxiway.queue_positions"  # session.info key: kind -> {task id: position}


def classic_condition() -> ColumnElement[bool]:
    """Tasks of the classic engines (claims' Work.CLASSIC); the rest run neural models."""
    return or_(Task.engine.in_(list(CLASSIC_ENGINES.values())), Task.engine.is_(None))


def work_kind(engine: str | None) -> str:
    return CLASSIC_WORK if engine is None or engine in CLASSIC_ENGINES.values() else NEURAL_WORK


def claim_order(
    waiting: Iterable[tuple[str, int, datetime, bool]], running: dict[int, int]
) -> dict[str, int]:
    """1-based claim order of waiting tasks given as (id, account_id, created_at, explore_mode),
    with each account's RUNNING count: what claim_next would pick, claim after claim."""
    running = dict(running)
    order: dict[str, int] = {}
    tiers: dict[bool, dict[int, list[tuple[datetime, str]]]] = {
        False: defaultdict(list),
        True: defaultdict(list),
    }
    for task_id, account_id, created_at, explore in waiting:
        tiers[bool(explore)][account_id].append((created_at, task_id))
    for explore in (False, True):  # paid work first, then exploreMode work
        queues = {account: deque(sorted(tasks)) for account, tasks in tiers[explore].items()}
        heap = [(running.get(account, 0), *queue[0], account) for account, queue in queues.items()]
        heapq.heapify(heap)
        while heap:
            _, _, task_id, account = heapq.heappop(heap)
            queue = queues[account]
            queue.popleft()
            order[task_id] = len(order) + 1
            running[account] = running.get(account, 0) + 1
            if queue:
                heapq.heappush(heap, (running[account], *queue[0], account))
    return order


def _positions_of_kind(session: Session, kind: str) -> dict[str, int]:
    cache: dict[str, dict[str, int]] = session.info.setdefault(_CACHE, {})
    if kind in cache:
        return cache[kind]
    classic = classic_condition()
    waiting = session.execute(
        select(Task.id, Task.account_id, Task.created_at, Task.explore_mode).where(
            Task.status.in_(states.RUNNABLE_STATUSES), classic if kind == CLASSIC_WORK else not_(classic)
        )
    ).all()
    running = dict(
        session.execute(
            select(Task.account_id, func.count())
            .where(Task.status == states.RUNNING)
            .group_by(Task.account_id)
        ).all()
    )
    cache[kind] = claim_order(((row[0], row[1], row[2], row[3]) for row in waiting), running)
    return cache[kind]


def queue_positions(session: Session, tasks: Iterable[Task]) -> dict[str, int]:
    """The queue positions of the waiting tasks among ``tasks``, by id (the others have none)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # what a cached order would not see yet
    waiting = [task for task in tasks if task.status in states.RUNNABLE_STATUSES]
    positions: dict[str, int] = {}
    for kind in {work_kind(task.engine) for task in waiting}:
        of_kind = _positions_of_kind(session, kind)
        positions |= {task.id: of_kind[task.id] for task in waiting if task.id in of_kind}
    return positions


# The cache lives as long as the queue it describes: a flush that adds or removes a task, moves one
# into or out of waiting or running (running counts order accounts), or changes what orders it,
# clears it, as does any bulk UPDATE or DELETE.

_ORDERING = ("explore_mode", "engine", "account_id", "created_at")


def _role(status: Any) -> str | None:
    if status in states.RUNNABLE_STATUSES:
        return "waiting"
    return "running" if status == states.RUNNING else None


def _moves_queue(task: Task) -> bool:
    attrs = inspect(task).attrs
    if any(attrs[name].history.has_changes() for name in _ORDERING):
        return True
    status = attrs.status.history
    if not status.has_changes():
        return False
    before = {_role(value) for value in status.deleted}
    return not before or before != {_role(value) for value in status.added}


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _flush: UOWTransaction) -> None:
    cache = session.info.get(_CACHE)
    if not cache:
        return
    changed: list[Any] = [*session.new, *session.deleted]
    if any(isinstance(obj, Task) for obj in changed) or any(
        isinstance(obj, Task) and _moves_queue(obj) for obj in session.dirty
    ):
        cache.clear()


@event.listens_for(Session, "do_orm_execute")
def _forget_after_bulk_write(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.session.info.get(_CACHE):
        state.session.info[_CACHE].clear()
