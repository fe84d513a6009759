"""``estimatedTimeToStartSeconds`` from measured history.

Each engine's run time is modelled from its recent successes as ``overhead + rate × work``, where
work is a task's output seconds times its source's pixel rate (megapixels per second): the
measure that makes a 10 s 1080p upscale and a 2 s 240p one comparable. A waiting task's start is
then found by playing the queue forward: the running tasks free their slots when their predicted
run time is up, and every task queued ahead (paid before exploreMode, oldest first, as claims
take them) takes the first free slot for its predicted time.
"""

from __future__ import annotations

import heapq
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.store import states
from taxiway.store.models import Asset, Task, utcnow

HISTORY_PER_ENGINE = 30  # recent successes each engine's model is fitted to
DEFAULT_RUN_SECONDS = 60.0  # a task of an engine (and a server) with no history at all
REFERENCE_MEGAPIXEL_RATE = 320 * 240 * 24 / 1e6  # a source whose size or rate is not known


@dataclass(frozen=True)
class RunModel:
    """Predicted run seconds: ``overhead + rate × work``."""

    overhead: float
    rate: float

    def predict(self, work: float) -> float:
        return max(0.0, self.overhead + self.rate * work)


def task_work(task: Task, video: Asset | None) -> float:
    """Output seconds × the source's megapixels per second."""
    if video is None or not video.width or not video.height:
        rate = REFERENCE_MEGAPIXEL_RATE
    else:
        rate = video.width * video.height * (video.frame_rate or 24.0) / 1e6
    return max(float(task.output_seconds or 0.0), 0.0) * rate


def fit(samples: Sequence[tuple[float, float]]) -> RunModel:
    """Least squares over (work, seconds) samples; a plain rate through zero when they are too few
    or too alike to show an overhead (or the fit says something impossible)."""
    works = [work for work, _ in samples]
    seconds = [run for _, run in samples]
    if len(samples) >= 2 and max(works) > 1.5 * min(works):
        mean_w, mean_s = statistics.fmean(works), statistics.fmean(seconds)
        spread = sum((w - mean_w) ** 2 for w in works)
        rate = sum((w - mean_w) * (s - mean_s) for w, s in samples) / spread
        overhead = mean_s - rate * mean_w
        if rate >= 0 and overhead >= 0:
            return RunModel(overhead, rate)
    total_work = sum(works)
    if total_work <= 0:
        return RunModel(statistics.median(seconds), 0.0)
    return RunModel(0.0, sum(seconds) / total_work)


def _video_inputs(session: Session, tasks: Iterable[Task]) -> dict[str, Asset]:
    ids = {(task.input_asset_ids or {}).get("video") for task in tasks} - {None}
    if not ids:
        return {}
    return {asset.id: asset for asset in session.scalars(select(Asset).where(Asset.id.in_(ids)))}


def _video_of(task: Task, videos: dict[str, Asset]) -> Asset | None:
    return videos.get((task.input_asset_ids or {}).get("video") or "")


class RunTimes:
    """Every engine's model, learnt from the database once per estimate."""

    def __init__(self, session: Session) -> None:
        recent = list(
            session.scalars(
                select(Task)
                .where(Task.status == states.SUCCEEDED, Task.started_at.is_not(None))
                .order_by(Task.finished_at.desc())
                .limit(HISTORY_PER_ENGINE * 10)
            )
        )
        videos = _video_inputs(session, recent)
        samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for task in recent:
            if task.started_at and task.finished_at and len(samples[task.engine or ""]) < HISTORY_PER_ENGINE:
                run = (task.finished_at - task.started_at).total_seconds()
                samples[task.engine or ""].append((task_work(task, _video_of(task, videos)), run))
        self._models = {engine: fit(values) for engine, values in samples.items()}
        # An engine never run yet is assumed as fast per unit of work as the others together.
        everything = [sample for values in samples.values() for sample in values]
        self._fallback = fit(everything) if everything else None

    def predict(self, task: Task, video: Asset | None) -> float:
        model = self._models.get(task.engine or "", self._fallback)
        return DEFAULT_RUN_SECONDS if model is None else model.predict(task_work(task, video))


def estimate_starts(session: Session, slots: int, now: datetime | None = None) -> dict[str, float]:
    """Seconds until each waiting (PENDING or THROTTLED) task starts, by task id."""
    now = now or utcnow()
    running = list(session.scalars(select(Task).where(Task.status == states.RUNNING)))
    waiting = list(
        session.scalars(
            select(Task)
            .where(Task.status.in_(states.RUNNABLE_STATUSES))
            .order_by(Task.explore_mode, Task.created_at, Task.id)
        )
    )
    if not waiting:
        return {}
    times = RunTimes(session)
    videos = _video_inputs(session, running + waiting)
    free_at = []  # seconds from now at which each slot is free
    for task in running:
        elapsed = (now - task.started_at).total_seconds() if task.started_at else 0.0
        # A task past its prediction is assumed to need a little longer, not to be done.
        free_at.append(max(times.predict(task, _video_of(task, videos)) - elapsed, 1.0))
    free_at.sort()
    free_at = free_at[: max(slots, 1)] + [0.0] * max(slots - len(free_at), 0)
    heapq.heapify(free_at)
    starts = {}
    for task in waiting:
        start = heapq.heappop(free_at)
        starts[task.id] = start
        heapq.heappush(free_at, start + times.predict(task, _video_of(task, videos)))
    return starts
