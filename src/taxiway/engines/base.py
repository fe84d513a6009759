"""What an engine is: input files + validated parameters + a progress callback -> one output file.

An engine knows nothing of HTTP, tenants or databases. It is constructed once per worker
process (so models stay resident) and `run` is called once per task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
