"""The worker runs the engine admission chose: a worker whose configuration would build another
engine for the task's model fails the attempt, saying so, instead of running something else."""

from __future__ import annotations

from pathlib import Path

from mediafiles import make_video
from taxiway.blobs.factory import open_blob_store
from taxiway.core.settings import Settings
from taxiway.worker.contract import ClaimedTask, InputRef
from taxiway.worker.runner import JobRunner


def _job(engine: str | None) -> ClaimedTask:
    video = {"video": InputRef("assets/clip.mp4", "video/mp4", "video")}
    return ClaimedTask("t1", 1, "video_to_video", {"model": "classic", "text_prompt": "noir"}, video, engine)


def test_the_engine_admission_chose_runs_and_another_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", x264_preset="ultrafast")
    blobs = open_blob_store(settings)
    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, seconds=0.5, fps=12)
    blobs.put_file("assets/clip.mp4", clip)
    runner = JobRunner(settings, blobs)

    done = runner.run(_job("classic-restyle"), lambda *_: None, lambda: False)
    assert done.error is None and done.artifact is not None

    done = runner.run(_job("wan-vace:classic"), lambda *_: None, lambda: False)
    assert done.artifact is None and done.reason == "ENGINE_UNAVAILABLE"
    assert done.error == (
        "This worker's model 'classic' is classic-restyle, but the task was admitted for "
        "wan-vace:classic: the API servers and workers must share one models configuration."
    )
