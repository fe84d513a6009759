"""The spandrel model setting ``temporal_smoothing``: checked as configuration, off by default (the
output untouched), steadier output when on, no ghosting across a scene cut, and a run through the
engine. The smoother itself on synthetic frames: a moving texture whose "upscaled" frames carry
fresh noise each frame, as a GAN model's invented detail does. CPU only, a few seconds.
"""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sr_models import save_checkpoint, tiny_compact

from mediafiles import make_video
from taxiway.cli.startup import problems
from taxiway.core.model_config import SpandrelModel
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineJob
from taxiway.engines.catalog import choose
from taxiway.engines.neural import sr_upscale
from taxiway.engines.neural.sr_upscale import SpandrelUpscale
from taxiway.engines.neural.temporal import TemporalSmoother
from taxiway.engines.registry import build_engine
from taxiway.media.probe import probe_file

SCALE = 4
SOURCE = (48, 40)  # width, height of the "model input"
NOISE = 8.0  # levels of 255: each frame's invented detail, fresh every frame
STEP = 1  # source pixels the texture moves right per frame


def _texture(seed: int, width: int, height: int) -> np.ndarray:
    """A smooth random colour texture (trackable by optical flow), uint8 RGB."""
    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 6.0)
    low, high = blurred.min(), blurred.max()
    return np.round((blurred - low) / (high - low) * 220 + 18).astype(np.uint8)


