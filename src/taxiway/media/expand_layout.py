"""Frame arithmetic of the expand (outpaint) operation: the canvas, where the picture sits, the feather.

Pure functions, no I/O. The rule, for a source of display size ``width`` × ``height`` and a target
ratio R (5:3 for "landscape", 3:5 for "portrait", as the contract's responses show; 16:9 and 9:16 on
request):

1. the exact canvas is the smallest R box containing the source at its own pixel size:
   ``(max(width, height × R), max(height, width / R))``; a source already within 1 % of R keeps its
   own size (no new area);
2. if that canvas's long side exceeds ``max_side`` (1920), canvas and picture are scaled down
   together by ``max_side / long side``;
3. sizes become even (4:2:0): the side the source fills is rounded *up* to even, so the canvas
   always contains the picture, the other side to the *nearest* even number (closest to R). The
   picture itself is the source size (scaled in step 2 if needed), rounded to even: an odd-sized
   source is stretched by one pixel;
4. the picture is centred, its offsets rounded down to even so that the chroma planes (half size)
   line up with the luma plane: the picture may sit one pixel off the exact centre.

So 1280×720 → 5:3 1280×768 (the frame video to video renders) with the picture at (0, 24); 1280×720
→ 9:16 1080×1920 with the picture 1080×608 at (0, 656); 320×240 → 16:9 426×240 with the picture at
(52, 0); 322×180 → 16:9 322×180 (already 16:9 within 1 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from taxiway.media.geometry import nearest_even

ASPECTS: dict[str, Fraction] = {
    "5:3": Fraction(5, 3),
    "3:5": Fraction(3, 5),
    "16:9": Fraction(16, 9),
    "9:16": Fraction(9, 16),
}
# The contract's request values, and the ratios its responses show for them.
ASPECT_NAMES = {"landscape": "5:3", "portrait": "3:5"}


def aspect_ratio(value: str | None) -> str:
    """The ratio (``"5:3"``) a request's ``outpaint_aspect_ratio`` means; landscape when absent.
    Raises ValueError for anything else."""
    ratio = ASPECT_NAMES.get(value or "landscape", value or "")
    if ratio not in ASPECTS:
        allowed = ", ".join([*ASPECT_NAMES, *ASPECTS])
        raise ValueError(f"outpaint_aspect_ratio must be one of {allowed}, not {value!r}")
    return ratio


MAX_SIDE = 1920
# A source whose ratio is this close to the target keeps its own size.
SAME_RATIO_TOLERANCE = 0.01
# Feather width (luma pixels, even) per this many pixels of the canvas's short side.
FEATHER_PER_PIXELS = 360


@dataclass(frozen=True)
class ExpandLayout:
    """Where things go on the output canvas (all sizes even, offsets even)."""

    width: int  # canvas
    height: int
    picture_width: int  # the source picture, as placed on the canvas
    picture_height: int
    x: int  # top-left corner of the picture on the canvas
    y: int
    # Feather width in luma pixels on each side of the picture (0 where the picture touches the
    # canvas border, since there is no fill to blend with there).
    feather_top: int
    feather_bottom: int
    feather_left: int
    feather_right: int

    @property
    def has_fill(self) -> bool:
        """Whether any of the canvas lies outside the picture."""
        return (self.width, self.height) != (self.picture_width, self.picture_height)


def ceil_even(value: float) -> int:
    """``value`` rounded up to an even integer (at least 2); float noise (1920.0000001) is ignored."""
    return max(2, 2 * math.ceil(value / 2 - 1e-9))


def expand_layout(width: int, height: int, aspect: str, *, max_side: int = MAX_SIDE) -> ExpandLayout:
    """The layout for a ``width`` × ``height`` upright source expanded to ``aspect`` (see module doc).

    Raises ValueError for an unknown aspect or a non-positive size.
    """
    aspect = aspect_ratio(aspect)
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    ratio = ASPECTS[aspect]
    if abs(Fraction(width, height) / ratio - 1) <= SAME_RATIO_TOLERANCE:
        exact_w, exact_h = float(width), float(height)
    else:
        exact_w, exact_h = float(max(width, height * ratio)), float(max(height, width / ratio))
    scale = min(1.0, max_side / max(exact_w, exact_h))
    pic_w, pic_h = width * scale, height * scale
    canvas_w = max(ceil_even(pic_w), nearest_even(exact_w * scale))
    canvas_h = max(ceil_even(pic_h), nearest_even(exact_h * scale))
    if scale < 1:
        # Exactly max_side on the long side; the picture is resampled anyway, so nearest even.
        canvas_w, canvas_h = min(canvas_w, max_side), min(canvas_h, max_side)
        picture_w = min(canvas_w, nearest_even(pic_w))
        picture_h = min(canvas_h, nearest_even(pic_h))
    else:
        picture_w, picture_h = ceil_even(pic_w), ceil_even(pic_h)
    x = (canvas_w - picture_w) // 4 * 2
    y = (canvas_h - picture_h) // 4 * 2
    feather = 2 * max(1, round(min(canvas_w, canvas_h) / FEATHER_PER_PIXELS))
    # Never let the two feathers of one axis cover more than half the picture.
    feather_x = min(feather, picture_w // 8 * 2)
    feather_y = min(feather, picture_h // 8 * 2)
    return ExpandLayout(
        width=canvas_w,
        height=canvas_h,
        picture_width=picture_w,
        picture_height=picture_h,
        x=x,
        y=y,
        feather_top=feather_y if y > 0 else 0,
        feather_bottom=feather_y if y + picture_h < canvas_h else 0,
        feather_left=feather_x if x > 0 else 0,
        feather_right=feather_x if x + picture_w < canvas_w else 0,
    )
