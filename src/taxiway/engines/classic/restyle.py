"""The classic restyle engine ("video to video"): a named look applied by classical image filters.

What it does, per request:

1. picks ONE look from the text prompt by keyword (:func:`taxiway.engines.classic.looks.resolve_look`:
   noir, sepia, cartoon, sketch, oil painting, watercolor, neon, warm, cool, night, or the default
   "cinematic" grade when no keyword is found). The rest of the prompt is ignored: this engine does
   not understand language, does not generate or replace content, cannot add or remove objects,
   and does not change motion or composition;
2. centre-crops every upright source frame to the output's aspect ratio (1280×768 landscape or
   768×1280 portrait as planned; the ``width``/``height`` params) and scales it there (swscale
   bicubic): a portrait source restyled to landscape loses its top and bottom, and small sources
   are upscaled without any detail being invented;
3. applies the look with ``structure_transformation`` (0…10) as its strength, a blend of a colour
   grade and the full stylization (see :mod:`taxiway.engines.classic.restyle_looks`): tone curves, tints,
   edge-preserving smoothing with fixed colour levels and ink lines (cartoon), colour-dodge pencil
   lines on paper (sketch), a Kuwahara filter with lit relief (oil painting), washes with darkened
   edges on paper (watercolor), glowing gradient edges (neon), blooms, vignettes, and seeded film
   grain above strength 5. 0 is subtle but visible, 3 clearly visible, 10 the full effect;
4. encodes H.264 (libx264, yuv420p, BT.709) at the source's frame rate and timestamps, stopping
   after ``output_seconds``; the source audio is carried along in sync and cut at the video's end.

Output is deterministic: filters are per-frame and deterministic; grain is seeded from ``seed``
and the frame index and textures from ``seed``, so the same input and params give the same bytes.

Limits: the "restyle" is a filter over the existing pixels. Nothing is recognised (faces, sky,
objects are treated like any other pixels), nothing is tracked across frames (no optical flow or
temporal smoothing: soft thresholds and fixed colour levels keep the style from flickering, but
a noisy source stays noisy), and only the vocabulary in :mod:`taxiway.engines.classic.looks` is
understood; ``seed`` changes only grain and paper/canvas textures.

Threads: decoding, crop + scale, the look and the conversion back to yuv420p run on one worker
thread (OpenCV and FFmpeg use their own thread pools inside), libx264 on the calling thread; see
:mod:`taxiway.media.pipeline`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from av.video.frame import VideoFrame

from taxiway.engines.base import EngineError, EngineJob, Progress, preview_hook
from taxiway.engines.classic.looks import LookChoice, resolve_look
from taxiway.engines.classic.restyle_looks import LookRenderer
from taxiway.engines.media_errors import reencoding
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET
from taxiway.media.pipeline import transcode_frames
from taxiway.media.rgb_frames import CropScaleRGB, RGBToVideoFrame

OUTPUT_NAME = "output.mp4"
# EngineError.reason for input that turns out to be undecodable part-way through.
REASON_BAD_PARAMS = "BAD_PARAMS"
# Output sizes when the plan gives none (the gen3turbo/video sizes).
DEFAULT_SIZES = {"landscape": (1280, 768), "portrait": (768, 1280)}
DEFAULT_STRENGTH = 3.0
MAX_SIDE = 4096


@dataclass(frozen=True)
class RestyleSettings:
    """The params of one run, validated: which look, how strong, what size, how long."""

    look: LookChoice
    strength: float  # 0…10
    width: int
    height: int
    seconds: Fraction | None  # stop after this much video; None: the whole source
    seed: int

    def describe(self) -> str:
        """The first progress text: which look (and why) at which strength."""
        text = f"{self.look.describe()} at strength {self.strength:g}/10"
        return f"applying {text}" if self.look.recognised else text


def read_settings(params: dict[str, Any]) -> RestyleSettings:
    """Validate the job's params (see the module doc); raises EngineError with what is wrong."""
    prompt = params.get("text_prompt") or ""
    if not isinstance(prompt, str):
        raise EngineError("text_prompt must be a string.", reason=REASON_BAD_PARAMS)
    strength = params.get("structure_transformation", DEFAULT_STRENGTH)
    if strength is None:
        strength = DEFAULT_STRENGTH
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 10:
        raise EngineError(
            f"structure_transformation must be a number from 0 to 10, got {strength!r}.",
            reason=REASON_BAD_PARAMS,
        )
    default_w, default_h = DEFAULT_SIZES.get(
        params.get("aspect_ratio") or "landscape", DEFAULT_SIZES["landscape"]
    )
    width, height = params.get("width") or default_w, params.get("height") or default_h
    if not (_even_side(width) and _even_side(height)):
        raise EngineError(
            f"The output size {width}×{height} cannot be encoded: width and height must be even "
            f"numbers from 2 to {MAX_SIDE}.",
            reason=REASON_BAD_PARAMS,
        )
    seconds = params.get("output_seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf
    ):
        raise EngineError(
            f"output_seconds must be a positive number of seconds, got {seconds!r}.", reason=REASON_BAD_PARAMS
        )
    seed = params.get("seed") or 0
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise EngineError(f"seed must be a non-negative integer, got {seed!r}.", reason=REASON_BAD_PARAMS)
    return RestyleSettings(
        look=resolve_look(prompt),
        strength=float(strength),
        width=width,
        height=height,
        seconds=Fraction(seconds).limit_denominator(1_000_000) if seconds is not None else None,
        seed=seed,
    )


