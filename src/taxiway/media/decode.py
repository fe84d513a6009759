"""Decoding a video stream into upright frames on the output's time line.

What engines get from :class:`VideoDecoder`:

* frames in presentation order, already rotated upright (display matrix honoured), so nothing
  downstream cares about rotation and outputs carry no rotation flag;
* ``pts`` from 0 at the first frame shown, strictly increasing, in :attr:`VideoDecoder.time_base`,
  placed by the one timing model of :mod:`taxiway.media.timing`: for a constant-rate source one
  tick is one frame at :attr:`VideoDecoder.frame_rate`, and a frame held over missing frames has a
  ``duration`` of several ticks (the writer repeats it); a variable-rate source keeps its own
  timestamps;
* ``duration`` set on every frame: up to the next frame's pts, and for the last one its own.

Damaged input is decoded as far as it can be: an undecodable packet is skipped (the picture before
it is held over the gap it leaves), an unreadable tail ends the video where the data ends, and each
is reported in :attr:`VideoDecoder.warnings`. Only when damage leaves less than half of the frames
does decoding fail, with a :class:`DecodeError`.

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
    pick_audio_stream,
    pick_video_stream,
    stated_durations,
    truncated_fraction,
)
from taxiway.media.input_warnings import InputWarnings
from taxiway.media.timing import WARM_UP_FRAMES, BestEffortClock, FrameTimeline, StreamTiming, scan_streams

# Damage that leaves less than this share of the frames a clean file would show fails the decode:
# the output would be mostly one held picture.
MIN_DECODED_SHARE = 0.5
# The video ending this much (or three frames, if more) before the length its header states is
# reported: a file cut short.
_SHORT_BY_S = 0.5


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
    are not decoded and the last frame kept is shortened to end at it, so an output (and the audio
    carried into it, cut at the video's end) lasts ``until`` (to the frame, at a constant rate).
    ``warnings`` hears what was wrong with the input and how it was handled (see the module doc).
    """

    def __init__(
        self,
        path: Path,
        *,
        threads: bool = True,
        until: float | Fraction | None = None,
        warnings: InputWarnings | None = None,
    ) -> None:
        self.container = open_input(path)
        try:
            stream = pick_video_stream(self.container)
            if stream is None or stream.codec_context is None:
                raise DecodeError("The file has no decodable video stream.", frames_done=0, seconds=0.0)
            # Fail before any work on a file whose index shows it was cut short (see truncated_fraction).
            present = truncated_fraction(self.container, Path(path).stat().st_size)
            if present is not None:
                raise DecodeError(
                    f"The video file is truncated: only {present:.0%} of its data is present.",
                    frames_done=0,
                    seconds=0.0,
                )
            limit = None if until is None else Fraction(until)
            self.timing: StreamTiming = scan_streams(
                Path(path), stream, pick_audio_stream(self.container), until=limit
            )
        except BaseException:
            close_input(self.container)
            raise
        self.stream = stream
        if threads:
            stream.thread_type = "AUTO"
        self.frame_rate: Fraction = self.timing.rate
        self.time_base: Fraction = self.timing.time_base
        self.constant_rate: bool = self.timing.constant
        self.warnings = warnings if warnings is not None else InputWarnings()
        # Source time (seconds) of the first frame shown: output time 0. Set by frames().
        self.start_time: Fraction | None = None
        self.frames_done = 0
        self._timeline = FrameTimeline(self.timing)
        self._until = None if limit is None else max(1, round(limit / self.time_base))  # ticks
        self._stated = _stated_seconds(self.container, stream)
        self._damage = _Damage()
        self._end = 0  # output pts where the last frame yielded ends

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        close_input(self.container)

    @property
    def source_span(self) -> tuple[Fraction, Fraction] | None:
        """Source times of the first frame and of the end of the video this decoder will give
        (``until`` applied; from the packets' timestamps, before decoding)."""
        start, end = self.timing.video_start, self.timing.video_end
        if start is None or end is None:
            return None
        if self._until is not None:
            end = min(end, start + self._until * self.time_base)
        return start, end

    @property
    def frame_duration(self) -> int:
        """One frame at the nominal rate, in time_base ticks."""
        return self.timing.frame_ticks

    def frames(self) -> Iterator[VideoFrame]:
        """Decoded, upright frames on the output's time line (see module docstring).

        Raises DecodeError when damage leaves too little of the video to work with.
        """
        upright = Uprighter()
        waiting: VideoFrame | None = None  # placed; its duration is known when the next one is
        waiting_ticks = 0
        for frame, when, length in self._timed():
            pts = self._timeline.place(when, length)
            if pts is None:
                continue
            if waiting is not None:
                waiting.duration = pts - waiting.pts
                yield self._emit(waiting, upright)
            if self._until is not None and pts >= self._until:
                waiting = None
                break  # Nothing past the limit is decoded.
            if self.start_time is None:
                self.start_time = self._timeline.origin
            frame.pts, frame.time_base = pts, self.time_base
            waiting, waiting_ticks = frame, self._timeline.last_ticks
        if waiting is not None:
            waiting.duration = waiting_ticks
            yield self._emit(waiting, upright)
        self._conclude()

    def _emit(self, frame: VideoFrame, upright: Uprighter) -> VideoFrame:
        if self._until is not None:
            frame.duration = max(1, min(frame.duration, self._until - frame.pts))
        self.frames_done += 1
        self._end = frame.pts + frame.duration
        return upright(frame, clockwise_rotation(frame))

    def _timed(self) -> Iterator[tuple[VideoFrame, Fraction | None, Fraction | None]]:
        """(frame, source time or None, source duration or None) in decoder output order.

        The first WARM_UP_FRAMES are held back until the clock has seen them all, so that a stream
        whose pts run out of order is timed by its decode timestamps from its first frame on.
        """
        clock = BestEffortClock()
        warming: list[tuple[VideoFrame, Fraction | None, Fraction | None]] | None = []
        for frame in self._decoded():
            tb = frame.time_base or self.stream.time_base
            pts = Fraction(frame.pts) * tb if frame.pts is not None and tb else None
            dts = Fraction(frame.dts) * tb if frame.dts is not None and tb else None
            clock.observe(pts, dts)
            if warming is None:
                yield frame, clock.choose(pts, dts), _length(frame, self.stream)
                continue
            warming.append((frame, pts, dts))
            if len(warming) == WARM_UP_FRAMES:
                for held, p, d in warming:
                    yield held, clock.choose(p, d), _length(held, self.stream)
                warming = None
        for held, p, d in warming or ():
            yield held, clock.choose(p, d), _length(held, self.stream)

    def _decoded(self) -> Iterator[VideoFrame]:
        stream, damage = self.stream, self._damage
        try:
            for packet in self.container.demux(stream):
                damage.packets += 1 if packet.size else 0
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError:
                    damage.undecodable += 1
                    self._warn_damage()
                    continue
                for frame in frames:
                    if frame.is_corrupt:
                        damage.concealed += 1
                    damage.track(frame)
                    yield frame
        except av.FFmpegError as exc:
            damage.unreadable = describe_av_error(exc)

    def _now(self) -> float:
        """Output seconds reached so far."""
        return float(self._end * self.time_base)

    def _warn_damage(self) -> None:
        damage = self._damage
        if damage.first_at is None:
            damage.first_at = damage.decoded_seconds
            self.warnings.warn(
                "damaged",
                f"The video has damaged data at {damage.first_at:.2f} s: what cannot be decoded is "
                "skipped and the picture before it held.",
            )

    def _conclude(self) -> None:
        """After the last frame: fail on too much damage, else report what was repaired."""
        damage, report, seconds = self._damage, self._timeline.report, self._now()
        expected = self._expected_frames()
        if damage and expected and self.frames_done < MIN_DECODED_SHARE * expected:
            where = f" (damaged from {damage.first_at:.2f} s)" if damage.first_at is not None else ""
            raise DecodeError(
                f"Only {self.frames_done / expected:.0%} of the video's frames could be decoded{where}: "
                "too little is left to make the output.",
                frames_done=self.frames_done,
                seconds=seconds,
            )
        held = "the picture before each is held over it" if self.constant_rate else "the gaps are kept"
        if damage.undecodable:
            self.warnings.warn(
                "damaged",
                f"{damage.undecodable} of the video's {damage.packets} packets could not be decoded "
                f"(damaged data, first at {damage.first_at or 0.0:.2f} s); {held}.",
            )
        if damage.concealed:
            self.warnings.warn(
                "concealed",
                f"{damage.concealed} video frames were damaged and decoded with the damage patched over.",
            )
        if damage.unreadable is not None:
            self.warnings.warn(
                "unreadable",
                f"The video could not be read past {seconds:.2f} s ({damage.unreadable}); the output "
                "ends there.",
            )
        elif self._stated is not None and not self._stopped_early(seconds):
            short = self._stated - seconds
            if short > max(_SHORT_BY_S, 3 / float(self.frame_rate)):
                self.warnings.warn(
                    "short",
                    f"The video's pictures end at {seconds:.2f} s, before the {self._stated:.2f} s its "
                    "file states (is the file cut short?); the output ends there.",
                )
        if report.gaps:
            self.warnings.warn(
                "gaps",
                f"The video's timestamps skip {_count(report.held_frames, 'frame')} in "
                f"{_count(report.gaps, 'place')} (first at {report.first_gap_at or 0.0:.2f} s); the picture "
                "before each gap is held over it.",
            )
        if report.dropped:
            self.warnings.warn(
                "dropped",
                f"{report.dropped} video frames with repeated or out-of-order timestamps were dropped.",
            )
        if report.jumps:
            at, by = report.jumps[0]
            way = "back" if by < 0 else "forward"
            count = f"{len(report.jumps)} times, first " if len(report.jumps) > 1 else ""
            self.warnings.warn(
                "jumps",
                f"The video's timestamps jump {count}{way} by {abs(by):.2f} s at {at:.2f} s; the video "
                "continues from there without a gap.",
            )

    def _stopped_early(self, seconds: float) -> bool:
        """The output ends where ``until`` asked, not where the data ran out."""
        return self._until is not None and seconds >= float(self._until * self.time_base) - 1e-6

    def _expected_frames(self) -> float:
        """Frames a clean file would show over the span decoded (for the damage check)."""
        timing = self.timing
        span = self._stated
        if span is None and timing.video_start is not None and timing.video_end is not None:
            span = float(timing.video_end - timing.video_start)
        if span is None:
            return 0.0
        if self._until is not None:
            span = min(span, float(self._until * self.time_base))
        return span * float(timing.rate)


