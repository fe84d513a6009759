"""Neural upscale with spandrel: tiny random checkpoints through the path a user's file takes.

End to end through HTTP (the worker loads the .safetensors/.pth with spandrel), plus the engine's
tiling, batching and cancellation on their own. CPU only, no downloads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sr_models import save_checkpoint, tiny_compact, tiny_esrgan

from support import Api, Server
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError, EngineJob, StopRequested
from taxiway.engines.neural.sr_upscale import SpandrelUpscale, upscale_tensor
from taxiway.engines.registry import build_engine, engine_name
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mediafiles import make_video

    return make_video(
        tmp_path_factory.mktemp("sr") / "small.mp4", width=64, height=48, seconds=0.5, fps=12, audio=True
    )


def _user(server: Server) -> Api:
    api = server.new_user()
    api.create_account("sr@example.com", max_jobs=10)
    return api


def _submit(api: Api, clip: Path) -> str:
    asset = api.upload(clip, "video/mp4")
    response = api.create("videos/upscale", {"videoAssetId": asset["assetId"]})
    assert response.status_code == 200, response.text
    return response.json()["taskId"]


@pytest.mark.parametrize(
    ("build", "filename"),
    [(tiny_compact, "compact-x4.safetensors"), (tiny_esrgan, "esrgan-x2.pth")],
    ids=["compact-safetensors", "esrgan-pth"],
)
def test_upscale_runs_the_configured_checkpoint(
    make_server: Any, small_clip: Path, tmp_path: Path, build: Any, filename: str
) -> None:
    model = save_checkpoint(build(), tmp_path / filename)
    # A 16-pixel tile forces the tiled path on the 64×48 clip; batches of 4 leave a partial last one.
    server = make_server(upscale_model=str(model), sr_tile_size=16, sr_batch_size=4)
    api = _user(server)
    task_id = _submit(api, small_clip)
    assert api.task(task_id)["options"]["engine"] == f"spandrel:{filename}"
    task = api.wait(task_id)
    assert task["status"] == "SUCCEEDED", task["error"]
    assert task["options"]["engine"] == f"spandrel:{filename}"
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    info = probe_file(out, "video")
    expected = four_k_class(64, 48)
    assert (info.width, info.height) == expected
    assert task["artifacts"][0]["metadata"]["dimensions"] == list(expected)
    assert abs(info.duration - 0.5) <= 1 / 12 + 1e-3
    assert info.frame_count == 6
    assert info.has_audio


def test_progress_advances_and_cancel_stops_the_worker(make_server: Any, tmp_path: Path) -> None:
    from mediafiles import make_video

    clip = make_video(tmp_path / "long.mp4", width=64, height=48, seconds=8.0, fps=24, audio=False)
    model = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    server = make_server(upscale_model=str(model), sr_batch_size=2)
    api = _user(server)
    task_id = _submit(api, clip)
    seen: list[float] = []
    deadline = time.monotonic() + 60
    while len({r for r in seen if r > 0}) < 2:
        task = api.task(task_id)
        assert task["status"] in ("PENDING", "RUNNING"), task
        if task["progressRatio"] is not None:
            seen.append(task["progressRatio"])
        assert time.monotonic() < deadline, f"no progress: {seen}"
        time.sleep(0.05)
    assert seen == sorted(seen) and 0 < seen[-1] < 1
    started = time.monotonic()
    response = api.http.delete(f"/tasks/{task_id}")
    assert response.json()["status"] == "CANCELLED"
    while server.app.state.executor.in_flight():
        assert time.monotonic() - started < 5, "the worker did not stop"
        time.sleep(0.05)
    assert api.task(task_id)["artifacts"] == []


def test_bad_checkpoints_fail_clearly_and_a_fixed_one_then_works(
    make_server: Any, small_clip: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    model = tmp_path / "model.safetensors"
    server = make_server(upscale_model=str(model))
    api = _user(server)

    def error() -> str:
        task = api.wait(_submit(api, small_clip))
        assert task["status"] == "FAILED", task
        return task["error"]["errorMessage"]

    # Missing: named with its setting.
    assert error() == (
        f"The upscale model file does not exist: {model} (setting upscale_model / TAXIWAY_UPSCALE_MODEL)."
    )
    # Not a checkpoint at all.
    model.write_bytes(b"this is not a model" * 10)
    message = error()
    assert message.startswith(f"The upscale model {model} (setting upscale_model")
    assert "could not be loaded" in message
    # A valid file, an architecture spandrel does not know.
    save_file({"mystery.weight": torch.zeros(3, 3)}, str(model))
    assert "architecture spandrel does not recognise" in error()
    # The worker is not stuck: a good file at the same path now works, without a restart.
    save_checkpoint(tiny_compact(), model)
    task = api.wait(_submit(api, small_clip))
    assert task["status"] == "SUCCEEDED", task["error"]


def test_registry_picks_the_engine_from_the_settings(tmp_path: Path) -> None:
    assert engine_name("upscale", Settings()) == "classic-upscale"
    model = save_checkpoint(tiny_esrgan(), tmp_path / "x2.safetensors")
    settings = Settings(upscale_model=str(model), neural_device="cpu")
    assert engine_name("upscale", settings) == "spandrel:x2.safetensors"
    assert engine_name("expand", settings) == "classic-expand"
    engine = build_engine("upscale", settings)
    assert isinstance(engine, SpandrelUpscale)
    assert (engine.name, engine.architecture, engine.scale, engine.device) == (
        "spandrel:x2.safetensors",
        "ESRGAN",
        2,
        "cpu",
    )


def test_a_model_without_the_neural_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "taxiway.engines.neural.sr_upscale", None)  # as if torch were missing
    with pytest.raises(EngineError) as failure:
        build_engine("upscale", Settings(upscale_model="/models/x4.pth"))
    assert failure.value.reason == "ENGINE_UNAVAILABLE"
    assert str(failure.value).startswith(
        "upscale_model is set (/models/x4.pth) but the neural engines are not installed on this worker"
    )
    assert str(failure.value).endswith(": install taxiway[neural], or clear upscale_model.")


# --- the engine on its own ------------------------------------------------------------------------


def test_tiled_output_matches_the_whole_frame() -> None:
    import torch

    model = tiny_compact().eval()
    images = torch.rand(2, 3, 37, 53)
    with torch.inference_mode():
        whole = upscale_tensor(model, images, scale=4)
        tiles: list[int] = []
        # 2 convs + head/tail: a 4-pixel receptive radius, so 8 pixels of overlap hide every seam.
        tiled = upscale_tensor(model, images, scale=4, tile=16, overlap=8, on_tile=lambda: tiles.append(1))
        seams = upscale_tensor(model, images, scale=4, tile=16, overlap=0)
    assert whole.shape == tiled.shape == (2, 3, 148, 212)
    assert len(tiles) == 3 * 4
    assert torch.allclose(whole, tiled, atol=1e-5)
    assert not torch.allclose(whole, seams, atol=1e-5)  # without overlap, tiles differ at their edges


def test_batches_and_tiles_do_not_change_the_pixels(tmp_path: Path) -> None:
    model = save_checkpoint(tiny_compact(), tmp_path / "c.safetensors")
    frames = np.random.default_rng(1).integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    plain = SpandrelUpscale(model, device="cpu", batch_size=1, tile_size=0)
    tiled = SpandrelUpscale(model, device="cpu", batch_size=3, tile_size=24, tile_overlap=8)
    one_by_one = np.concatenate([plain.upscale_batch(frames[i : i + 1]) for i in range(3)])
    together = tiled.upscale_batch(frames)
    assert together.shape == (3, 160, 224, 3) and together.dtype == np.uint8
    assert np.abs(one_by_one.astype(int) - together.astype(int)).max() <= 1


def test_cancel_inside_the_engine_stops_within_a_batch(small_clip: Path, tmp_path: Path) -> None:
    model = save_checkpoint(tiny_compact(), tmp_path / "c.safetensors")
    engine = SpandrelUpscale(model, device="cpu", batch_size=2, tile_size=16)
    out_dir = tmp_path / "out"
    calls: list[float] = []

    def progress(done: float, total: float, text: str | None = None) -> None:
        calls.append(done)
        if len(calls) == 3:  # the start, then the first tiles of the first batch
            raise StopRequested

    job = EngineJob(
        "upscale", {}, video=small_clip, video_info=probe_file(small_clip, "video"), output_dir=out_dir
    )
    with pytest.raises(StopRequested):
        engine.run(job, progress)
    assert len(calls) == 3
    assert list(out_dir.iterdir()) == []


def test_engine_reports_progress_to_the_end(small_clip: Path, tmp_path: Path) -> None:
    model = save_checkpoint(tiny_esrgan(), tmp_path / "e.pth")
    engine = SpandrelUpscale(model, device="cpu", batch_size=4)
    calls: list[tuple[float, float, str | None]] = []
    job = EngineJob(
        "upscale", {}, video=small_clip, video_info=probe_file(small_clip, "video"), output_dir=tmp_path
    )
    out = engine.run(job, lambda done, total, text=None: calls.append((done, total, text)))
    assert out == tmp_path / "output.mp4" and out.exists()
    assert calls[0][2] == "upscaling 64×48 with ESRGAN x2"
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and calls[-1][:2] == (6, 6)


def test_models_the_engine_cannot_use_are_refused(tmp_path: Path) -> None:
    import torch
    from spandrel.architectures.Compact import Compact

    gray = save_checkpoint(Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2), tmp_path / "g.pth")
    with pytest.raises(EngineError) as failure:
        SpandrelUpscale(gray, device="cpu")
    assert str(failure.value).endswith("takes 1 and gives 1 channels; only RGB (3 → 3) models are supported.")
    assert failure.value.reason == "MODEL_UNUSABLE"
    if not torch.cuda.is_available():
        rgb = save_checkpoint(tiny_compact(), tmp_path / "c.safetensors")
        with pytest.raises(EngineError) as failure:
            SpandrelUpscale(rgb, device="cuda")
        assert str(failure.value) == "neural_device is 'cuda' but torch sees no CUDA device on this worker."
