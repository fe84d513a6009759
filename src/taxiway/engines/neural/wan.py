"""Wan diffusion engines: expand, extend and video to video with a Wan VACE model (engine
``wan-vace``, diffusers' WanVACEPipeline), and video to video with a plain Wan2.1 text-to-video
model (engine ``wan``, diffusers' WanVideoToVideoPipeline). One class runs both: they share the
loader, the sampling onto the model's clock, the windows and the encoding.

VACE generates a clip from a conditioning video and a mask: where the mask is black the frames are
kept (the model sees them), where it is white they are generated. Each operation is a way of
building that conditioning, frame by frame, on the model's own clock (``fps``, 16 for Wan):

* expand: the source, scaled to fit the new canvas (16:9 or 9:16 at the model's resolution) and
  centred on gray; the mask is white around it. A guiding image becomes frame 0, kept whole.
  Output: each source frame, at its own rate and pixels, pasted over the generated canvas of its
  time, so the picture stays the user's while the surround is new.
* extend: the last ``context_frames`` of the source (kept) followed by the new seconds (all white).
  Output: the source as it was, then the new frames scaled to the source's size.
* video to video: the source, centre-cropped to the planned 5:3 or 3:5 size, as a control video
  under an all-white mask: the model redraws everything, following the source's structure by
  ``conditioning_scale = 1 - structure_transformation / 10`` (0 keeps the structure most, 10
  ignores the source: text to video). The plain Wan model instead re-noises the source and runs
  the last ``structure_transformation / 10`` of its denoising schedule (SDEdit; at least one step):
  low values keep the source's pictures, high ones keep little but its layout.

Clips longer than ``max_frames`` (81 = 5 s at 16 fps) are generated in windows, each starting on
the last ``context_frames`` frames the previous window generated, kept (plain Wan, which cannot
keep frames, cross-fades those frames between the two windows instead); see
:mod:`~taxiway.engines.neural.frame_plan`. Outputs keep the source's frame rate: generated
pictures change ``fps`` times a second and are held in between (no blending). ``seed`` seeds one
CPU ``torch.Generator`` for the whole task, so a seed reproduces a result on any device.
Progress counts denoising steps over all windows; a cancel stops at the next step. Each window's
last frame, once decoded, is offered as the running task's live preview (no latent previews).
"""

from __future__ import annotations

import gc
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from av.video.frame import VideoFrame

from taxiway.core.model_config import AnyWanModel
from taxiway.engines.base import EngineError, EngineJob, Progress, preview_hook
from taxiway.engines.media_errors import REASON_UNDECODABLE, reencoding, undecodable_input_errors
from taxiway.engines.neural.devices import pick_device
from taxiway.engines.neural.frame_plan import (
    frame_count,
    generation_size,
    held_index,
    nearest_multiple,
    sample_at_rate,
    windows,
)
from taxiway.engines.neural.wan_pipeline import Window, encode_prompt, generate, load_pipeline
from taxiway.media.decode import VideoDecoder, copy_timing
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET
from taxiway.media.expand_layout import ASPECTS, aspect_ratio
from taxiway.media.geometry import nearest_even
from taxiway.media.images import ImageError, load_image
from taxiway.media.pipeline import REPORT_EVERY_FRAMES, transcode_frames
from taxiway.media.rgb_frames import CropScaleRGB, RGBToVideoFrame
from taxiway.media.scale import Scaler
from taxiway.media.timeline import continuation_ticks

log = logging.getLogger(__name__)

OUTPUT_NAME = "output.mp4"
# Progress: generation fills the bar up to here, encoding the output the rest.
ENCODING = 0.97
GRAY = 127  # VACE's "unknown" value: what generated areas start from


@dataclass
class Timeline:
    """The conditioning of a whole task: frames (T×H×W×3 uint8) and where to generate (T×H×W)."""

    video: np.ndarray
    mask: np.ndarray | None  # True = generate; None: plain Wan redraws every frame


