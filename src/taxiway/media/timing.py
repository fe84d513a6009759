"""The one timing model: when each decoded frame is shown, and at what rate an output runs.

Every engine decodes through :class:`~taxiway.media.decode.VideoDecoder`, which uses this module in
three steps. The reference is FFmpeg's own command-line tools, which read badly timed real files
(AVI with B-frames, MP4 without composition offsets, damaged captures) with the right duration.

1. :func:`scan_streams`, before any decoding, demuxes the packets (no decoding: a fraction of a
   second for a long file) and reads their timestamps. Sorted, the video's presentation
   timestamps say whether the stream has a constant frame rate: it does when nearly every step
   between neighbours is a whole number of frames at one rate (a step of several frames is a gap,
   frames missing). The audio's timestamps say whether it covers the video without gaps, which
   decides whether it can be copied (:mod:`taxiway.media.audio`).
2. :class:`BestEffortClock` gives each decoded frame the time FFmpeg's ``best_effort_timestamp``
   gives it: the frame's reordered pts, unless those have gone backwards more often than the
   packets' decode timestamps, in which case the decode timestamp. That is what repairs AVI (whose
   chunks carry one timestamp that the parser guesses) and MP4 files muxed without composition
   offsets: their frames come out of the decoder in presentation order carrying decode-order
   timestamps (1, 3, 2, 5, 4, ...). Unlike FFmpeg it decides after a few frames rather than on the
   first, and it continues a stream whose pts proved faulty from its last frame when the decoder's
   flushed frames lack a decode timestamp.
3. :class:`FrameTimeline` places frames on the output's time line (the policy in the README):

   * constant-rate source: a constant-rate output at the source's rate, one tick of ``1/rate`` per
     frame; a frame is held over the slots of frames missing after it (a gap), a frame landing on
     a slot already taken is dropped (a duplicate timestamp), as ``ffmpeg`` does for MP4;
   * variable-rate source: the source's own timestamps, in its own time base;
   * either way, time 0 is the first frame shown; a jump back by more than two frames, or forward
     by more than :data:`MAX_HELD_GAP_S`, is a discontinuity (a restarted stream, joined files):
     the frames after it follow on from the frame before it.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from taxiway.media.containers import close_input, open_input

# Forward gaps up to this long are held (a paused recording, lost frames); longer ones are taken as a
# discontinuity and closed up. Ten seconds is FFmpeg's own threshold (dts_delta_threshold).
MAX_HELD_GAP_S = Fraction(10)
# A frame this many frame durations before the previous one starts a new stretch of time (a
# discontinuity); a smaller step back is a frame out of order or a duplicate, and is dropped.
MAX_STEP_BACK_FRAMES = 2
# A step between timestamps fits a rate when it is within this share of a frame of a whole number.
_FIT_TOLERANCE = 0.2
# Share of steps that must fit for a stream to count as constant-rate (the rest: jitter, jumps).
_FIT_SHARE = 0.95
# Frame rates tried, besides the stream's own, when a constant-rate stream's steps are rounded
# (Matroska's millisecond timestamps): the usual camera and broadcast rates.
_COMMON_RATES = tuple(
    Fraction(r)
    for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60", "15", "12.5")
)
_DEFAULT_RATE = Fraction(25)
# Rates outside this range are not believed (a forged header, a still-image stream).
_MIN_RATE, _MAX_RATE = Fraction(1), Fraction(1000)
# Time bases finer than this (raw H.264 uses 1/1200000) are replaced: x264 and MP4 want < 2^31 ticks/s
# and nothing needs more than microseconds.
_FINEST_TIME_BASE = Fraction(1, 1_000_000)
_FALLBACK_TIME_BASE = Fraction(1, 90_000)
# Audio is copied only when it starts at most this long after the video, ends at most this long
# before it, and has no hole or overlap longer than this (else it is re-encoded and padded).
AUDIO_START_SLACK = Fraction(20, 1000)
AUDIO_END_SLACK = Fraction(40, 1000)
# Frames decoded before the first is given a time, so the pts/dts choice is made on evidence.
WARM_UP_FRAMES = 8


@dataclass(frozen=True)
class AudioSpan:
    """Where the audio's packets lie in source time, and whether they follow on without holes."""

    start: Fraction
    end: Fraction
    # Each packet starts where the one before ended, all (but the last) last the same, and time
    # never goes back: copied as they are, they play in step with the video.
    contiguous: bool


