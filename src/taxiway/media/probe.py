"""Probe media files: what they are, and whether we can work with them.

``probe_file`` opens a file with PyAV (see :mod:`taxiway.media.containers` for the safety rules),
decodes exactly one frame to prove the file is usable, and reads everything else from headers or,
when a header lacks the duration, from demuxed packet timestamps. It never decodes a whole file, so
a 2 GiB upload probes in a fraction of a second.

Conventions of the returned :class:`MediaInfo`:

* ``width``/``height`` are display dimensions: non-square pixels (sample aspect ratio) are
  stretched to square ones and the display rotation is applied (90/270 swap the sides).
* ``rotation`` is the clockwise rotation, in degrees (0, 90, 180, 270), that turns the stored
  picture upright: the display matrix of phone videos (iPhone portrait clips report 90), or the
  EXIF orientation of JPEGs.
* ``codec`` is FFmpeg's codec name ("h264", "hevc", "vp9", "av1", "png", "mjpeg", "webp").
* ``container`` is a short name: "mp4" or "mov" (by the file's brand), "webm" or "matroska" (webm
  when every stream uses a WebM codec), "avi", "mpeg", "mpegts", ... and "png"/"jpeg"/"webp" for
  still images; otherwise FFmpeg's demuxer name.
* for images ``duration``, ``frame_rate`` and ``frame_count`` are None and ``has_audio`` is False.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from taxiway.media.containers import (
    UnsafeInput,
    close_input,
    describe_av_error,
    open_input,
    pick_video_stream,
    stated_durations,
    truncated_fraction,
)
from taxiway.media.decode import clockwise_rotation
from taxiway.media.timing import MAX_HELD_GAP_S, MAX_STEP_BACK_FRAMES

MediaKind = Literal["video", "image"]

_log = logging.getLogger(__name__)


class MediaError(Exception):
    """The file is not media we can use. The message is shown to the user as is."""


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    width: int  # display width (rotation applied)
    height: int  # display height (rotation applied)
    duration: float | None  # seconds; None for images
    frame_rate: float | None  # frames per second; None for images
    frame_count: int | None  # exact or estimated number of video frames
    has_audio: bool
    rotation: int  # display rotation in degrees (0, 90, 180, 270)
    codec: str
    container: str


DEFAULT_MAX_PIXELS = 8192 * 8192
# Longest video we accept; anything longer is treated as a corrupt or hostile header.
MAX_DURATION_S = 24 * 3600.0
MIN_SIDE = 2
MAX_FRAME_RATE = 1000.0

# Image codecs accepted for kind "image", with the name users know them by.
IMAGE_CODECS = {"png": "PNG", "mjpeg": "JPEG", "webp": "WebP"}
_STILL_CONTAINER = {"mjpeg": "jpeg"}
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis", "webvtt"})

# Bounds on the work done to find the first frame and, when headers lack it, the duration.
_FIRST_FRAME_MAX_PACKETS = 600
_FIRST_FRAME_BUDGET_S = 5.0
_SCAN_BUDGET_S = 1.0
# Containers whose stated duration is only FFmpeg's estimate from first and last timestamps.
_SCANNED_FORMATS = frozenset({"mpegts", "mpeg"})


def probe_file(
    path: Path,
    expected_kind: MediaKind,
    content_type: str | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> MediaInfo:
    """Describe the media in ``path`` and check it is a usable ``expected_kind``.

    ``content_type`` is the client's declared MIME type. Containers are often mislabelled, so only
    its kind matters: a declared ``video/*`` or ``image/*`` must match what the file holds
    (``video/mp4`` holding Matroska is fine; ``image/png`` holding a video is not). Other types,
    such as ``application/octet-stream``, are ignored.

    Raises :class:`MediaError` with a user-facing message when the file is not usable.
    """
    path = Path(path)
    noun = expected_kind
    try:
        size = path.stat().st_size
    except OSError:
        raise MediaError(f"The {noun} file could not be read.") from None
    if size == 0:
        raise MediaError(f"The file is empty: it is not a decodable {noun}.")
    try:
        container = open_input(path)
    except UnsafeInput as exc:
        raise MediaError(
            f"The file is not a decodable {noun}: it is a {exc} playlist that refers to other files, "
            "which is not accepted."
        ) from None
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"The file is not a decodable {noun}: {describe_av_error(exc)}.") from None
    try:
        return _probe_container(container, path, size, expected_kind, content_type, max_pixels)
    except MediaError:
        raise
    except Exception as exc:
        # Hostile or damaged input must end as a clear 400, never as a server error.
        _log.warning("unexpected failure probing %s", path, exc_info=True)
        raise MediaError(f"The file is not a decodable {noun}: {describe_av_error(exc)}.") from None
    finally:
        close_input(container)


def _probe_container(
    container: InputContainer,
    path: Path,
    size: int,
    expected_kind: MediaKind,
    content_type: str | None,
    max_pixels: int,
) -> MediaInfo:
    noun = expected_kind
    stream = pick_video_stream(container)
    if stream is None:
        if container.streams.audio:
            if expected_kind == "video":
                raise MediaError("The file has no video stream: it contains only audio.")
            raise MediaError("The file is not an image: it contains only audio.")
        raise MediaError(f"The file is not a decodable {noun}: it has no video stream.")
    if stream.codec_context is None:
        raise MediaError(f"The file is not a decodable {noun}: its video codec is not supported.")

    codec = stream.codec_context.codec.canonical_name
    container_name = _container_name(container)
    actual_kind: MediaKind = "image" if _is_still_image(container) else "video"
    label = IMAGE_CODECS.get(codec, codec.upper()) if actual_kind == "image" else f"{container_name}, {codec}"
    _check_kind(expected_kind, actual_kind, codec, container_name, label, content_type)

    # Refuse grossly oversized frames before decoding one: a forged header must not make us allocate
    # GBs. The exact check below uses display dimensions, known only once a frame (and so its
    # rotation) is decoded; hence the margin here.
    _check_size(noun, stream.codec_context.width, stream.codec_context.height, max_pixels, header=True)
    frame, packets, error = _decode_first_frame(container, stream, max_pixels)
    if frame is None:
        if packets == 0:
            raise MediaError(f"The {noun} contains no frames.")
        # InvalidData is what corruption looks like; other errors (unsupported feature...) say more.
        detail = (
            "" if error is None or isinstance(error, av.error.InvalidDataError) else describe_av_error(error)
        )
        raise MediaError(
            f"The file is not a decodable {noun}: no frame could be decoded"
            + (f" ({detail})." if detail else "; the file is truncated or corrupt.")
        )

    rotation = clockwise_rotation(frame)
    width, height = _display_size(frame.width, frame.height, stream.sample_aspect_ratio, rotation)
    _check_size(noun, width, height, max_pixels, header=False)

    if actual_kind == "image":
        return MediaInfo(
            kind="image",
            width=width,
            height=height,
            duration=None,
            frame_rate=None,
            frame_count=None,
            has_audio=False,
            rotation=rotation,
            codec=codec,
            container=container_name,
        )

    missing = truncated_fraction(container, size)
    if missing is not None:
        raise MediaError(
            f"The file is truncated: only {missing:.0%} of its video data is present (was the upload "
            "interrupted?)."
        )
    frame_rate = _frame_rate(stream)
    duration = _duration(container, stream, path, size, frame_rate)
    if frame_rate is None:
        if stream.frames and duration:
            frame_rate = stream.frames / duration
        else:
            raise MediaError("The video's frame rate could not be determined.")
    frame_count = (
        stream.frames if stream.frames and stream.frames > 0 else max(1, round(duration * frame_rate))
    )
    return MediaInfo(
        kind="video",
        width=width,
        height=height,
        duration=duration,
        frame_rate=frame_rate,
        frame_count=frame_count,
        has_audio=bool(container.streams.audio),
        rotation=rotation,
        codec=codec,
        container=container_name,
    )


def _declared_kind(content_type: str | None) -> MediaKind | None:
    major = (content_type or "").split("/", 1)[0].strip().lower()
    return major if major in ("video", "image") else None  # type: ignore[return-value]


def _check_kind(
    expected: MediaKind,
    actual: MediaKind,
    codec: str,
    container_name: str,
    label: str,
    content_type: str | None,
) -> None:
    if expected == "video" and actual == "image":
        raise MediaError(f"The file is an image ({label}), not a video.")
    if expected == "image":
        if container_name == "gif":
            raise MediaError("GIF files are not accepted as images: use PNG, JPEG or WebP.")
        if actual == "video":
            raise MediaError(f"The file is a video ({label}), not an image.")
        if codec not in IMAGE_CODECS:
            raise MediaError(f"The image format {label} is not supported: use PNG, JPEG or WebP.")
    declared = _declared_kind(content_type)
    if declared is not None and declared != actual:
        what = f"an image ({label})" if actual == "image" else f"a video ({label})"
        raise MediaError(f"The file was sent as {content_type} but contains {what}.")


def _check_size(noun: str, width: int, height: int, max_pixels: int, *, header: bool) -> None:
    """Raise unless the size is usable. ``header``: a memory guard on stored (not display)
    dimensions, before decoding, that only rejects sizes over twice the limit."""
    if header:
        if width <= 0 or height <= 0 or width * height <= 2 * max_pixels:
            return  # Unknown or plausible until a frame is decoded; the decoder enforces a limit meanwhile.
    elif width < MIN_SIDE or height < MIN_SIDE:
        raise MediaError(
            f"The {noun} frame size {width}×{height} is not usable (the minimum is {MIN_SIDE}×{MIN_SIDE})."
        )
    if width * height > max_pixels:
        side = round(max_pixels**0.5)
        limit = (
            f"{side}×{side} ({max_pixels:,} pixels)"
            if side * side == max_pixels
            else f"{max_pixels:,} pixels"
        )
        raise MediaError(
            f"The {noun} is {width}×{height} ({width * height:,} pixels), larger than the limit of {limit}."
        )


def _decode_first_frame(
    container: InputContainer, stream: VideoStream, max_pixels: int
) -> tuple[av.VideoFrame | None, int, BaseException | None]:
    """Decode the first frame. Returns (frame or None, packets demuxed, last error)."""
    # FFmpeg's own limit is a backstop for streams whose header gives no size; it is looser than
    # ours (display size may differ from coded size) so that the friendly message above wins.
    stream.codec_context.options = {"max_pixels": str(max(max_pixels * 2, 1))}
    packets = 0
    error: BaseException | None = None
    deadline = time.monotonic() + _FIRST_FRAME_BUDGET_S
    try:
        for packet in container.demux(stream):
            if packet.size:
                packets += 1
            try:
                # The final empty packet flushes the decoder (single-frame and delayed streams).
                frames = stream.decode(packet)
            except av.FFmpegError as exc:
                error = exc
                frames = []
            if frames:
                return frames[0], packets, None
            if packets >= _FIRST_FRAME_MAX_PACKETS or time.monotonic() > deadline:
                break
    except (av.FFmpegError, OSError) as exc:
        error = exc
    return None, packets, error


def _display_size(width: int, height: int, sar: Fraction | None, rotation: int) -> tuple[int, int]:
    # Stretch non-square pixels to square ones; ignore absurd ratios rather than trust them.
    if sar and Fraction(1, 4) <= sar <= 4 and sar != 1:
        width = max(1, round(width * sar))
    return (height, width) if rotation in (90, 270) else (width, height)


def _container_name(container: InputContainer) -> str:
    name = container.format.name
    if name.startswith("mov,"):
        brand = str(container.metadata.get("major_brand", "")).strip()
        return "mov" if brand == "qt" else "mp4"
    if name == "matroska,webm":
        codecs = {
            s.codec_context.codec.canonical_name for s in container.streams if s.codec_context is not None
        }
        return "webm" if codecs and codecs <= _WEBM_CODECS else "matroska"
    if _is_still_image(container):
        # The image2 demuxer (picked by file name) says nothing about the format; the codec does.
        stream = pick_video_stream(container)
        codec = stream.codec_context.codec.canonical_name if stream and stream.codec_context else ""
        return _STILL_CONTAINER.get(codec, codec or name.removesuffix("_pipe"))
    return name.split(",")[0]


def _is_still_image(container: InputContainer) -> bool:
    name = container.format.name
    return name.endswith("_pipe") or name in ("image2", "webp")


def _frame_rate(stream: VideoStream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) <= MAX_FRAME_RATE:
            return float(rate)
    return None


def _duration(
    container: InputContainer, stream: VideoStream, path: Path, size: int, frame_rate: float | None
) -> float:
    """The video's duration in seconds: from the stream, Matroska's per-track tag, the container,
    or as a last resort from packet timestamps. Raises MediaError when unknown or absurd.

    MPEG program and transport streams state no duration: FFmpeg estimates it from the first and
    last timestamps, which a restart of the timestamps (joined recordings) makes far too short,
    so their packets are always scanned, stretch by stretch."""
    candidates = stated_durations(container, stream)
    if container.format.name in _SCANNED_FORMATS:
        candidates = [d for d in [_scan_duration(path, stream.index, size, frame_rate)] if d] + candidates
    sane = [d for d in candidates if 0 < d <= MAX_DURATION_S]
    if sane:
        return sane[0]
    if candidates:
        raise MediaError(
            f"The video's duration is not plausible ({max(candidates):,.0f} s; the limit is "
            f"{MAX_DURATION_S:,.0f} s)."
        )
    scanned = _scan_duration(path, stream.index, size, frame_rate)
    if scanned is None:
        raise MediaError("The video's duration could not be determined.")
    if scanned > MAX_DURATION_S:
        raise MediaError(
            f"The video's duration is not plausible ({scanned:,.0f} s; the limit is {MAX_DURATION_S:,.0f} s)."
        )
    return scanned


def _scan_duration(path: Path, stream_index: int, size: int, frame_rate: float | None) -> float | None:
    """Duration from demuxed packets (no decoding), for files whose headers lack one (live-recorded
    WebM, raw elementary streams, MPEG-TS). Uses packet timestamps (the lengths of the stretches
    between discontinuities, as the decoder's time line joins them), else packet durations, else
    the packet count and frame rate. Reads for at most _SCAN_BUDGET_S, then extrapolates from the
    byte position reached, assuming the rest of the file has the same bitrate."""
    try:
        container = open_input(path)
    except (av.FFmpegError, OSError, UnsafeInput):
        return None
    stretches = _Stretches(MAX_STEP_BACK_FRAMES / (frame_rate or 25.0), float(MAX_HELD_GAP_S))
    summed = 0.0
    count = 0
    pos = 0
    try:
        stream = container.streams[stream_index]
        tb = stream.time_base or Fraction(0)
        deadline = time.monotonic() + _SCAN_BUDGET_S
        for packet in container.demux(stream):
            if not packet.size:
                continue
            count += 1
            length = float((packet.duration or 0) * tb)
            summed += length
            pos = max(pos, packet.pos or 0)
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is not None and tb:
                order = packet.dts if packet.dts is not None else ts
                stretches.add(float(order * tb), float(ts * tb), length)
            if time.monotonic() > deadline:
                break
        else:
            pos = size  # Read to the end: nothing to extrapolate.
    except (av.FFmpegError, OSError):
        pass
    finally:
        close_input(container)
    if stretches.total() > 0:
        seconds = stretches.total()
    elif summed > 0:
        seconds = summed
    elif count and frame_rate:
        seconds = count / frame_rate
    else:
        return None
    return seconds * size / pos if 0 < pos < size else seconds


class _Stretches:
    """Sums the spans of the runs of packets between timestamp discontinuities: a decode timestamp
    more than ``back`` seconds before the previous one, or more than ``gap`` after it."""

    def __init__(self, back: float, gap: float) -> None:
        self._back, self._gap = back, gap
        self._done = 0.0
        self._first: float | None = None
        self._end = 0.0
        self._last_order = 0.0

    def add(self, order: float, start: float, length: float) -> None:
        """A packet with decode time ``order``, presentation time ``start``, lasting ``length``."""
        if self._first is not None and not -self._back <= order - self._last_order <= self._gap:
            self._done += self._end - self._first
            self._first = None
        if self._first is None:
            self._first, self._end = start, start + length
        self._first = min(self._first, start)
        self._end = max(self._end, start + length)
        self._last_order = order

    def total(self) -> float:
        return self._done + (self._end - self._first if self._first is not None else 0.0)
