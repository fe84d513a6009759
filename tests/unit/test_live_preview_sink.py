"""The worker's side of live previews: offered frames become at most one still per interval, each
under a key of its own, the two latest kept; a still that cannot be stored costs the task nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from av.video.frame import VideoFrame

from taxiway.blobs.local import LocalBlobStore
from taxiway.worker.previews import LivePreviews

PREFIX = "artifacts/t/1/live"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _grey(level: int, width: int = 3840, height: int = 2160) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def test_one_still_per_interval_each_with_its_own_key_the_two_latest_kept(tmp_path: Path) -> None:
    blobs, clock = LocalBlobStore(tmp_path / "blobs"), Clock()
    previews = LivePreviews(blobs, PREFIX, tmp_path, interval=3.0, clock=clock)
    assert previews.key is None
    assert previews.offer(_grey(50)), "the first frame is taken at once"
    assert previews.key == f"{PREFIX}/0.jpg"
    clock.now += 2.9
    assert not previews.offer(_grey(90)) and previews.key == f"{PREFIX}/0.jpg"
    for number, level in enumerate((120, 200, 30), start=1):
        clock.now += 3.0
        assert previews.offer(_grey(level)) and previews.key == f"{PREFIX}/{number}.jpg"
    kept = sorted(path.name for path in (tmp_path / "blobs" / PREFIX).iterdir())
    assert kept == ["2.jpg", "3.jpg"]
    still = cv2.imread(str(tmp_path / "blobs" / PREFIX / "3.jpg"), cv2.IMREAD_GRAYSCALE)
    assert still.shape == (360, 640), "downsized: the longer side at most 640"
    assert abs(float(still.mean()) - 30) < 3
    assert not list(tmp_path.glob("live-preview-*")), "the scratch files were moved into the store"


def test_frames_of_any_kind_and_size(tmp_path: Path) -> None:
    blobs, clock = LocalBlobStore(tmp_path / "blobs"), Clock()
    previews = LivePreviews(blobs, PREFIX, tmp_path, interval=1.0, clock=clock)
    frame = VideoFrame.from_ndarray(_grey(180, 321, 181), format="rgb24").reformat(format="yuv420p")
    assert previews.offer(frame)
    clock.now += 1
    assert previews.offer(_grey(60, 100, 400))  # portrait, smaller than 640: not enlarged
    shapes = [
        cv2.imread(str(tmp_path / "blobs" / PREFIX / f"{n}.jpg"), cv2.IMREAD_GRAYSCALE).shape for n in (0, 1)
    ]
    assert shapes == [(180, 320), (400, 100)]


def test_an_interval_of_zero_takes_none(tmp_path: Path) -> None:
    previews = LivePreviews(LocalBlobStore(tmp_path / "blobs"), PREFIX, tmp_path, interval=0)
    assert not previews.offer(_grey(50)) and previews.key is None
    assert not (tmp_path / "blobs" / PREFIX).exists()


def test_a_still_that_cannot_be_stored_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class FullStore(LocalBlobStore):
        def put_file(self, key: str, source: Path) -> int:
            raise OSError(28, "No space left on device")

    clock = Clock()
    previews = LivePreviews(FullStore(tmp_path / "blobs"), PREFIX, tmp_path, interval=1.0, clock=clock)
    assert not previews.offer(_grey(50)) and previews.key is None
    assert "could not be stored" in caplog.text