@dataclass(frozen=True)
class StreamTiming:
    """What :func:`scan_streams` found: the output's rate and time base, and the audio's span."""

    rate: Fraction  # frames per second: the constant rate, or the average of a variable one
    constant: bool
    time_base: Fraction  # of the output: 1/rate when constant, else the source's
    video_start: Fraction | None  # source time of the earliest video timestamp (None: none carried)
    video_end: Fraction | None  # source time the last video frame ends (of the scanned span)
    audio: AudioSpan | None  # None: no audio stream, or no timestamps on it
    discontinuous: bool  # the video's decode timestamps jump (back, or forward over MAX_HELD_GAP_S)

    @property
    def frame_ticks(self) -> int:
        """One frame at ``rate``, in ``time_base`` ticks."""
        return max(1, round(1 / (self.rate * self.time_base)))


def scan_streams(
    path: Path,
    video: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
    *,
    until: Fraction | None = None,
) -> StreamTiming:
    """Read the timestamps of the video's (and audio's) packets up to ``until`` seconds after the
    video's first; nothing is decoded. See the module docstring."""
    container = open_input(path)
    try:
        v_stream = container.streams[video.index]
        a_stream = container.streams[audio.index] if audio is not None else None
        video_times, decode_times, durations, sound = _demux_times(container, v_stream, a_stream, until)
    finally:
        close_input(container)
    # guessed_rate first: FFmpeg's own choice (av_guess_frame_rate), which knows raw streams' rates.
    stated = [Fraction(r) for r in (video.guessed_rate, video.average_rate, video.base_rate) if r]
    stated = [r for r in stated if _MIN_RATE <= r <= _MAX_RATE]
    rate, constant = classify_rate(video_times, stated)
    source_tb = video.time_base if video.time_base and video.time_base >= _FINEST_TIME_BASE else None
    time_base = 1 / rate if constant else (source_tb or _FALLBACK_TIME_BASE)
    start = min(video_times) if video_times else None
    end = None
    if video_times:
        last = max(video_times)
        end = last + (durations.get(last) or 1 / rate)
    return StreamTiming(
        rate=rate,
        constant=constant,
        time_base=time_base,
        video_start=start,
        video_end=end,
        audio=_audio_span(sound),
        discontinuous=_jumps(decode_times, rate),
    )


def _demux_times(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
    until: Fraction | None,
) -> tuple[list[Fraction], list[Fraction], dict[Fraction, Fraction], list[tuple[Fraction, Fraction]]]:
    """(video presentation times, video decode times, video durations by time, audio (start, length)).

    Stops a second past ``until`` (in decode order, so every frame shown before it is seen). A
    demuxing error ends the scan: the decoder meets it again and reports it.
    """
    times: list[Fraction] = []
    decode: list[Fraction] = []
    durations: dict[Fraction, Fraction] = {}
    sound: list[tuple[Fraction, Fraction]] = []
    first: Fraction | None = None
    streams = [video] if audio is None else [video, audio]
    try:
        for packet in container.demux(streams):
            if not packet.size or packet.time_base is None:
                continue
            tb = packet.time_base
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is None:
                continue
            when = Fraction(stamp) * tb
            length = Fraction(packet.duration or 0) * tb
            if packet.stream.index != video.index:
                sound.append((when, length))
                continue
            times.append(when)
            if length:
                durations[when] = length
            if packet.dts is not None:
                decode.append(Fraction(packet.dts) * tb)
            first = when if first is None else min(first, when)
            if until is not None and packet.dts is not None and decode[-1] - first > until + 1:
                break
    except (av.FFmpegError, OSError):
        pass
    return times, decode, durations, sound


