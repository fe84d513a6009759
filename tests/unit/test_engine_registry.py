"""The catalog: every operation has a classic engine; configured models are offered, chosen and
named as the settings say; a model name that is not offered is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxiway.core.settings import Settings
from taxiway.engines.catalog import CLASSIC_ENGINES, UnknownModel, choose, offered, weights_problem
from taxiway.engines.registry import build_engine
from taxiway.tasks.operations import OPERATIONS

MODELS = {
    "sr": {"engine": "spandrel", "path": "x4.pth"},
    "wan": {"engine": "wan-vace", "path": "/opt/wan", "operations": ["expand", "extend"]},
    "wan-big": {"engine": "wan-vace", "path": "big"},
}


def test_without_models_every_operation_runs_its_classic_engine() -> None:
    for op in OPERATIONS.values():
        choice = choose(op.engine_operation, Settings())
        assert (choice.model, choice.neural) == ("classic", False)
        assert choice.engine == CLASSIC_ENGINES[op.engine_operation]


def test_classic_engines_build_and_carry_their_names() -> None:
    for operation, name in CLASSIC_ENGINES.items():
        assert build_engine(choose(operation, Settings()), Settings()).name == name


def test_models_are_offered_for_their_operations_first_listed_first(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models=MODELS)
    assert [c.model for c in offered("upscale", settings)] == ["sr", "classic"]
    assert [c.model for c in offered("expand", settings)] == ["wan", "wan-big", "classic"]
    assert [c.model for c in offered("video_to_video", settings)] == ["wan-big", "classic"]
    choice = choose("extend", settings)
    assert (choice.engine, choice.path) == ("wan-vace:wan", Path("/opt/wan"))
    # Relative paths are found in the models folder.
    assert choose("upscale", settings).path == tmp_path.resolve() / "models" / "x4.pth"
    assert choose("expand", settings, "wan-big").engine == "wan-vace:wan-big"
    assert choose("expand", settings, "classic").engine == "classic-expand"


def test_default_models_reorder_the_choice() -> None:
    settings = Settings(models=MODELS, default_models={"expand": "wan-big", "upscale": "classic"})
    assert choose("expand", Settings(models=MODELS)).model == "wan"
    assert choose("expand", settings).model == "wan-big"
    assert choose("upscale", settings).model == "classic"
    assert choose("upscale", settings, "sr").model == "sr"


def test_the_upscale_model_shorthand_is_a_model_named_after_its_file() -> None:
    settings = Settings(upscale_model="/models/RealESRGAN_x4plus.pth")
    choice = choose("upscale", settings)
    assert (choice.model, choice.engine) == ("RealESRGAN_x4plus.pth", "spandrel:RealESRGAN_x4plus.pth")
    assert choose("expand", settings).engine == "classic-expand"


def test_a_model_not_offered_for_the_operation_is_refused_with_the_list() -> None:
    settings = Settings(models=MODELS)
    with pytest.raises(UnknownModel) as failure:
        choose("video_to_video", settings, "wan")
    assert str(failure.value) == (
        "model 'wan' is not offered for video to video on this server; offered: wan-big, classic "
        "(GET /v1/runwayml/engines lists them)"
    )


@pytest.mark.parametrize(
    ("models", "defaults", "message"),
    [
        ({"classic": MODELS["sr"]}, {}, "model name 'classic'"),
        ({"a b": MODELS["sr"]}, {}, "model name 'a b'"),
        ({"sr": MODELS["sr"] | {"operations": ["expand"]}}, {}, "a spandrel model cannot do ['expand']"),
        ({"w": MODELS["wan"] | {"max_frames": 80}}, {}, "max_frames must be 4k+1"),
        (
            {"w": MODELS["wan"] | {"context_frames": 60, "max_frames": 61}},
            {},
            "context_frames (60) must leave room",
        ),
        ({"w": MODELS["wan"] | {"steps": "many"}}, {}, "steps"),
        ({}, {"expand": "nope"}, "default_models.expand names 'nope', which is not a configured model"),
        (MODELS, {"upscale": "wan"}, "default_models.upscale names 'wan', which does not serve upscale"),
        (MODELS, {"teleport": "wan"}, "default_models: unknown operation 'teleport'"),
    ],
)
def test_bad_model_configuration_is_a_startup_error(models: dict, defaults: dict, message: str) -> None:
    with pytest.raises(ValueError) as failure:
        Settings(models=models, default_models=defaults)
    assert message in str(failure.value)


def test_weights_problems_are_found_without_loading_anything(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, models=MODELS | {"here": {"engine": "wan-vace", "path": str(tmp_path)}}
    )
    assert (
        weights_problem(choose("upscale", settings))
        == f"no checkpoint file at {tmp_path.resolve()}/models/x4.pth"
    )
    assert (
        weights_problem(choose("expand", settings, "here"))
        == f"no diffusers folder (model_index.json) at {tmp_path}"
    )
    (tmp_path / "model_index.json").write_text("{}")
    assert weights_problem(choose("expand", settings, "here")) is None
    assert weights_problem(choose("expand", settings, "classic")) is None
