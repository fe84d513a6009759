"""The pixels of the expand (outpaint) operation: a fill for the new area, and the picture on top.

Everything works on yuv420p planes with NumPy and OpenCV (no RGB round trip, no per-pixel Python):

* :class:`VideoFill`: the fill derived from the video. Each picture is cover-cropped to the canvas's
  ratio and shrunk to a small working size (long side :data:`FILL_WORK_SIDE`), blurred there with a
  Gaussian whose sigma is :data:`BLUR_FRACTION` of the canvas's long side (the same blur as at full
  size, for a fraction of the cost: the result holds no detail a small image cannot), averaged over
  time with an exponential moving average (time constant ``smoothing_s``, from the frames' own
  timestamps, so variable frame rate is handled) so it cannot flicker, dimmed and desaturated so the
  real picture stands out, then enlarged to the canvas with bilinear interpolation.
* :func:`image_fill`: a still image (:func:`taxiway.media.images.load_image`), scaled to cover
  the canvas and centre-cropped (a static fill).
* :class:`Compositor`: the fill, then the picture pasted at its place with a feathered edge of a few
  pixels (linear ramp, integer blend) on the sides that border the fill. Inside the feather the
  picture's pixels are copied unchanged.
"""

from __future__ import annotations

import math
from fractions import Fraction

import cv2
import numpy as np
from av.video.frame import VideoFrame

from taxiway.media.decode import copy_timing
from taxiway.media.expand_layout import ExpandLayout, ceil_even
from taxiway.media.scale import Scaler

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, U, V (uint8, U/V half size)

FILL_WORK_SIDE = 160  # long side of the fill's working size, in pixels
BLUR_FRACTION = 1 / 32  # Gaussian sigma of the fill, as a fraction of the canvas's long side
SMOOTHING_S = 0.4  # time constant of the fill's moving average, seconds
FILL_LUMA_GAIN = 0.8  # the fill is dimmed (luma towards black)...
FILL_CHROMA_GAIN = 0.7  # ...and desaturated (chroma towards grey)
_LUMA_BLACK = 16.0  # limited-range yuv420p
_CHROMA_ZERO = 128.0
_ONE = 256  # fixed-point 1.0 of the feather blend


