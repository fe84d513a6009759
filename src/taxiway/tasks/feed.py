"""The one change feed of an API process: it reads what changed in the database and hands it to the
event streams open on this process.

One poller per process, not per stream: while any stream is open it reads, every
``event_poll_interval_seconds``, the tasks changed since its cursor (one indexed query below the
horizon, store/changes.py), loads the ones some stream wants, renders their JSON once per base URL,
and offers each stream the states it subscribed to. With no stream open it does nothing at all.
Events come from the database, never from this process's memory of its own writes, so a change
made through any server (or a worker, or an operator's SQL) reaches streams on every server.

Queue positions are not stored: after a batch of changes, the positions of the waiting tasks that
streams show are computed again, and those that moved are offered too (without a feed key).

Each stream keeps only the latest state per task until it sends (coalescing), so a stream sends
at most one event per task per poll interval, and always the latest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.blobs.links import Links
from taxiway.context import AppContext
from taxiway.store import states
from taxiway.store.changes import ChangeKey, change_key, changed, horizon
from taxiway.store.models import Task
from taxiway.tasks.presenter import TaskView, load_views, task_json
from taxiway.tasks.queue import queue_positions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interest:
    """What a stream follows: one task, or every task of a user (optionally of one account)."""

    user_id: str
    task_id: str | None = None
    account_id: int | None = None


@dataclass(frozen=True)
class Update:
    """A task's state as one stream shows it: its JSON signed for the stream's base URL."""

    task_id: str
    user_id: str
    account_id: int
    version: int
    status: str
    position: int | None
    key: ChangeKey | None  # its place in the feed; None when only its queue position moved
    json: dict[str, Any]
    # The horizon of the snapshot it was read in: a state read in an older snapshot than the one a
    # stream started from is older than what the stream sent first, and is dropped.
    as_of: int

    @property
    def terminal(self) -> bool:
        return self.status in states.TERMINAL_STATUSES


def render(
    view: TaskView, links_for: Callable[[str], Links], base_urls: Iterable[str], *, keyed: bool, as_of: int
) -> dict[str, Update]:
    """One Update per base URL (the JSON's links are signed against each)."""
    task = view.task
    return {
        base_url: Update(
            task.id,
            task.user_id,
            task.account_id,
            task.version,
            task.status,
            view.queue_position,
            change_key(task) if keyed else None,
            task_json(view, links_for(base_url)),
            as_of,
        )
        for base_url in base_urls
    }


class Subscription:
    """One open stream's inbox: the latest offered state per task, in feed order."""

    def __init__(self, interest: Interest, base_url: str) -> None:
        self.interest = interest
        self.base_url = base_url
        self.closed = False
        # Waiting tasks this stream has shown, with the position shown: the feed re-checks them.
        self.shown_positions: dict[str, int] = {}
        self._pending: dict[str, Update] = {}
        self._wake = asyncio.Event()

    def offer(self, update: Update) -> None:
        earlier = self._pending.get(update.task_id)
        if earlier is not None and update.key is None and earlier.key is not None:
            # Only the position moved since a change still unsent: that change, with the newer
            # state, keeps its place and its key (a task's key moves only with its row).
            self._pending[update.task_id] = replace(update, key=earlier.key)
        else:
            self._pending.pop(update.task_id, None)
            self._pending[update.task_id] = update
        self._wake.set()

    async def take(self, timeout: float) -> list[Update]:
        """What was offered (waiting up to ``timeout`` for something); [] when nothing came."""
        if not self._pending and not self.closed:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return []
        self._wake.clear()
        pending, self._pending = list(self._pending.values()), {}
        return pending

    def close(self) -> None:
        self.closed = True
        self._wake.set()


class _Index:
    """Who wants a task's changes, found by task id and by user rather than by trying every stream."""

    def __init__(self, entries: Iterable[tuple[Interest, Any]]) -> None:
        self._by_task: dict[str, list[Any]] = defaultdict(list)
        self._by_user: dict[str, list[tuple[int | None, Any]]] = defaultdict(list)
        for interest, value in entries:
            if interest.task_id is not None:
                self._by_task[interest.task_id].append(value)
            else:
                self._by_user[interest.user_id].append((interest.account_id, value))

    def find(self, task_id: str, user_id: str, account_id: int) -> list[Any]:
        return self._by_task.get(task_id, []) + [
            value for account, value in self._by_user.get(user_id, ()) if account in (None, account_id)
        ]


@dataclass
class _Wanted:
    """What the open streams want, copied for the poller's thread."""

    interests: _Index  # -> the base URLs their links are signed for
    watched: dict[str, set[str]] = field(default_factory=dict)  # waiting task -> base URLs
    shown: dict[str, set[int]] = field(default_factory=dict)  # waiting task -> positions streams show

    def base_urls(self, task_id: str, user_id: str, account_id: int) -> set[str]:
        return set(self.interests.find(task_id, user_id, account_id))


@dataclass
class _Batch:
    horizon: int
    updates: list[dict[str, Update]]  # position-only ones first, then changes in feed order


class ChangeFeed:
    """Polls the database for task changes while streams are open, and offers them to the streams."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._subscriptions: set[Subscription] = set()
        self._cursor: int | None = None
        self._poller: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    async def subscribe(self, interest: Interest, base_url: str) -> Subscription:
        """A subscription that gets every change the feed reads from now on. Read the stream's
        starting state after this returns: every change is then in one or the other."""
        async with self._lock:
            if self._cursor is None:  # the first stream: start at the present
                self._cursor = await asyncio.to_thread(self._present)
            subscription = Subscription(interest, base_url)
            self._subscriptions.add(subscription)
            if self._poller is None:
                self._poller = asyncio.create_task(self._poll(), name="taxiway-change-feed")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        self._subscriptions.discard(subscription)
        if not self._subscriptions and self._poller is not None:
            self._poller.cancel()  # nobody listens: no more queries
            self._poller, self._cursor = None, None

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)

    def _present(self) -> int:
        with self.ctx.db.snapshot() as session:
            return horizon(session)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.ctx.settings.event_poll_interval_seconds
        failing = False
        while self._subscriptions:
            started = loop.time()
            cursor = self._cursor
            if cursor is not None:
                wanted = self._wanted()
                try:
                    batch = await asyncio.to_thread(self._read, cursor, wanted)
                except Exception:  # a database outage: streams stay open, the next poll tries again
                    if not failing:
                        log.exception("reading task changes failed; streams wait, polls go on")
                    failing = True
                else:
                    if failing:
                        log.info("reading task changes works again")
                    failing = False
                    if self._cursor == cursor:
                        self._deliver(batch)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    def _wanted(self) -> _Wanted:
        subscriptions = list(self._subscriptions)
        wanted = _Wanted(_Index((s.interest, s.base_url) for s in subscriptions))
        for subscription in subscriptions:
            for task_id, position in subscription.shown_positions.items():
                wanted.watched.setdefault(task_id, set()).add(subscription.base_url)
                wanted.shown.setdefault(task_id, set()).add(position)
        return wanted

    def _read(self, cursor: int, wanted: _Wanted) -> _Batch:
        with self.ctx.db.snapshot() as session:
            below = horizon(session)
            if below <= cursor:
                return _Batch(cursor, [])
            rows = changed(session, ChangeKey(cursor), below)
            wanted_rows = {
                row.id: urls
                for row in rows
                if (urls := wanted.base_urls(row.id, row.user_id, row.account_id))
            }
            moved: dict[str, set[str]] = {}
            if rows and wanted.watched:  # the queue may have moved: a task some stream shows elsewhere
                moved = {
                    task_id: wanted.watched[task_id]
                    for task_id, position in _settled_positions(session, list(wanted.watched), below).items()
                    if task_id not in wanted_rows and wanted.shown[task_id] != {position}
                }
            views = {view.task.id: view for view in _views(session, [*moved, *wanted_rows])}
            links_for = self.ctx.links
            updates = [
                render(views[t], links_for, urls, keyed=False, as_of=below)
                for t, urls in moved.items()
                if t in views
            ]
            updates += [
                render(views[t], links_for, urls, keyed=True, as_of=below)
                for t, urls in wanted_rows.items()
                if t in views
            ]
            return _Batch(below, updates)

    def _deliver(self, batch: _Batch) -> None:
        self._cursor = batch.horizon
        subscriptions = _Index((s.interest, s) for s in self._subscriptions)
        for by_base in batch.updates:
            sample = next(iter(by_base.values()))
            for subscription in subscriptions.find(sample.task_id, sample.user_id, sample.account_id):
                update = by_base.get(subscription.base_url)
                if update is not None:
                    subscription.offer(update)


def _views(session: Session, task_ids: list[str]) -> list[TaskView]:
    if not task_ids:
        return []
    return load_views(session, list(session.scalars(select(Task).where(Task.id.in_(task_ids)))))


def _settled_positions(session: Session, task_ids: list[str], below: int) -> dict[str, int | None]:
    """The queue positions of these tasks, those whose latest change is below the horizon only: a
    task with a newer change gets its position with that change, in feed order."""
    tasks = list(session.scalars(select(Task).where(Task.id.in_(task_ids), Task.change_seq < below)))
    positions = queue_positions(session, tasks)
    return {task.id: positions.get(task.id) for task in tasks}
