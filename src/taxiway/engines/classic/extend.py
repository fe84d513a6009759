"""The classic extend engine: the source video, then new seconds that continue its last camera motion.

What it does, exactly:

1. Every source frame is re-encoded as it is (upright, at its display size rounded to even
   numbers, at its own frame rate and timing), on the same decode → worker thread → libx264
   pipeline as the upscale engine. Only the last few frames are kept in memory.
2. The camera motion at the end of the source is measured from those last frames: corners tracked
   by pyramidal Lucas-Kanade optical flow on downscaled luma, one global similarity (pan, zoom,
   rotation) fitted robustly, so objects moving on their own do not count
   (:mod:`taxiway.engines.classic.extend_motion`).
3. ``extend_seconds × fps`` new frames are rendered by warping the last source frame along a path
   that continues that motion and eases it, within about a second, into a slow camera move: the
   move the prompt names (zoom in / push in, zoom out / pull back, pan left, pan right, tilt up,
   tilt down, static / locked off; see :func:`~taxiway.engines.classic.extend_motion.move_from_prompt`),
   else a slow drift drawn from ``seed``. A gradual zoom keeps the picture's edges out of view;
   edges still exposed (zoom outs, large moves) are filled by reflection. Seeded film grain scaled
   to the source's own frame-to-frame noise fades in, so a grainy source does not turn frozen and
   clean at the seam; a clean source gets none (:mod:`taxiway.engines.classic.extend_render`).
4. Audio: the source's audio (re-encoded to AAC), then silence up to the end.

Limits, stated plainly: nothing new is generated. Every new frame is the last source frame moved
as one flat plane: no object moves on its own, there is no parallax, nothing outside the last
frame is revealed (reflected edges are mirror images) and a zoom in softens the picture as it
magnifies it (at most about 1.3× for covering, plus the move itself). When the last frames have
no trackable detail, or no single motion (a cut, a flash), no motion is continued. New frames come
at the source's average frame rate (variable-rate sources included). The prompt is read only for
the camera words above. The same input, parameters and seed give byte-identical output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from av.video.frame import VideoFrame

from taxiway.engines.base import EngineError, EngineJob, PreviewHook, Progress, preview_hook
from taxiway.engines.classic.extend_motion import (
    CameraMove,
    estimate_motion,
    move_from_prompt,
    move_from_seed,
    plan_path,
)
from taxiway.engines.classic.extend_render import (
    GRAIN_MARGIN,
    FrameWarper,
    estimate_noise,
    to_video_frame,
    yuv_planes,
)
from taxiway.engines.media_errors import reencoding
from taxiway.media.decode import VideoDecoder
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET, H264Writer
from taxiway.media.geometry import nearest_even
from taxiway.media.pipeline import REPORT_EVERY_FRAMES, transcode_frames
from taxiway.media.scale import Scaler
from taxiway.media.timeline import continuation_ticks

OUTPUT_NAME = "output.mp4"
MAX_EXTEND_SECONDS = 60
TAIL_FRAMES = 4  # Source frames kept for measuring the final motion (3 frame pairs).
GRAIN_FADE_IN_S = 0.75
# Grain added = GRAIN_GAIN × the source's measured frame-to-frame noise: libx264 at usual CRFs erases
# most weak, fine noise (a dead zone), so about this much is needed for the output to flicker as the
# source does. Capped at MAX_GRAIN (luma code values); below MIN_GRAIN none is added (it would not
# survive encoding, only cost bits).
GRAIN_GAIN = 2.5
MAX_GRAIN = 4.0
MIN_GRAIN = 0.5
RENDER_AHEAD = 3  # New frames rendered on the worker thread ahead of the encoder.


class ClassicExtend:
    """Extends ``job.video`` by ``params["extend_seconds"]`` and writes ``job.output_dir / "output.mp4"``.

    ``preset``/``crf`` are libx264's; ``grain`` is the film grain's strength relative to the noise
    measured between the last source frames (0 turns it off). Cancellation: ``progress`` raising
    StopRequested stops the run within a few frames and leaves no ``output.mp4`` behind.
    """

    name = "classic-extend"

    def __init__(
        self,
        *,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        grain: float = GRAIN_GAIN,
        encoder_threads: int = 0,
    ) -> None:
        self.preset = preset
        self.crf = crf
        self.grain = grain
        self.encoder_threads = encoder_threads

    def run(self, job: EngineJob, progress: Progress) -> Path:
        """Extend, reporting ``progress(frames_done, frames_total)``; returns the output path."""
        if job.video is None or job.video_info is None:
            raise EngineError("The extend operation needs a video.", reason="BAD_INPUT")
        seconds, seed = _extend_seconds(job.params), _seed(job.params)
        info = job.video_info
        width, height = nearest_even(info.width), nearest_even(info.height)
        prompt = job.params.get("text_prompt")
        move = move_from_prompt(prompt if isinstance(prompt, str) else None, width, height)
        move = move or move_from_seed(seed, width, height)
        job.output_dir.mkdir(parents=True, exist_ok=True)
        target = job.output_dir / OUTPUT_NAME
        estimate = max(1, info.frame_count or 1) + round(seconds * (info.frame_rate or 25))
        progress(0, estimate, f"extending by {seconds:g} s: {_describe(move)}")

        tail: deque[VideoFrame] = deque(maxlen=TAIL_FRAMES)
        scaler = Scaler(width, height)

        def keep(frame: VideoFrame) -> VideoFrame:  # Runs on the decode thread.
            out = scaler(frame)
            tail.append(out)
            return out

        with reencoding(
            job.video,
            target,
            width=width,
            height=height,
            has_audio=info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            pad_audio=True,
            warnings=job.warnings,
        ) as (decoder, writer):
            preview = preview_hook(progress)
            done = transcode_frames(
                decoder, keep, writer, lambda n: progress(n, max(estimate, n + 1)), preview=preview
            )
            writer.end_audio_source()  # The source's sound ends with its pictures; silence follows.
            count = max(1, round(seconds * decoder.frame_rate))
            total = done + count
            self._extend(
                writer, tail, move, count, decoder, seed, lambda k: progress(done + k, total), preview
            )
            progress(total, total + 1)
            writer.finish()
        progress(total, total)
        return target

    def _extend(
        self,
        writer: H264Writer,
        tail: deque[VideoFrame],
        move: CameraMove,
        count: int,
        decoder: VideoDecoder,
        seed: int,
        on_progress: Callable[[int], None],
        preview: PreviewHook | None = None,
    ) -> None:
        """Measure the final motion, then render and encode ``count`` new frames after ``tail[-1]``."""
        time_base, fps = decoder.time_base, decoder.frame_rate
        last = tail[-1]
        width, height = last.width, last.height
        pictures = [frame.to_ndarray(format="yuv420p") for frame in tail]
        lumas = [yuv_planes(p, width, height)[0] for p in pictures]
        times = [float(frame.pts * time_base) for frame in tail]
        motion = estimate_motion(lumas, times)
        path = plan_path(motion.velocity, move, count, float(fps), width, height)
        noise = estimate_noise(lumas[-2], lumas[-1], motion.last_step) if len(lumas) > 1 else 0.0
        grain = min(MAX_GRAIN, self.grain * noise)
        grain = grain if grain >= MIN_GRAIN else 0.0
        warper = FrameWarper(pictures[-1], width, height, grain=grain, seed=seed)
        del pictures, lumas
        rng = np.random.default_rng([seed & 0xFFFF_FFFF_FFFF_FFFF, 0x67726964])  # "grid": grain windows
        windows = rng.integers(0, 2 * GRAIN_MARGIN + 1, size=(count, 2))
        grain_weight = np.clip((np.arange(1, count + 1) / float(fps)) / GRAIN_FADE_IN_S, 0.0, 1.0)
        start, ticks = continuation_ticks(last, fps, time_base, decoder.frame_duration, count)

        def render(k: int) -> np.ndarray:
            return warper.render(path[k], float(grain_weight[k]), (int(windows[k, 0]), int(windows[k, 1])))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="taxiway-extend") as pool:
            pending: deque[Future[np.ndarray]] = deque()
            try:
                for k in range(count):
                    while len(pending) < RENDER_AHEAD and k + len(pending) < count:
                        pending.append(pool.submit(render, k + len(pending)))
                    picture = pending.popleft().result()
                    frame = to_video_frame(picture, start + ticks[k], ticks[k + 1] - ticks[k], time_base)
                    if preview is not None:
                        preview(frame)
                    writer.write(frame)
                    if (k + 1) % REPORT_EVERY_FRAMES == 0:
                        on_progress(k + 1)
            finally:
                for future in pending:
                    future.cancel()


def _describe(move: CameraMove) -> str:
    if not move.velocity.any():
        return f"continuing the last motion, then holding a {move.description} ({move.origin})"
    return f"continuing the last motion into a {move.description} ({move.origin})"


def _extend_seconds(params: dict[str, Any]) -> float:
    value = params.get("extend_seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_EXTEND_SECONDS:
        raise EngineError(
            f"extend_seconds must be a number of seconds above 0 and at most {MAX_EXTEND_SECONDS}, "
            f"got {value!r}.",
            reason="BAD_INPUT",
        )
    return float(value)


def _seed(params: dict[str, Any]) -> int:
    value = params.get("seed")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EngineError(f"seed must be a non-negative integer, got {value!r}.", reason="BAD_INPUT")
    return value
