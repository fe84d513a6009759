"""Carrying a source file's audio into an MP4 output, in step with the re-encoded video.

The policy: the output's audio track spans the output video exactly, from its first frame to its
end, with the source's sound at the same instants relative to the pictures as in the source
(start offsets, edit lists and holes honoured), silence wherever the source has no sound, and the
source's sound past the video's end cut off.

AAC and MP3 are copied packet for packet (no quality loss, no CPU) when that already gives such
a track: the source's audio starts by the first frame (20 ms of slack), lasts to the video's end
(40 ms), and has no holes or jumps (see :func:`copy_keeps_sync`); it is then cut at the video's
end to within one packet (~21 ms). Anything else (Opus, Vorbis, AC-3, PCM, MP2..., or AAC that
starts late, ends early or has holes) is transcoded to AAC-LC, each decoded frame placed by its
own timestamp: silence fills a late start, a hole and an early end; overlapping sound is dropped.

The writer calls :meth:`AudioCarrier.mux_until` as video advances so audio and video are
interleaved in the file, then :meth:`AudioCarrier.finish` with the video's end time. Audio is never
written ahead of the video: a packet once muxed cannot be taken back, so audio written past the
time the video reached would outlast a video that then stops (a trimmed output, or a source whose
sound outlasts its picture).

Engines that make the video longer than its source (extend) ask for ``pad=True``, which always
transcodes, and call :meth:`AudioCarrier.end_source` at the end of the source's own frames: no more
audio is taken from the source after it, and silence follows up to the video's end.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.container import OutputContainer
from av.packet import Packet

from taxiway.media.containers import close_input, open_input, pick_audio_stream
from taxiway.media.decode import DecodeError
from taxiway.media.timing import AUDIO_END_SLACK, AUDIO_START_SLACK, MAX_HELD_GAP_S, StreamTiming

# Codecs that MP4 holds and every player plays: copied instead of re-encoded.
COPY_CODECS = frozenset({"aac", "mp3"})
AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
AAC_LAYOUTS = frozenset({"mono", "stereo", "3.0", "4.0", "5.0", "5.1", "5.1(side)", "7.1"})
AAC_BITRATE_PER_CHANNEL = 96_000
# Copied packets that end at most this long before video time 0 are kept: the first AAC packet is
# encoder priming (negative timestamp) that the decoder needs and the MP4 edit list hides.
_PRIMING_MARGIN = Fraction(1, 10)
# A packet starting this much before the end of the previous one is a timestamp discontinuity.
_JUMP_TOLERANCE = Fraction(1, 20)
# Samples per frame of padding silence (AAC's own frame size).
_SILENCE_CHUNK = 1024
# Decoded audio this far from where the previous frame ended is a hole (filled with silence) or an
# overlap (its head dropped); closer, it just follows on (timestamps are rounded).
_PLACEMENT_SLACK = Fraction(2, 1000)


def copy_keeps_sync(timing: StreamTiming | None, video: tuple[Fraction, Fraction] | None) -> bool:
    """Whether the audio's packets, copied as they are, span the video from ``video[0]`` to
    ``video[1]`` (source times): starting by the first frame, lasting to the end, with no hole,
    and the video's own time line has no discontinuity to close up (copied audio could not)."""
    audio = timing.audio if timing is not None else None
    if timing is None or audio is None or video is None or not audio.contiguous or timing.discontinuous:
        return False
    start, end = video
    return audio.start <= start + AUDIO_START_SLACK and audio.end >= end - AUDIO_END_SLACK


