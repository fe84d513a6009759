"""The classic upscale engine: Lanczos resampling to a 4K-class size, H.264 re-encode.

Per frame: decode (FFmpeg frame threads) → rotate upright if needed → swscale Lanczos to
``four_k_class(display size)`` in yuv420p BT.709, all on a worker thread, then libx264 on the
calling thread plus x264's own threads. No per-pixel Python anywhere. Audio is carried along
(copied when AAC/MP3, else AAC). See :mod:`taxiway.media.encode` for the output format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxiway.engines.base import EngineError, EngineJob, Progress, preview_hook
from taxiway.engines.media_errors import reencoding
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET
from taxiway.media.geometry import four_k_class
from taxiway.media.pipeline import transcode_frames
from taxiway.media.probe import MediaInfo
from taxiway.media.scale import Scaler

OUTPUT_NAME = "output.mp4"


@dataclass(frozen=True)
class UpscaleTarget:
    """What every upscale engine derives first: the source, the contract's size, the output path."""

    info: MediaInfo
    width: int
    height: int
    total_frames: int  # an estimate, at least 1
    path: Path


def upscale_target(job: EngineJob) -> UpscaleTarget:
    """Check the job has a video and fix the 4K-class output size and file (its folder created)."""
    if job.video is None or job.video_info is None:
        raise EngineError("The upscale operation needs a video.", reason="BAD_INPUT")
    info = job.video_info
    width, height = four_k_class(info.width, info.height)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    return UpscaleTarget(info, width, height, max(1, info.frame_count or 1), job.output_dir / OUTPUT_NAME)


class ClassicUpscale:
    """Upscales ``job.video`` to the 4K-class size and writes ``job.output_dir / "output.mp4"``.

    ``preset``/``crf`` are libx264's. ``interpolation`` is the swscale filter (Lanczos by default);
    ``sharpen`` (0 = off) an optional unsharp mask after it.
    Cancellation: ``progress`` raising StopRequested stops the run within a frame or two; no
    ``output.mp4`` is left behind (work files are hidden ``.output.mp4.*`` names, removed on stop).
    """

    name = "classic-upscale"

    def __init__(
        self,
        *,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        interpolation: str = "lanczos",
        encoder_threads: int = 0,
        scaler_threads: int = 0,
        sharpen: float = 0.0,
    ) -> None:
        self.preset = preset
        self.crf = crf
        self.interpolation = interpolation
        self.encoder_threads = encoder_threads
        self.scaler_threads = scaler_threads
        self.sharpen = sharpen

    def run(self, job: EngineJob, progress: Progress) -> Path:
        """Upscale, reporting ``progress(frames_done, frames_total)``; returns the output path."""
        plan = upscale_target(job)
        info, width, height, total, target = plan.info, plan.width, plan.height, plan.total_frames, plan.path
        progress(0, total, f"upscaling {info.width}×{info.height} to {width}×{height}")

        def on_progress(done: int) -> None:
            # frame_count can be an estimate: never report more than 100 % while still working.
            progress(done, max(total, done + 1))

        scaler = Scaler(
            width, height, interpolation=self.interpolation, threads=self.scaler_threads, sharpen=self.sharpen
        )
        with reencoding(
            job.video,
            target,
            width=width,
            height=height,
            has_audio=info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            warnings=job.warnings,
        ) as (decoder, writer):
            done = transcode_frames(decoder, scaler, writer, on_progress, preview=preview_hook(progress))
            progress(done, max(total, done + 1), "finishing")
            writer.finish()
        progress(done, done)
        return target