def classify_rate(times: Iterable[Fraction], stated: list[Fraction]) -> tuple[Fraction, bool]:
    """(rate, constant) for a stream whose frames have these presentation times (any order).

    Constant at a rate R when at least 95 % of the steps between sorted, distinct times are
    within 0.2 frame of a whole number of frames at R, and the whole span agrees with R to within
    half a frame. R is tried from the stream's own stated rates and the common rates, the one
    closest over the span winning (so 30 fps is not taken for 29.97), and only then from the
    span's own average. Otherwise variable, at the average rate.
    """
    ordered = sorted(set(times))
    steps = [b - a for a, b in itertools.pairwise(ordered)]
    fallback = stated[0] if stated else _DEFAULT_RATE
    if len(steps) < 2:
        return fallback, True
    typical = statistics.median(steps)
    span = ordered[-1] - ordered[0]
    slots = sum(max(1, round(step / typical)) for step in steps)
    average = Fraction(slots) / span
    for candidates in (_unique([*stated, *_COMMON_RATES]), _unique([average.limit_denominator(1001)])):
        fitting = [
            (drift, k, rate)
            for k, rate in enumerate(candidates)
            if abs(rate * typical - 1) <= Fraction(1, 20) and (drift := _drift(steps, span, rate)) is not None
        ]
        if fitting:
            return min(fitting)[2], True  # the rate that keeps closest to the timestamps over the span
    # Its nominal rate (the encoder's, and extend's new frames'): a plain fraction, not ticks/ticks.
    observed = (Fraction(len(ordered) - 1) / span).limit_denominator(1001)
    return (observed if _MIN_RATE <= observed <= _MAX_RATE else fallback), False


def _drift(steps: list[Fraction], span: Fraction, rate: Fraction) -> Fraction | None:
    """How far (seconds) whole frames at ``rate`` end from the span, if the steps fit ``rate``."""
    fitting = 0
    slots = 0
    for step in steps:
        frames = step * rate
        whole = round(frames)
        if whole >= 1 and abs(frames - whole) <= _FIT_TOLERANCE:
            fitting += 1
        slots += max(1, whole)
    drift = abs(Fraction(slots) / rate - span)
    return drift if fitting >= _FIT_SHARE * len(steps) and drift <= 1 / (2 * rate) else None


def _unique(rates: list[Fraction]) -> list[Fraction]:
    seen: list[Fraction] = []
    for rate in rates:
        if _MIN_RATE <= rate <= _MAX_RATE and rate not in seen:
            seen.append(rate)
    return seen


def _audio_span(packets: list[tuple[Fraction, Fraction]]) -> AudioSpan | None:
    if not packets:
        return None
    ordered = sorted(packets)
    contiguous = all(
        abs(start - (prev_start + prev_length)) <= AUDIO_END_SLACK
        for (prev_start, prev_length), (start, _) in itertools.pairwise(ordered)
    )
    # Sorting hides a stream that restarts at 0 (a backward jump): its packets then overlap.
    in_order = all(b[0] >= a[0] for a, b in itertools.pairwise(packets))
    # A packet that claims longer than its neighbours (a muxer's way to hide encoder delay without
    # an edit list) holds no more samples than they do: its "duration" is a hole.
    regular = len({length for _, length in ordered[:-1]}) <= 1
    start = ordered[0][0]
    end = max(s + length for s, length in ordered)
    return AudioSpan(start=start, end=end, contiguous=contiguous and in_order and regular)


def _jumps(decode_times: list[Fraction], rate: Fraction) -> bool:
    back = Fraction(MAX_STEP_BACK_FRAMES) / rate
    return any(b < a - back or b - a > MAX_HELD_GAP_S for a, b in itertools.pairwise(decode_times))


