"""Decoding a video stream into upright frames with clean timestamps.

What engines get from :class:`VideoDecoder`:

* frames already rotated upright (display matrix honoured), so nothing downstream cares about
  rotation and outputs carry no rotation flag;
* ``pts`` counted from 0 at the first decoded frame, strictly increasing, in
  :attr:`VideoDecoder.time_base` (the source's own time base, so constant and variable frame rate
  timing both survive re-encoding unchanged); missing timestamps are filled in, and backward jumps
  bridged, from the previous frame's duration;
* ``duration`` set on every frame (the muxer needs it for the last one).

Decoding uses FFmpeg's frame + slice threading, which is several times faster than PyAV's
default (slice only) for long-GOP codecs.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.filter import Graph
from av.video.frame import VideoFrame

from taxiway.media.containers import (
    close_input,
    describe_av_error,
    open_input,
    pick_video_stream,
    truncated_fraction,
)

# Time bases finer than this (raw H.264 uses 1/1200000) are replaced: x264 and MP4 want < 2^31 ticks/s
# and nothing needs more than microseconds.
_FINEST_TIME_BASE = Fraction(1, 1_000_000)
_FALLBACK_TIME_BASE = Fraction(1, 90_000)
_DEFAULT_RATE = Fraction(25)
# Isolated undecodable packets are skipped, as ffmpeg does (a glitch in a capture should not fail a
# job); this many in a row (0.2 s at 24 fps), or more than _MAX_ERROR_SHARE of all packets, is a
# broken file and fails the decode.
_MAX_CONSECUTIVE_ERRORS = 5
_MAX_ERROR_SHARE = 0.02


class DecodeError(Exception):
    """The video could not be decoded from some point on. ``str(exc)`` is user-facing."""

    def __init__(self, message: str, *, frames_done: int, seconds: float) -> None:
        super().__init__(message)
        self.frames_done = frames_done
        self.seconds = seconds


class Uprighter:
    """Rotates frames by their display-matrix rotation with an FFmpeg filter graph.

    Rotating before scaling is cheaper (smaller frames). The graph is rebuilt whenever the frame
    size, format or rotation changes mid-stream.
    """

    def __init__(self) -> None:
        self._graph: Graph | None = None
        self._key: tuple[int, int, str, int] | None = None

    def __call__(self, frame: VideoFrame, clockwise: int) -> VideoFrame:
        if clockwise == 0:
            return frame
        key = (frame.width, frame.height, frame.format.name, clockwise)
        if key != self._key:
            self._graph = _rotation_graph(frame, clockwise)
            self._key = key
        assert self._graph is not None
        self._graph.push(frame)
        out = self._graph.pull()
        copy_timing(frame, out)
        return out


def copy_timing(source: VideoFrame, target: VideoFrame) -> None:
    """Give ``target`` the pts, duration and time base of ``source`` (filters do not all keep them)."""
    target.pts = source.pts
    target.duration = source.duration
    if source.time_base is not None:
        target.time_base = source.time_base


def _rotation_graph(frame: VideoFrame, clockwise: int) -> Graph:
    graph = Graph()
    graph.threads = 1  # Runs on the decode thread; a pool would only contend with the encoder.
    nodes = [
        graph.add_buffer(
            width=frame.width,
            height=frame.height,
            format=frame.format,
            time_base=frame.time_base or Fraction(1),
        )
    ]
    if clockwise == 90:
        nodes.append(graph.add("transpose", "dir=clock"))
    elif clockwise == 270:
        nodes.append(graph.add("transpose", "dir=cclock"))
    else:
        nodes += [graph.add("hflip"), graph.add("vflip")]
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


def clockwise_rotation(frame: VideoFrame) -> int:
    """The frame's display rotation as 0/90/180/270 degrees clockwise (FFmpeg's is counter-clockwise)."""
    return round(-frame.rotation / 90.0) % 4 * 90


class VideoDecoder:
    """Iterates the upright frames of the video stream in ``path``. Use as a context manager.

    ``until`` (seconds of output, None = all) stops decoding there: frames starting at or after it
    are not decoded and the last frame kept is shortened to end exactly at it, so an output (and
    the audio carried into it, cut at the video's end) lasts exactly ``until``.
    """

    def __init__(self, path: Path, *, threads: bool = True, until: float | Fraction | None = None) -> None:
        self.container = open_input(path)
        try:
            stream = pick_video_stream(self.container)
            if stream is None or stream.codec_context is None:
                raise DecodeError("The file has no decodable video stream.", frames_done=0, seconds=0.0)
        except BaseException:
            close_input(self.container)
            raise
        self.stream = stream
        # Fail before any work on a file whose index shows it was cut short (see truncated_fraction).
        present = truncated_fraction(self.container, Path(path).stat().st_size)
        if present is not None:
            close_input(self.container)
            raise DecodeError(
                f"The video file is truncated: only {present:.0%} of its data is present.",
                frames_done=0,
                seconds=0.0,
            )
        if threads:
            stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.frame_rate: Fraction = Fraction(rate) if rate and 0 < rate <= 1000 else _DEFAULT_RATE
        tb = stream.time_base
        self.time_base: Fraction = tb if tb and tb >= _FINEST_TIME_BASE else _FALLBACK_TIME_BASE
        # Source time (seconds) of the first decoded frame: output time 0. Set by frames().
        self.start_time: Fraction | None = None
        self._origin = Fraction(0)  # Source time of output pts 0; moves on timestamp discontinuities.
        self.frames_done = 0
        self._until = None if until is None else round(Fraction(until) / self.time_base)  # ticks
        self._last_pts = 0
        self._last_duration = self.frame_duration

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close_input(self.container)

    @property
    def frame_duration(self) -> int:
        """One frame at the nominal rate, in time_base ticks."""
        return max(1, round(1 / (self.frame_rate * self.time_base)))

    def frames(self) -> Iterator[VideoFrame]:
        """Decoded, upright frames with pts from 0 (see module docstring). Raises DecodeError."""
        upright = Uprighter()
        for frame in self._decoded():
            self._retime(frame)
            if self._until is not None:
                if frame.pts >= self._until:
                    return  # Nothing past the limit is decoded.
                frame.duration = min(frame.duration, self._until - frame.pts)
            self.frames_done += 1
            yield upright(frame, clockwise_rotation(frame))

    def _decoded(self) -> Iterator[VideoFrame]:
        stream = self.stream
        packets = errors = consecutive = 0
        failed_last = False
        try:
            for packet in self.container.demux(stream):
                packets += 1 if packet.size else 0
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError as exc:
                    errors += 1
                    consecutive += 1
                    failed_last = bool(packet.size)
                    if consecutive >= _MAX_CONSECUTIVE_ERRORS:
                        raise self._error(exc) from exc
                    continue
                if packet.size:
                    consecutive = 0
                    failed_last = packet.is_corrupt
                yield from frames
        except av.FFmpegError as exc:
            raise self._error(exc) from exc
        if failed_last or errors > max(_MAX_CONSECUTIVE_ERRORS, _MAX_ERROR_SHARE * packets):
            # Ended on a partial/undecodable packet (cut short), or damaged throughout.
            raise self._error(None)

    def _error(self, exc: BaseException | None) -> DecodeError:
        seconds = float(self._last_pts * self.time_base) if self.frames_done else 0.0
        if exc is None:
            reason = "the file is truncated or corrupt"
        elif isinstance(exc, av.error.InvalidDataError):
            reason = "the data is corrupt"  # The format was recognised long ago; only data can be bad.
        else:
            reason = describe_av_error(exc)
        return DecodeError(
            f"The video could not be decoded past frame {self.frames_done} ({seconds:.2f} s): {reason}.",
            frames_done=self.frames_done,
            seconds=seconds,
        )

    def _retime(self, frame: VideoFrame) -> None:
        """Rewrite pts/duration into self.time_base, from 0, strictly increasing."""
        duration = self.frame_duration
        if frame.duration and frame.time_base:
            duration = max(1, round(Fraction(frame.duration) * frame.time_base / self.time_base))
        following = self._last_pts + self._last_duration if self.frames_done else 0
        if frame.pts is not None and frame.time_base:
            t = Fraction(frame.pts) * frame.time_base
            if self.start_time is None:
                self.start_time = self._origin = t
            pts = round((t - self._origin) / self.time_base)
            if self.frames_done and pts <= self._last_pts:
                # Timestamps went backwards (an MPEG-TS discontinuity, a broken muxer): carry on at
                # the frame rate from here rather than squeezing every later frame into one tick.
                pts = following
                self._origin = t - pts * self.time_base
        else:
            # No timestamp (raw elementary streams, some AVI): continue from the previous frame.
            if self.start_time is None:
                start = self.stream.start_time
                self.start_time = self._origin = (
                    Fraction(start) * self.stream.time_base if start is not None else Fraction(0)
                )
            pts = following
        frame.pts = pts
        frame.duration = duration
        frame.time_base = self.time_base
        self._last_pts = pts
        self._last_duration = duration
