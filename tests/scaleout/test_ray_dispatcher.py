"""The Ray executor with real processes: a Ray head, PostgreSQL, SeaweedFS S3, an API-only server
(executor "ray") and `taxiway dispatcher` processes, with faults struck at actors and dispatchers.

Each fault test reports its figures (tasks created, faults injected, tasks lost, duplicates) to the
end-of-run summary.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from apiprocess import settings_env
from fault_figures import record
from mediafiles import make_video
from raycluster import DispatcherProcess, RayHead, wait_until_gone
from seaweed import SeaweedS3
from support import Api, Server
from taxiway.store.models import Asset, Task


@dataclass
class RayStack:
    """One deployment: the API server, the shared settings, and the dispatchers started so far."""

    server: Server
    api: Api
    head: RayHead
    seaweed: SeaweedS3
    prefix: str
    settings: dict[str, Any]
    log_dir: Path
    dispatchers: list[DispatcherProcess] = field(default_factory=list)

    def start_dispatcher(self, cpu_slots: int = 1, gpu_slots: int = 0, **overrides: Any) -> DispatcherProcess:
        env = settings_env({**self.settings, **overrides})
        log_path = self.log_dir / f"dispatcher-{len(self.dispatchers)}.log"
        dispatcher = DispatcherProcess(self.head, env, log_path, cpu_slots=cpu_slots, gpu_slots=gpu_slots)
        self.dispatchers.append(dispatcher)
        return dispatcher.start()

    def row(self, task: dict[str, Any]) -> Task:
        with self.server.ctx.db.read() as session:
            row = session.get(Task, task["id"])
            assert row is not None
            session.expunge(row)
            return row

    def artifact_rows(self, task: dict[str, Any]) -> int:
        with self.server.ctx.db.read() as session:
            query = select(func.count()).select_from(Asset).where(Asset.task_id == task["id"])
            return session.scalar(query) or 0

    def stored_attempts(self, task: dict[str, Any]) -> set[str]:
        """The attempt folders holding files under artifacts/<task>/ in the bucket."""
        base = f"{self.prefix}/artifacts/{task['id']}"
        return {key[len(base) + 1 :].split("/")[0] for key in self.seaweed.keys(base)}

    def charged(self, tasks: list[dict[str, Any]]) -> int:
        """What the tasks cost at admission: the credits used must equal it, each charged once."""
        return sum(self.row(task).cost for task in tasks)

    def used_credits(self) -> int:
        return self.api.http.get("/features").json()["used"]["numPlanCredits"]


@pytest.fixture
def ray_stack(
    ray_head: RayHead,
    postgres_url: str,
    s3_settings: dict[str, Any],
    seaweed: SeaweedS3,
    make_server: Callable[..., Server],
    tmp_path: Path,
) -> Iterator[RayStack]:
    secret = secrets.token_hex(16)
    server = make_server(database_url=postgres_url, executor="ray", secret_key=secret, **s3_settings)
    settings = {
        "database_url": postgres_url,
        "data_dir": tmp_path / "dispatcher-data",
        "executor": "ray",
        "secret_key": secret,
        "public_url": server.base_url,
        "lease_seconds": 4.0,
        "scheduler_interval_seconds": 0.1,
        "x264_preset": "ultrafast",
        **s3_settings,
    }
    api = server.new_user()
    api.create_account("ray@example.com", max_jobs=5)
    stack = RayStack(server, api, ray_head, seaweed, s3_settings["s3_prefix"], settings, tmp_path)
    yield stack
    for dispatcher in stack.dispatchers:
        dispatcher.terminate(timeout=30)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second of 160×90: quick to upscale even on a busy two-core machine."""
    path = tmp_path_factory.mktemp("ray-media") / "tiny.mp4"
    return make_video(path, width=160, height=90, seconds=1.0, fps=12, audio=True)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """15 s of 320×180: a task that surely outlasts a dispatcher's orderly stop (a second or two
    from SIGTERM to the cancel reaching the actor), where slow_clip's 2.5 s could finish first."""
    path = tmp_path_factory.mktemp("ray-media") / "long.mp4"
    return make_video(path, width=320, height=180, seconds=15.0, fps=12, audio=True)


def upscale(api: Api, asset_id: str) -> dict[str, Any]:
    response = api.create("videos/upscale", {"videoAssetId": asset_id})
    assert response.status_code == 200, response.text
    return response.json()


def report(stack: RayStack, scenario: str, tasks: list[dict[str, Any]], faults: int) -> None:
    """Record the figures of a fault test; a task is lost if it did not succeed."""
    finished = [stack.api.task(task["taskId"]) for task in tasks]
    lost = sum(1 for task in finished if task["status"] != "SUCCEEDED")
    duplicates = sum(max(0, stack.artifact_rows(task) - 1) for task in tasks) + sum(
        max(0, len(stack.stored_attempts(task)) - 1) for task in tasks
    )
    record(scenario, tasks_created=len(tasks), faults_injected=faults, tasks_lost=lost, duplicates=duplicates)


