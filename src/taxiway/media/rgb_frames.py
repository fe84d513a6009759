"""Decoded frames to RGB arrays and back: centre crop + resize into RGB, and back to yuv420p, for
engines that work on RGB pictures (the classic restyle looks, the Wan models).

:class:`CropScaleRGB` turns a decoded frame into one with a single FFmpeg filter graph (``crop`` only
moves plane pointers, ``scale`` resamples and converts to RGB honouring the source's YUV matrix and
range), and :class:`RGBToVideoFrame` turns the styled array back into a yuv420p BT.709 limited-range
frame for :class:`~taxiway.media.encode.H264Writer` with the shared :class:`~taxiway.media.scale.Scaler`.
"""

from __future__ import annotations

import av
import numpy as np
from av.filter import Graph
from av.filter.context import FilterContext
from av.video.frame import VideoFrame

from taxiway.media.decode import copy_timing
from taxiway.media.scale import Scaler, buffer_source, range_name, source_full_range, source_matrix


def centre_crop(width: int, height: int, out_width: int, out_height: int) -> tuple[int, int, int, int]:
    """The centred ``(w, h, x, y)`` window of a ``width`` × ``height`` picture with the output's aspect.

    The window keeps the whole of the side that limits it (landscape into portrait keeps the full
    height) and is at least 2 × 2, so even a sliver of a picture can be scaled.
    """
    if width <= 0 or height <= 0 or out_width <= 0 or out_height <= 0:
        raise ValueError(f"invalid sizes {width}x{height} -> {out_width}x{out_height}")
    if width * out_height > height * out_width:  # Source wider than the output: crop the sides.
        w, h = max(2, min(width, round(height * out_width / out_height))), height
    else:  # Source taller (or the same shape): crop top and bottom.
        w, h = width, max(2, min(height, round(width * out_height / out_width)))
    return w, h, (width - w) // 2, (height - h) // 2


class CropScaleRGB:
    """Centre-crops frames to the output's aspect ratio and scales them to an RGB24 array.

    The graph is rebuilt only when the input size, format or colour changes.
    ``interpolation`` is the swscale filter; ``threads`` the graph's slice threads (0 = per CPU).
    """

    def __init__(self, width: int, height: int, *, interpolation: str = "bicubic", threads: int = 0) -> None:
        self.width = width
        self.height = height
        self.interpolation = interpolation
        self.threads = threads
        self._key: tuple[object, ...] | None = None
        self._graph: Graph | None = None  # Keeps the filter contexts alive.
        self._source: FilterContext | None = None
        self._sink: FilterContext | None = None

    def __call__(self, frame: VideoFrame) -> np.ndarray:
        """The frame's centre crop at the output size, as an (height, width, 3) uint8 RGB array."""
        matrix, full = source_matrix(frame), source_full_range(frame)
        key = (frame.width, frame.height, frame.format.name, matrix, full)
        if key != self._key:
            self._build(frame, matrix, full)
            self._key = key
        assert self._source is not None and self._sink is not None
        self._source.push(frame)
        return self._sink.pull().to_ndarray(format="rgb24")

    def _build(self, frame: VideoFrame, matrix: str, full_range: bool) -> None:
        w, h, x, y = centre_crop(frame.width, frame.height, self.width, self.height)
        graph = Graph()
        graph.threads = self.threads
        source = buffer_source(graph, frame)
        # exact=1: without it crop rounds x/y down to the chroma grid and the window drifts off centre.
        crop = graph.add("crop", f"w={w}:h={h}:x={x}:y={y}:exact=1")
        in_range = f"in_range={range_name(full_range)}"
        to_rgb = f"in_color_matrix={matrix}:{in_range}:out_range=full"
        resize = f"w={self.width}:h={self.height}:flags={self.interpolation}"
        if any(component.is_chroma for component in frame.format.components):
            # YUV: two scale steps, resizing in YUV, then converting to RGB at the final size.
            # swscale's unscaled YUV -> RGB converter is SIMD while scaling straight into RGB takes
            # its generic path: the pair costs 2 ms a 1280×768 frame instead of 7.
            stages = [
                graph.add("scale", f"{resize}:{in_range}:out_range={range_name(full_range)}"),
                graph.add("format", "pix_fmts=yuv420p|yuv422p|yuv444p"),
                graph.add("scale", to_rgb),
            ]
        else:  # RGB, grey or palette sources: one step.
            stages = [graph.add("scale", f"{resize}:{to_rgb}")]
        sink = graph.add("buffersink")
        graph.link_nodes(source, crop, *stages, graph.add("format", "pix_fmts=rgb24"), sink).configure()
        self._graph, self._source, self._sink = graph, source, sink


class RGBToVideoFrame:
    """Wraps an RGB24 array as a yuv420p BT.709 limited-range frame with a source frame's timing."""

    def __init__(self, width: int, height: int, *, threads: int = 0) -> None:
        # Same size in and out: swscale only converts the colour (and subsamples the chroma).
        self._scaler = Scaler(width, height, interpolation="bicubic", threads=threads)

    def __call__(self, rgb: np.ndarray, timing: VideoFrame) -> VideoFrame:
        """The picture ``rgb`` with the pts, duration and time base of ``timing``."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        copy_timing(timing, frame)
        out = self._scaler(frame)
        copy_timing(timing, out)
        return out
