"""Resizing frames for H.264 output with FFmpeg's ``scale`` filter (swscale), no per-pixel Python.

Output frames are yuv420p, BT.709 matrix, limited ("TV") range: what the encoder is tagged with
(see :mod:`taxiway.media.encode`). Source colour is read from the frame's tags; untagged video is
assumed BT.709 when HD (>= 1280 wide or >= 720 tall) and BT.601 otherwise, as players do, and
untagged yuvj*/RGB formats are full range.

Why a filter graph rather than ``VideoFrame.reformat``: the ``scale`` filter honours the chroma
sample location (H.264's is "left"), so its pixels are bit-identical to ``ffmpeg -vf
scale=W:H:flags=lanczos``; PyAV's reformat path assumes centred chroma and shifts the colour planes
by a fraction of a pixel. The filter runs while holding the GIL, which costs nothing measurable:
the encoding thread spends its time inside libx264, which does not need the GIL.
"""

from __future__ import annotations

from fractions import Fraction

from av.filter import Graph
from av.filter.context import FilterContext
from av.video.frame import VideoFrame

from taxiway.media.decode import copy_timing

OUTPUT_PIX_FMT = "yuv420p"
MAX_SHARPEN = 2.0

# AVColorSpace value -> scale filter matrix name, for the matrices swscale knows.
_MATRICES = {1: "bt709", 4: "fcc", 5: "bt470", 6: "smpte170m", 7: "smpte240m", 9: "bt2020"}
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG
INTERPOLATIONS = frozenset(
    {"fast_bilinear", "bilinear", "bicubic", "experimental", "neighbor", "area", "bicublin", "gauss",
     "sinc", "lanczos", "spline"}
)  # fmt: skip


def source_matrix(frame: VideoFrame) -> str:
    """The YUV matrix the frame was encoded with: its tag, else guessed from its size."""
    known = _MATRICES.get(int(frame.colorspace))
    if known is not None:
        return known
    return "bt709" if frame.width >= 1280 or frame.height >= 720 else "smpte170m"


def source_full_range(frame: VideoFrame) -> bool:
    """Whether samples use the full 0-255 range: the tag, else yes for yuvj* and non-YUV formats."""
    if frame.color_range in (_LIMITED_RANGE, _FULL_RANGE):
        return frame.color_range == _FULL_RANGE
    name = frame.format.name
    return name.startswith("yuvj") or not name.startswith(("yuv", "nv", "p0", "p2", "y2", "uyvy", "gray"))


class Scaler:
    """Scales frames to ``width`` × ``height``; keeps pts/duration.

    By default the output is yuv420p, BT.709, limited range (for H.264). ``pix_fmt``, ``matrix``
    and ``full_range`` change that, e.g. yuvj420p / "bt470" (BT.601) / full range for JPEG.
    ``interpolation`` is a swscale filter name ("lanczos", "bicubic", "bilinear", "spline"...).
    ``threads`` is the filter graph's slice threading (0 = one per CPU). ``sharpen`` (0 = off, up to
    2) adds FFmpeg's unsharp mask on luma after scaling, to crisp up edges softened by enlargement.
    The graph is rebuilt only when the input size, format or colour changes.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        interpolation: str = "lanczos",
        threads: int = 0,
        pix_fmt: str = OUTPUT_PIX_FMT,
        matrix: str = "bt709",
        full_range: bool = False,
        sharpen: float = 0.0,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"4:2:0 output needs even dimensions, got {width}x{height}")
        if interpolation.lower() not in INTERPOLATIONS:
            raise ValueError(f"unknown swscale interpolation {interpolation!r}")
        if not 0.0 <= sharpen <= MAX_SHARPEN:
            raise ValueError(f"sharpen must be between 0 and {MAX_SHARPEN}, got {sharpen}")
        self.width = width
        self.height = height
        self.interpolation = interpolation.lower()
        self.threads = threads
        self.pix_fmt = pix_fmt
        self.matrix = matrix
        self.full_range = full_range
        self.sharpen = sharpen
        self._key: tuple[object, ...] | None = None
        self._source: FilterContext | None = None
        self._sink: FilterContext | None = None
        self._graph: Graph | None = None  # Keeps the filter contexts alive.

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        matrix, full = source_matrix(frame), source_full_range(frame)
        key = (frame.width, frame.height, frame.format.name, matrix, full)
        if key != self._key:
            self._build(frame, matrix, full)
            self._key = key
        assert self._source is not None and self._sink is not None
        self._source.push(frame)
        out = self._sink.pull()
        copy_timing(frame, out)
        return out

    def _build(self, frame: VideoFrame, matrix: str, full_range: bool) -> None:
        graph = Graph()
        graph.threads = self.threads
        source = buffer_source(graph, frame)
        scale = graph.add(
            "scale",
            f"w={self.width}:h={self.height}:flags={self.interpolation}"
            f":in_color_matrix={matrix}:out_color_matrix={self.matrix}"
            f":in_range={range_name(full_range)}:out_range={range_name(self.full_range)}",
        )
        stages = [source, scale]
        if self.sharpen > 0:
            # A 5×5 luma-only mask: sharper edges without colour fringes.
            stages.append(graph.add("unsharp", f"lx=5:ly=5:la={self.sharpen:.3f}:cx=5:cy=5:ca=0"))
        sink = graph.add("buffersink")
        graph.link_nodes(*stages, graph.add("format", f"pix_fmts={self.pix_fmt}"), sink).configure()
        self._graph, self._source, self._sink = graph, source, sink


def buffer_source(graph: Graph, frame: VideoFrame) -> FilterContext:
    """A filter graph input for frames shaped like ``frame`` (square pixels: frames are upright)."""
    return graph.add(
        "buffer",
        video_size=f"{frame.width}x{frame.height}",
        pix_fmt=frame.format.name,
        time_base=str(frame.time_base or Fraction(1, 1000)),
        pixel_aspect="1/1",
    )


def range_name(full: bool) -> str:
    """The scale filter's name for a colour range."""
    return "full" if full else "limited"