def frame_planes(frame: VideoFrame) -> Planes:
    """Views of the Y, U, V planes of a yuv420p ``frame``, without their line padding.

    They share the frame's memory (no copy): writing to them writes the frame.
    """
    views = []
    for plane, width in zip(frame.planes, (frame.width, frame.width // 2, frame.width // 2), strict=True):
        rows = np.frombuffer(plane, np.uint8)[: plane.height * plane.line_size]
        views.append(rows.reshape(plane.height, plane.line_size)[:, :width])
    return views[0], views[1], views[2]


def image_fill(image: VideoFrame, width: int, height: int) -> Planes:
    """``image`` scaled to cover ``width`` × ``height`` (bicubic, to yuv420p BT.709) and centre-cropped."""
    cover = max(width / image.width, height / image.height)
    scaled_w = max(width, ceil_even(image.width * cover))
    scaled_h = max(height, ceil_even(image.height * cover))
    y, u, v = frame_planes(Scaler(scaled_w, scaled_h, interpolation="bicubic", threads=1)(image))
    # Even offsets keep chroma aligned with luma.
    x0, y0 = (scaled_w - width) // 4 * 2, (scaled_h - height) // 4 * 2
    return (
        np.ascontiguousarray(y[y0 : y0 + height, x0 : x0 + width]),
        np.ascontiguousarray(u[y0 // 2 : (y0 + height) // 2, x0 // 2 : (x0 + width) // 2]),
        np.ascontiguousarray(v[y0 // 2 : (y0 + height) // 2, x0 // 2 : (x0 + width) // 2]),
    )


class VideoFill:
    """The blurred, smoothed, dimmed fill of a canvas, computed from successive pictures (in order)."""

    def __init__(self, layout: ExpandLayout, *, smoothing_s: float = SMOOTHING_S) -> None:
        self.layout = layout
        self.smoothing_s = smoothing_s
        width, height = layout.width, layout.height
        # The part of the picture that, scaled to cover the canvas, fills it.
        cover = max(width / layout.picture_width, height / layout.picture_height)
        crop_w = min(layout.picture_width, max(2, round(width / cover)))
        crop_h = min(layout.picture_height, max(2, round(height / cover)))
        x0, y0 = (layout.picture_width - crop_w) // 2, (layout.picture_height - crop_h) // 2
        self._luma_crop = (slice(y0, y0 + crop_h), slice(x0, x0 + crop_w))
        self._chroma_crop = (
            slice(y0 // 2, max(y0 // 2 + 1, (y0 + crop_h) // 2)),
            slice(x0 // 2, max(x0 // 2 + 1, (x0 + crop_w) // 2)),
        )
        factor = min(1.0, FILL_WORK_SIDE / max(width, height))
        self._work_size = (max(2, round(width * factor)), max(2, round(height * factor)))
        self._sigma = max(width, height) * BLUR_FRACTION * factor
        self._state: np.ndarray | None = None  # the moving average, (h, w, 3) float32 YUV
        self._last_time: Fraction | None = None
        gains = np.array([FILL_LUMA_GAIN, FILL_CHROMA_GAIN, FILL_CHROMA_GAIN], np.float32)
        offsets = np.array([_LUMA_BLACK, _CHROMA_ZERO, _CHROMA_ZERO], np.float32)
        # fill = offset + (value - offset) * gain = value * gain + offset * (1 - gain)
        self._gain, self._bias = gains, offsets * (1 - gains)

    def update(self, picture: Planes, time: Fraction) -> Planes:
        """Take the picture shown at ``time`` (seconds) and return the fill's small Y, U, V planes."""
        small = cv2.merge(
            [
                cv2.resize(plane[crop], self._work_size, interpolation=cv2.INTER_AREA)
                for plane, crop in zip(
                    picture, (self._luma_crop, self._chroma_crop, self._chroma_crop), strict=True
                )
            ]
        ).astype(np.float32)
        blurred = cv2.GaussianBlur(small, (0, 0), self._sigma, borderType=cv2.BORDER_REFLECT)
        if self._state is None or self._last_time is None or self.smoothing_s <= 0:
            self._state = blurred
        else:
            # Weight from the real time step, so the smoothing is the same at any (or a variable) rate.
            keep = math.exp(-float(time - self._last_time) / self.smoothing_s)
            self._state = cv2.addWeighted(self._state, keep, blurred, 1 - keep, 0)
        self._last_time = time
        toned = np.clip(np.rint(self._state * self._gain + self._bias), 0, 255).astype(np.uint8)
        y, u, v = cv2.split(toned)
        return y, u, v


class Compositor:
    """Builds each output frame: fill, then the picture with a feathered edge. Callable frame → frame.

    ``picture`` frames must be yuv420p at the layout's picture size (what a Scaler gives). With
    ``image`` planes (from :func:`image_fill`) the fill is that still; otherwise a :class:`VideoFill`.
    Frames must come in presentation order (the fill's moving average depends on it).
    """

    def __init__(
        self, layout: ExpandLayout, *, image: Planes | None = None, smoothing_s: float = SMOOTHING_S
    ) -> None:
        self.layout = layout
        self._image = image
        self._video_fill = VideoFill(layout, smoothing_s=smoothing_s) if image is None else None
        self._bands = [_bands(layout, 1), _bands(layout, 2), _bands(layout, 2)]

    def __call__(self, picture: VideoFrame) -> VideoFrame:
        layout = self.layout
        if not layout.has_fill:
            return picture  # Already the target ratio: the picture is the output.
        source = frame_planes(picture)
        out = VideoFrame(layout.width, layout.height, "yuv420p")
        planes = frame_planes(out)  # Written in place: no copy into the frame at the end.
        if self._video_fill is not None:
            tb = picture.time_base or Fraction(1)
            small = self._video_fill.update(source, Fraction(picture.pts or 0) * tb)
            for plane, fill in zip(planes, small, strict=True):
                cv2.resize(fill, (plane.shape[1], plane.shape[0]), dst=plane, interpolation=cv2.INTER_LINEAR)
        else:
            assert self._image is not None
            for plane, fill in zip(planes, self._image, strict=True):
                np.copyto(plane, fill)
        for sub, (plane, src, bands) in enumerate(zip(planes, source, self._bands, strict=True)):
            scale = 1 if sub == 0 else 2
            top, left = layout.y // scale, layout.x // scale
            region = plane[top : top + src.shape[0], left : left + src.shape[1]]
            interior, edges = bands
            for rows, cols, alpha, rest in edges:
                fill = region[rows, cols]
                blended = (src[rows, cols] * alpha + fill * rest + _ONE // 2) >> 8
                region[rows, cols] = blended.astype(np.uint8)
            region[interior] = src[interior]
        copy_timing(picture, out)
        return out


Band = tuple[slice, slice, np.ndarray, np.ndarray]  # rows, cols, picture weight, fill weight (uint16)


def _ramp(width: int, sub: int) -> np.ndarray:
    """Picture weight across a feather of ``width`` luma pixels, outermost first, at 1/``sub`` size."""
    luma = (np.arange(width, dtype=np.float64) + 1) / (width + 1)
    return luma.reshape(-1, sub).mean(axis=1) if width else luma


def _bands(layout: ExpandLayout, sub: int) -> tuple[tuple[slice, slice], list[Band]]:
    """For a plane subsampled by ``sub``: the picture's interior (copied) and its feather bands.

    Coordinates are relative to the picture. The weight of a pixel is the product of its row's and
    its column's ramp (1 outside the feathers), so corners fade in both directions.
    """
    h, w = layout.picture_height // sub, layout.picture_width // sub
    top, bottom = layout.feather_top // sub, layout.feather_bottom // sub
    left, right = layout.feather_left // sub, layout.feather_right // sub
    rows_w = np.ones(h)
    rows_w[:top] = _ramp(layout.feather_top, sub)
    rows_w[h - bottom :] = _ramp(layout.feather_bottom, sub)[::-1]
    cols_w = np.ones(w)
    cols_w[:left] = _ramp(layout.feather_left, sub)
    cols_w[w - right :] = _ramp(layout.feather_right, sub)[::-1]
    middle = slice(top, h - bottom)
    rects = [
        (slice(0, top), slice(0, w)),
        (slice(h - bottom, h), slice(0, w)),
        (middle, slice(0, left)),
        (middle, slice(w - right, w)),
    ]
    bands: list[Band] = []
    for rows, cols in rects:
        weight = np.rint(np.outer(rows_w[rows], cols_w[cols]) * _ONE).astype(np.uint16)
        if weight.size:
            bands.append((rows, cols, weight, (_ONE - weight).astype(np.uint16)))
    return (middle, slice(left, w - right)), bands
