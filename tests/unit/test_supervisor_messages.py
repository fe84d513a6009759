"""The local supervisor reads its child's pipe: a result is never queued behind stale progress,
nor killed as an ignored cancel while it waits to be read."""

from __future__ import annotations

import multiprocessing
import time
from types import SimpleNamespace
from typing import Any

import pytest

from taxiway.core.settings import Settings
from taxiway.executors.local.supervisor import WorkerSlot
from taxiway.tasks import lifecycle
from taxiway.worker.contract import ClaimedTask, JobDone, JobProgress


def test_a_backlog_of_progress_is_coalesced_and_a_queued_result_handled_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        lifecycle,
        "record_progress",
        lambda ctx, task, attempt, ratio, text, preview_key: (
            writes.append(("progress", ratio, preview_key)) or True
        ),
    )
    monkeypatch.setattr(
        lifecycle, "fail", lambda ctx, task, attempt, error, reason, warnings: writes.append(("fail", reason))
    )
    slot = WorkerSlot(ctx=None, index=0)  # type: ignore[arg-type]  # the lifecycle calls are replaced
    parent, child = multiprocessing.Pipe()
    slot._conn = parent
    slot._job = ClaimedTask("t", 1, "upscale", {}, {})

    for i in range(50):  # what a busy engine sent while the supervisor was writing slowly
        child.send(JobProgress("t", 1, i / 100, None, f"artifacts/t/1/live/{i // 10}.jpg"))
    slot._pump_messages()
    # (every report names the latest still, so the one written loses none)
    assert writes == [("progress", 0.49, "artifacts/t/1/live/4.jpg")], "one write for the latest, not fifty"

    for i in range(50):
        child.send(JobProgress("t", 1, 0.5 + i / 100, None))
    child.send(JobDone("t", 1, error="boom", reason="ENGINE_FAILED"))
    slot._pump_messages()
    assert writes[1:] == [("fail", "ENGINE_FAILED")]
    assert slot.in_flight() is None


def test_a_result_waiting_in_the_pipe_past_the_cancel_grace_is_taken_not_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pump was held up (a slow progress write) while the child stopped as asked: when the
    supervisor comes back after the grace, the JobDone in the pipe wins over the kill."""
    killed: list[bool] = []
    deleted: list[str] = []
    blobs = SimpleNamespace(delete_prefix=deleted.append)
    slot = WorkerSlot(ctx=SimpleNamespace(settings=Settings(), blobs=blobs), index=0)  # type: ignore[arg-type]
    monkeypatch.setattr(slot, "_kill_child", lambda: killed.append(True))
    parent, child = multiprocessing.Pipe()
    slot._conn = parent
    slot._job = ClaimedTask("t", 1, "upscale", {}, {})
    slot._job_started = time.monotonic()
    slot._cancel_sent_at = time.monotonic() - Settings().cancel_grace_seconds - 1
    child.send(JobProgress("t", 1, 0.3, None))
    child.send(JobDone("t", 1, cancelled=True))
    slot._enforce_deadlines()
    assert killed == [] and slot.in_flight() is None

    # Nothing in the pipe: the cancel was ignored, the child is killed.
    slot._job = ClaimedTask("t", 2, "upscale", {}, {})
    slot._cancel_sent_at = time.monotonic() - Settings().cancel_grace_seconds - 1
    slot._enforce_deadlines()
    assert killed == [True] and slot.in_flight() is None
    assert deleted == [
        "artifacts/t/1/live",  # the stopped attempt's live preview stills
        "artifacts/t/2",  # what the killed attempt had started to store
    ]