class WanEngine:
    """Runs the operations its model serves with the Wan model in ``path``, loaded once here."""

    def __init__(
        self,
        path: Path,
        config: AnyWanModel,
        *,
        name: str,
        device: str = "auto",
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        encoder_threads: int = 0,
    ) -> None:
        self.name = name
        self.config = config
        self.device = pick_device(device)
        self.pipe = load_pipeline(path, config, self.device)
        self.preset = preset
        self.crf = crf
        self.encoder_threads = encoder_threads
        log.info("loaded %s (%s) on %s", name, path, self.device)

    def close(self) -> None:
        """Free the model's memory (the worker is making room for another model)."""
        import torch

        self.pipe = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def run(self, job: EngineJob, progress: Progress) -> Path:
        if job.video is None or job.video_info is None:
            raise EngineError(f"The {job.operation} operation needs a video.", reason="BAD_INPUT")
        if job.operation not in self.config.serves():
            raise EngineError(
                f"Model {self.name} does not do {job.operation.replace('_', ' ')}.",
                reason="ENGINE_UNAVAILABLE",
            )
        job.output_dir.mkdir(parents=True, exist_ok=True)
        match job.operation:
            case "expand":
                return self._expand(job, progress)
            case "extend":
                return self._extend(job, progress)
            case "video_to_video":
                return self._video_to_video(job, progress)
        raise EngineError(f"The Wan engines cannot do {job.operation}.", reason="ENGINE_UNAVAILABLE")

    # -- the operations ---------------------------------------------------------------------------

    def _expand(self, job: EngineJob, progress: Progress) -> Path:
        assert job.video is not None and job.video_info is not None
        info, fps = job.video_info, self.config.fps
        try:
            ratio = aspect_ratio(job.params.get("outpaint_aspect_ratio"))
        except ValueError as exc:
            raise EngineError(f"{exc}.", reason="INVALID_INPUT") from None
        shape = ASPECTS[ratio]
        width, height = generation_size(shape.numerator, shape.denominator, self.config.resolution)
        scale = min(width / info.width, height / info.height)
        pw, ph = min(width, nearest_even(info.width * scale)), min(height, nearest_even(info.height * scale))
        x, y = (width - pw) // 2 & ~1, (height - ph) // 2 & ~1
        seconds = _seconds(job.params.get("output_seconds"), info.duration)
        count = frame_count(seconds, fps)
        video = np.full((count, height, width, 3), GRAY, np.uint8)
        for j, picture in enumerate(_sampled(job, CropScaleRGB(pw, ph), fps, count, seconds)):
            video[j, y : y + ph, x : x + pw] = picture
        new_area = np.ones((height, width), bool)
        new_area[y : y + ph, x : x + pw] = False
        mask = np.broadcast_to(new_area, (count, height, width)).copy()
        if job.image is not None:  # "used as the video's first frame": kept whole
            video[0] = _guide_image(job.image, width, height)
            mask[0] = False
        text = f"expanding {info.width}×{info.height} to {ratio} {width}×{height} with {self.name}"
        if new_area.any():
            generated = self._generate(Timeline(video, mask), job.params, progress, text)
        else:  # already this aspect ratio at this size: nothing to generate
            progress(ENCODING, 1, f"{text}: already {ratio}, nothing to generate")
            generated = video

        picture = CropScaleRGB(pw, ph)

        def composite(frame: VideoFrame) -> np.ndarray:
            canvas = generated[held_index(_time(frame), fps, count)].copy()
            canvas[y : y + ph, x : x + pw] = picture(frame)
            return canvas

        return self._encode_per_source_frame(job, width, height, seconds, composite, progress)

    def _video_to_video(self, job: EngineJob, progress: Progress) -> Path:
        assert job.video is not None and job.video_info is not None
        info, fps = job.video_info, self.config.fps
        width = nearest_multiple(job.params.get("width") or 800)
        height = nearest_multiple(job.params.get("height") or 480)
        seconds = _seconds(job.params.get("output_seconds"), info.duration)
        count = frame_count(seconds, fps)
        video = np.stack(list(_sampled(job, CropScaleRGB(width, height), fps, count, seconds)))
        structure = float(job.params.get("structure_transformation", 3))
        text = f"redrawing {info.width}×{info.height} as {width}×{height} with {self.name}"
        if self.config.engine == "wan":
            strength = redraw_strength(structure, self.config.steps)
            generated = self._generate(Timeline(video, None), job.params, progress, text, strength=strength)
        else:
            mask = np.ones(video.shape[:3], bool)
            generated = self._generate(
                Timeline(video, mask), job.params, progress, text, conditioning_scale=1 - structure / 10
            )

        def redrawn(frame: VideoFrame) -> np.ndarray:
            return generated[held_index(_time(frame), fps, count)]

        return self._encode_per_source_frame(job, width, height, seconds, redrawn, progress)

    def _extend(self, job: EngineJob, progress: Progress) -> Path:
        assert job.video is not None and job.video_info is not None
        info, fps, context = job.video_info, self.config.fps, self.config.context_frames
        seconds = float(job.params["extend_seconds"])
        out_w, out_h = nearest_even(info.width), nearest_even(info.height)
        width, height = generation_size(info.width, info.height, self.config.resolution)
        new = frame_count(seconds, fps)
        target = job.output_dir / OUTPUT_NAME
        progress(
            0,
            1,
            f"extending {info.width}×{info.height} by {seconds:g} s with {self.name}: re-encoding the source",
        )
        to_model = CropScaleRGB(width, height)
        to_output = Scaler(out_w, out_h)
        with self._reencoding(job, target, out_w, out_h, pad_audio=True) as (decoder, writer):
            # The source as it is; its last second stays in memory for the context frames.
            tail: deque[VideoFrame] = deque(
                maxlen=max(2, round(context / fps * float(decoder.frame_rate)) + 2)
            )

            def keep(frame: VideoFrame) -> VideoFrame:  # runs on the decode thread
                tail.append(frame)
                return to_output(frame)

            transcode_frames(decoder, keep, writer, lambda _: progress(0, 1))
            writer.end_audio_source()  # The source's sound ends with its pictures; silence follows.
            video = np.full((context + new, height, width, 3), GRAY, np.uint8)
            video[:context] = _last_frames(tail, to_model, fps, context)
            mask = np.ones(video.shape[:3], bool)
            mask[:context] = False
            text = (
                f"extending {info.width}×{info.height} by {seconds:g} s with {self.name} at {width}×{height}"
            )
            generated = self._generate(Timeline(video, mask), job.params, progress, text)[context:]

            rate = decoder.frame_rate
            count = max(1, round(seconds * rate))
            start, ticks = continuation_ticks(
                tail[-1], rate, decoder.time_base, decoder.frame_duration, count
            )
            for k in range(count):
                if k % REPORT_EVERY_FRAMES == 0:
                    progress(ENCODING, 1)
                picture = generated[held_index(k / float(rate), fps, new)]
                frame = VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                frame.pts, frame.duration = start + ticks[k], ticks[k + 1] - ticks[k]
                frame.time_base = decoder.time_base
                scaled = to_output(frame)
                copy_timing(frame, scaled)
                writer.write(scaled)
            writer.finish()
        return target

    # -- shared steps ---------------------------------------------------------------------------

    def _generate(
        self,
        timeline: Timeline,
        params: dict[str, Any],
        progress: Progress,
        text: str,
        *,
        conditioning_scale: float = 1.0,
        strength: float = 1.0,
    ) -> np.ndarray:
        """Generate the whole timeline window by window; returns T×H×W×3 uint8 frames.

        Windows overlap by ``context_frames``. With a mask (VACE) a window starts on the frames the
        one before generated, kept as they are; without one (plain Wan) each window redraws its own
        frames and the overlap cross-fades from the earlier window to the later.
        """
        import torch

        total, context = len(timeline.video), self.config.context_frames
        spans = windows(total, self.config.max_frames, context)
        # Plain Wan runs the last `strength` share of the schedule (img2img); VACE runs all of it.
        steps = self.config.steps if timeline.mask is not None else int(self.config.steps * strength)
        units = len(spans) * steps / ENCODING  # the rest: encoding the output
        progress(
            0,
            units,
            f"{text}: {total} frames at {self.config.fps} fps, {len(spans)} window(s) × {steps} steps",
        )
        preview = preview_hook(progress)
        generator = torch.Generator("cpu").manual_seed(int(params.get("seed") or 0))
        prompt = encode_prompt(self.pipe, params.get("text_prompt") or "", self.config)
        out = np.empty_like(timeline.video)
        for number, span in enumerate(spans):
            stop = min(span.stop, total)
            video = _padded(timeline.video[span.start : stop], len(span))
            mask = None if timeline.mask is None else _padded(timeline.mask[span.start : stop], len(span))
            if number > 0 and mask is not None:  # start on what the previous window generated, kept
                video[:context] = out[span.start : span.start + context]
                mask[:context] = False
            done = number * steps

            def on_step(step: int, done: int = done) -> None:
                progress(done + step + 1, units)

            window = Window(video, mask, conditioning_scale=conditioning_scale, strength=strength)
            frames = generate(self.pipe, window, self.config, prompt, generator, on_step)[: stop - span.start]
            if number > 0 and mask is None:
                frames[:context] = _cross_fade(out[span.start : span.start + context], frames[:context])
            out[span.start : stop] = frames
            if preview is not None:  # the latest decoded window shows how the output takes shape
                preview(frames[-1])
        progress(ENCODING, 1, "encoding")
        return out

    def _encode_per_source_frame(
        self,
        job: EngineJob,
        width: int,
        height: int,
        seconds: float,
        picture: Callable[[VideoFrame], np.ndarray],
        progress: Progress,
    ) -> Path:
        """Encode ``picture(frame)`` for each source frame of the first ``seconds``, with its timing."""
        target = job.output_dir / OUTPUT_NAME
        to_frame = RGBToVideoFrame(width, height)
        with self._reencoding(job, target, width, height, until=seconds) as (decoder, writer):
            transcode_frames(
                decoder,
                lambda frame: to_frame(picture(frame), frame),
                writer,
                lambda _: progress(ENCODING, 1),
                preview=preview_hook(progress),
            )
            writer.finish()
        return target

    def _reencoding(self, job: EngineJob, target: Path, width: int, height: int, **options: Any) -> Any:
        assert job.video is not None and job.video_info is not None
        return reencoding(
            job.video,
            target,
            width=width,
            height=height,
            has_audio=job.video_info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            warnings=job.warnings,
            **options,
        )


