"""Neural upscale with spandrel: tiny random checkpoints through the path a user's file takes.

End to end through HTTP (the worker loads the .safetensors/.pth with spandrel), plus the engine's
tiling, batching and cancellation on their own. CPU only, no downloads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sr_models import save_checkpoint, tiny_compact, tiny_esrgan
from sse_streams import Stream

from support import API, Api, Server
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError
from taxiway.engines.catalog import ENGINE_PACKAGES, choose
from taxiway.engines.neural.sr_upscale import SpandrelUpscale, convolutional
from taxiway.engines.registry import build_engine
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
        seen.append(float(task["progressRatio"]))  # videos/upscale: "0" … "1"
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


def test_a_running_neural_upscale_shows_a_live_preview(make_server: Any, tmp_path: Path) -> None:
    from mediafiles import make_video

    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, seconds=1.5, fps=24, audio=False)
    model = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    server = make_server(
        upscale_model=str(model),
        sr_batch_size=2,
        preview_interval_seconds=0.3,
        event_poll_interval_seconds=0.1,
    )
    api = _user(server)
    task_id = _submit(api, clip)
    stream = Stream(
        f"{server.base_url}{API}/tasks/{task_id}/events", {"Authorization": f"Bearer {api.token}"}
    )
    try:
        assert stream.ended.wait(120), stream.summary()
    finally:
        stream.close()
    running = [data for _, data in stream.events if data["status"] == "RUNNING" and data["previewUrls"]]
    assert running, stream.summary()
    assert stream.events[-1][1]["status"] == "SUCCEEDED" and stream.events[-1][1]["previewUrls"] == []
    links = {data["previewUrls"][0].split("?")[0] for data in running}
    assert all("/live/" in link for link in links)
    files = list((server.settings.data_dir / "blobs" / "artifacts").rglob("*"))
    assert not [path for path in files if "live" in path.parts], "the stills went with the task's end"


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
    assert error() == (f"The upscale model file does not exist: {model}.")
    # Not a checkpoint at all.
    model.write_bytes(b"this is not a model" * 10)
    message = error()
    assert message.startswith(f"The upscale model {model} could not be loaded")
    assert "could not be loaded" in message
    # A valid file, an architecture spandrel does not know.
    save_file({"mystery.weight": torch.zeros(3, 3)}, str(model))
    assert "architecture spandrel does not recognise" in error()
    # The worker is not stuck: a good file at the same path now works, without a restart.
    save_checkpoint(tiny_compact(), model)
    task = api.wait(_submit(api, small_clip))
    assert task["status"] == "SUCCEEDED", task["error"]


def test_the_engine_is_built_from_the_configured_checkpoint(tmp_path: Path) -> None:
    import torch

    model = save_checkpoint(tiny_esrgan(), tmp_path / "x2.safetensors")
    settings = Settings(upscale_model=str(model), neural_device="cpu")
    engine = build_engine(choose("upscale", settings), settings)
    assert isinstance(engine, SpandrelUpscale)
    assert (engine.name, engine.architecture, engine.scale, engine.device) == (
        "spandrel:x2.safetensors",
        "ESRGAN",
        2,
        "cpu",
    )
    # A convolutional network runs channels-last; a transformer (Linear layers) keeps its layout.
    assert engine.channels_last
    convolutions = [p for p in engine.model.model.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convolutions)
    assert not convolutional(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8, 8)))


def test_a_model_without_the_neural_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINE_PACKAGES, "spandrel", ("torch", "spandrel_is_not_installed"))
    settings = Settings(upscale_model="/models/x4.pth")
    with pytest.raises(EngineError) as failure:
        build_engine(choose("upscale", settings), settings)
    assert failure.value.reason == "ENGINE_UNAVAILABLE"
    assert str(failure.value) == (
        "Model 'x4.pth' needs spandrel_is_not_installed, which this worker does not have: "
        "install taxiway[neural] on it, or remove the model from the configuration."
    )


class _GpuOfLimitedMemory:
    """The loaded model, behind a GPU that runs out of memory above ``pixels`` input pixels a call."""

    def __init__(self, inner: Any, pixels: int) -> None:
        self.inner, self.pixels, self.refused = inner, pixels, 0
        self.model = inner.model  # what the engine reads the dtype from

    def __call__(self, images: Any) -> Any:
        import torch

        n, _, h, w = images.shape
        if n * h * w > self.pixels:
            self.refused += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner(images)


def test_running_out_of_gpu_memory_retries_smaller_and_remembers_what_fitted(tmp_path: Path) -> None:
    import numpy as np

    model = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    engine = SpandrelUpscale(model, device="cpu", batch_size=4, tile_size=0, tile_overlap=8)
    frames = np.random.default_rng(0).integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    expected = engine.upscale_batch(frames)
    # One 128×128 frame does not fit; a 64-pixel tile with its 8-pixel margins (at most 80×80) does.
    engine.model = limited = _GpuOfLimitedMemory(engine.model, pixels=80 * 80)
    result = engine.upscale_batch(frames)
    assert limited.refused == 3  # 4 frames, then 2, then 1 whole frame
    assert result.shape == expected.shape == (4, 512, 512, 3)
    assert np.abs(result.astype(int) - expected).max() <= 1  # tiles overlap: the same picture
    engine.upscale_batch(frames)  # the next batch of that size starts with what fitted
    assert limited.refused == 3
    # Nothing fits: a clear task error, not a crash. (100 px: no tile of at least MIN_TILE is smaller.)
    engine.model = _GpuOfLimitedMemory(engine.model.inner, pixels=16 * 16)
    with pytest.raises(EngineError) as failure:
        engine.upscale_batch(frames[:, :100, :100])
    assert failure.value.reason == "OUT_OF_MEMORY"
    assert str(failure.value) == (
        "The GPU ran out of memory upscaling one 100×100 frame whole with RealESRGAN Compact: "
        "free the GPU of other work, or use a smaller model."
    )


def test_a_compiled_model_gives_the_same_frames(tmp_path: Path) -> None:
    import numpy as np
    import torch

    checkpoint = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    models = {"sr": {"engine": "spandrel", "path": str(checkpoint), "compile": True}}
    settings = Settings(models=models, neural_device="cpu")
    compiled = build_engine(choose("upscale", settings), settings)
    plain = SpandrelUpscale(checkpoint, device="cpu")
    frames = np.random.default_rng(1).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    torch._dynamo.utils.counters.clear()
    compiled_frames = compiled.upscale_batch(frames)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it did run compiled
    assert np.abs(compiled_frames.astype(int) - plain.upscale_batch(frames)).max() <= 1


def _rgb_frames(path: Path) -> Any:
    import av
    import numpy as np

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_resizing_on_the_device_matches_lanczos_on_the_cpu(tmp_path: Path) -> None:
    """The GPU path resizes the model's output with torch before the copy back; same picture."""
    import numpy as np

    from mediafiles import make_video
    from taxiway.engines.base import EngineJob

    clip = make_video(tmp_path / "two-frames.mp4", width=64, height=48, seconds=2 / 12, fps=12, audio=False)
    checkpoint = save_checkpoint(tiny_compact(), tmp_path / "compact.safetensors")
    frames = {}
    for on_device in (False, True):
        engine = SpandrelUpscale(checkpoint, device="cpu", preset="ultrafast", resize_on_device=on_device)
        job = EngineJob(
            "upscale",
            {},
            video=clip,
            video_info=probe_file(clip, "video"),
            output_dir=tmp_path / f"on-device-{on_device}",
        )
        frames[on_device] = _rgb_frames(engine.run(job, lambda *_: None))
    width, height = four_k_class(64, 48)
    assert frames[True].shape == frames[False].shape == (2, height, width, 3)
    error = frames[True].astype(float) - frames[False]
    psnr = 10 * np.log10(255**2 / np.mean(error**2))
    assert psnr > 35, psnr  # bicubic (antialiased) vs Lanczos after x4, then the same encoder
    # What the model stage hands the encoder on a GPU: frames already at the output size.
    batch = np.zeros((2, 48, 64, 3), dtype=np.uint8)
    assert engine.upscale_batch(batch, size=(width, height)).shape == (2, height, width, 3)
