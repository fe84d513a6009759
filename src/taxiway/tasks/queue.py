"""queuePosition: where a waiting (PENDING or THROTTLED) task stands, 1 being the next one claimed.

The position is the claims' own order (scheduler/claims.py) played forward on the waiting tasks
as they are now, nothing finishing meanwhile: paid work before exploreMode work; within each, the
account with the fewest RUNNING tasks goes first (each claim counts as one more running task of
its account), and each account's oldest task first. Tasks only queue behind tasks of their own
kind of work (classic engines, or neural models): slots claim by kind, so a task's position
counts the waiting tasks of its kind claimed before it. Computed when a task is shown, never
stored: by the database, in one query per kind (claim_order_query; ``claim_order`` is the same
order played in Python, which tests hold the query and the claims to). Cached in the session until
a flush moves the queue and, for read-only SQLite sessions, in the process until the change
counter moves (a GET then costs one primary-key read while the queue stands still).

What the change counter does not see, and why it need not: it moves with every insert and every
change of ``status`` or ``engine``; a task's account, creation time and exploreMode never change
after admission, and only finished tasks are deleted (neither waiting nor running).
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    event,
    false,
    func,
    inspect,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from taxiway.core.db import is_read_only
from taxiway.engines.catalog import CLASSIC_ENGINES
from taxiway.store import states
from taxiway.store.changes import horizon
from taxiway.store.models import Task

CLASSIC_WORK = "classic"
NEURAL_WORK = "neural"
_CACHE = "taxiway.queue_positions"  # session.info key: kind -> {task id: position}
_FEW = 20  # up to this many tasks asked: the database returns theirs only, not the whole order


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


def claim_order_query(session: Session, kind: str) -> Select[tuple[str, int]]:
    """(id, position) of every waiting task of ``kind``: claim_order, computed by the database.

    Played forward, claim_order gives an account's k-th waiting task (0-based, oldest first) the
    turn ``running + k`` (and exploreMode work, claimed after all paid work, ``running + paid + k``);
    the claims take the lowest turn first, then the oldest task: the heap's merge of each account's
    queue is this one sort."""
    postgres = session.get_bind().dialect.name == "postgresql"
    task_id = Task.id.collate("C") if postgres else Task.id  # Python's (and claims') string order
    classic = classic_condition()
    running = (
        select(Task.account_id, func.count().label("n"))
        .where(Task.status == states.RUNNING)
        .group_by(Task.account_id)
        .subquery("running")
    )
    rank = func.row_number().over(
        partition_by=(Task.account_id, Task.explore_mode), order_by=(Task.created_at, task_id)
    )
    paid = func.sum(case((Task.explore_mode, 0), else_=1)).over(partition_by=Task.account_id)
    waiting = (
        select(
            Task.id, Task.account_id, Task.created_at, Task.explore_mode,
            (rank - 1).label("rank"), paid.label("paid"),
        )
        .where(Task.status.in_(states.RUNNABLE_STATUSES), classic if kind == CLASSIC_WORK else not_(classic))
        .subquery("waiting")
    )  # fmt: skip
    turn = (
        func.coalesce(running.c.n, 0)
        + waiting.c.rank
        + case((waiting.c.explore_mode, waiting.c.paid), else_=0)
    )
    waiting_id = waiting.c.id.collate("C") if postgres else waiting.c.id
    position = func.row_number().over(
        order_by=(waiting.c.explore_mode, turn, waiting.c.created_at, waiting_id)
    )
    return select(waiting.c.id, position.label("position")).select_from(
        waiting.outerjoin(running, running.c.account_id == waiting.c.account_id)
    )


def _all_positions(session: Session, kind: str) -> dict[str, int]:
    return {task_id: position for task_id, position in session.execute(claim_order_query(session, kind))}


@functools.cache
def position_query(postgres: bool, kind: str, explore: bool) -> Select[tuple[int | None]]:
    """The position of one waiting task of ``kind`` in the ``explore`` tier (None if it no longer
    waits), counted rather than sorted: the tasks claimed before it, account by account. The task
    is given as the parameters ``task_id``, ``account_id`` and ``created_at``; built once per shape,
    so SQLAlchemy compiles it once.

    With T its turn (see claim_order_query), an account whose tasks in its tier take turns from
    r on (r: its running tasks, plus its paid waiting ones for exploreMode work) has the first
    k = T - r of them ahead, and the next one too if that one is older than the task (b: how many
    of the account's are older); at most all n of them, at least none. Every paid task goes before
    exploreMode work."""
    task_id = Task.id.collate("C") if postgres else Task.id  # Python's (and claims') string order
    the_id = bindparam("task_id", type_=Task.id.type)
    created = bindparam("created_at", type_=Task.created_at.type)
    classic = classic_condition()
    of_kind = and_(
        Task.status.in_(states.RUNNABLE_STATUSES), classic if kind == CLASSIC_WORK else not_(classic)
    )
    older = or_(Task.created_at < created, and_(Task.created_at == created, task_id < the_id))

    def per_account(name: str, in_explore: bool, *columns: Any) -> Any:
        return (
            select(Task.account_id, func.count().label("n"), *columns)
            .where(of_kind, Task.explore_mode.is_(true()) if in_explore else Task.explore_mode.is_(false()))
            .group_by(Task.account_id)
            .cte(name)
        )

    tier = per_account("tier", explore, func.sum(case((older, 1), else_=0)).label("b"))
    running = (
        select(Task.account_id, func.count().label("n"))
        .where(Task.status == states.RUNNING)
        .group_by(Task.account_id)
        .cte("running")
    )
    joined = tier.outerjoin(running, running.c.account_id == tier.c.account_id)
    first_turn = func.coalesce(running.c.n, 0)
    if explore:
        paid = per_account("paid", False)
        joined = joined.outerjoin(paid, paid.c.account_id == tier.c.account_id)
        first_turn = first_turn + func.coalesce(paid.c.n, 0)
    accounts = select(tier.c.account_id, tier.c.n, tier.c.b, first_turn.label("r")).select_from(joined).cte()
    still_waits = select(Task.id).where(
        Task.id == the_id,
        Task.status.in_(states.RUNNABLE_STATUSES),
        Task.explore_mode.is_(true()) if explore else Task.explore_mode.is_(false()),
    )
    mine = (
        select((accounts.c.r + accounts.c.b).label("turn"))
        .where(accounts.c.account_id == bindparam("account_id", type_=Integer()), still_waits.exists())
        .cte("mine")
    )
    k = mine.c.turn - accounts.c.r
    ahead = k + case((accounts.c.b > k, 1), else_=0)
    counted = case((ahead <= 0, 0), (ahead > accounts.c.n, accounts.c.n), else_=ahead)
    before = func.sum(counted)
    if explore:
        before = (
            before + select(func.count()).where(of_kind, Task.explore_mode.is_(false())).scalar_subquery()
        )
    return select(1 + before).select_from(accounts.join(mine, true()))


def _some_positions(session: Session, kind: str, tasks: list[Task]) -> dict[str, int]:
    postgres = session.get_bind().dialect.name == "postgresql"
    positions = {
        task.id: session.scalar(
            position_query(postgres, kind, bool(task.explore_mode)),
            {"task_id": task.id, "account_id": task.account_id, "created_at": task.created_at},
        )
        for task in tasks
    }
    # int(): PostgreSQL sums integers as numeric (a Decimal here).
    return {task_id: int(position) for task_id, position in positions.items() if position is not None}


class _SharedPositions:
    """The waiting tasks' positions last computed by a read-only session of one SQLite database,
    with the change counter of the snapshot they were computed in (store/changes.py): any write
    that moves the queue (a task added, a status changed) bumps that counter, so a snapshot with
    the same counter sees the same queue. Shared by the threads of one process.

    The whole order costs a read of every waiting task: it is made when a second session asks at
    the same counter, or when one asks for many tasks, by one thread at a time; the first to ask
    after a change (as a create does for its own task) counts its few tasks' positions only."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.horizon = -1
        self.by_kind: dict[str, dict[str, int]] = {}
        self.asked: set[str] = set()  # kinds asked for at this horizon without the whole order

    def positions(self, session: Session, kind: str, tasks: list[Task]) -> dict[str, int]:
        seen = horizon(session)
        many = len(tasks) > _FEW
        with self.lock:
            if seen > self.horizon:  # an older snapshot's positions never replace newer ones
                self.horizon, self.by_kind, self.asked = seen, {}, set()
            if seen == self.horizon:
                if kind not in self.by_kind and (many or kind in self.asked):
                    self.by_kind[kind] = _all_positions(session, kind)
                if kind in self.by_kind:
                    return _of(self.by_kind[kind], tasks)
                self.asked.add(kind)
        return _of(_all_positions(session, kind), tasks) if many else _some_positions(session, kind, tasks)


def _of(positions: dict[str, int], tasks: list[Task]) -> dict[str, int]:
    return {task.id: positions[task.id] for task in tasks if task.id in positions}


_SHARED: WeakKeyDictionary[Engine, _SharedPositions] = WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _shared_for(session: Session) -> _SharedPositions | None:
    """The process-wide positions of this session's database, for a read-only SQLite session
    that has written nothing (its snapshot is then a committed state that the counter names)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or not is_read_only(session):
        return None
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _SHARED_LOCK:
        shared = _SHARED.get(engine)
        if shared is None:
            shared = _SHARED[engine] = _SharedPositions()
    return shared


def _positions_of_kind(session: Session, kind: str, tasks: list[Task]) -> dict[str, int]:
    cache: dict[str, dict[str, int]] = session.info.setdefault(_CACHE, {})
    if kind in cache:
        return _of(cache[kind], tasks)
    shared = _shared_for(session)
    if shared is not None:
        return shared.positions(session, kind, tasks)
    if len(tasks) <= _FEW:
        return _some_positions(session, kind, tasks)
    cache[kind] = _all_positions(session, kind)
    return _of(cache[kind], tasks)


def queue_positions(session: Session, tasks: Iterable[Task]) -> dict[str, int]:
    """The queue positions of the waiting tasks among ``tasks``, by id (the others have none)."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # what a cached order would not see yet
    waiting = [task for task in tasks if task.status in states.RUNNABLE_STATUSES]
    positions: dict[str, int] = {}
    for kind in {work_kind(task.engine) for task in waiting}:
        of_kind = [task for task in waiting if work_kind(task.engine) == kind]
        positions |= _positions_of_kind(session, kind, of_kind)
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
