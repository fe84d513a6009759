"""Cutting the carried audio of a finished MP4 at the end of its video (used by the expand engine).

:class:`~taxiway.media.encode.H264Writer` lets audio run up to half a second ahead of the video it
has written (so the two interleave), and packets muxed ahead are not taken back when the video
stops early. When an engine ends the video before the source's audio ends (``output_seconds``
shorter than the source, or a source whose audio outlasts its picture), the output's audio is
then up to 0.5 s longer than its video. :func:`cut_audio_after_video` removes those packets with a
packet-copy remux (no re-encoding; the video packets are untouched) and does nothing when the
audio already ends with the video.
"""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction
from pathlib import Path

import av


def _stream_end(stream: av.stream.Stream) -> Fraction | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return Fraction((stream.start_time or 0) + stream.duration) * stream.time_base


def cut_audio_after_video(path: Path) -> bool:
    """Drop the audio packets of ``path`` that start at or after its video's end; True if it did.

    The file is replaced atomically by a faststart copy. The last kept packet may run past the
    video's end by less than one packet (about 21 ms for AAC), as when audio is copied anyway.
    """
    path = Path(path)
    with av.open(str(path)) as source:
        if not source.streams.video or not source.streams.audio:
            return False
        video, audio = source.streams.video[0], source.streams.audio[0]
        video_end, audio_end = _stream_end(video), _stream_end(audio)
        codec = audio.codec_context
        frame_size = Fraction(codec.frame_size or 1024, codec.sample_rate or 48000)
        if video_end is None or (audio_end is not None and audio_end <= video_end + frame_size):
            return False
    temp = path.with_name(f".{path.name}.audiocut")
    try:
        with (
            av.open(str(path)) as source,
            av.open(str(temp), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            audio_index = source.streams.audio[0].index
            streams = {s.index: out.add_stream_from_template(s, opaque=True) for s in source.streams}
            for packet in source.demux():
                if packet.dts is None:  # End-of-stream markers carry no data.
                    continue
                late = packet.pts is not None and packet.pts * packet.time_base >= video_end
                if late and packet.stream.index == audio_index:
                    continue
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return True
