"""Wan VACE engines: a tiny random pipeline saved as a diffusers folder, configured as a model and
run through HTTP for expand, extend and video to video. CPU only, no downloads.

The tiny model's pictures are noise, so these tests check everything but beauty: geometry, length,
frame rate and audio against the contract, the source kept where it must be, seeds, progress,
cancellation and clear failures.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from wan_models import save_tiny_wan_vace, start_wan_server, wan_clip

from mediafiles import make_image, make_video
from support import Api, Server
from taxiway.blobs.factory import open_blob_store
from taxiway.core.model_config import WanVaceModel
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError, EngineJob
from taxiway.engines.catalog import choose
from taxiway.engines.neural.frame_plan import generation_size
from taxiway.engines.neural.wan_pipeline import Window, generate
from taxiway.engines.registry import build_engine
from taxiway.media.probe import probe_file
from taxiway.worker.contract import ClaimedTask, InputRef
from taxiway.worker.runner import JobRunner

# Generated frames 64 pixels on the short side; 17-frame windows so a few seconds need several.
TINY = {"engine": "wan-vace", "resolution": 64, "steps": 2, "max_frames": 17, "context_frames": 4}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wan")


@pytest.fixture(scope="module")
def model(folder: Path) -> Path:
    return save_tiny_wan_vace(folder / "Wan-tiny-VACE")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    return wan_clip(folder / "clip.mp4")


@pytest.fixture(scope="module")
def server(folder: Path, model: Path) -> Iterator[Server]:
    """One server for the module: its worker loads the model once for every test."""
    models = {
        "tiny": TINY | {"path": model.name},  # relative: found in models_dir
        # 200 steps in each 5-frame window: 10 s of source is 40 windows, 8000 steps, so a cancel
        # lands mid-run even when torch on a busy CPU slows the test's requests to seconds each.
        "slow": TINY
        | {
            "path": str(model),
            "steps": 200,
            "max_frames": 5,
            "context_frames": 1,
            "operations": ["video_to_video"],
        },
        "missing": TINY | {"path": str(folder / "nothing-here")},
    }
    server = start_wan_server(folder / "data", models, models_dir=folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> Api:
    api = server.new_user()
    api.create_account("wan@example.com", max_jobs=10)
    return api


@pytest.fixture(scope="module")
def asset(api: Api, clip: Path) -> str:
    return api.upload(clip, "video/mp4")["assetId"]


def _run(api: Api, path: str, body: dict[str, Any], out: Path) -> tuple[dict[str, Any], Path]:
    response = api.create(path, body)
    assert response.status_code == 200, response.text
    task = api.wait(response.json()["taskId"])
    assert task["status"] == "SUCCEEDED", task["error"]
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    return task, out


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]


def test_expand_keeps_the_source_and_generates_around_it(
    api: Api, asset: str, clip: Path, folder: Path, tmp_path: Path
) -> None:
    image = api.upload(make_image(folder / "guide.png", width=90, height=160), "image/png")["assetId"]
    body = {"videoAssetId": asset, "imageAssetId": image, "outpaint_aspect_ratio": "portrait", "seed": 7}
    task, out = _run(api, "gen3turbo/expand", body, tmp_path / "expand.mp4")
    assert (task["options"]["engine"], task["options"]["model"]) == ("wan-vace:tiny", "tiny")
    assert task["options"]["outpaint_aspect_ratio"] == "3:5"
    info = probe_file(out, "video")
    width, height = generation_size(3, 5, 64)  # portrait: 3:5, as the contract shows
    assert (info.width, info.height) == (width, height) == (64, 112)
    assert abs(info.duration - 1.5) < 0.05 and info.frame_rate == 24 and info.has_audio
    # The picture is the source's own pixels at its own rate; the rest is new.
    top = (height - 48) // 2
    source, output = _frames(clip), _frames(out)
    assert len(output) == len(source) == 36
    for k in (0, 17, 35):
        assert np.abs(output[k][top : top + 48] - source[k]).mean() < 6, k
    assert np.abs(output[5][:top] - 127).mean() > 3  # not left gray


def test_extend_appends_generated_seconds_after_the_untouched_source(
    api: Api, asset: str, clip: Path, tmp_path: Path
) -> None:
    task, out = _run(api, "gen3/extend", {"assetId": asset, "seconds": 5, "seed": 3}, tmp_path / "extend.mp4")
    assert task["options"]["engine"] == "wan-vace:tiny"
    info = probe_file(out, "video")
    assert (info.width, info.height, info.frame_rate) == (64, 48, 24)
    assert abs(info.duration - 6.5) < 0.05 and info.has_audio
    source, output = _frames(clip), _frames(out)
    assert len(output) == 36 + 120
    assert np.abs(output[35] - source[35]).mean() < 6
    # New frames: 16 distinct pictures a second, each held at the source's 24 fps (a repeat differs
    # from its original by the encoder's noise only).
    steps = [np.abs(a - b).mean() for a, b in itertools.pairwise(output[36:])]
    assert 75 <= sum(step > 2.0 for step in steps) <= 79  # 80 pictures, 79 changes


def test_video_to_video_redraws_at_the_models_size(api: Api, asset: str, tmp_path: Path) -> None:
    body = {"assetId": asset, "text_prompt": "a watercolor city", "seconds": 5, "structure_transformation": 4}
    task, out = _run(api, "gen3turbo/video", body | {"seed": 5}, tmp_path / "v2v.mp4")
    options = task["options"]
    assert "look" not in options and options["engine"] == "wan-vace:tiny"
    assert (options["width"], options["height"]) == generation_size(5, 3, 64) == (112, 64)
    info = probe_file(out, "video")
    assert (info.width, info.height, info.frame_rate) == (112, 64, 24)
    assert abs(info.duration - 1.5) < 0.05 and info.has_audio


def test_the_classic_engine_stays_one_field_away(api: Api, asset: str) -> None:
    response = api.create("gen3turbo/video", {"assetId": asset, "text_prompt": "noir", "model": "classic"})
    assert response.status_code == 200, response.text
    assert response.json()["options"]["engine"] == "classic-restyle"
    assert response.json()["options"]["look"] == "noir"
    assert api.wait(response.json()["taskId"])["status"] == "SUCCEEDED"
    response = api.create("gen3turbo/video", {"assetId": asset, "text_prompt": "x", "model": "x4plus"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "model 'x4plus' is not offered for video to video on this server; offered: tiny, slow, "
        "missing, classic (GET /v1/runwayml/engines lists them)",
        "code": 400,
    }


def test_a_cancel_stops_a_running_generation_at_the_next_step(server: Server, api: Api, folder: Path) -> None:
    clip = make_video(folder / "long.mp4", width=64, height=48, seconds=10, fps=24)
    body = {"assetId": api.upload(clip, "video/mp4")["assetId"], "text_prompt": "slowly", "model": "slow"}
    task_id = api.create("gen3turbo/video", body | {"seconds": 10}).json()["taskId"]
    api.wait_running_with_progress(task_id)  # denoising has begun
    task = api.task(task_id)
    assert "40 window(s) × 200 steps" in task["progressText"] and task["progressRatio"] < 0.9
    executor = server.app.state.executor
    workers = [slot.pid for slot in executor.slots]
    assert api.http.delete(f"/tasks/{task_id}").json()["status"] == "CANCELLED"
    started = time.monotonic()
    while executor.in_flight():
        assert time.monotonic() - started < 30, "the worker did not stop"
        time.sleep(0.05)
    # Stopped by itself at a step, not killed after the cancel grace: the same processes serve on.
    assert [slot.pid for slot in executor.slots] == workers
    assert api.task(task_id)["artifacts"] == []


def test_progress_counts_every_denoising_step_of_every_window(
    model: Path, clip: Path, tmp_path: Path
) -> None:
    models = {"m": TINY | {"path": str(model)}}
    settings = Settings(models=models, neural_device="cpu", x264_preset="ultrafast")
    engine = build_engine(choose("video_to_video", settings), settings)
    calls: list[tuple[float, float, str | None]] = []
    job = EngineJob(
        "video_to_video",
        {"text_prompt": "x", "width": 112, "height": 64, "seed": 1},
        video=clip,
        video_info=probe_file(clip, "video"),
        output_dir=tmp_path / "out",
    )
    engine.run(job, lambda done, total, text=None: calls.append((done, total, text)))
    # 1.5 s at 16 fps: 24 frames, two 17-frame windows sharing 4, 2 steps each.
    text, units = calls[0][2], calls[0][1]
    assert text is not None and "24 frames at 16 fps, 2 window(s) × 2 steps" in text
    assert [done for done, total, text in calls if total == units and text is None] == [1, 2, 3, 4]
    ratios = [done / total for done, total, _ in calls]
    assert ratios == sorted(ratios) and ratios[-1] == pytest.approx(0.97)  # the rest is the runner's


def test_each_decoded_window_is_offered_as_the_live_preview(model: Path, clip: Path, tmp_path: Path) -> None:
    settings = Settings(
        models={"m": TINY | {"path": str(model)}}, neural_device="cpu", x264_preset="ultrafast"
    )
    engine = build_engine(choose("video_to_video", settings), settings)
    events: list[Any] = []  # progress texts and offered frames, in order

    class Recording:
        def __call__(self, done: float, total: float, text: str | None = None) -> None:
            events.append(text)

        def preview(self, frame: Any) -> None:
            events.append(frame)

    params = {"text_prompt": "x", "width": 112, "height": 64, "seed": 1}
    job = EngineJob(
        "video_to_video",
        params,
        video=clip,
        video_info=probe_file(clip, "video"),
        output_dir=tmp_path / "out",
    )
    engine.run(job, Recording())
    encoding = next(n for n, event in enumerate(events) if isinstance(event, str) and event == "encoding")
    windows = [event for event in events[:encoding] if isinstance(event, np.ndarray)]
    # Two windows (see the test above): the last frame of each, as soon as it is decoded.
    assert [(window.shape, window.dtype) for window in windows] == [((64, 112, 3), np.uint8)] * 2
    assert any(isinstance(event, av.VideoFrame) for event in events[encoding:]), "then what it encodes"


def test_a_missing_model_folder_fails_the_task_clearly(api: Api, asset: str, folder: Path) -> None:
    response = api.create("gen3/extend", {"assetId": asset, "model": "missing"})
    task = api.wait(response.json()["taskId"])
    assert task["status"] == "FAILED"
    assert task["error"]["errorMessage"] == (
        f"No diffusers model folder at {folder / 'nothing-here'}: it has no model_index.json "
        "(download e.g. Wan-AI/Wan2.1-VACE-1.3B-diffusers there)."
    )


def test_a_folder_of_another_pipeline_is_refused(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "t2v"
    other.mkdir()
    (other / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    settings = Settings(models={"t2v": TINY | {"path": str(other)}}, neural_device="cpu")
    with pytest.raises(EngineError) as failure:
        build_engine(choose("expand", settings), settings)
    assert failure.value.reason == "MODEL_UNUSABLE"
    assert str(failure.value) == (
        f'The model folder {other} holds a WanPipeline pipeline (engine = "wan" runs it); '
        "the wan-vace engine runs WanVACEPipeline folders."
    )


def test_a_seed_reproduces_its_result_and_another_seed_changes_it(
    model: Path, clip: Path, tmp_path: Path
) -> None:
    settings = Settings(
        models={"tiny": TINY | {"path": str(model)}}, neural_device="cpu", x264_preset="ultrafast"
    )
    engine = build_engine(choose("video_to_video", settings), settings)
    info = probe_file(clip, "video")

    def run(seed: int, name: str) -> bytes:
        params = {"seed": seed, "text_prompt": "x", "width": 64, "height": 64, "output_seconds": 0.5}
        job = EngineJob("video_to_video", params, video=clip, video_info=info, output_dir=tmp_path / name)
        return engine.run(job, lambda *_: None).read_bytes()

    first = run(1, "a")
    assert run(1, "b") == first
    assert run(2, "c") != first


def test_a_worker_keeps_resident_models_up_to_its_limit(model: Path, clip: Path, tmp_path: Path) -> None:
    models = {name: TINY | {"path": str(model)} for name in ("a", "b")}
    settings = Settings(
        data_dir=tmp_path, models=models, resident_models=1, neural_device="cpu", x264_preset="ultrafast"
    )
    blobs = open_blob_store(settings)
    runner = JobRunner(settings, blobs)

    def run(operation: str, model_name: str, **params: Any) -> None:
        name = f"{model_name}-{operation}"
        key = f"assets/{name}.mp4"
        copy = tmp_path / "upload.mp4"
        copy.write_bytes(clip.read_bytes())
        blobs.put_file(key, copy)
        params |= {"model": model_name, "seed": 1, "output_seconds": 0.25}
        job = ClaimedTask(name, 1, operation, params, {"video": InputRef(key, "video/mp4", "video")})
        done = runner.run(job, lambda *_: None, lambda: False)
        assert done.error is None, done.error

    run("video_to_video", "a", text_prompt="x", width=64, height=64)
    run("expand", "a", outpaint_aspect_ratio="landscape")  # the same model: not loaded again
    assert runner.loaded == ["wan-vace:a"]
    run("expand", "classic", outpaint_aspect_ratio="portrait")  # classic engines hold no model: not counted
    run("video_to_video", "b", text_prompt="x", width=64, height=64)
    assert runner.loaded == ["classic-expand", "wan-vace:b"]


def test_a_wan22_two_transformer_folder_runs_both(clip: Path, tmp_path: Path) -> None:
    folder = save_tiny_wan_vace(tmp_path / "Wan2.2-tiny", two_stage=True)
    settings = Settings(
        models={"w22": TINY | {"path": str(folder)}}, neural_device="cpu", x264_preset="ultrafast"
    )
    engine = build_engine(choose("expand", settings), settings)
    calls: list[str] = []
    for name in ("transformer", "transformer_2"):
        module = getattr(engine.pipe, name)
        module.register_forward_hook(lambda *_, name=name: calls.append(name))
    job = EngineJob(
        "expand",
        {"seed": 1, "outpaint_aspect_ratio": "landscape", "output_seconds": 0.5},
        video=clip,
        video_info=probe_file(clip, "video"),
        output_dir=tmp_path / "out",
    )
    info = probe_file(engine.run(job, lambda *_: None), "video")
    assert (info.width, info.height) == generation_size(16, 9, 64)
    assert set(calls) == {"transformer", "transformer_2"}


def test_running_out_of_gpu_memory_is_a_clear_task_error() -> None:
    import torch  # after wan_models, which skips this module when torch is missing

    def pipe(**_: Any) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    window = Window(np.zeros((5, 32, 48, 3), np.uint8), np.ones((5, 32, 48), bool))
    config = WanVaceModel(engine="wan-vace", path=Path("wan"))
    with pytest.raises(EngineError) as failure:
        generate(pipe, window, config, {}, None, lambda _: None)
    assert failure.value.reason == "OUT_OF_MEMORY"
    assert str(failure.value) == (
        'The GPU ran out of memory generating 5 frames of 48×32: set cpu_offload = "model" and '
        "vae_tiling = true for this model, lower max_frames, or use 480p."
    )
