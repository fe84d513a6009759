"""What an engine is: input files + validated parameters + a progress callback -> one output file.

An engine knows nothing of HTTP, tenants or databases. It is constructed once per worker
process (so models stay resident) and `run` is called once per task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from av.video.frame import VideoFrame

from taxiway.media.input_warnings import InputWarnings
from taxiway.media.probe import MediaInfo


class StopRequested(Exception):
    """Raised by a progress callback when the task was cancelled; engines let it propagate."""


class EngineError(Exception):
    """A failure the user can understand (bad input discovered at run time, unsupported shape...).

    Its message becomes the task's error message verbatim.
    """

    def __init__(self, message: str, reason: str = "ENGINE_ERROR") -> None:
        super().__init__(message)
        self.reason = reason


class Progress(Protocol):
    """Called by an engine as work advances. Raises StopRequested when the task was cancelled."""

    def __call__(self, done: float, total: float, text: str | None = None) -> None: ...


# An output frame: a PyAV frame, or an H×W×3 uint8 RGB array.
Frame = VideoFrame | np.ndarray
PreviewHook = Callable[[Frame], None]


class PreviewingProgress(Progress, Protocol):
    """The progress a worker gives engines: it also takes output frames for the live preview."""

    def preview(self, frame: Frame) -> None:
        """Offer an output frame; cheap and never raising, so engines may offer every frame they
        write (one every few seconds is kept). The frame is read, not kept or changed."""
        ...


def preview_hook(progress: Progress) -> PreviewHook | None:
    """``progress.preview``, through which an engine offers its output frames as the running task's
    live preview; None for a plain progress function (engines' own tests pass those)."""
    hook: PreviewHook | None = getattr(progress, "preview", None)
    return hook


@dataclass(frozen=True)
class EngineJob:
    """One unit of work handed to an engine."""

    operation: str  # "upscale" | "video_to_video" | "expand" | "extend"
    params: dict[str, Any]  # validated parameters, e.g. seed, seconds, text_prompt
    video: Path | None = None
    video_info: MediaInfo | None = None
    image: Path | None = None
    image_info: MediaInfo | None = None
    output_dir: Path = field(default_factory=lambda: Path("."))
    # Hears what was wrong with the input and how it was handled (the task's options.input_warnings).
    warnings: InputWarnings = field(default_factory=InputWarnings)


class Engine(Protocol):
    """An engine turns an EngineJob into an output file inside job.output_dir."""

    name: str  # shown to users in the task's options.engine, e.g. "classic-upscale"

    def run(self, job: EngineJob, progress: Progress) -> Path: ...
