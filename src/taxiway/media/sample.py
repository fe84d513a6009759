"""A sample clip to try the server with: FFmpeg's moving test picture and a tone, written with the
PyAV that taxiway already installs (no ffmpeg command needed)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from taxiway.media.encode import DEFAULT_PRESET


def write_sample_clip(
    path: Path, *, seconds: float = 5.0, width: int = 1280, height: int = 720, fps: int = 24
) -> Path:
    """An H.264 + AAC MP4 of FFmpeg's ``testsrc2`` picture (a clock, colour bars, moving shapes)
    and a 440 Hz tone, ``seconds`` long."""
    picture = av.open(f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}", format="lavfi")
    tone = av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi")
    try:
        with av.open(str(path), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=Fraction(fps))
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.options = {"preset": DEFAULT_PRESET}
            audio = out.add_stream("aac", rate=48000)
            audio.layout = "mono"
            for frame in picture.decode(video=0):
                frame.pict_type = av.video.frame.PictureType.NONE
                out.mux(video.encode(frame.reformat(format="yuv420p")))
            out.mux(video.encode(None))
            for samples in tone.decode(audio=0):
                samples.pts = None
                out.mux(audio.encode(samples))
            out.mux(audio.encode(None))
    finally:
        picture.close()
        tone.close()
    return path