def test_operations_run_on_ray_actors_and_a_cancel_stops_one(
    ray_stack: RayStack, tiny_clip: Path, slow_clip: Path
) -> None:
    dispatcher = ray_stack.start_dispatcher()
    api = ray_stack.api
    # The API server runs no work itself: executor "ray" makes it API-only.
    assert ray_stack.server.app.state.executor is None
    health = httpx.get(f"{ray_stack.server.base_url}/health").json()
    assert (health["executor"], health["workers"]["slots"]) == ("ray", 0)
    [actor_pid] = dispatcher.actor_pids().values()

    # 1. Two operations, through HTTP, run by the dispatcher's actor into S3.
    asset = api.upload(tiny_clip, "video/mp4")["assetId"]
    tasks = [
        upscale(api, asset),
        api.create("gen3turbo/expand", {"videoAssetId": asset, "outpaint_aspect_ratio": "portrait"}).json(),
    ]
    for task in tasks:
        done = api.wait(task["taskId"], timeout=180)
        assert done["status"] == "SUCCEEDED", done["error"]
        [artifact] = done["artifacts"]
        assert artifact["url"].startswith(f"{ray_stack.seaweed.endpoint_url}/"), artifact["url"]
        assert ray_stack.stored_attempts(task) == {"1"}
        row = ray_stack.row(task)
        assert (row.attempt, row.failed_attempts, row.lease_owner) == (1, 0, None)

    # 2. A cancel through HTTP stops the running attempt on its actor, which stays and takes the next.
    slow = api.upload(slow_clip, "video/mp4")["assetId"]
    doomed = upscale(api, slow)
    api.wait_running_with_progress(doomed["taskId"], timeout=90)
    response = api.http.delete(f"/tasks/{doomed['taskId']}")
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"
    after = upscale(api, asset)
    assert api.wait(after["taskId"], timeout=120)["status"] == "SUCCEEDED"
    # Honoured in time: had the actor ignored the cancel, it would have been killed and replaced.
    assert dispatcher.actor_pids() == {"cpu-0": actor_pid}
    assert dispatcher.actor_starts() == 1
    assert api.task(doomed["taskId"])["status"] == "CANCELLED"
    assert ray_stack.stored_attempts(doomed) == set()
    assert ray_stack.used_credits() == ray_stack.charged([*tasks, after])


def test_gpu_slots_run_neural_tasks_and_cpu_slots_classic_ones(
    ray_stack: RayStack,
    make_server: Callable[..., Server],
    postgres_url: str,
    s3_settings: dict[str, Any],
    tiny_clip: Path,
    tmp_path: Path,
) -> None:
    from neural.sr_models import save_checkpoint, tiny_compact  # skips, visibly, without the extra

    checkpoint = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    neural = {"models": {"sr": {"engine": "spandrel", "path": str(checkpoint)}}, "neural_device": "cpu"}
    # API servers and dispatchers share one models configuration.
    server = make_server(
        database_url=postgres_url, executor="ray", secret_key=ray_stack.settings["secret_key"],
        **s3_settings, **neural,
    )  # fmt: skip
    api = server.new_user()
    api.create_account("gpu@example.com", max_jobs=5)
    dispatcher = ray_stack.start_dispatcher(cpu_slots=1, gpu_slots=1, **neural)
    asset = api.upload(tiny_clip, "video/mp4")["assetId"]
    # The neural task is the older: with any slot taking any task, the CPU slot (listed first) took it.
    tasks = {
        model: api.create("videos/upscale", {"videoAssetId": asset, "model": model}).json()
        for model in ("sr", "classic")
    }
    for model, task in tasks.items():
        done = api.wait(task["id"], timeout=180)
        assert done["status"] == "SUCCEEDED", done["error"]
        assert done["options"]["engine"] == ("spandrel:sr" if model == "sr" else "classic-upscale")
    assert dispatcher.slots_that_ran(tasks["sr"]["id"]) == ["gpu-0"]
    assert dispatcher.slots_that_ran(tasks["classic"]["id"]) == ["cpu-0"]


