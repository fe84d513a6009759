"""Which engine runs each operation.

Engines are imported lazily, inside the worker process that runs them, so the API process
never loads media or model libraries it does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


def engine_name(operation: str) -> str | None:
    spec = ENGINES.get(operation)
    return spec.name if spec else None


def build_engine(operation: str, settings: Settings) -> Engine:
    spec = ENGINES.get(operation)
    if spec is None:
        raise EngineError(
            f"No engine is available for the {operation.replace('_', ' ')} operation on this server yet; "
            "the task was not run and its credits were refunded.",
            reason="ENGINE_UNAVAILABLE",
        )
    return spec.build(settings)
