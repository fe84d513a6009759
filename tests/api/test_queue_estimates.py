"""estimatedTimeToStartSeconds, learnt from the server's own history, against the real waits of a
mixed queue on one worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediafiles import make_video
from support import Api, Server
from taxiway.scheduler.estimates import RunModel, fit
from taxiway.store.models import Task, utcnow


def test_fit_finds_the_overhead_and_the_rate() -> None:
    model = fit([(1.0, 3.0), (2.0, 4.0), (4.0, 6.0)])  # 2 s overhead + 1 s per unit
    assert abs(model.overhead - 2.0) < 1e-9 and abs(model.rate - 1.0) < 1e-9
    assert fit([(2.0, 4.0)]) == RunModel(0.0, 2.0)  # one sample: a rate through zero
    assert fit([(2.0, 4.0), (2.1, 4.0)]) == RunModel(0.0, 8.0 / 4.1)  # too alike to show an overhead
    assert fit([(1.0, 5.0), (2.0, 1.0), (4.0, 1.0)]).rate >= 0  # never a negative rate


def _bodies(small: str, large: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("videos/upscale", {"videoAssetId": large}),
        ("gen3turbo/video", {"assetId": large, "text_prompt": "sepia", "seconds": 5}),
        ("videos/upscale", {"videoAssetId": small}),
        ("gen3turbo/expand", {"videoAssetId": small}),
    ]


@pytest.mark.exclusive  # its real waits and its history must run under the same load
def test_estimates_are_within_half_of_the_real_waits(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = make_server(workers=1)
    api: Api = server.new_user()
    api.create_account(max_jobs=10)
    small = api.upload(
        make_video(tmp_path / "s.mp4", width=160, height=120, seconds=1.0, fps=24), "video/mp4"
    )
    large = api.upload(
        make_video(tmp_path / "l.mp4", width=320, height=240, seconds=1.0, fps=24), "video/mp4"
    )
    bodies = _bodies(small["assetId"], large["assetId"])

    # History: each task once, one at a time (upscale on both sources).
    for path, body in bodies:
        assert api.wait(api.create(path, body).json()["taskId"])["status"] == "SUCCEEDED"

    # The queue: one task runs, the others wait behind it in order.
    tasks = [api.create(path, body).json()["taskId"] for path, body in bodies + bodies[:1]]
    seen: dict[str, tuple[float, Any]] = {}  # task -> (estimate, when it was read)
    deadline = time.monotonic() + 30
    while len(seen) < len(tasks) - 1 and time.monotonic() < deadline:
        for task_id in tasks[1:]:
            task = api.task(task_id)
            if task_id not in seen and task["status"] == "THROTTLED":
                seen[task_id] = (task["estimatedTimeToStartSeconds"], utcnow())
        time.sleep(0.05)
    assert len(seen) == len(tasks) - 1, "every queued task was THROTTLED with an estimate"
    for task_id in tasks:
        assert api.wait(task_id, timeout=300)["status"] == "SUCCEEDED"

    with server.ctx.db.read() as session:
        started = {task.id: task.started_at for task in session.query(Task).filter(Task.id.in_(
            [t.rsplit(":", 1)[-1] for t in tasks]))}  # fmt: skip
    report = []
    for task_id, (estimate, when) in seen.items():
        real = (started[task_id.rsplit(":", 1)[-1]] - when).total_seconds()
        report.append((estimate, round(real, 1)))
    for estimate, real in report:
        assert 0.5 * real <= estimate <= 1.5 * real, f"(estimate, real wait) of each queued task: {report}"
