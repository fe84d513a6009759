"""The code inside a Ray actor, run in-process: results as data, polled progress, cancels in any order.

`SlotWorker` imports no Ray, so these run without a cluster; the dispatcher tests run it as an actor.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from mediafiles import make_video
from taxiway.blobs.factory import open_blob_store
from taxiway.core.settings import Settings
from taxiway.executors.ray.actor import SlotWorker
from taxiway.worker.contract import ClaimedTask, InputRef


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second of 160×90 (its 4K-class upscale takes a second or two)."""
    return make_video(
        tmp_path_factory.mktemp("worker-media") / "tiny.mp4", width=160, height=90, seconds=1.0, fps=12
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", x264_preset="ultrafast")


def upscale_job(settings: Settings, source: Path, task_id: str = "task-1", attempt: int = 1) -> ClaimedTask:
    key = f"assets/{task_id}/source.mp4"
    copy = settings.data_dir / f"upload-{task_id}-{attempt}.mp4"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)  # put_file moves its source into the store
    open_blob_store(settings).put_file(key, copy)
    return ClaimedTask(task_id, attempt, "upscale", {}, {"video": InputRef(key, "video/mp4", "video")})


def stored(settings: Settings, task_id: str) -> list[Path]:
    folder = settings.resolved_blob_dir / "artifacts" / task_id
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def test_run_returns_the_artifact_as_data_and_progress_is_polled(settings: Settings, tiny_clip: Path) -> None:
    worker = SlotWorker(settings.model_dump(mode="json"))
    job = upscale_job(settings, tiny_clip)
    snapshots = []
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(worker.run(job)))
    thread.start()
    while thread.is_alive():
        if (snapshot := worker.progress()) is not None:
            snapshots.append(snapshot)
        time.sleep(0.05)
    [done] = result
    assert done.artifact is not None and done.error is None  # type: ignore[attr-defined]
    assert stored(settings, "task-1") and all("/1/" in str(path) for path in stored(settings, "task-1"))
    assert snapshots, "no progress was seen while the task ran"
    assert [s.seq for s in snapshots] == sorted(s.seq for s in snapshots)
    assert all((s.task_id, s.attempt) == ("task-1", 1) for s in snapshots)
    assert worker.progress() is None  # nothing runs now
    assert worker.ready().pid > 0


def test_a_cancel_that_overtakes_its_run_still_stops_it(settings: Settings, tiny_clip: Path) -> None:
    # On a threaded actor, `cancel` may execute before `run` has started on its own thread.
    worker = SlotWorker(settings.model_dump(mode="json"))
    job = upscale_job(settings, tiny_clip)
    assert worker.cancel("task-1", 1) is False  # not running yet, but remembered
    done = worker.run(job)
    assert done.cancelled and done.artifact is None
    assert stored(settings, "task-1") == []
    # A cancel for another attempt does not stop the next one.
    again = worker.run(upscale_job(settings, tiny_clip, attempt=2))
    assert again.artifact is not None


def test_one_attempt_at_a_time(settings: Settings, clip: Path) -> None:
    worker = SlotWorker(settings.model_dump(mode="json"))
    job = upscale_job(settings, clip)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(worker.run(job)))
    thread.start()
    deadline = time.monotonic() + 60
    while worker.progress() is None:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    with pytest.raises(RuntimeError, match="slot worker busy"):
        worker.run(upscale_job(settings, clip, task_id="task-2"))
    assert worker.cancel("task-1", 1) is True
    thread.join(30)
    [done] = result
    assert done.cancelled  # type: ignore[attr-defined]


def test_actors_get_absolute_paths_and_no_database_or_signing_key(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from taxiway.executors.ray.executor import slot_specs
    from taxiway.worker.contract import worker_settings

    settings = Settings(
        data_dir=Path("relative-data"),
        database_url="postgresql+psycopg://u:secret@db/taxiway",
        secret_key="k" * 32,
        ray_cpu_slots=2,
        ray_gpu_slots=1,
        ray_cpus_per_slot=4,
    )
    data = worker_settings(settings)
    assert Path(data["data_dir"]).is_absolute()
    assert data["database_url"] == "" and data["secret_key"] == ""
    assert Settings(**data).x264_preset == settings.x264_preset
    specs = slot_specs(settings)
    assert [(s.name, s.num_cpus, s.num_gpus) for s in specs] == [
        ("cpu-0", 4, 0),
        ("cpu-1", 4, 0),
        ("gpu-0", 4, 1),
    ]
    options = specs[2].actor_options()
    assert (options["max_restarts"], options["max_task_retries"], options["num_gpus"]) == (0, 0, 1)
    assert options["max_concurrency"] >= 2
