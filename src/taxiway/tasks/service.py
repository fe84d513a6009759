"""Reading, listing and removing a user's tasks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.accounts.service import get_account
from taxiway.context import AppContext
from taxiway.core import ids
from taxiway.core.errors import Conflict, NotFound
from taxiway.store import states
from taxiway.store.live import live_tasks
from taxiway.store.models import Asset, Task, WebhookDelivery
from taxiway.tasks import lifecycle
from taxiway.tasks.presenter import task_ref


def _not_found(ref: str) -> NotFound:
    return NotFound(f"Unable to retrieve taskId {ref} (Not found.)")


def get_owned_task(session: Session, user_id: str, ref: str) -> Task:
    """The caller's task; malformed ids, missing tasks and other users' tasks all answer 404."""
    row_id = ids.parse("task", ref)
    task = session.get(Task, row_id) if row_id else None
    if task is None or task.user_id != user_id:
        raise _not_found(ref)
    if ref.strip().lower() != task.id and ref.strip() != task_ref(task):
        raise _not_found(ref)
    return task


def list_tasks(
    session: Session, user_id: str, *, offset: int, limit: int, statuses: list[str], email: str | None
) -> list[Task]:
    query = select(Task).where(Task.user_id == user_id)
    if statuses:
        query = query.where(Task.status.in_(statuses))
    if email:
        query = query.where(Task.account_id == get_account(session, user_id, email).id)
    return list(session.scalars(query.order_by(Task.created_at.desc(), Task.id).offset(offset).limit(limit)))


def cancel_task(ctx: AppContext, user_id: str, ref: str) -> Task:
    with ctx.db.read() as session:
        task_id = get_owned_task(session, user_id, ref).id
    return lifecycle.cancel(ctx, user_id, task_id)


def delete_finished_task(ctx: AppContext, user_id: str, ref: str) -> None:
    """Delete a finished task with its artifacts (their files too)."""
    with ctx.db.write() as session:
        task = get_owned_task(session, user_id, ref)
        if task.status in states.LIVE_STATUSES:
            raise Conflict(f"Task {ref} is {task.status}; cancel it first")
        artifacts = list(session.scalars(select(Asset).where(Asset.task_id == task.id)))
        artifact_ids = {asset.id for asset in artifacts}
        for live in live_tasks(session, user_id=user_id):
            if artifact_ids & set((live.input_asset_ids or {}).values()):
                raise Conflict(f"An artifact of task {ref} is an input of live task {task_ref(live)}")
        keys = [key for asset in artifacts for key in (asset.blob_key, *asset.preview_keys)]
        for asset in artifacts:
            session.delete(asset)
        for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.task_id == task.id)):
            session.delete(delivery)
        task_id = task.id
        session.delete(task)
    for key in keys:
        ctx.blobs.delete(key)
    # And whatever its attempts left there that no asset names: live preview stills of an attempt
    # whose result was never recorded (its server died), a lost attempt's partial output.
    ctx.blobs.delete_prefix(f"artifacts/{task_id}")
