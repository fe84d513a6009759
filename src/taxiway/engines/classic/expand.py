"""The classic expand (outpaint) engine: reframe a video to 5:3 or 3:5 (or 16:9, 9:16), filling the
new area.

What it does, per frame, with no per-pixel Python (swscale, OpenCV and NumPy on whole planes):

* canvas: the smallest 5:3 ("landscape") or 3:5 ("portrait") box (or 16:9, 9:16) holding the source
  at its own pixel size, scaled down with the picture if its long side would exceed 1920; a source
  already of the target ratio (within 1 %) keeps its size. See :mod:`taxiway.media.expand_layout`;
* picture: the decoded frame, converted (and scaled if the canvas was capped) to yuv420p BT.709 by
  swscale (Lanczos), centred on the canvas. Its pixels are kept as they are, except a feathered edge
  of a few pixels where it meets the fill, so there is no hard line;
* fill, without an image: the video itself, scaled to cover the canvas, heavily blurred (sigma
  1/32 of the canvas's long side), dimmed and desaturated, and averaged over time (0.4 s
  exponential moving average) so it does not flicker. With ``job.image``: that image scaled to cover
  the canvas and centre-cropped, static. See :mod:`taxiway.engines.classic.expand_fill`;
* output: H.264 via :class:`~taxiway.media.encode.H264Writer`, source frame rate and timestamps,
  source audio carried along in sync, cut after ``params["output_seconds"]``.

Limits, honestly: this is a classical engine. It invents nothing: the new area is a blur of the
picture (or the given image), not generated scenery, and a ``text_prompt`` cannot be followed (the
first progress text says so). ``seed`` changes nothing: the result is fully determined by the input.
Decoding and the per-frame work run on a worker thread, encoding on the calling thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from taxiway.engines.base import EngineError, EngineJob, Progress, preview_hook
from taxiway.engines.classic.expand_fill import SMOOTHING_S, Compositor, Planes, image_fill
from taxiway.engines.media_errors import REASON_UNDECODABLE, reencoding
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET
from taxiway.media.expand_layout import ExpandLayout, aspect_ratio, expand_layout
from taxiway.media.images import ImageError, load_image
from taxiway.media.pipeline import transcode_frames
from taxiway.media.scale import Scaler

OUTPUT_NAME = "output.mp4"
REASON_BAD_INPUT = "BAD_INPUT"


class ClassicExpand:
    """Expands ``job.video`` to ``params["outpaint_aspect_ratio"]`` into ``job.output_dir / "output.mp4"``.

    ``preset``/``crf`` are libx264's; ``smoothing_s`` is the fill's moving-average time constant (0
    turns the smoothing off). Cancellation: ``progress`` raising StopRequested stops the run within a
    frame or two and leaves no ``output.mp4`` (work files are hidden and removed).
    """

    name = "classic-expand"

    def __init__(
        self,
        *,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        smoothing_s: float = SMOOTHING_S,
        encoder_threads: int = 0,
    ) -> None:
        self.preset = preset
        self.crf = crf
        self.smoothing_s = smoothing_s
        self.encoder_threads = encoder_threads

    def run(self, job: EngineJob, progress: Progress) -> Path:
        """Expand, reporting ``progress(frames_done, frames_total)``; returns the output path."""
        if job.video is None or job.video_info is None:
            raise EngineError("The expand operation needs a video.", reason=REASON_BAD_INPUT)
        info = job.video_info
        try:
            aspect = aspect_ratio(job.params.get("outpaint_aspect_ratio"))
        except ValueError as exc:
            raise EngineError(f"{exc}.", reason=REASON_BAD_INPUT) from None
        seconds = _output_seconds(job.params)
        layout = expand_layout(info.width, info.height, aspect)
        image = self._load_image(job, layout) if job.image is not None else None
        total = _expected_frames(info.frame_count, info.frame_rate, seconds)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        target = job.output_dir / OUTPUT_NAME
        progress(0, total, _describe(info.width, info.height, aspect, layout, image is not None, job.params))

        def on_progress(done: int) -> None:
            # The frame count can be an estimate: never report 100 % while still working.
            progress(done, max(total, done + 1))

        # One swscale thread: the picture is at most 1920 wide and the encoder wants the other cores.
        scaler = Scaler(layout.picture_width, layout.picture_height, interpolation="lanczos", threads=1)
        compositor = Compositor(layout, image=image, smoothing_s=self.smoothing_s)
        with reencoding(
            job.video,
            target,
            width=layout.width,
            height=layout.height,
            has_audio=info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            until=seconds,
            warnings=job.warnings,
        ) as (decoder, writer):
            done = transcode_frames(
                decoder,
                lambda frame: compositor(scaler(frame)),
                writer,
                on_progress,
                preview=preview_hook(progress),
            )
            progress(done, max(total, done + 1), "finishing")
            writer.finish()
        try:
            progress(done, done)
        except BaseException:
            target.unlink(missing_ok=True)  # A stop after the file was complete leaves nothing.
            raise
        return target

    @staticmethod
    def _load_image(job: EngineJob, layout: ExpandLayout) -> Planes:
        """The guiding image (upright, first frame) as the canvas-sized fill."""
        assert job.image is not None
        try:
            return image_fill(load_image(job.image), layout.width, layout.height)
        except ImageError as exc:
            raise EngineError(
                f"The guiding image could not be decoded: {exc}.", reason=REASON_UNDECODABLE
            ) from exc


def _output_seconds(params: dict[str, Any]) -> float | None:
    """``params["output_seconds"]`` checked: a positive number, or None (the whole video)."""
    value = params.get("output_seconds")
    if value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise EngineError(
            f"output_seconds must be a positive number of seconds, not {value!r}.", reason=REASON_BAD_INPUT
        )
    return float(value)


def _expected_frames(frame_count: int | None, frame_rate: float | None, seconds: float | None) -> int:
    """The number of frames the output should have (for progress; the source's count may be an estimate)."""
    total = frame_count or 0
    if seconds is not None and frame_rate:
        wanted = round(seconds * frame_rate)
        total = min(total, wanted) if total else wanted
    return max(1, total)


def _describe(
    width: int, height: int, aspect: str, layout: ExpandLayout, with_image: bool, params: dict[str, Any]
) -> str:
    """The first progress text: what the engine is about to do, and that a prompt is not followed."""
    text = f"expanding {width}×{height} to {aspect} {layout.width}×{layout.height}"
    if not layout.has_fill:
        text += " (already this ratio: no new area)"
    else:
        text += ", new area filled with " + ("the guiding image" if with_image else "a blur of the video")
    if params.get("text_prompt"):
        text += "; the text prompt is not used (a classical engine cannot follow prompts)"
    return text
