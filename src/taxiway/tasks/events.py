"""Task events for callbacks (the outbox): written to the database in the same transaction as the
change they report.

So a callback is never lost when a process dies after the change, and never sent for a change
that rolled back. The deliverer (taxiway.webhooks) sends them later, knowing nothing of tasks.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from taxiway.blobs.links import Links
from taxiway.core import ids
from taxiway.store.models import Task, WebhookDelivery, utcnow
from taxiway.tasks.presenter import load_view, task_json


def callback_url(task: Task) -> str | None:
    return task.reply_url or task.account.reply_url


def enqueue_task_event(session: Session, links: Links, task: Task, *, terminal: bool) -> None:
    """Queue the task's current JSON for its callback URL, if it has one."""
    url = callback_url(task)
    if not url:
        return
    session.flush()  # the payload must show the state being committed, artifacts included
    payload = json.dumps(task_json(load_view(session, task), links), separators=(",", ":"))
    session.add(
        WebhookDelivery(
            id="msg_" + ids.new_uuid().replace("-", ""),
            task_id=task.id,
            user_id=task.user_id,
            url=url,
            payload=payload,
            terminal=terminal,
        )
    )


def enqueue_progress_event(session: Session, links: Links, task: Task, interval_seconds: float) -> None:
    """Progress callbacks are throttled to one per interval per task."""
    now: datetime = utcnow()
    last = task.last_webhook_progress_at
    if last is not None and (now - last).total_seconds() < interval_seconds:
        return
    task.last_webhook_progress_at = now
    enqueue_task_event(session, links, task, terminal=False)
