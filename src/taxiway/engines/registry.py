"""Which engine runs each operation.

Engines are imported lazily, inside the worker process that runs them, so the API process
never loads media or model libraries it does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taxiway.core.settings import Settings
from taxiway.engines.base import Engine, EngineError


@dataclass(frozen=True)
class EngineSpec:
    name: str
    build: Callable[[Settings], Engine]


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


ENGINES: dict[str, EngineSpec] = {
    "upscale": EngineSpec("classic-upscale", _classic_upscale),
    "expand": EngineSpec("classic-expand", _classic_expand),
    "extend": EngineSpec("classic-extend", _classic_extend),
    "video_to_video": EngineSpec("classic-restyle", _classic_restyle),
}


def _neural_upscale(settings: Settings) -> Engine:
    try:
        from taxiway.engines.neural.sr_upscale import SpandrelUpscale
    except ImportError as exc:
        raise EngineError(
            f"upscale_model is set ({settings.upscale_model}) but the neural engines are not installed "
            f"on this worker ({exc}): install taxiway[neural], or clear upscale_model.",
            reason="ENGINE_UNAVAILABLE",
        ) from exc
    return SpandrelUpscale(
        settings.upscale_model,
        device=settings.neural_device,
        batch_size=settings.sr_batch_size,
        tile_size=settings.sr_tile_size,
        tile_overlap=settings.sr_tile_overlap,
        preset=settings.x264_preset,
        crf=settings.x264_crf,
    )


def neural_spec(operation: str, settings: Settings) -> EngineSpec | None:
    """The neural engine configured for ``operation``, if any (else the classic one runs)."""
    if operation == "upscale" and settings.upscale_model:
        # Named without loading anything: the API process never imports torch.
        return EngineSpec(f"spandrel:{Path(settings.upscale_model).name}"[:100], _neural_upscale)
    return None


def engine_spec(operation: str, settings: Settings) -> EngineSpec | None:
    return neural_spec(operation, settings) or ENGINES.get(operation)


def engine_name(operation: str, settings: Settings) -> str | None:
    """The name tasks show in ``options.engine``: the configured model's engine, else the classic one."""
    spec = engine_spec(operation, settings)
    return spec.name if spec else None


def build_engine(operation: str, settings: Settings) -> Engine:
    spec = engine_spec(operation, settings)
    if spec is None:
        raise EngineError(
            f"No engine is available for the {operation.replace('_', ' ')} operation on this server yet; "
            "the task was not run and its credits were refunded.",
            reason="ENGINE_UNAVAILABLE",
        )
    return spec.build(settings)
