"""The timing model (taxiway.media.timing) in its parts, then the decoder on every hard case of the
real-footage corpus against the ffmpeg CLI's reading of the same file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from footage import HARD_CASES, build_case
from taxiway.media.audio import copy_keeps_sync
from taxiway.media.decode import VideoDecoder
from taxiway.media.input_warnings import InputWarnings
from taxiway.media.timing import AudioSpan, BestEffortClock, FrameTimeline, StreamTiming, classify_rate
from timing_oracle import ffmpeg_reading

F = Fraction


def _times(rate: Fraction, count: int, start: Fraction | None = None) -> list[Fraction]:
    return [(start or F(0)) + k / rate for k in range(count)]


def test_a_constant_rate_is_recognised_with_gaps_and_rounding() -> None:
    ntsc = F(30000, 1001)
    assert classify_rate(_times(ntsc, 90), [ntsc]) == (ntsc, True)
    # Matroska's millisecond timestamps of a 29.97 stream, a stated rate that is wrong, frames missing.
    rounded = [F(round(t * 1000), 1000) for t in _times(ntsc, 90)]
    del rounded[40:43]
    assert classify_rate(rounded, [F(25)]) == (ntsc, True)
    # Exactly 30 is not taken for 29.97 (over 3 s the two part by a tenth of a frame per second).
    assert classify_rate(_times(F(30), 300), [ntsc]) == (F(30), True)
    # Order does not matter: decode-order timestamps of a B-frame stream.
    shuffled = _times(F(25), 50)
    shuffled[1:4] = [shuffled[3], shuffled[1], shuffled[2]]
    assert classify_rate(shuffled, []) == (F(25), True)


def test_variable_rate_keeps_its_average() -> None:
    steps = [F(1, 30), F(1, 24), F(1, 15), F(1, 60)] * 10
    times = [sum(steps[:k], F(0)) for k in range(len(steps) + 1)]
    rate, constant = classify_rate(times, [F(30)])
    assert not constant and rate == (F(40) / sum(steps)).limit_denominator(1001)
    assert classify_rate([], [F(24)]) == (F(24), True)  # no timestamps at all: the stated rate


def test_best_effort_times_use_decode_order_when_pts_run_backwards() -> None:
    # PyAV's view of a DivX packed-bitstream AVI: pts 1, 3, 2, 5, 4 ... , dts 1, 2, 3, 4, 5 ...
    pts = [1, 3, 2, 5, 4, 7, 6, 9, 8]
    frames = [(F(p), F(k + 1)) for k, p in enumerate(pts)]
    clock = BestEffortClock()
    for p, d in frames:
        clock.observe(p, d)
    assert clock.pts_faulty
    assert [clock.choose(p, d) for p, d in frames] == [F(k + 1) for k in range(len(pts))]
    # A flushed frame (no dts) of such a stream is predicted from the one before, not its pts.
    assert clock.choose(F(3), None) is None
    # Clean B-frame output: pts increase, so pts are used even when dts are shifted.
    clean = BestEffortClock()
    for k in range(5):
        clean.observe(F(k), F(k - 2))
    assert not clean.pts_faulty and clean.choose(F(5), F(3)) == F(5)


def _timeline(constant: bool) -> FrameTimeline:
    rate = F(25)
    tb = 1 / rate if constant else F(1, 1000)
    return FrameTimeline(StreamTiming(rate, constant, tb, F(0), None, None, discontinuous=False))


def test_constant_rate_places_frames_on_slots_holds_gaps_and_drops_duplicates() -> None:
    line = _timeline(True)
    when = [F(10), F(10) + F(1, 25), F(10) + F(1, 25), F(10) + F(4, 25) + F(1, 1000), F(10) + F(5, 25)]
    assert [line.place(t, None) for t in when] == [0, 1, None, 4, 5]
    assert line.origin == 10
    report = line.report
    assert (report.dropped, report.gaps, report.held_frames, report.first_gap_at) == (1, 1, 2, 0.04)


def test_jumps_continue_from_the_frame_before() -> None:
    line = _timeline(True)
    when = [F(5), F(5) + F(1, 25), F(1), F(1) + F(1, 25), F(40), None]
    assert [line.place(t, None) for t in when] == [0, 1, 2, 3, 4, 5]
    assert line.report.jumps == [(0.04, -4.04), (0.12, 38.96)]
    # Small steps back are frames out of order, dropped: not a new stretch of time.
    assert line.place(F(40) - F(1, 25), None) is None


def test_variable_rate_keeps_source_timestamps() -> None:
    line = _timeline(False)
    assert [line.place(t, F(1, 30)) for t in (F(2), F(2) + F(33, 1000), F(3))] == [0, 33, 1000]
    assert line.report.gaps == 0  # variable rate: a long frame is not a gap


def test_audio_is_copied_only_when_it_spans_the_video() -> None:
    def timing(audio: AudioSpan | None, *, jumps: bool = False) -> StreamTiming:
        return StreamTiming(F(25), True, F(1, 25), F(0), F(2), audio, discontinuous=jumps)

    video = (F(0), F(2))
    spanning = AudioSpan(F(-21, 1000), F(2), contiguous=True)
    assert copy_keeps_sync(timing(spanning), video)
    assert not copy_keeps_sync(timing(spanning, jumps=True), video)  # the video closes up a jump
    assert not copy_keeps_sync(timing(AudioSpan(F(1, 2), F(2), contiguous=True)), video)  # starts late
    assert not copy_keeps_sync(timing(AudioSpan(F(0), F(19, 10), contiguous=True)), video)  # ends early
    assert not copy_keeps_sync(timing(AudioSpan(F(0), F(2), contiguous=False)), video)  # has a hole
    assert not copy_keeps_sync(timing(None), video)


def test_input_warnings_keep_one_entry_per_kind_in_order() -> None:
    heard: list[str] = []
    warnings = InputWarnings(on_change=heard.append)
    warnings.warn("damaged", "first")
    warnings.warn("gaps", "gap")
    warnings.warn("damaged", "summary")
    warnings.warn("damaged", "summary")
    assert warnings.messages == ["summary", "gap"]
    assert heard == ["first", "gap", "summary"]


# What the decoder must report on each case (a substring of one of its warnings); None: nothing.
DECODER_WARNINGS: dict[str, str | None] = {
    "avi-bframes": None,
    "avi-packed": None,
    "mp4-negative-cts": None,
    "mp4-no-editlist": None,
    "mp4-vfr": None,
    "mkv-offset": None,
    "mp4-late-audio": None,
    "ts-start": None,
    "mkv-jump": "The video's timestamps skip 25 frames in one place (first at 0.96 s)",
    "webm-jump": "The video's timestamps skip 18 frames in one place (first at 0.96 s)",
    "ts-joined": "The video's timestamps jump back by 0.96 s at 0.96 s",
    "mkv-truncated": "The video's pictures end at 1.68 s, before the 2.52 s its file states",
    "avi-damaged": "video frames were damaged and decoded with the damage patched over",
    "mp4-bitflips": "video frames were damaged and decoded with the damage patched over",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("name", HARD_CASES)
def test_the_decoder_reads_each_hard_case_as_ffmpeg_does(corpus: Path, name: str, tmp_path: Path) -> None:
    source = build_case(name, corpus)
    reading = ffmpeg_reading(source, tmp_path)
    warnings = InputWarnings()
    with VideoDecoder(source, warnings=warnings) as decoder:
        frames = list(decoder.frames())
        tb, constant = decoder.time_base, decoder.constant_rate
    pts = [frame.pts for frame in frames]
    assert pts == sorted(set(pts)), "timestamps must strictly increase"
    end = float((frames[-1].pts + frames[-1].duration) * tb)
    slots = sum(frame.duration for frame in frames) if constant else len(frames)
    assert abs(end - reading.duration) <= 1 / reading.fps + 1e-3, (end, reading)
    assert abs(slots / end / reading.fps - 1) <= 0.01, (slots, end, reading)
    expected = DECODER_WARNINGS.get(name, "")
    if expected is None:
        assert warnings.messages == []
    elif expected:
        assert any(expected in message for message in warnings.messages), warnings.messages
