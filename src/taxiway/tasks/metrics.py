"""What the database knows, as Prometheus metrics read at scrape time.

Tasks by operation, engine and status, the queue of each kind of work, credits charged and
refunded, and callbacks by outcome are figures of the database, whichever process made them, so
each server reads them from it when scraped and every server of a deployment reports the same
(aggregate them across servers with max, not sum). Two GROUP BY queries in one snapshot; the read
runs in a thread of its own and a scrape waits for it at most ``metrics_database_timeout_seconds``,
so an unreachable or locked database costs a scrape that time, never an error: it then serves the
process figures alone, with ``taxiway_metrics_collector_up`` 0 and one more collector error.

These are gauges, not counters: they count the rows the database holds, and deleting a finished
task (DELETE tasks/{taskId}) takes its count, its credits and its callbacks out of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select, text

from taxiway.context import AppContext
from taxiway.core import metrics
from taxiway.store import states
from taxiway.store.models import Task, WebhookDelivery, utcnow
from taxiway.tasks.queue import CLASSIC_WORK, NEURAL_WORK, work_kind

log = logging.getLogger(__name__)

COLLECTOR = "database"
DELIVERY_OUTCOMES = ("pending", "delivered", "failed", "dropped")


@dataclass(frozen=True)
class TaskGroup:
    operation: str
    engine: str | None
    status: str
    count: int
    cost: int
    oldest: datetime | None


@dataclass(frozen=True)
class DatabaseFigures:
    tasks: list[TaskGroup]
    deliveries: dict[tuple[str, bool], int]  # (state, terminal) -> count
    read_at: datetime


def read_figures(ctx: AppContext, timeout_seconds: float) -> DatabaseFigures:
    """The figures, from one snapshot: one scan of tasks, one of the callbacks (by their index)."""
    with ctx.db.snapshot() as session:
        if not ctx.db.is_sqlite:  # a lock held elsewhere must not hold the reading past its time
            session.execute(text(f"SET LOCAL statement_timeout = {max(1, round(timeout_seconds * 1000))}"))
        rows = session.execute(
            select(
                Task.operation,
                Task.engine,
                Task.status,
                func.count(),
                func.coalesce(func.sum(Task.cost), 0),
                func.min(Task.created_at),
            ).group_by(Task.operation, Task.engine, Task.status)
        ).all()
        deliveries = session.execute(
            select(WebhookDelivery.state, WebhookDelivery.terminal, func.count()).group_by(
                WebhookDelivery.state, WebhookDelivery.terminal
            )
        ).all()
    return DatabaseFigures(
        tasks=[TaskGroup(row[0], row[1], row[2], row[3], int(row[4]), row[5]) for row in rows],
        deliveries={(state, bool(terminal)): count for state, terminal, count in deliveries},
        read_at=utcnow(),
    )


def families(figures: DatabaseFigures) -> Iterator[Metric]:
    tasks = GaugeMetricFamily(
        "taxiway_tasks",
        "Tasks the database holds, by operation (the endpoint), engine and status.",
        labels=("operation", "engine", "status"),
    )
    depth = {CLASSIC_WORK: 0, NEURAL_WORK: 0}
    oldest: dict[str, datetime] = {}
    charged = refunded = 0
    for group in figures.tasks:
        tasks.add_metric((group.operation, group.engine or "unknown", group.status), group.count)
        charged += group.cost
        if group.status in states.REFUNDED_STATUSES:
            refunded += group.cost
        if group.status in states.RUNNABLE_STATUSES:
            work = work_kind(group.engine)
            depth[work] += group.count
            if group.oldest is not None and (work not in oldest or group.oldest < oldest[work]):
                oldest[work] = group.oldest
    yield tasks
    queue = GaugeMetricFamily(
        "taxiway_queue_depth",
        "Tasks waiting for a slot (PENDING or THROTTLED), by kind of work.",
        labels=("work",),
    )
    age = GaugeMetricFamily(
        "taxiway_queue_oldest_age_seconds",
        "How long the oldest waiting task of each kind of work has waited (0: none waits).",
        labels=("work",),
    )
    for work, count in depth.items():
        queue.add_metric((work,), count)
        waited = (figures.read_at - oldest[work]).total_seconds() if work in oldest else 0.0
        age.add_metric((work,), max(waited, 0.0))
    yield queue
    yield age
    yield GaugeMetricFamily(
        "taxiway_credits_charged", "Credits charged at admission, over the tasks the database holds.", charged
    )
    yield GaugeMetricFamily(
        "taxiway_credits_refunded",
        "Credits given back (tasks FAILED or CANCELLED), over the tasks the database holds.",
        refunded,
    )
    deliveries = GaugeMetricFamily(
        "taxiway_webhook_deliveries",
        "Callbacks the database holds, by outcome (pending, delivered, failed, dropped) and kind.",
        labels=("outcome", "kind"),
    )
    for outcome in (
        *DELIVERY_OUTCOMES,
        *sorted({state for state, _ in figures.deliveries} - set(DELIVERY_OUTCOMES)),
    ):
        for terminal, kind in ((True, "terminal"), (False, "progress")):
            deliveries.add_metric((outcome, kind), figures.deliveries.get((outcome, terminal), 0))
    yield deliveries


T = TypeVar("T")


class _Reading(Generic[T]):
    """One call of ``read`` in a daemon thread of its own: a hung connection hangs only it."""

    def __init__(self, read: Callable[[], T]) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None
        self._read = read
        threading.Thread(target=self._run, name="metrics-database", daemon=True).start()

    def _run(self) -> None:
        try:
            self.value = self._read()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


class DatabaseCollector:
    """A prometheus_client collector of the database's figures, read when scraped; at most one
    reading at a time (concurrent scrapes, and scrapes after one that timed out, wait on it)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.timeout_seconds = ctx.settings.metrics_database_timeout_seconds
        self._lock = threading.Lock()
        self._reading: _Reading[DatabaseFigures] | None = None
        self._failing = False
        metrics.declare_collector(COLLECTOR)

    def _figures(self) -> DatabaseFigures:
        with self._lock:
            if self._reading is None or self._reading.done.is_set():
                self._reading = _Reading(lambda: read_figures(self.ctx, self.timeout_seconds))
            reading = self._reading
        if not reading.done.wait(self.timeout_seconds):
            raise TimeoutError(f"the database did not answer within {self.timeout_seconds:g} s")
        if reading.error is not None:
            raise reading.error
        assert reading.value is not None
        return reading.value

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        try:
            figures = self._figures()
        except Exception as exc:
            if not self._failing:  # once per outage, not once per scrape
                log.warning("metrics: the database's figures could not be read: %s", _why(exc))
            self._failing = True
            metrics.collector_failed(COLLECTOR)
            yield from _health(up=False, seconds=time.monotonic() - started)
            return
        if self._failing:
            log.info("metrics: the database's figures can be read again")
            self._failing = False
        yield from families(figures)
        yield from _health(up=True, seconds=time.monotonic() - started)


def _why(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {detail.splitlines()[0]}" if detail else type(exc).__name__


def _health(*, up: bool, seconds: float) -> Iterator[Metric]:
    status = GaugeMetricFamily(
        "taxiway_metrics_collector_up",
        "1 if the collector's figures are in this scrape, 0 if it failed or was too slow.",
        labels=("collector",),
    )
    status.add_metric((COLLECTOR,), 1 if up else 0)
    yield status
    duration = GaugeMetricFamily(
        "taxiway_metrics_collector_duration_seconds",
        "How long this scrape waited for the collector.",
        labels=("collector",),
    )
    duration.add_metric((COLLECTOR,), seconds)
    yield duration
