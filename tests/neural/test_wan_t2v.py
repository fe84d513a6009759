"""The wan engine: video to video with a plain Wan2.1 text-to-video folder (WanVideoToVideoPipeline).

A tiny random WanPipeline folder saved with save_pretrained, loaded through the user's path. The
pictures are noise; these tests check geometry, timing and sound against the contract, how
``structure_transformation`` sets the denoising steps, that the prompt is encoded once per task,
and that folders this engine cannot run are refused clearly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydantic
import pytest
from wan_models import save_tiny_wan_t2v, start_wan_server, wan_clip

from support import Server
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError, EngineJob
from taxiway.engines.catalog import choose
from taxiway.engines.neural.frame_plan import generation_size
from taxiway.engines.neural.wan import redraw_strength
from taxiway.engines.registry import build_engine
from taxiway.media.probe import probe_file

T2V = {"engine": "wan", "resolution": 64, "steps": 10, "max_frames": 17, "context_frames": 4}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wan-t2v")


@pytest.fixture(scope="module")
def model(folder: Path) -> Path:
    return save_tiny_wan_t2v(folder / "Wan-tiny-T2V")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    return wan_clip(folder / "clip.mp4")


@pytest.fixture(scope="module")
def server(folder: Path, model: Path) -> Iterator[Server]:
    server = start_wan_server(folder / "data", {"t2v": T2V | {"path": str(model)}})
    yield server
    server.stop()


def test_video_to_video_redraws_the_source_with_a_text_to_video_model(
    server: Server, clip: Path, tmp_path: Path
) -> None:
    api = server.new_user()
    api.create_account("t2v@example.com", max_jobs=2)
    asset = api.upload(clip, "video/mp4")["assetId"]
    body = {"assetId": asset, "text_prompt": "an oil painting", "structure_transformation": 6, "seed": 2}
    response = api.create("gen3turbo/video", body)
    assert response.status_code == 200, response.text
    assert (response.json()["options"]["engine"], response.json()["options"]["model"]) == ("wan:t2v", "t2v")
    task = api.wait(response.json()["taskId"])
    assert task["status"] == "SUCCEEDED", task["error"]
    out = tmp_path / "v2v.mp4"
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    info = probe_file(out, "video")
    assert (info.width, info.height) == generation_size(5, 3, 64) == (112, 64)
    assert info.frame_rate == 24 and abs(info.duration - 1.5) < 0.05 and info.has_audio
    # The other operations stay with their classic engines: this model only redraws.
    response = api.create("gen3/extend", {"assetId": asset, "model": "t2v"})
    assert response.status_code == 400
    assert "model 't2v' is not offered for extend" in response.json()["error"]


@pytest.mark.parametrize(
    ("guidance", "passes", "encodings"),
    [(5.0, 2, 2), (1.0, 1, 1)],  # guidance: with and without the prompt; 1 turns it off
    ids=["guided", "unguided"],
)
def test_structure_sets_the_steps_run_and_the_prompt_is_encoded_once(
    model: Path, clip: Path, tmp_path: Path, guidance: float, passes: int, encodings: int
) -> None:
    models = {"t2v": T2V | {"path": str(model), "guidance_scale": guidance}}
    settings = Settings(models=models, neural_device="cpu", x264_preset="ultrafast")
    engine = build_engine(choose("video_to_video", settings), settings)
    calls = {"transformer": 0, "text_encoder": 0}
    for name in calls:

        def count(*_: object, name: str = name) -> None:
            calls[name] += 1

        getattr(engine.pipe, name).register_forward_hook(count)
    texts: list[str] = []
    job = EngineJob(
        "video_to_video",
        {"text_prompt": "x", "structure_transformation": 4, "width": 112, "height": 64, "seed": 1},
        video=clip,
        video_info=probe_file(clip, "video"),
        output_dir=tmp_path / "out",
    )
    engine.run(job, lambda done, total, text=None: texts.append(text) if text else None)
    # 1.5 s at 16 fps = 24 frames: two 17-frame windows. Structure 4 of 10 runs 4 of the 10 steps.
    assert "24 frames at 16 fps, 2 window(s) × 4 steps" in texts[0]
    # The prompt (and the negative prompt, when guided) is encoded once for both windows.
    assert calls == {"transformer": 2 * 4 * passes, "text_encoder": encodings}


@pytest.mark.parametrize("steps", [1, 3, 7, 10, 49, 50, 200])
def test_redraw_strength_runs_structure_tenths_of_the_steps_and_at_least_one(steps: int) -> None:
    for tenths in range(0, 101):
        structure = tenths / 10
        expected = min(steps, max(1, round(steps * structure / 10)))
        strength = redraw_strength(structure, steps)
        # What diffusers' WanVideoToVideoPipeline.get_timesteps runs:
        assert min(int(steps * strength), steps) == expected, (structure, strength)
        assert 0 < strength <= 1


def _index(folder: Path, content: dict[str, object]) -> Path:
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps(content))
    return folder


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"_class_name": "WanVACEPipeline"},
            'holds a WanVACEPipeline pipeline (engine = "wan-vace" runs it); '
            "the wan engine runs WanPipeline or WanVideoToVideoPipeline folders.",
        ),
        (
            {"_class_name": "WanPipeline", "transformer_2": ["diffusers", "WanTransformer3DModel"]},
            "is a Wan2.2 model (A14B or TI2V-5B), which diffusers' WanVideoToVideoPipeline does not run; "
            "use a Wan2.1 T2V folder, or a VACE model.",
        ),
        (
            {"_class_name": "WanPipeline", "expand_timesteps": True},
            "is a Wan2.2 model (A14B or TI2V-5B)",
        ),
    ],
)
def test_folders_the_wan_engine_cannot_run_are_refused(
    content: dict[str, object], message: str, tmp_path: Path
) -> None:
    folder = _index(tmp_path / "other", content)
    settings = Settings(models={"t2v": T2V | {"path": str(folder)}}, neural_device="cpu")
    with pytest.raises(EngineError) as failure:
        build_engine(choose("video_to_video", settings), settings)
    assert failure.value.reason == "MODEL_UNUSABLE"
    assert f"The model folder {folder} {message}" in str(failure.value)


def test_a_wan_model_cannot_be_configured_for_other_operations() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"a wan model cannot do \['expand'\]"):
        Settings(models={"t2v": T2V | {"path": "x", "operations": ["expand"]}})
