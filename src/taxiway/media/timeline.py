"""Timestamps for frames appended after a video's last frame (extensions)."""

from __future__ import annotations

from fractions import Fraction

from av.video.frame import VideoFrame


def continuation_ticks(
    last: VideoFrame, frame_rate: Fraction, time_base: Fraction, default_duration: int, count: int
) -> tuple[int, list[int]]:
    """(pts of the first new frame, offsets of new frames 0…count from it) at ``frame_rate``.

    The first new frame starts where ``last`` ends. Offsets are rounded per frame (not per duration),
    so the extension's length is exact whatever the time base; a time base coarser than the frame
    rate still gets rising timestamps. Frame k lasts ``offsets[k + 1] - offsets[k]`` ticks.
    """
    start = last.pts + (last.duration or default_duration)
    offsets = [round(Fraction(k) / (frame_rate * time_base)) for k in range(count + 1)]
    for k in range(1, count + 1):
        offsets[k] = max(offsets[k], offsets[k - 1] + 1)
    return start, offsets
