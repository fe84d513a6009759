"""The event streams a user opens: one task's, or all of their tasks' (optionally one account's).

Each is opened in two steps, in this order: subscribe to the feed, then read the starting state
in one snapshot. Every change is then in the starting state or offered later (the feed's cursor
at subscription is below the snapshot's horizon), and what is in both is sent once.

Event ids, so that ``Last-Event-ID`` resumes without repeats:

- one task: ``<version>`` or, while it waits, ``<version>.<queuePosition>``. On resume the task is
  sent again only if its version or position is not the one named.
- all tasks: ``<change_seq>-<task uuid>``, the change's key in the feed; events go out in key
  order. On resume every task changed after that key is sent, in key order. An event that only
  moves a waiting task's queue position carries no id (the key of a task that waits does not
  move): on resume, the waiting tasks are sent again when any task changed after the given key,
  as their positions may have moved (the one case where a state may be repeated).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import not_, select

from taxiway.context import AppContext
from taxiway.store import states
from taxiway.store.changes import ChangeKey, after, any_change, horizon
from taxiway.store.models import Task
from taxiway.tasks.feed import ChangeFeed, Interest, Subscription, Update, render
from taxiway.tasks.presenter import load_views


@dataclass(frozen=True)
class StreamEvent:
    id: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class TaskEventId:
    """The id of a per-task event: the task's version, and its queue position while it waits."""

    version: int
    position: int | None = None

    def __str__(self) -> str:
        return str(self.version) if self.position is None else f"{self.version}.{self.position}"

    @classmethod
    def parse(cls, value: str) -> TaskEventId | None:
        version, dot, position = value.strip().partition(".")
        if (
            not version.isdigit()
            or len(version) > 18
            or (dot and (not position.isdigit() or len(position) > 18))
        ):
            return None
        return cls(int(version), int(position) if dot else None)

    @classmethod
    def of(cls, update: Update) -> TaskEventId:
        return cls(update.version, update.position)


class TaskStream:
    """One task: its state now (unless the client has it), then each change, until it finishes."""

    def __init__(
        self, feed: ChangeFeed, subscription: Subscription, now: Update | None, last: TaskEventId | None
    ) -> None:
        self._feed = feed
        self._subscription = subscription
        self._now = now
        self._last = last
        self._floor = now.as_of if now is not None else 0  # older snapshots: older than `now`

    @classmethod
    async def open(
        cls, feed: ChangeFeed, user_id: str, task_id: str, base_url: str, last: TaskEventId | None
    ) -> TaskStream:
        subscription = await feed.subscribe(Interest(user_id, task_id=task_id), base_url)
        try:
            now = await asyncio.to_thread(_task_now, feed.ctx, task_id, base_url)
        except BaseException:
            feed.unsubscribe(subscription)
            raise
        return cls(feed, subscription, now, last)

    @property
    def finished(self) -> bool:
        """Nothing will be sent: the task is gone, or finished and the client has its final state
        (an EventSource is answered 204 then, which stops its reconnecting)."""
        now = self._now
        return now is None or (now.terminal and TaskEventId.of(now) == self._last)

    def close(self) -> None:
        self._feed.unsubscribe(self._subscription)

    async def events(self, heartbeat_seconds: float) -> AsyncIterator[StreamEvent | None]:
        """The events to send; None when nothing happened for ``heartbeat_seconds``."""
        try:
            now = self._now
            if now is None:  # deleted meanwhile
                return
            if TaskEventId.of(now) != self._last:
                yield self._sent(now)
            else:
                _note_position(self._subscription, now)
            if now.terminal:
                return
            while not self._subscription.closed:
                updates = await self._subscription.take(heartbeat_seconds)
                if not updates:
                    yield None
                for update in updates:
                    if update.as_of < self._floor or (
                        self._last is not None
                        and (update.version < self._last.version or TaskEventId.of(update) == self._last)
                    ):
                        continue  # older than, or the same as, what was sent
                    yield self._sent(update)
                    if update.terminal:
                        return
        finally:
            self.close()

    def _sent(self, update: Update) -> StreamEvent:
        self._last = TaskEventId.of(update)
        _note_position(self._subscription, update)
        return StreamEvent(str(self._last), update.json)