class _Damage:
    """Counts of what went wrong while demuxing and decoding."""

    def __init__(self) -> None:
        self.packets = 0
        self.undecodable = 0  # packets the decoder refused
        self.concealed = 0  # frames the decoder flagged as patched over damage
        self.unreadable: str | None = None  # why demuxing stopped early, if it did
        self.first_at: float | None = None  # seconds into the video of the first damage
        self._first: Fraction | None = None
        self._latest: Fraction | None = None

    def __bool__(self) -> bool:
        return bool(self.undecodable or self.unreadable)

    def track(self, frame: VideoFrame) -> None:
        """Note how far decoding has got, by the frame's raw timestamp."""
        stamp = frame.pts if frame.pts is not None else frame.dts
        if stamp is None or frame.time_base is None:
            return
        when = Fraction(stamp) * frame.time_base
        self._first = when if self._first is None else min(self._first, when)
        self._latest = when if self._latest is None else max(self._latest, when)

    @property
    def decoded_seconds(self) -> float:
        """Roughly where in the video decoding is (seconds from its first frame)."""
        if self._first is None or self._latest is None:
            return 0.0
        return float(self._latest - self._first)


def _count(number: int, noun: str) -> str:
    return f"one {noun}" if number == 1 else f"{number} {noun}s"


def _length(frame: VideoFrame, stream: av.video.stream.VideoStream) -> Fraction | None:
    tb = frame.time_base or stream.time_base
    return Fraction(frame.duration) * tb if frame.duration and tb else None


def _stated_seconds(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    """The video's length as its file states it (see stated_durations), None when nothing says."""
    stated = stated_durations(container, stream)
    sane = [seconds for seconds in stated if seconds > 0]
    return sane[0] if sane else None
