"""Sends queued callbacks: signed, in order per task, retried hard when terminal.

Terminal callbacks (SUCCEEDED, FAILED, CANCELLED) are retried with exponential backoff until
the retry horizon (at least an hour) has passed. Progress callbacks are best effort: two tries,
and dropped when a newer callback for the same task is already waiting.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import or_, select

from taxiway.context import AppContext
from taxiway.store.models import User, WebhookDelivery, utcnow
from taxiway.webhooks.addresses import CallbackRefused, CallbackUnresolvable, resolve_callback
from taxiway.webhooks.pinned import pinned_client, post_pinned
from taxiway.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

BATCH_SIZE = 50
PROGRESS_TRIES = 2
MAX_RETRY_SECONDS = 30 * 60.0


def retry_delay(attempts: int, first: float) -> float:
    """first, 2×first, 4×first, ... capped at 30 minutes."""
    return min(first * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


class WebhookDeliverer:
    def __init__(self, ctx: AppContext, *, poll_seconds: float = 0.5, concurrency: int = 4) -> None:
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self._client = pinned_client(ctx.settings.webhook_timeout_seconds)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhook-deliverer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                for delivery_id, url, payload, secret in self.claim_due():
                    self._pool.submit(self.deliver, delivery_id, url, payload, secret)
            except Exception:
                log.exception("webhook claim failed; retrying")

    def claim_due(self) -> list[tuple[str, str, str, str]]:
        """Lock due deliveries for sending; drop superseded progress ones; keep per-task order."""
        now = utcnow()
        claimed: list[tuple[str, str, str, str]] = []
        due_query = select(WebhookDelivery).where(
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
        )
        with self.ctx.db.read() as session:
            if session.scalar(due_query.with_only_columns(WebhookDelivery.id).limit(1)) is None:
                return []  # the common case: no write lock taken
        with self.ctx.db.write() as session:
            due = list(
                session.scalars(
                    due_query.order_by(WebhookDelivery.created_at)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            )
            if not due:
                return []
            task_ids = {delivery.task_id for delivery in due}
            pending = list(
                session.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.task_id.in_(task_ids), WebhookDelivery.state == "pending")
                    .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
                )
            )
            secrets = dict(
                session.execute(
                    select(User.id, User.webhook_secret).where(User.id.in_({d.user_id for d in due}))
                ).all()
            )
            for delivery in due:
                same_task = [
                    other
                    for other in pending
                    if other.task_id == delivery.task_id and other.state == "pending"
                ]
                newer = [other for other in same_task if other.created_at > delivery.created_at]
                older = [other for other in same_task if other.created_at < delivery.created_at]
                if newer and not delivery.terminal:
                    delivery.state = "dropped"
                    delivery.last_error = "superseded by a newer callback for the same task"
                    continue
                if older:
                    continue  # keep order: the older one goes first
                delivery.locked_until = now + timedelta(seconds=2 * self.ctx.settings.webhook_timeout_seconds)
                claimed.append(
                    (delivery.id, delivery.url, delivery.payload, secrets.get(delivery.user_id, ""))
                )
        return claimed

    def deliver(self, delivery_id: str, url: str, payload: str, secret: str) -> None:
        error: str | None = None
        retryable = True
        try:
            target = resolve_callback(url, allow_private=self.ctx.settings.allow_private_callbacks)
            body = payload.encode()
            response = post_pinned(self._client, target, body, signed_headers(secret, delivery_id, body))
            if not 200 <= response.status_code < 300:
                error = f"receiver answered HTTP {response.status_code}"
        except CallbackUnresolvable as exc:  # DNS may be back by the next try, like any network failure
            error = f"callback URL unresolvable: {exc}"
        except CallbackRefused as exc:
            error, retryable = f"callback URL refused: {exc}", False
        except httpx.InvalidURL as exc:  # e.g. a host that is not valid IDNA: no retry will fix it
            error, retryable = f"callback URL refused: {exc}", False
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never let one callback kill the deliverer
            log.exception("callback %s failed unexpectedly", delivery_id)
            error = f"{type(exc).__name__}: {exc}"
        self._record(delivery_id, error, retryable)

    def _record(self, delivery_id: str, error: str | None, retryable: bool) -> None:
        now = utcnow()
        with self.ctx.db.write() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.locked_until = None
            if error is None:
                delivery.state = "delivered"
                delivery.delivered_at = now
                delivery.last_error = None
                return
            delivery.last_error = error[:1000]
            delay = retry_delay(delivery.attempts, self.ctx.settings.webhook_first_retry_seconds)
            age = (now - delivery.created_at).total_seconds()
            horizon = self.ctx.settings.webhook_retry_horizon_seconds
            out_of_tries = (
                delivery.attempts >= PROGRESS_TRIES if not delivery.terminal else age + delay > horizon
            )
            if not retryable or out_of_tries:
                delivery.state = "failed"
                log.warning("callback %s to %s given up: %s", delivery_id, delivery.url, error)
            else:
                delivery.next_attempt_at = now + timedelta(seconds=delay)
