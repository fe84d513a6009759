"""The building blocks under the engines: VideoDecoder, H264Writer, transcode_frames."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import pytest

from mediafiles import make_empty_video, make_raw_h264
from taxiway.media.decode import DecodeError, VideoDecoder
from taxiway.media.encode import H264Writer
from taxiway.media.pipeline import transcode_frames
from taxiway.media.scale import Scaler


class Cancelled(Exception):
    pass


def _writer(path: Path, decoder: VideoDecoder, size: tuple[int, int] = (64, 48)) -> H264Writer:
    return H264Writer(
        path,
        width=size[0],
        height=size[1],
        time_base=decoder.time_base,
        frame_rate=decoder.frame_rate,
        preset="ultrafast",
    )


def test_decoder_timestamps_start_at_zero_and_increase(clip: Callable[..., Path]) -> None:
    with VideoDecoder(clip("a.ts", seconds=0.5)) as decoder:  # MPEG-TS timestamps do not start at 0
        frames = list(decoder.frames())
        assert decoder.start_time is not None and decoder.start_time > 0
    pts = [f.pts for f in frames]
    assert pts[0] == 0 and all(b > a for a, b in itertools.pairwise(pts))
    assert all(f.duration and f.time_base == decoder.time_base for f in frames)
    assert float(frames[-1].pts * decoder.time_base) == pytest.approx(11 / 24, abs=1e-3)


def test_decoder_fills_missing_timestamps(clip: Callable[..., Path], media_dir: Path) -> None:
    raw = make_raw_h264(clip("a.mp4"), media_dir / "dec.h264")
    with VideoDecoder(raw) as decoder:
        times = [float(f.pts * decoder.time_base) for f in decoder.frames()]
    assert len(times) == 48
    assert times == pytest.approx([i / 24 for i in range(48)], abs=1e-3)


def test_decoder_outputs_upright_frames(clip: Callable[..., Path]) -> None:
    with VideoDecoder(clip("r.mp4", rotation=90, seconds=0.25, audio=False)) as decoder:
        frame = next(decoder.frames())
    assert (frame.width, frame.height) == (240, 320)


def test_writer_validates_settings(tmp_path: Path) -> None:
    common = {"time_base": Fraction(1, 24), "frame_rate": Fraction(24)}
    with pytest.raises(ValueError, match="even"):
        H264Writer(tmp_path / "o.mp4", width=65, height=48, **common)
    with pytest.raises(ValueError, match="preset"):
        H264Writer(tmp_path / "o.mp4", width=64, height=48, preset="warp", **common)
    with pytest.raises(ValueError, match="crf"):
        H264Writer(tmp_path / "o.mp4", width=64, height=48, crf=60, **common)
    assert list(tmp_path.iterdir()) == []


def test_writer_abort_removes_everything(clip: Callable[..., Path], tmp_path: Path) -> None:
    with VideoDecoder(clip("a.mp4", seconds=0.5, audio=False)) as decoder:
        writer = _writer(tmp_path / "o.mp4", decoder)
        scaler = Scaler(64, 48)
        for frame in itertools.islice(decoder.frames(), 5):
            writer.write(scaler(frame))
        assert [p.name for p in tmp_path.iterdir()] == [".o.mp4.partial"]
        writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_pipeline_reports_while_decoding_is_slow_and_stops_on_request(
    clip: Callable[..., Path], tmp_path: Path
) -> None:
    calls: list[int] = []

    def slow(frame: av.VideoFrame) -> av.VideoFrame:
        time.sleep(1.2)  # far slower than the 0.5 s reporting interval
        return Scaler(64, 48)(frame)

    def on_progress(done: int) -> None:
        calls.append(done)
        raise Cancelled()

    threads_before = threading.active_count()
    with VideoDecoder(clip("a.mp4", seconds=0.5, audio=False)) as decoder:
        writer = _writer(tmp_path / "o.mp4", decoder)
        start = time.monotonic()
        with pytest.raises(Cancelled):
            transcode_frames(decoder, slow, writer, on_progress)
        writer.abort()
    # Reported (done=0) after ~0.5 s of waiting, then waited out the one slow transform in flight.
    assert calls == [0]
    # Less than two slow transforms: it never started another (a loaded machine adds ~0.7 s).
    assert time.monotonic() - start < 2 * 1.2
    assert threading.active_count() == threads_before


def test_pipeline_reraises_worker_errors(clip: Callable[..., Path], tmp_path: Path) -> None:
    def broken(frame: av.VideoFrame) -> av.VideoFrame:
        raise RuntimeError("transform failed")

    with VideoDecoder(clip("a.mp4", seconds=0.5, audio=False)) as decoder:
        writer = _writer(tmp_path / "o.mp4", decoder)
        with pytest.raises(RuntimeError, match="transform failed"):
            transcode_frames(decoder, broken, writer, lambda done: None)
        writer.abort()


def test_pipeline_with_no_frames_is_a_decode_error(media_dir: Path, tmp_path: Path) -> None:
    path = make_empty_video(media_dir / "nothing.mkv")
    with VideoDecoder(path) as decoder:
        writer = _writer(tmp_path / "o.mp4", decoder)
        with pytest.raises(DecodeError, match="no decodable frames"):
            transcode_frames(decoder, Scaler(64, 48), writer, lambda done: None)
        writer.abort()


def test_decoder_bridges_timestamps_that_jump_backwards(clip: Callable[..., Path], media_dir: Path) -> None:
    # Two MPEG-TS files back to back (what naive concatenation or a stream restart produces): the
    # second half's timestamps start again from ~0.
    part = clip("part.ts", seconds=0.5, audio=False).read_bytes()
    joined = media_dir / "joined.ts"
    joined.write_bytes(part + part)
    with VideoDecoder(joined) as decoder:
        times = [float(f.pts * decoder.time_base) for f in decoder.frames()]
    assert len(times) == 24
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert min(steps) == pytest.approx(1 / 24, abs=2e-3)
    assert times[-1] == pytest.approx(23 / 24, abs=0.01)