def _scene(seed: int, frames: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per frame: the source (what the model sees), the true upscaled frame, and the "model's"
    output: the truth plus fresh noise. The texture moves STEP source pixels right per frame."""
    width, height = SOURCE
    big = _texture(seed, (width + STEP * frames) * SCALE, height * SCALE)
    rng = np.random.default_rng(seed + 100)
    scene = []
    for t in range(frames):
        left = (frames - t) * STEP * SCALE  # moving right: the window slides left over the texture
        truth = big[:, left : left + width * SCALE]
        source = cv2.resize(truth, SOURCE, interpolation=cv2.INTER_AREA)
        noisy = np.clip(truth + rng.normal(0, NOISE, truth.shape), 0, 255).round().astype(np.uint8)
        scene.append((source, truth, noisy))
    return scene


def _frame_to_frame_change(frames: list[np.ndarray]) -> float:
    """Mean |frame t - frame t-1 moved with the texture| away from the borders."""
    shift, margin = STEP * SCALE, 2 * SCALE
    changes = [
        np.abs(
            b[margin:-margin, shift + margin : -margin].astype(np.float32)
            - a[margin:-margin, margin : -margin - shift]
        )
        for a, b in pairwise(frames)
    ]
    return float(np.mean(changes))


def _error(frames: list[np.ndarray], truths: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(f.astype(np.float32) - t) for f, t in zip(frames, truths, strict=True)]))


# -- the setting ------------------------------------------------------------------------------------


def test_the_setting_is_off_by_default_and_out_of_range_values_are_configuration_errors() -> None:
    assert SpandrelModel(engine="spandrel", path=Path("x.pth")).temporal_smoothing == 0.0
    sr = {"engine": "spandrel", "path": "x.pth"}
    assert Settings(models={"sr": sr | {"temporal_smoothing": 0.9}}).models["sr"].temporal_smoothing == 0.9
    for value, says in [
        (0.95, "Input should be less than or equal to 0.9"),
        (-0.1, "Input should be greater than or equal to 0"),
        ("strong", "Input should be a valid number, unable to parse string as a number"),
    ]:
        with pytest.raises(ValueError) as failure:
            Settings(models={"sr": sr | {"temporal_smoothing": value}})
        # What `taxiway serve` prints for it, one line naming the setting.
        assert problems(failure.value) == [f"models.sr.spandrel.temporal_smoothing: {says}"]


def test_the_engine_refuses_an_out_of_range_strength_before_loading_the_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^temporal smoothing must be between 0 and 0.9, got 1.5$"):
        SpandrelUpscale(tmp_path / "not-loaded.pth", device="cpu", temporal_smoothing=1.5)


# -- the smoother on synthetic frames --------------------------------------------------------------


def test_smoothing_steadies_a_moving_texture_and_brings_it_closer_to_the_truth() -> None:
    scene = _scene(seed=1, frames=10)
    smoother = TemporalSmoother(0.7)
    steadied = [smoother(source, noisy) for source, _, noisy in scene]
    raw = [noisy for _, _, noisy in scene]
    truths = [truth for _, truth, _ in scene]
    assert steadied[0] is raw[0]  # nothing to blend with yet
    assert smoother.cuts == 0
    # The noise alone changes a still-tracked pixel by ~9 levels a frame; smoothing leaves much less.
    assert _frame_to_frame_change(steadied[3:]) < 0.6 * _frame_to_frame_change(raw[3:])
    # Blending along the right motion averages the noise out rather than smearing the texture.
    assert _error(steadied[3:], truths[3:]) < 0.75 * _error(raw[3:], truths[3:])


def test_a_scene_cut_passes_the_new_scene_through_unblended() -> None:
    first, second = _scene(seed=2, frames=5), _scene(seed=3, frames=5)
    smoother = TemporalSmoother(0.9)
    out = [smoother(source, noisy) for source, _, noisy in first + second]
    assert smoother.cuts == 1
    assert out[5] is second[0][2]  # the cut frame is the model's own
    # After it, the history holds the new scene only: blending with it brings the frames closer to
    # the new scene's truth, where any of the old scene would have pulled them far off.
    truths, raw = [truth for _, truth, _ in second[1:]], [noisy for _, _, noisy in second[1:]]
    assert _error(out[6:], truths) < _error(raw, truths)


def test_zero_strength_blends_nothing() -> None:
    smoother = TemporalSmoother(0.0)
    for source, _, noisy in _scene(seed=4, frames=3):
        assert smoother(source, noisy) is noisy


# -- through the engine ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("smooth") / "clip.mp4", width=64, height=48, seconds=0.5, fps=12
    )


def _run_recording(
    engine: SpandrelUpscale, clip: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> list[Any]:
    """Run ``engine`` on ``clip``; returns what its encode stage was handed, frame by frame."""
    handed: list[Any] = []
    encode = sr_upscale._Encoder.__call__

    def recording(self: Any, item: Any) -> None:
        handed.append(item)
        encode(self, item)

    monkeypatch.setattr(sr_upscale._Encoder, "__call__", recording)
    job = EngineJob("upscale", {}, video=clip, video_info=probe_file(clip, "video"), output_dir=out)
    engine.run(job, lambda *_: None)
    return handed


def _model_stage(engine: SpandrelUpscale, handed: list[Any]) -> np.ndarray:
    """The model stage's output for the frames the encoder was handed, in the engine's batches."""
    inputs, batch = np.stack([item.rgb for item in handed]), engine.batch_size
    return np.concatenate([engine.upscale_batch(inputs[i : i + batch]) for i in range(0, len(inputs), batch)])


def test_off_the_encoder_gets_the_models_output_untouched(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = SpandrelUpscale(save_checkpoint(tiny_compact(), tmp_path / "m.safetensors"), device="cpu")
    assert engine.temporal_smoothing == 0.0
    handed = _run_recording(engine, clip, tmp_path / "out", monkeypatch)
    assert len(handed) == 6
    # What the model stage makes of the same input, in the engine's batches, is what was encoded.
    assert np.array_equal(np.stack([item.pixels for item in handed]), _model_stage(engine, handed))


def test_a_configured_model_runs_smoothed_through_the_engine(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    save_checkpoint(tiny_compact(), tmp_path / "models" / "m.safetensors")
    settings = Settings(
        data_dir=tmp_path,
        neural_device="cpu",
        models={"sr": {"engine": "spandrel", "path": "m.safetensors", "temporal_smoothing": 0.5}},
    )
    engine = build_engine(choose("upscale", settings), settings)
    assert isinstance(engine, SpandrelUpscale) and engine.temporal_smoothing == 0.5
    handed = _run_recording(engine, clip, tmp_path / "out", monkeypatch)
    raw = _model_stage(engine, handed)
    smoothed = np.stack([item.pixels for item in handed])
    assert np.array_equal(smoothed[0], raw[0])  # the first frame has no history
    assert not np.array_equal(smoothed[1:], raw[1:])
    info = probe_file(tmp_path / "out" / "output.mp4", "video")
    assert (info.width, info.height, info.frame_count) == (4096, 3072, 6)


@pytest.mark.timeout(60)  # a stage that never hears of the failure waits forever
def test_a_smoothing_failure_fails_the_run_and_leaves_no_file(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = save_checkpoint(tiny_compact(), tmp_path / "m.safetensors")
    engine = SpandrelUpscale(checkpoint, device="cpu", temporal_smoothing=0.5)
    smooth = TemporalSmoother.__call__
    calls = [0]

    def failing(self: TemporalSmoother, source: np.ndarray, output: np.ndarray) -> np.ndarray:
        calls[0] += 1
        if calls[0] == 3:
            raise cv2.error("OpenCV(5.1.0) out of memory")
        return smooth(self, source, output)

    monkeypatch.setattr(TemporalSmoother, "__call__", failing)
    before = threading.active_count()
    out = tmp_path / "out"
    job = EngineJob("upscale", {}, video=clip, video_info=probe_file(clip, "video"), output_dir=out)
    with pytest.raises(cv2.error, match="out of memory"):
        engine.run(job, lambda *_: None)
    assert list(out.iterdir()) == []
    assert threading.active_count() == before
