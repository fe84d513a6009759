"""How each engine is built, from the catalog's choice (see :mod:`taxiway.engines.catalog`).

Engines are imported lazily, inside the worker process that runs them, so the API process
never loads media or model libraries it does not need.
"""

from __future__ import annotations

from collections.abc import Callable

from taxiway.core.model_config import AnyWanModel, SpandrelModel
from taxiway.core.settings import Settings
from taxiway.engines.base import Engine, EngineError
from taxiway.engines.catalog import EngineChoice, missing_packages


def _classic_upscale(settings: Settings) -> Engine:
    from taxiway.engines.classic.upscale import ClassicUpscale

    return ClassicUpscale(
        preset=settings.x264_preset, crf=settings.x264_crf, sharpen=settings.upscale_sharpen
    )


def _classic_expand(settings: Settings) -> Engine:
    from taxiway.engines.classic.expand import ClassicExpand

    return ClassicExpand(preset=settings.x264_preset, crf=settings.x264_crf)


def _classic_extend(settings: Settings) -> Engine:
    from taxiway.engines.classic.extend import ClassicExtend

    return ClassicExtend(preset=settings.x264_preset, crf=settings.x264_crf)


def _classic_restyle(settings: Settings) -> Engine:
    from taxiway.engines.classic.restyle import ClassicRestyle

    return ClassicRestyle(preset=settings.x264_preset, crf=settings.x264_crf)


CLASSIC_BUILDERS: dict[str, Callable[[Settings], Engine]] = {
    "upscale": _classic_upscale,
    "expand": _classic_expand,
    "extend": _classic_extend,
    "video_to_video": _classic_restyle,
}


def _spandrel(choice: EngineChoice, settings: Settings) -> Engine:
    from taxiway.engines.neural.sr_upscale import SpandrelUpscale

    assert isinstance(choice.config, SpandrelModel) and choice.path is not None
    return SpandrelUpscale(
        choice.path,
        name=choice.engine,
        compile=choice.config.compile,
        temporal_smoothing=choice.config.temporal_smoothing,
        device=settings.neural_device,
        batch_size=settings.sr_batch_size,
        tile_size=settings.sr_tile_size,
        tile_overlap=settings.sr_tile_overlap,
        preset=settings.x264_preset,
        crf=settings.x264_crf,
    )


def _wan(choice: EngineChoice, settings: Settings) -> Engine:
    from taxiway.engines.neural.wan import WanEngine

    assert isinstance(choice.config, AnyWanModel) and choice.path is not None
    return WanEngine(
        choice.path,
        choice.config,
        name=choice.engine,
        device=settings.neural_device,
        preset=settings.x264_preset,
        crf=settings.x264_crf,
    )


def build_engine(choice: EngineChoice, settings: Settings) -> Engine:
    """Build (and, for a neural engine, load) the engine ``choice`` names. Raises EngineError."""
    if choice.config is None:
        return CLASSIC_BUILDERS[choice.operation](settings)
    missing = missing_packages(choice.config)
    if missing:
        raise EngineError(
            f"Model {choice.model!r} needs {', '.join(missing)}, which this worker does not have: "
            "install taxiway[neural] on it, or remove the model from the configuration.",
            reason="ENGINE_UNAVAILABLE",
        )
    if isinstance(choice.config, SpandrelModel):
        return _spandrel(choice, settings)
    return _wan(choice, settings)
