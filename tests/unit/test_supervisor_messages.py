"""The local supervisor reads its child's pipe: a result is never queued behind stale progress."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from taxiway.executors.local.supervisor import WorkerSlot
from taxiway.scheduler.claims import ClaimedTask
from taxiway.tasks import lifecycle
from taxiway.worker.messages import JobDone, JobProgress


def test_a_backlog_of_progress_is_coalesced_and_a_queued_result_handled_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        lifecycle,
        "record_progress",
        lambda ctx, task, attempt, ratio, text: writes.append(("progress", ratio)) or True,
    )
    monkeypatch.setattr(
        lifecycle, "fail", lambda ctx, task, attempt, error, reason, warnings: writes.append(("fail", reason))
    )
    slot = WorkerSlot(ctx=None, index=0)  # type: ignore[arg-type]  # the lifecycle calls are replaced
    parent, child = multiprocessing.Pipe()
    slot._conn = parent
    slot._job = ClaimedTask("t", 1, "upscale", {}, {})

    for i in range(50):  # what a busy engine sent while the supervisor was writing slowly
        child.send(JobProgress("t", 1, i / 100, None))
    slot._pump_messages()
    assert writes == [("progress", 0.49)], "one write for the latest progress, not fifty"

    for i in range(50):
        child.send(JobProgress("t", 1, 0.5 + i / 100, None))
    child.send(JobDone("t", 1, error="boom", reason="ENGINE_FAILED"))
    slot._pump_messages()
    assert writes[1:] == [("fail", "ENGINE_FAILED")]
    assert slot.in_flight() is None
