"""The SR engine's three stages (decode → model → encode) when one of them stops the run.

A tiny random checkpoint on the CPU, run directly (no server), so that the failure is the only
thing under test.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sr_models import save_checkpoint, tiny_compact

from mediafiles import make_video
from taxiway.engines.base import EngineJob, StopRequested
from taxiway.engines.neural.sr_upscale import SpandrelUpscale
from taxiway.media.encode import H264Writer
from taxiway.media.probe import probe_file


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("sr") / "clip.mp4", width=64, height=48, seconds=1.0, fps=12)


def _job(clip: Path, tmp_path: Path) -> EngineJob:
    return EngineJob("upscale", {}, video=clip, video_info=probe_file(clip, "video"), output_dir=tmp_path)


class _CountingModel:
    """The loaded model, counting its calls (one per tile)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.model, self.calls = inner, inner.model, 0

    def __call__(self, images: Any) -> Any:
        self.calls += 1
        return self.inner(images)


@pytest.mark.timeout(60)  # a model thread that never hears of the failure waits forever
@pytest.mark.parametrize("failing", [1, 12], ids=["first-frame", "last-frame"])
def test_an_encoder_failure_is_raised_on_the_model_thread_and_leaves_no_file(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    # The first frame's failure reaches the model while it still sends frames; the last one's only
    # after it has sent them all, while it waits for the encoder to finish.
    engine = SpandrelUpscale(save_checkpoint(tiny_compact(), tmp_path / "m.safetensors"), device="cpu")
    write = H264Writer.write
    written = [0]

    def full(self: H264Writer, frame: Any) -> None:
        written[0] += 1
        if written[0] == failing:
            raise OSError("No space left on device")
        write(self, frame)

    monkeypatch.setattr(H264Writer, "write", full)
    before = threading.active_count()
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        engine.run(_job(clip, out), lambda *_: None)
    assert written[0] == failing
    assert list(out.iterdir()) == []
    assert threading.active_count() == before


@pytest.mark.timeout(60)
def test_a_stop_requested_within_a_batch_stops_before_its_next_tile(clip: Path, tmp_path: Path) -> None:
    # 64×48 frames in 16-pixel tiles: 12 model calls per batch, each preceded by a progress call.
    checkpoint = save_checkpoint(tiny_compact(), tmp_path / "m.safetensors")
    engine = SpandrelUpscale(checkpoint, device="cpu", batch_size=4, tile_size=16, tile_overlap=0)
    engine.model = counting = _CountingModel(engine.model)
    calls: list[str | None] = []

    def progress(done: float, total: float, text: str | None = None) -> None:
        calls.append(text)
        if len(calls) == 2:  # the first call from inside the pipeline; the first is the start
            raise StopRequested()

    before = threading.active_count()
    out = tmp_path / "out"
    with pytest.raises(StopRequested):
        engine.run(_job(clip, out), progress)
    assert len(calls) == 2
    assert counting.calls < 12
    assert list(out.iterdir()) == []
    assert threading.active_count() == before
