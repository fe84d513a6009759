"""The arithmetic of generating video with a diffusion model: sizes, frame counts, windows, rates.

Pure functions, no torch: the API process uses them to show a task's output size at admission.

* Sizes: Wan models work on multiples of 16 pixels (8× VAE, 2×2 patches). The short side is the
  model's resolution class (480 or 720); the long side follows the aspect ratio, rounded to 16.
* Frame counts: the VAE compresses time 4×, so a clip has 4k+1 frames.
* Windows: a clip longer than a model's ``max_frames`` is generated in windows; each after the
  first starts on the last ``context`` frames the previous one generated, kept as they are, so
  motion and content carry across the join.
* Rates: the model samples sources, and generates, at its own rate (16 fps for Wan); outputs keep
  the source's rate, each output frame showing the generated frame of its time (held, not blended).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

MULTIPLE = 16
SHORT_SIDES = {"480p": 480, "720p": 720}
_EPS = 1e-6


def nearest_multiple(pixels: float) -> int:
    """``pixels`` rounded to the nearest multiple of 16 (at least 16): a size the model can take."""
    return max(MULTIPLE, round(pixels / MULTIPLE) * MULTIPLE)


def generation_size(aspect_width: float, aspect_height: float, resolution: str | int) -> tuple[int, int]:
    """(width, height) for a picture of this aspect ratio whose short side is ``resolution``
    ("480p", "720p" or pixels), both multiples of 16."""
    short = SHORT_SIDES[resolution] if isinstance(resolution, str) else resolution
    long = nearest_multiple(short * max(aspect_width, aspect_height) / min(aspect_width, aspect_height))
    return (long, short) if aspect_width >= aspect_height else (short, long)


def four_k_plus_one(frames: int) -> int:
    """The smallest 4k+1 frame count that holds ``frames`` (at least 1)."""
    return 4 * math.ceil(max(frames - 1, 0) / 4) + 1


def frame_count(seconds: float, fps: float) -> int:
    """Frames at ``fps`` that start before ``seconds`` (at least 1)."""
    return max(1, math.ceil(seconds * fps - _EPS))


def windows(total: int, max_frames: int, context: int) -> list[range]:
    """Ranges of frame indices that cover ``range(total)``, each of 4k+1 frames (≤ ``max_frames``).

    Each window after the first starts ``context`` frames before the previous one ends. The last
    window may reach past ``total``: those frames are generated and dropped.
    """
    if max_frames % 4 != 1 or not 0 < context < max_frames - 1:
        raise ValueError(f"need max_frames = 4k+1 > context + 1, got {max_frames} and {context}")
    spans: list[range] = []
    start = 0
    while True:
        length = min(max_frames, four_k_plus_one(total - start))
        spans.append(range(start, start + length))
        if start + length >= total:
            return spans
        start += length - context


def held_index(seconds: float, fps: float, count: int) -> int:
    """The frame (of ``count`` at ``fps``, the first at 0 s) on screen at ``seconds``."""
    return min(count - 1, max(0, math.floor(seconds * fps + _EPS)))


def sample_at_rate(timed: Iterable[tuple[float, T]], fps: float, count: int) -> Iterator[T]:
    """``count`` items: for j = 0, 1, ... the item on screen at j / ``fps`` s.

    ``timed`` gives (start seconds, item) in order; an item stays on screen until the next starts,
    and the last one is held to the end. Yields as soon as each is known (nothing when empty).
    """
    done = 0
    previous: T | None = None
    have_previous = False
    for start, item in timed:
        while have_previous and done < count and start > done / fps + _EPS:
            yield previous  # type: ignore[misc]
            done += 1
        if done >= count:
            return
        previous, have_previous = item, True
    while have_previous and done < count:
        yield previous  # type: ignore[misc]
        done += 1
