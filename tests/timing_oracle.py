"""Timing checks against the ffmpeg CLI: what ffmpeg makes of a source, and what our output holds.

:func:`ffmpeg_reading` asks the ffmpeg CLI (imageio-ffmpeg's binary, not our code) for a source's
video duration and frame rate: the length of what ``ffmpeg -i SOURCE out.mp4`` writes (its own
best-effort timestamps, edit lists, damage handling), and the rate its stream line states.
:func:`output_timing` reads one of our MP4 outputs (clean files, so PyAV's reading is plain).
:func:`timing_problems` compares them with the issue's tolerances: video duration within one frame
(plus what an extend adds), frame rate within 1 %, frame count within one frame of what duration
and rate imply, audio lasting the video's duration within 40 ms and starting within 20 ms of it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx

from mediafiles import ffmpeg_exe

_STREAM_FPS = re.compile(r"Stream #0:\d+[^\n]*: Video: [^\n]*?([\d.]+) fps")
_STREAM_TBR = re.compile(r"Stream #0:\d+[^\n]*: Video: [^\n]*?([\d.]+)k? tbr")


@dataclass(frozen=True)
class Reading:
    duration: float  # seconds of video ffmpeg writes from the source
    fps: float  # frames per second ffmpeg states for the source


@dataclass(frozen=True)
class OutputTiming:
    frames: int
    duration: float  # first frame's start to last frame's end
    fps: float
    audio_start: float | None  # relative to the first frame; None: no audio
    audio_duration: float | None


def ffmpeg_reading(source: Path, scratch: Path) -> Reading:
    """ffmpeg's own reading of ``source`` (a tiny transcode: the timing, not the pictures, counts)."""
    out = scratch / f"ffmpeg-{source.stem}.mp4"
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-y", "-i", str(source), "-map", "0:v:0",
         "-vf", "scale=32:-2", "-c:v", "libx264", "-preset", "ultrafast", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    match = _STREAM_FPS.search(result.stderr) or _STREAM_TBR.search(result.stderr)
    assert match, result.stderr[-2000:]
    return Reading(duration=output_timing(out).duration, fps=float(match[1]))


def output_timing(path: Path) -> OutputTiming:
    """The video's frame count and span (from its packets) and its audio's span (decoded)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        spans = sorted(
            (p.pts, p.duration or 0) for p in container.demux(video) if p.pts is not None and p.size
        )
        tb = video.time_base
        start = float(spans[0][0] * tb)
        end = float(max(pts + length for pts, length in spans) * tb)
    audio_start = audio_end = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                try:
                    frames = stream.decode(packet)
                except av.FFmpegError:  # a damaged packet copied from a damaged source: a click
                    continue
                for frame in frames:
                    at = float(frame.pts * frame.time_base)
                    audio_start = at if audio_start is None else audio_start
                    audio_end = at + frame.samples / frame.sample_rate
    duration = end - start
    return OutputTiming(
        frames=len(spans),
        duration=duration,
        fps=len(spans) / duration,
        audio_start=None if audio_start is None else audio_start - start,
        audio_duration=None if audio_end is None or audio_start is None else audio_end - audio_start,
    )


def timing_problems(
    out: OutputTiming, reading: Reading, *, seconds: float | None = None, added: float = 0.0, audio: bool
) -> list[str]:
    """What in ``out`` breaks the tolerances against ``reading`` (empty: all good).

    ``seconds`` caps the expected duration (operations that stop early); ``added`` is what an
    extend appends; ``audio`` whether the output must carry audio.
    """
    frame = 1 / reading.fps
    expected = (reading.duration if seconds is None else min(seconds, reading.duration)) + added
    problems = []
    if abs(out.duration - expected) > frame + 1e-3:
        problems.append(f"duration {out.duration:.3f} s, expected {expected:.3f} s")
    if abs(out.fps / reading.fps - 1) > 0.01:
        problems.append(f"frame rate {out.fps:.3f}, expected {reading.fps:.3f}")
    implied = out.duration * reading.fps
    if abs(out.frames - implied) > 1 + 1e-6:
        problems.append(f"{out.frames} frames, duration × rate implies {implied:.1f}")
    if audio:
        if out.audio_duration is None or out.audio_start is None:
            problems.append("no audio")
        else:
            if abs(out.audio_duration - out.duration) > 0.040:
                problems.append(f"audio lasts {out.audio_duration:.3f} s against video {out.duration:.3f} s")
            if abs(out.audio_start) > 0.020:
                problems.append(f"audio starts at {out.audio_start:+.3f} s")
    elif out.audio_duration is not None:
        problems.append("audio where the source has none")
    return problems


def artifact_problems(task: dict[str, Any], out: Path, reading: Reading, **expect: Any) -> list[str]:
    """:func:`timing_problems` of a finished task's artifact (downloaded to ``out``), or why it
    has none. ``expect``: the keyword arguments of timing_problems."""
    if task["status"] != "SUCCEEDED":
        return [f"{task['status']}: {task['error']}"]
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    return timing_problems(output_timing(out), reading, **expect)
