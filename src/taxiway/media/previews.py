"""JPEG preview stills of a video (evenly spaced through it) or of an image, and of frames as an
engine makes them (a running task's live preview: :class:`Stills`).

Each still is the first frame at or after its target time, found by seeking to the keyframe before
it and decoding forward (bounded), so long videos cost a few keyframe decodes, not a full decode.
Formats that cannot seek (raw elementary streams) fall back to one bounded sequential pass.
Stills are rotated upright, scaled (bicubic) so the longer side is at most ``max_side`` and
encoded with FFmpeg's MJPEG encoder as baseline JPEG (yuvj420p, BT.601 full range: JFIF).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from taxiway.media.containers import (
    UnsafeInput,
    close_input,
    describe_av_error,
    open_input,
    pick_video_stream,
)
from taxiway.media.decode import Uprighter, clockwise_rotation
from taxiway.media.geometry import fit_within
from taxiway.media.probe import MediaError, MediaInfo
from taxiway.media.scale import Scaler

JPEG_QUALITY = 3  # MJPEG qscale: 2 (best) .. 31; 3 is visually lossless at preview sizes.
# Frames decoded after a seek before settling for the latest one (sparse keyframes).
_MAX_FRAMES_AFTER_SEEK = 250
# Frames a non-seekable file may be decoded sequentially for its previews.
_MAX_SEQUENTIAL_FRAMES = 3000


def make_previews(
    path: Path, info: MediaInfo, out_dir: Path, *, count: int = 5, max_side: int = 640
) -> list[Path]:
    """Write ``preview-0.jpg``, ``preview-1.jpg``... into ``out_dir`` and return their paths.

    A video gets ``count`` stills at evenly spaced times (the middle of each of ``count`` equal
    slices), fewer if it has fewer frames, never fewer than one; an image gets one. Raises
    :class:`MediaError` if no frame can be decoded at all.
    """
    if count < 1 or max_side < 2:
        raise ValueError("count must be >= 1 and max_side >= 2")
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = fit_within(info.width, info.height, max_side)
    scaler = Scaler(
        width, height, interpolation="bicubic", threads=1, pix_fmt="yuvj420p", matrix="bt470", full_range=True
    )
    try:
        container = open_input(path)
    except (av.FFmpegError, OSError, UnsafeInput) as exc:
        raise MediaError(f"No preview could be made: {describe_av_error(exc)}.") from None
    try:
        stream = pick_video_stream(container)
        if stream is None:
            raise MediaError(f"No preview could be made: the {info.kind} has no picture.")
        outputs = _write_previews(path, container, stream, info, count, out_dir, scaler)
    except (av.FFmpegError, ValueError) as exc:
        # Damaged media discovered here (probe only decodes one frame) is the user's problem: a 400.
        raise MediaError(f"No preview could be made: {describe_av_error(exc)}.") from None
    finally:
        close_input(container)
    if not outputs:
        raise MediaError(f"No preview could be made: no frame of the {info.kind} could be decoded.")
    return outputs


def _write_previews(
    path: Path,
    container: InputContainer,
    stream: VideoStream,
    info: MediaInfo,
    count: int,
    out_dir: Path,
    scaler: Scaler,
) -> list[Path]:
    """Decode the stills and write them as JPEGs; frames that could not be found are skipped."""
    upright = Uprighter()
    if info.kind == "image":
        frames = [_first_frame(container, stream)]
    else:
        frames = _stills(path, container, stream, info, count)
    outputs: list[Path] = []
    for frame in frames:
        if frame is None:
            continue
        still = scaler(upright(frame, clockwise_rotation(frame)))
        outputs.append(write_jpeg(still, out_dir / f"preview-{len(outputs)}.jpg"))
    return outputs


class Stills:
    """Writes JPEG stills of frames handed over one at a time, each scaled like the previews above
    (longer side at most ``max_side``): what a running task shows of its output.

    A frame is a PyAV frame (any format, untouched: the scaler reads it into a copy) or an
    H×W×3 uint8 RGB array. The scaler is kept between calls and rebuilt only when the size changes.
    """

    def __init__(self, max_side: int = 640) -> None:
        if max_side < 2:
            raise ValueError("max_side must be >= 2")
        self.max_side = max_side
        self._scaler: Scaler | None = None

    def write(self, frame: VideoFrame | np.ndarray, path: Path) -> Path:
        if isinstance(frame, np.ndarray):
            frame = VideoFrame.from_ndarray(
                np.ascontiguousarray(frame[..., :3], dtype=np.uint8), format="rgb24"
            )
        width, height = fit_within(frame.width, frame.height, self.max_side)
        if self._scaler is None or (self._scaler.width, self._scaler.height) != (width, height):
            self._scaler = Scaler(
                width,
                height,
                interpolation="bicubic",
                threads=1,
                pix_fmt="yuvj420p",
                matrix="bt470",
                full_range=True,
            )
        return write_jpeg(self._scaler(frame), path)


def preview_times(duration: float, frame_count: int, count: int) -> list[float]:
    """Evenly spaced times: the middle of each of n equal slices, n = min(count, frames), >= 1."""
    n = max(1, min(count, frame_count))
    return [duration * (i + 0.5) / n for i in range(n)]


def write_jpeg(frame: VideoFrame, path: Path, *, quality: int = JPEG_QUALITY) -> Path:
    """Encode a yuvj420p frame as a JPEG file at ``path``."""
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = frame.width, frame.height, "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.color_range = 2  # Full range, as JFIF readers expect.
    ctx.qscale = True
    ctx.global_quality = quality
    frame.pts, frame.time_base = 0, ctx.time_base
    packets = ctx.encode(frame) + ctx.encode(None)
    path.write_bytes(b"".join(bytes(p) for p in packets))
    return path


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame | None:
    return next(_decode(container, stream), None)


def _stills(
    path: Path, container: InputContainer, stream: VideoStream, info: MediaInfo, count: int
) -> list[VideoFrame | None]:
    times = preview_times(info.duration or 0.0, info.frame_count or 1, count)
    try:
        stills = [_seek_frame(container, stream, t) for t in times]
    except av.FFmpegError:
        stills = []  # Not seekable: decode from the start instead.
    if stills and all(s is not None for s in stills):
        return stills
    sequential = open_input(path)
    try:
        seq_stream = pick_video_stream(sequential)
        assert seq_stream is not None
        found = _sequential_frames(sequential, seq_stream, times, info.frame_rate or 25.0)
    finally:
        close_input(sequential)
    # Prefer what seeking found; fill its gaps from the sequential pass.
    return [s if s is not None else f for s, f in zip(stills or [None] * len(times), found, strict=True)]


def _seek_frame(container: InputContainer, stream: VideoStream, seconds: float) -> VideoFrame | None:
    """The first frame at or after ``seconds`` from the stream start (or the last one before EOF)."""
    tb = stream.time_base or Fraction(1, 90000)
    start = stream.start_time or 0
    container.seek(start + int(seconds / tb), stream=stream, backward=True)
    target = float(start * tb) + seconds
    latest = None
    for i, frame in enumerate(_decode(container, stream)):
        latest = frame
        if frame.time is None or frame.time >= target - 1e-3 or i >= _MAX_FRAMES_AFTER_SEEK:
            break
    return latest


def _sequential_frames(
    container: InputContainer, stream: VideoStream, times: list[float], rate: float
) -> list[VideoFrame | None]:
    """One decoding pass picking the frame at each target time (by timestamp, else by index)."""
    found: list[VideoFrame | None] = [None] * len(times)
    start: float | None = None
    latest = None
    wanted = 0
    for index, frame in enumerate(_decode(container, stream)):
        if index >= _MAX_SEQUENTIAL_FRAMES:
            break
        latest = frame
        if start is None:
            start = frame.time or 0.0
        now = frame.time - start if frame.time is not None else index / rate
        while wanted < len(times) and now >= times[wanted] - 1e-3:
            found[wanted] = frame
            wanted += 1
        if wanted == len(times):
            break
    # Targets past what could be decoded get the last frame seen.
    return [f if f is not None else latest for f in found]


def _decode(container: InputContainer, stream: VideoStream) -> Iterator[VideoFrame]:
    """Decoded frames, skipping packets that fail to decode and ending where demuxing fails."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except (StopIteration, av.FFmpegError):
            return  # A damaged tail ends the previews early; what was found is still good.
        try:
            yield from stream.decode(packet)
        except av.FFmpegError:
            continue