class BestEffortClock:
    """Each decoded frame's source time, chosen as FFmpeg's ``guess_correct_pts`` chooses it.

    Counts how often the frames' reordered pts and their packets' decode timestamps fail to
    increase; the series that failed less is used. Times are seconds (Fractions); None where a
    frame carries neither (raw streams): the caller continues from the previous frame.
    """

    def __init__(self) -> None:
        self._faulty_pts = 0
        self._faulty_dts = 0
        self._last_pts: Fraction | None = None
        self._last_dts: Fraction | None = None

    def observe(self, pts: Fraction | None, dts: Fraction | None) -> None:
        """Count this frame's evidence (call once per frame, in decoder output order)."""
        if dts is not None:
            self._faulty_dts += self._last_dts is not None and dts <= self._last_dts
            self._last_dts = dts
        elif pts is not None:
            self._last_dts = pts
        if pts is not None:
            self._faulty_pts += self._last_pts is not None and pts <= self._last_pts
            self._last_pts = pts
        elif dts is not None:
            self._last_pts = dts

    @property
    def pts_faulty(self) -> bool:
        return self._faulty_pts > self._faulty_dts

    def choose(self, pts: Fraction | None, dts: Fraction | None) -> Fraction | None:
        """The frame's time from what has been observed so far."""
        if pts is not None and (dts is None or not self.pts_faulty):
            if dts is None and self.pts_faulty:
                return None  # A flushed frame of a stream whose pts are wrong: predict instead.
            return pts
        return dts


@dataclass
class TimelineReport:
    """What :class:`FrameTimeline` had to repair, for the task's input warnings."""

    dropped: int = 0  # frames on a slot already taken, or slightly out of order
    gaps: int = 0  # stretches of missing frames held over (constant rate)
    held_frames: int = 0  # slots filled by holding in those gaps
    first_gap_at: float | None = None
    jumps: list[tuple[float, float]] = field(default_factory=list)  # (output time, seconds jumped)


class FrameTimeline:
    """Places frames (by source time) on the output's time line; see the module docstring.

    :meth:`place` returns a frame's output pts in ``timing.time_base`` ticks, or None when the
    frame is dropped. In a constant-rate timeline a pts is a frame index.
    """

    def __init__(self, timing: StreamTiming) -> None:
        self.timing = timing
        self.report = TimelineReport()
        self.origin: Fraction | None = None  # source time of output 0
        self._last_time: Fraction | None = None  # source time of the last placed frame
        self._last_pts = 0
        self._last_ticks = timing.frame_ticks  # the last placed frame's length, for continuing after it

    @property
    def time_base(self) -> Fraction:
        return self.timing.time_base

    @property
    def last_ticks(self) -> int:
        """The length of the last frame placed, in ticks (1 at a constant rate)."""
        return self._last_ticks

    def place(self, when: Fraction | None, length: Fraction | None) -> int | None:
        """Output pts of a frame shown at source time ``when`` (None: right after the previous
        frame) lasting ``length`` seconds (None: one frame at the nominal rate)."""
        tb = self.time_base
        ticks = self.timing.frame_ticks if self.timing.constant or not length else max(1, round(length / tb))
        if self.origin is None or self._last_time is None:
            self.origin = when if when is not None else Fraction(0)
            self._last_time, self._last_pts, self._last_ticks = self.origin, 0, ticks
            return 0
        if when is None:
            return self._follow(self._last_time + self._last_ticks * tb, ticks)
        step = round((when - self._last_time) / tb)
        back = MAX_STEP_BACK_FRAMES * self.timing.frame_ticks
        if step <= 0 and -step <= back:
            self.report.dropped += 1  # a duplicate or a frame out of order
            return None
        if step <= 0 or step * tb > MAX_HELD_GAP_S:
            self.report.jumps.append((float(self._output_time()), float(when - self._last_time)))
            return self._follow(when, ticks)
        if self.timing.constant and step > self.timing.frame_ticks:
            missing = step // self.timing.frame_ticks - 1
            if missing:
                self.report.gaps += 1
                self.report.held_frames += missing
                if self.report.first_gap_at is None:
                    self.report.first_gap_at = float(self._output_time())
        pts = self._last_pts + step
        self._last_time, self._last_pts, self._last_ticks = when, pts, ticks
        return pts

    def _follow(self, when: Fraction, ticks: int) -> int:
        """Place a frame right after the previous one; ``when`` becomes its source time."""
        pts = self._last_pts + self._last_ticks
        self._last_time, self._last_pts, self._last_ticks = when, pts, ticks
        return pts

    def _output_time(self) -> Fraction:
        return self._last_pts * self.time_base