def _time(frame: VideoFrame) -> float:
    return float(frame.pts * frame.time_base)


def _seconds(value: Any, duration: float | None) -> float:
    seconds = float(value) if value else float(duration or 0)
    if seconds <= 0:
        raise EngineError("The video has no duration to work on.", reason="BAD_INPUT")
    return seconds


def redraw_strength(structure: float, steps: int) -> float:
    """The img2img ``strength`` for ``structure_transformation`` (0-10) with ``steps`` steps: the
    share of the schedule that is run, structure/10, but always at least one whole step.

    diffusers runs ``int(steps * strength)`` steps; the half step keeps float rounding from
    dropping one.
    """
    count = min(steps, max(1, round(steps * structure / 10)))
    return 1.0 if count == steps else (count + 0.5) / steps


def _cross_fade(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """Frames that go from ``earlier`` to ``later`` (both N×H×W×3 uint8) in N even steps."""
    weight = (np.arange(1, len(later) + 1) / (len(later) + 1))[:, None, None, None]
    return (earlier * (1 - weight) + later * weight + 0.5).astype(np.uint8)


def _padded(frames: np.ndarray, length: int) -> np.ndarray:
    """A copy of ``frames`` with its last frame repeated up to ``length`` (a window past the end)."""
    if len(frames) >= length:
        return frames.copy()
    return np.concatenate([frames, np.repeat(frames[-1:], length - len(frames), axis=0)])


def _sampled(
    job: EngineJob, convert: CropScaleRGB, fps: int, count: int, seconds: float
) -> Iterator[np.ndarray]:
    """The source's pictures at ``fps`` (``count`` of them), converted by ``convert``."""
    assert job.video is not None
    with undecodable_input_errors(), VideoDecoder(job.video, until=seconds, warnings=job.warnings) as decoder:
        last: VideoFrame | None = None
        picture: np.ndarray | None = None
        timed = ((_time(frame), frame) for frame in decoder.frames())
        for frame in sample_at_rate(timed, fps, count):
            if frame is not last:
                last, picture = frame, convert(frame)
            assert picture is not None
            yield picture
        if last is None:
            raise EngineError("The video has no decodable frames.", reason=REASON_UNDECODABLE)


def _last_frames(tail: deque[VideoFrame], convert: CropScaleRGB, fps: int, count: int) -> np.ndarray:
    """The ``count`` pictures on screen at 1/``fps`` s intervals, the last at the source's last frame."""
    end = _time(tail[-1])
    wanted = [end - (count - 1 - k) / fps for k in range(count)]
    pictures = []
    for when in wanted:
        shown = [frame for frame in tail if _time(frame) <= when + 1e-6]
        pictures.append(convert(shown[-1] if shown else tail[0]))
    return np.stack(pictures)


def _guide_image(path: Path, width: int, height: int) -> np.ndarray:
    """The guiding image (upright), centre-cropped to the canvas's aspect and scaled to it."""
    try:
        image = load_image(path)
    except ImageError as exc:
        raise EngineError(
            f"The guiding image could not be decoded: {exc}.", reason=REASON_UNDECODABLE
        ) from exc
    return CropScaleRGB(width, height)(image)