def test_a_killed_actor_reruns_its_task_once(ray_stack: RayStack, slow_clip: Path) -> None:
    dispatcher = ray_stack.start_dispatcher()
    api = ray_stack.api
    asset = api.upload(slow_clip, "video/mp4")["assetId"]
    task = upscale(api, asset)
    api.wait_running_with_progress(task["taskId"], timeout=90)

    [actor_pid] = dispatcher.actor_pids().values()
    os.kill(actor_pid, signal.SIGKILL)

    done = api.wait(task["taskId"], timeout=180)
    report(ray_stack, "ray: kill -9 an actor mid-task", [task], faults=1)
    assert done["status"] == "SUCCEEDED", done["error"]
    assert len(done["artifacts"]) == 1
    row = ray_stack.row(task)
    assert (row.attempt, row.failed_attempts) == (2, 1)
    assert ray_stack.artifact_rows(task) == 1
    assert ray_stack.stored_attempts(task) == {"2"}
    assert ray_stack.used_credits() == ray_stack.charged([task]) == 5
    # The dispatcher lived on, with a fresh actor in a new process.
    assert dispatcher.process is not None and dispatcher.process.poll() is None
    assert dispatcher.actor_starts() == 2
    assert dispatcher.actor_pids()["cpu-0"] != actor_pid
    assert "attempt 1 lost: its Ray actor's worker process died" in dispatcher.log_tail(200)
    # The fresh actor swept what the killed one was writing (its job and its S3 download).
    scratch = Path(ray_stack.settings["data_dir"]) / "scratch"
    assert [p for parent in ("jobs", "downloads") for p in (scratch / parent).glob("*")] == []


def test_a_killed_dispatcher_loses_and_duplicates_nothing(
    ray_stack: RayStack, tiny_clip: Path, slow_clip: Path
) -> None:
    first = ray_stack.start_dispatcher()
    api = ray_stack.api
    slow = api.upload(slow_clip, "video/mp4")["assetId"]
    quick = api.upload(tiny_clip, "video/mp4")["assetId"]
    tasks = [upscale(api, slow)]
    tasks += [upscale(api, quick) for _ in range(2)]
    api.wait_running_with_progress(tasks[0]["taskId"], timeout=90)

    [actor_pid] = first.actor_pids().values()
    first.kill()
    # Its actor was not detached: it dies with its owner instead of working on, unrecorded.
    assert wait_until_gone(actor_pid, timeout=30), "the dead dispatcher's actor lived on"

    ray_stack.start_dispatcher()
    finished = [api.wait(task["taskId"], timeout=240) for task in tasks]
    report(ray_stack, "ray: kill -9 the dispatcher mid-task", tasks, faults=1)
    assert [task["status"] for task in finished] == ["SUCCEEDED"] * 3, [t["error"] for t in finished]
    for task in tasks:
        assert ray_stack.artifact_rows(task) == 1
        assert len(ray_stack.stored_attempts(task)) == 1, ray_stack.stored_attempts(task)
    # The struck task's lease expired (one lost attempt); the others never started before the kill.
    struck = ray_stack.row(tasks[0])
    assert (struck.attempt, struck.failed_attempts) == (2, 1)
    assert ray_stack.used_credits() == ray_stack.charged(tasks)


def test_sigterm_hands_the_running_task_back_without_counting_an_attempt(
    ray_stack: RayStack, long_clip: Path
) -> None:
    first = ray_stack.start_dispatcher()
    api = ray_stack.api
    task = upscale(api, api.upload(long_clip, "video/mp4")["assetId"])
    api.wait_running_with_progress(task["taskId"], timeout=90)
    [actor_pid] = first.actor_pids().values()

    assert first.terminate(timeout=60) == 0, first.log_tail()
    assert wait_until_gone(actor_pid, timeout=30)
    assert api.task(task["taskId"])["status"] in ("PENDING", "THROTTLED")
    assert ray_stack.row(task).failed_attempts == 0

    ray_stack.start_dispatcher()
    done = api.wait(task["taskId"], timeout=180)
    assert done["status"] == "SUCCEEDED", done["error"]
    row = ray_stack.row(task)
    assert (row.attempt, row.failed_attempts) == (2, 0)
    assert ray_stack.stored_attempts(task) == {"2"}


def test_time_limit_kills_the_actor_and_fails_the_task(ray_stack: RayStack, slow_clip: Path) -> None:
    dispatcher = ray_stack.start_dispatcher(task_time_limit_seconds=1.5)
    api = ray_stack.api
    task = upscale(api, api.upload(slow_clip, "video/mp4")["assetId"])
    done = api.wait(task["taskId"], timeout=120)
    assert done["status"] == "FAILED"
    assert done["error"]["reason"] == "TIME_LIMIT"
    assert "exceeded the time limit of 1.5 seconds" in done["error"]["errorMessage"]
    assert ray_stack.used_credits() == 0
    assert ray_stack.stored_attempts(task) == set()
    # The overrunning actor was killed and the slot has a fresh one.
    deadline = time.monotonic() + 60
    while dispatcher.actor_starts() < 2:
        assert time.monotonic() < deadline, dispatcher.log_tail()
        time.sleep(0.1)
