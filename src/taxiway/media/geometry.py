"""Frame-size arithmetic shared by probing, previews and engines. Pure functions, no I/O."""

from __future__ import annotations

# The long side of the upscale operation's output for landscape and for portrait input.
FOUR_K_LANDSCAPE_WIDTH = 4096
FOUR_K_PORTRAIT_HEIGHT = 3840


def nearest_even(value: float, *, minimum: int = 2) -> int:
    """``value`` rounded to the nearest even integer (halves round up), never below ``minimum``.

    H.264 in yuv420p (4:2:0 chroma) needs even frame dimensions.
    """
    # floor(x / 2 + 0.5) * 2 avoids Python's banker's rounding so 5.0 -> 6, not 4.
    return max(minimum, int(value / 2 + 0.5) * 2)


def four_k_class(width: int, height: int) -> tuple[int, int]:
    """The output size of the upscale operation for a ``width`` × ``height`` display size.

    Rule (aspect ratio kept, both dimensions even):

    * landscape or square (``width >= height``): the output is 4096 wide and the scaled height
      ``height * 4096 / width`` rounded to the nearest even number;
    * portrait (``height > width``): the output is 3840 tall and the scaled width
      ``width * 3840 / height`` rounded to the nearest even number.

    So 1280×720 -> 4096×2304 and 1080×1920 -> 2160×3840. The short side is at least 2.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    if width >= height:
        return FOUR_K_LANDSCAPE_WIDTH, nearest_even(height * FOUR_K_LANDSCAPE_WIDTH / width)
    return nearest_even(width * FOUR_K_PORTRAIT_HEIGHT / height), FOUR_K_PORTRAIT_HEIGHT


def fit_within(width: int, height: int, max_side: int, *, even: bool = True) -> tuple[int, int]:
    """Scale ``width`` × ``height`` down (never up) so the longer side is at most ``max_side``.

    The aspect ratio is kept as closely as integer sizes allow; with ``even`` both sides are
    rounded to even numbers (what 4:2:0 encoders such as MJPEG in yuvj420p want).
    """
    if width <= 0 or height <= 0 or max_side <= 0:
        raise ValueError(f"invalid size {width}x{height} / max_side {max_side}")
    factor = min(1.0, max_side / max(width, height))
    w, h = width * factor, height * factor
    if even:
        # Nearest even, but never past the original size or max_side (321 wide stays <= 320).
        return _even_at_most(w, min(width, max_side)), _even_at_most(h, min(height, max_side))
    return max(1, round(w)), max(1, round(h))


def _even_at_most(value: float, cap: int) -> int:
    return max(2, min(nearest_even(value), cap - cap % 2))


def rotated_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """The size of a ``width`` × ``height`` picture after rotating it by ``rotation`` degrees."""
    return (height, width) if rotation % 180 == 90 else (width, height)