class AudioCarrier:
    """Adds an audio stream to ``output`` and fills it from the audio of ``source``.

    ``timing`` (what the scan of the source found, its audio's span included) and ``video`` (the
    source times of the first frame and of the end of the video to be written) decide whether the
    audio can be copied (:func:`copy_keeps_sync`).
    """

    def __init__(
        self,
        source: Path,
        output: OutputContainer,
        *,
        pad: bool = False,
        timing: StreamTiming | None = None,
        video: tuple[Fraction, Fraction] | None = None,
    ) -> None:
        self._input = open_input(source)
        stream = pick_audio_stream(self._input)
        if stream is None:
            close_input(self._input)
            raise DecodeError("The video has no audio track to carry over.", frames_done=0, seconds=0.0)
        self._in_stream = stream
        self._output = output
        codec = stream.codec_context.codec.canonical_name if stream.codec_context else ""
        copy = codec in COPY_CODECS and not pad and copy_keeps_sync(timing, video)
        self._out_stream = self._copy_stream(output, stream) if copy else None
        self.copying = self._out_stream is not None
        # A transcoded track is always padded to the video: silence where the source has no sound.
        self.padding = not self.copying
        if self._out_stream is None:
            if stream.codec_context is None:
                close_input(self._input)
                raise DecodeError(
                    "The video's audio track cannot be decoded: its codec is not supported.",
                    frames_done=0,
                    seconds=0.0,
                )
            self._out_stream, self._resampler, self._rate = self._aac_stream(output, stream)
        self._packets: Iterator[Packet] = self._input.demux(stream)
        self._pending: Packet | None = None
        self._exhausted = False
        self._start: Fraction | None = None
        self._clock = Fraction(0)  # source time after the last packet, for packets without timestamps
        self._written_end: Fraction | None = None  # output time reached so far
        self._last_dts: int | None = None  # copying: last dts written, in the packets' time base
        self._next_sample: int | None = None  # transcoding: output pts of the next sample
        self._source_done = False  # no more audio is taken from the source (end_source / finish)

    @staticmethod
    def _copy_stream(output: OutputContainer, stream: av.audio.stream.AudioStream) -> av.stream.Stream | None:
        try:
            return output.add_stream_from_template(stream)
        except ValueError:  # The container refuses this codec (unusual AAC/MP3 variants): transcode.
            return None

    @staticmethod
    def _aac_stream(
        output: OutputContainer, stream: av.audio.stream.AudioStream
    ) -> tuple[av.audio.stream.AudioStream, AudioResampler, int]:
        ctx = stream.codec_context
        rate = ctx.sample_rate if ctx.sample_rate in AAC_SAMPLE_RATES else 48000
        layout = ctx.layout.name if ctx.layout.name in AAC_LAYOUTS else "stereo"
        out = output.add_stream("aac", rate=rate)
        out.layout = layout
        out.bit_rate = AAC_BITRATE_PER_CHANNEL * out.codec_context.layout.nb_channels
        return out, AudioResampler(format="fltp", layout=layout, rate=rate), rate

    def set_start(self, seconds: Fraction) -> None:
        """The source time that becomes output time 0 (the first video frame's). It moves later
        only if the source's timestamps jump backwards."""
        self._start = seconds

    def close(self) -> None:
        close_input(self._input)

    def mux_until(self, seconds: Fraction) -> None:
        """Write the audio that starts by output time ``seconds`` (the video's current time). With
        padding, only audio that ends by ``seconds`` (end_source may still cut there), then silence
        once the source's audio is over."""
        if not self._source_done:
            while (head := self._peek()) is not None and self._due(*head, seconds):
                self._consume(head[0], end=None)
            if not self.padding or head is not None:
                return
            self.end_source(None)  # The source's audio ran out: flush it, silence follows.
        if self.padding:
            self._silence_until(seconds)

    def _due(self, packet: Packet, start: Fraction, seconds: Fraction) -> bool:
        if self.padding:
            return start + Fraction(packet.duration or 0) * (packet.time_base or 0) <= seconds
        return start <= seconds

    def end_source(self, end: Fraction | None) -> None:
        """Take no more audio from the source: write what it has up to output time ``end`` (all of
        it when None) and flush the decoder. With padding, silence fills from there on."""
        if self._source_done:
            return
        while (head := self._peek()) is not None and (end is None or head[1] < end):
            self._consume(head[0], end=end)
        self._source_done = True
        self._pending = None
        self._exhausted = True
        if self.copying:
            return
        # Drain the decoder and the resampler.
        for frame in self._decode(None):
            for resampled in self._resampler.resample(frame):
                self._encode(resampled, end)
        for resampled in self._resampler.resample(None):
            self._encode(resampled, end)

    def finish(self, end: Fraction) -> None:
        """Write the remaining audio up to output time ``end`` and flush the encoder."""
        self.end_source(end)
        if self.copying:
            return
        if self.padding:
            self._silence_until(end)
        self._output.mux(self._out_stream.encode(None))

    def _silence_until(self, seconds: Fraction) -> None:
        """Encode silence from the next output sample up to output time ``seconds``."""
        if self._next_sample is None:
            self._next_sample = 0  # The source had no audio at all in the video's span.
        target = round(seconds * self._rate)
        layout = self._out_stream.layout
        while self._next_sample < target:
            count = min(_SILENCE_CHUNK, target - self._next_sample)
            silence = np.zeros((layout.nb_channels, count), np.float32)
            frame = AudioFrame.from_ndarray(silence, format="fltp", layout=layout.name)
            frame.sample_rate = self._rate
            frame.pts = self._next_sample
            frame.time_base = Fraction(1, self._rate)
            self._next_sample += count
            self._output.mux(self._out_stream.encode(frame))

    def _decode(self, packet: Packet | None) -> list[AudioFrame]:
        try:
            return self._in_stream.decode(packet)
        except av.FFmpegError:
            return []  # One undecodable audio packet is a click, not a failure.

    def _peek(self) -> tuple[Packet, Fraction] | None:
        """The next audio packet with data and its output start time, without consuming it."""
        if self._start is None:
            raise RuntimeError("set_start() must be called first")
        while self._pending is None and not self._exhausted:
            try:
                packet = next(self._packets)
            except (StopIteration, av.FFmpegError):
                # A damaged audio tail ends the audio; the video is still good.
                self._exhausted = True
                break
            if packet.size:
                self._pending = packet
        if self._pending is None:
            return None
        return self._pending, self._source_time(self._pending) - self._start

    def _source_time(self, packet: Packet) -> Fraction:
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None or packet.time_base is None:
            return self._clock
        return Fraction(ts) * packet.time_base

    def _consume(self, packet: Packet, *, end: Fraction | None) -> None:
        self._pending = None
        assert self._start is not None
        start = self._source_time(packet)
        length = Fraction(packet.duration or 0) * (packet.time_base or 0)
        self._clock = start + length
        if self._written_end is not None and (
            start - self._start < self._written_end - _JUMP_TOLERANCE
            or start - self._start > self._written_end + MAX_HELD_GAP_S
        ):
            # Timestamps jumped back (an MPEG-TS discontinuity, joined files) or far forward:
            # continue where the audio was, as the video decoder does.
            self._start = start - self._written_end
        self._written_end = max(self._written_end or Fraction(0), start + length - self._start)
        if self.copying:
            if start + length - self._start <= -_PRIMING_MARGIN:
                return  # Entirely before the video starts.
            shift = round(self._start / packet.time_base)
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
                # MP4 needs strictly increasing dts; rounded timestamps can tie or step back a tick.
                if self._last_dts is not None and packet.dts <= self._last_dts:
                    packet.dts = self._last_dts + 1
                    if packet.pts is not None:
                        packet.pts = max(packet.pts, packet.dts)
                self._last_dts = packet.dts
            packet.stream = self._out_stream
            self._output.mux(packet)
            return
        for frame in self._decode(packet):
            for resampled in self._resampler.resample(frame):
                self._encode(resampled, end)

    def _encode(self, frame: AudioFrame, end: Fraction | None) -> None:
        """Encode a resampled frame at its own time: silence fills a hole before it, samples
        before output time 0, after ``end`` or over audio already written are dropped."""
        assert self._start is not None
        samples = frame.to_ndarray()  # fltp: (channels, samples)
        if self._next_sample is None:
            self._next_sample = 0
        if frame.pts is not None and frame.time_base is not None:
            at = round((Fraction(frame.pts) * frame.time_base - self._start) * self._rate)
            slack = round(_PLACEMENT_SLACK * self._rate)
            if at > self._next_sample + slack:
                hole_end = Fraction(at, self._rate)
                self._silence_until(hole_end if end is None else min(hole_end, end))
            elif at < self._next_sample - slack:
                samples = samples[:, self._next_sample - at :]
        if end is not None:
            samples = samples[:, : max(0, round(end * self._rate) - self._next_sample)]
        if samples.shape[1] == 0:
            return
        out = AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=frame.layout.name)
        out.sample_rate = self._rate
        out.pts = self._next_sample
        out.time_base = Fraction(1, self._rate)
        self._next_sample += samples.shape[1]
        self._output.mux(self._out_stream.encode(out))
