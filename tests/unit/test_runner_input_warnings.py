"""What the worker does with an engine's input warnings: shown as progress text as they are met,
returned with the result (the task's options.input_warnings)."""

from __future__ import annotations

from pathlib import Path

from footage import build_case
from taxiway.blobs.factory import open_blob_store
from taxiway.core.settings import Settings
from taxiway.worker.contract import ClaimedTask, InputRef
from taxiway.worker.runner import JobRunner


def test_input_warnings_reach_the_progress_text_and_the_result(tmp_path: Path) -> None:
    source = build_case("avi-damaged", tmp_path / "corpus")
    settings = Settings(data_dir=tmp_path / "data", x264_preset="ultrafast")
    blobs = open_blob_store(settings)
    blobs.put_file("assets/damaged.avi", source)
    job = ClaimedTask(
        "t1",
        1,
        "expand",
        {"outpaint_aspect_ratio": "portrait"},
        {"video": InputRef("assets/damaged.avi", "video/x-msvideo", "video")},
    )
    texts: list[str] = []
    done = JobRunner(settings, blobs).run(
        job, lambda _, text, _preview: texts.append(text) if text else None, lambda: False
    )
    assert done.error is None and done.artifact is not None
    assert done.input_warnings == (
        "1 of the video's 60 packets could not be decoded (damaged data, first at 1.10 s); the picture "
        "before each is held over it.",
        "46 video frames were damaged and decoded with the damage patched over.",
        "The video's timestamps skip 2 frames in 2 places (first at 0.00 s); the picture before each gap "
        "is held over it.",
    )
    # The first sign of damage is shown while decoding goes on, then each summary.
    first = (
        "The video has damaged data at 1.10 s: what cannot be decoded is skipped and the picture before it"
    )
    assert f"{first} held." in texts
    assert all(warning in texts for warning in done.input_warnings)