class UserStream:
    """Every task of a user (of one account, with ``account_id``): without Last-Event-ID the live
    tasks first; after one, every task changed since; then each change as it happens."""

    def __init__(self, feed: ChangeFeed, subscription: Subscription, start: _Start) -> None:
        self._feed = feed
        self._subscription = subscription
        self._start = start

    @classmethod
    async def open(
        cls,
        feed: ChangeFeed,
        user_id: str,
        account_id: int | None,
        base_url: str,
        since: ChangeKey | None,
    ) -> UserStream:
        interest = Interest(user_id, account_id=account_id)
        subscription = await feed.subscribe(interest, base_url)
        try:
            start = await asyncio.to_thread(_user_start, feed.ctx, interest, base_url, since)
        except BaseException:
            feed.unsubscribe(subscription)
            raise
        subscription.shown_positions.update(start.shown_positions)
        return cls(feed, subscription, start)

    def close(self) -> None:
        self._feed.unsubscribe(self._subscription)

    async def events(self, heartbeat_seconds: float) -> AsyncIterator[StreamEvent | None]:
        """The events to send; None when nothing happened for ``heartbeat_seconds``."""
        try:
            for update in self._start.updates:
                yield self._sent(update)
            while not self._subscription.closed:
                updates = await self._subscription.take(heartbeat_seconds)
                if not updates:
                    yield None
                for update in updates:
                    if update.as_of < self._start.horizon or (
                        update.key is not None and update.key.seq < self._start.horizon
                    ):
                        continue  # the starting state had it (or something newer)
                    if update.key is None and self._subscription.shown_positions.get(update.task_id) == (
                        update.position
                    ):
                        continue
                    yield self._sent(update)
        finally:
            self.close()

    def _sent(self, update: Update) -> StreamEvent:
        _note_position(self._subscription, update)
        return StreamEvent(str(update.key) if update.key is not None else None, update.json)


def _note_position(subscription: Subscription, update: Update) -> None:
    if update.position is None:
        subscription.shown_positions.pop(update.task_id, None)
    else:
        subscription.shown_positions[update.task_id] = update.position


def _task_now(ctx: AppContext, task_id: str, base_url: str) -> Update | None:
    with ctx.db.snapshot() as session:
        below = horizon(session)
        task = session.get(Task, task_id)
        if task is None:
            return None
        view = load_views(session, [task])[0]
        return render(view, ctx.links, [base_url], keyed=False, as_of=below)[base_url]


@dataclass
class _Start:
    horizon: int  # changes below it are in `updates` (or were sent before a resume)
    updates: list[Update]
    shown_positions: dict[str, int]  # waiting tasks the client has as they are, not sent again


def _user_start(ctx: AppContext, interest: Interest, base_url: str, since: ChangeKey | None) -> _Start:
    with ctx.db.snapshot() as session:
        below = horizon(session)
        mine = select(Task).where(Task.user_id == interest.user_id, Task.change_seq < below)
        if interest.account_id is not None:
            mine = mine.where(Task.account_id == interest.account_id)
        first = mine.where(Task.status.in_(states.LIVE_STATUSES) if since is None else after(since))
        changed_views = load_views(session, list(session.scalars(first.order_by(Task.change_seq, Task.id))))
        updates = [render(v, ctx.links, [base_url], keyed=True, as_of=below)[base_url] for v in changed_views]
        if since is None:
            return _Start(below, updates, {})
        # Waiting tasks the client has the latest change of: their positions may have moved since.
        waiting = list(
            session.scalars(mine.where(Task.status.in_(states.RUNNABLE_STATUSES), not_(after(since))))
        )
        waiting_views = load_views(session, waiting)
        if any_change(session, since, below):
            moved = [
                render(v, ctx.links, [base_url], keyed=False, as_of=below)[base_url] for v in waiting_views
            ]
            return _Start(below, moved + updates, {})
        unmoved = {view.task.id: view.queue_position for view in waiting_views}
        return _Start(below, updates, {task: position for task, position in unmoved.items() if position})
