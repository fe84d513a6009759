"""H.264/MP4 output for engines: libx264, yuv420p, BT.709 tags, faststart, source audio carried along.

:class:`H264Writer` never leaves a file at its target path that is not complete: it encodes into a
hidden ``.<name>.partial`` file next to the target and, on :meth:`H264Writer.finish`, rewrites it
with the index (moov) first for progressive playback ("faststart") into a second hidden file that
is renamed onto the target. :meth:`H264Writer.abort` removes whatever was written.

Faststart is done as a separate copy rather than with the muxer's ``+faststart`` flag because the
muxer applies it while closing: cancelling a long job would then block on rewriting gigabytes.
The copy costs the same on success and nothing on cancel.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType, VideoFrame

from taxiway.media.audio import AudioCarrier
from taxiway.media.timing import StreamTiming

DEFAULT_CRF = 18
DEFAULT_PRESET = "veryfast"
X264_PRESETS = frozenset(
    {
        "ultrafast",
        "superfast",
        "veryfast",
        "faster",
        "fast",
        "medium",
        "slow",
        "slower",
        "veryslow",
        "placebo",
    }
)
_BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG


class H264Writer:
    """Encodes frames to ``path`` (.mp4). Frames must be ``width`` × ``height`` yuv420p with pts
    strictly increasing in ``time_base`` from 0 (what VideoDecoder + Scaler produce).

    ``constant_rate``: one tick of ``time_base`` is one frame at ``frame_rate``, and a frame lasting
    several ticks (held over missing frames) is encoded once per tick, so the output keeps a
    constant rate.
    ``audio_source``: a file whose audio is carried into the output (see AudioCarrier); call
    :meth:`set_source_start` with the source time of the first frame before the first write.
    ``source_timing`` and ``source_span`` (the scan of the source, and the source times the video
    written starts and ends at) let AudioCarrier copy the audio when that keeps it in sync.
    ``threads``: libx264 threads, 0 = x264's default (1.5 × CPUs, frame-parallel).
    ``pad_audio``: silence follows the source's audio up to the video's end (see AudioCarrier),
    for outputs longer than their source; :meth:`end_audio_source` marks where the source ends.

    As a context manager it aborts (removing every file it wrote) unless :meth:`finish` completed.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        time_base: Fraction,
        frame_rate: Fraction,
        crf: int = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        audio_source: Path | None = None,
        threads: int = 0,
        pad_audio: bool = False,
        constant_rate: bool = False,
        source_timing: StreamTiming | None = None,
        source_span: tuple[Fraction, Fraction] | None = None,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even dimensions, got {width}x{height}")
        if preset not in X264_PRESETS:
            raise ValueError(f"unknown x264 preset {preset!r}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be 0..51, got {crf}")
        self.path = Path(path)
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._faststart = self.path.with_name(f".{self.path.name}.faststart")
        self._time_base = time_base
        self._constant_rate = constant_rate
        self._end = Fraction(0)
        self._finished = False
        self._durations: dict[int, int] = {}
        self._audio: AudioCarrier | None = None
        self._output = av.open(str(self._partial), "w", format="mp4")
        try:
            self._video = self._add_video(width, height, time_base, frame_rate, crf, preset, threads)
            if audio_source is not None:
                self._audio = AudioCarrier(
                    audio_source, self._output, pad=pad_audio, timing=source_timing, video=source_span
                )
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._finished:
            self.abort()

    def _add_video(
        self,
        width: int,
        height: int,
        time_base: Fraction,
        rate: Fraction,
        crf: int,
        preset: str,
        threads: int,
    ) -> av.video.stream.VideoStream:
        stream = self._output.add_stream("libx264", rate=rate)
        ctx = stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = time_base
        stream.time_base = time_base
        ctx.framerate = rate
        # PyAV defaults to slice threading, which makes libx264 switch to sliced threads (slower,
        # worse compression). FRAME|SLICE ("AUTO") keeps x264's own frame-parallel threads, as ffmpeg does.
        ctx.thread_type = "AUTO"
        ctx.thread_count = threads
        ctx.color_primaries = _BT709
        ctx.color_trc = _BT709
        ctx.colorspace = _BT709
        ctx.color_range = _LIMITED_RANGE
        ctx.options = {"crf": str(crf), "preset": preset}
        return stream

    def set_source_start(self, seconds: Fraction) -> None:
        """Source time of the first frame: aligns the carried audio with the video."""
        if self._audio is not None:
            self._audio.set_start(seconds)

    def end_audio_source(self) -> None:
        """Cut the carried audio at the end of the video written so far: frames written after
        this get silence (with ``pad_audio``) or no audio, never the source's later sound."""
        if self._audio is not None:
            self._audio.end_source(self._end)

    def write(self, frame: VideoFrame) -> None:
        """Encode one frame (and the audio up to its time). Runs x264 on its own threads."""
        repeats = frame.duration if self._constant_rate and frame.duration and frame.duration > 1 else 1
        if repeats == 1:
            self._write_once(frame)
            return
        first = frame.pts
        try:
            for k in range(repeats):  # a held frame: once per frame slot
                frame.pts, frame.duration = first + k, 1
                self._write_once(frame)
        finally:
            frame.pts, frame.duration = first, repeats

    def _write_once(self, frame: VideoFrame) -> None:
        t = Fraction(frame.pts) * self._time_base
        # Decoded frames keep the source's picture type (I/P/B) and libx264 obeys it: without this
        # reset the output would copy the source's GOP structure instead of x264 choosing its own.
        frame.pict_type = PictureType.NONE
        if self._audio is not None:
            self._audio.mux_until(t)
        # x264 stamps packet durations from the nominal frame rate; with variable frame rate that
        # would stretch the last frame, so packets get the duration of the frame they encode.
        self._durations[frame.pts] = frame.duration
        self._mux_video(self._video.encode(frame))
        self._end = t + Fraction(frame.duration or 0) * self._time_base

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            duration = self._durations.pop(packet.pts, None)
            if duration:
                packet.duration = duration
        self._output.mux(packets)

    def finish(self) -> Path:
        """Flush the encoder, close the file, make it faststart and move it to ``path``."""
        try:
            self._mux_video(self._video.encode(None))
            if self._audio is not None:
                self._audio.finish(self._end)
            self._close()
            _faststart_copy(self._partial, self._faststart)
            os.replace(self._faststart, self.path)
            self._finished = True
        except BaseException:
            self.abort()
            raise
        finally:
            _unlink(self._partial)
        return self.path

    def abort(self) -> None:
        """Stop without flushing the encoder and remove every file this writer created."""
        with contextlib.suppress(Exception):
            self._close()
        for path in (self._partial, self._faststart):
            _unlink(path)

    def _close(self) -> None:
        try:
            if self._audio is not None:
                self._audio.close()
        finally:
            # Without +faststart the trailer is just the index: closing is quick even mid-way.
            self._output.close()


def _faststart_copy(src: Path, dst: Path) -> None:
    """Remux ``src`` into ``dst`` with the index first. Packets are copied, not re-encoded."""
    with (
        av.open(str(src)) as source,
        av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        streams = {s.index: out.add_stream_from_template(s, opaque=True) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:  # End-of-stream markers carry no data.
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