def _even_side(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and 2 <= value <= MAX_SIDE and value % 2 == 0
    )


class ClassicRestyle:
    """Restyles ``job.video`` with the look its prompt names; writes ``job.output_dir / "output.mp4"``.

    ``preset``/``crf`` are libx264's; ``encoder_threads`` its thread count (0 = x264's default) and
    ``filter_threads`` the FFmpeg crop/scale/convert graphs' (0 = one per CPU). Cancellation:
    ``progress`` raising StopRequested stops the run within a frame or two and leaves no
    ``output.mp4`` (work files are hidden ``.output.mp4.*`` names, removed on stop).
    """

    name = "classic-restyle"

    def __init__(
        self,
        *,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        encoder_threads: int = 0,
        filter_threads: int = 0,
    ) -> None:
        self.preset = preset
        self.crf = crf
        self.encoder_threads = encoder_threads
        self.filter_threads = filter_threads

    def run(self, job: EngineJob, progress: Progress) -> Path:
        """Restyle, reporting ``progress(frames_done, frames_total, text)``; returns the output path."""
        if job.video is None or job.video_info is None:
            raise EngineError("The video to video operation needs a video.", reason="BAD_INPUT")
        settings = read_settings(job.params)
        info = job.video_info
        total = _expected_frames(info.frame_count, info.frame_rate, settings.seconds)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        target = job.output_dir / OUTPUT_NAME
        progress(0, total, settings.describe())

        def on_progress(done: int) -> None:
            # The expected count is an estimate: never report more than 100 % while still working.
            progress(done, max(total, done + 1))

        with reencoding(
            job.video,
            target,
            width=settings.width,
            height=settings.height,
            has_audio=info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            until=settings.seconds,
            warnings=job.warnings,
        ) as (decoder, writer):
            done = transcode_frames(
                decoder,
                _Restyler(settings, self.filter_threads),
                writer,
                on_progress,
                preview=preview_hook(progress),
            )
            progress(done, max(total, done + 1), "finishing")
            writer.finish()
        progress(done, done)
        return target


class _Restyler:
    """The per-frame work on the pipeline's worker thread: crop + scale → look → yuv420p.

    Frames arrive in order on one thread, so the frame counter (which seeds the grain) does not
    depend on thread timing.
    """

    def __init__(self, settings: RestyleSettings, threads: int) -> None:
        size = (settings.width, settings.height)
        self._crop_scale = CropScaleRGB(*size, threads=threads)
        self._look = LookRenderer(settings.look.name, settings.strength, *size, seed=settings.seed)
        self._to_frame = RGBToVideoFrame(*size, threads=threads)
        self._index = 0

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        styled = self._look(self._crop_scale(frame), self._index)
        self._index += 1
        return self._to_frame(styled, frame)


def _expected_frames(frame_count: int | None, frame_rate: float | None, seconds: Fraction | None) -> int:
    """Frames the output should have, for progress: the source's, capped by ``seconds``."""
    count = frame_count or 0
    if seconds is not None and frame_rate:
        capped = math.ceil(float(seconds) * float(frame_rate) - 1e-6)
        count = min(count, capped) if count else capped
    return max(1, count)
