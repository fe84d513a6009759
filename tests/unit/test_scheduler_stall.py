"""A server that stalls past its own leases (CPU starvation, a slow disk) keeps its running work:
each tick renews what it runs before it requeues what nobody renewed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from support import Server
from taxiway.executors.base import SlotKind, SlotPool
from taxiway.scheduler import loop
from taxiway.scheduler.loop import Scheduler
from taxiway.store import states
from taxiway.store.models import Task, utcnow
from taxiway.worker.contract import ClaimedTask


@dataclasses.dataclass
class RunningSlot:
    """A slot that holds what it is given as running, and records cancels."""

    kind: SlotKind = SlotKind.CLASSIC
    jobs: list[ClaimedTask] = dataclasses.field(default_factory=list)
    cancelled: list[str] = dataclasses.field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not self.jobs

    def submit(self, job: ClaimedTask) -> bool:
        self.jobs.append(job)
        return True

    def in_flight(self) -> tuple[str, int] | None:
        return (self.jobs[0].task_id, self.jobs[0].attempt) if self.jobs else None

    def cancel(self, task_id: str) -> None:
        self.cancelled.append(task_id)


def test_a_tick_after_a_stall_renews_its_own_lease_before_requeueing(
    idle_server: Server, short_clip: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(loop, "REQUEUE_CHECK_SECONDS", 0.0)  # every tick looks for expired leases
    api = idle_server.new_user()
    api.create_account()
    asset = api.upload(short_clip, "video/mp4")["assetId"]
    task_id = api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"]
    ctx = idle_server.ctx
    slot = RunningSlot()
    scheduler = Scheduler(ctx, SlotPool([slot]))  # type: ignore[list-item]
    scheduler.tick()
    [job] = slot.jobs
    assert job.task_id == task_id

    # The scheduler thread stalled for longer than the lease: nothing renewed it meanwhile.
    with ctx.db.write() as session:
        session.get(Task, task_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    scheduler._last_renewal = {key: 0.0 for key in scheduler._last_renewal}  # renewal is overdue
    scheduler.tick()

    with ctx.db.read() as session:
        task = session.get(Task, task_id)
        assert (task.status, task.attempt, task.failed_attempts) == (states.RUNNING, job.attempt, 0)
        assert task.lease_expires_at > utcnow()
    assert slot.cancelled == []
