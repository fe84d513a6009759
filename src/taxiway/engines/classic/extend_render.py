"""Rendering the classic extend engine's new frames: one yuv420p picture warped by an affine matrix,
plus optional film grain. OpenCV on whole planes; nothing per pixel in Python.

The base picture stays in yuv420p (what the decoder gives and the encoder takes), so there is no
colour conversion: the luma plane is warped with bicubic interpolation (sharp) and each chroma
plane with bilinear at half resolution, using the same transform expressed in chroma coordinates
(H.264 4:2:0 chroma sits at even luma columns, halfway between luma rows). Edges the warp
exposes are filled by reflecting the picture, never with black.
"""

from __future__ import annotations

import cv2
import numpy as np
from av.video.frame import VideoFrame

GRAIN_MARGIN = 32  # The grain field is this much larger on each side; frames use shifted windows.
_GRAIN_LEVELS = 16.0  # Grain is stored as uint8 with this many levels per standard deviation.
# Luma → chroma coordinates for 4:2:0 with H.264's (MPEG-2) chroma siting: x/2, y/2 - 1/4.
_TO_CHROMA = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, -0.25], [0.0, 0.0, 1.0]])
_FROM_CHROMA = np.linalg.inv(_TO_CHROMA)
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def estimate_noise(prev: np.ndarray, last: np.ndarray, step: np.ndarray | None) -> float:
    """The standard deviation of the grain or sensor noise in the luma plane ``last``, in code
    values, as far as the source's encoder left it. Clean renders read about 0.

    Real noise is both fine-grained and different in every frame, so this is the smaller of two
    measures. Spatial: Immerkær's kernel (it cancels smooth gradients) over ``last``, median
    response, so edges and texture barely count. Temporal: the difference between ``last`` and
    ``prev`` moved by ``step`` (the global motion between them; None skips this measure), as a mean
    rather than a median because encoders copy many blocks unchanged, with the largest 5 % (things
    that moved on their own) left out. Texture that does not change, and motion in a clean picture,
    each fail one of the two.
    """
    response = cv2.filter2D(last.astype(np.float32), -1, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)
    spatial = float(np.median(np.abs(response))) / (0.6745 * 6.0)  # The kernel scales iid noise by 6.
    if step is None:
        return spatial
    height, width = last.shape
    aligned = cv2.warpAffine(
        prev, step, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    my, mx = height // 10, width // 10  # Edges may have been reflected in: leave them out.
    magnitude = np.abs(last.astype(np.float32) - aligned)[my : height - my, mx : width - mx]
    typical = float(magnitude[magnitude <= np.percentile(magnitude, 95)].mean())
    # Gaussian: mean |x| = σ √(2/π); and the difference of two frames' noise has deviation √2 σ.
    return min(spatial, typical * np.sqrt(np.pi / 2.0) / np.sqrt(2.0))


def yuv_planes(picture: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a packed yuv420p array (``VideoFrame.to_ndarray`` layout)."""
    flat = picture.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )


class FrameWarper:
    """Renders warped copies of one yuv420p picture (``width`` × ``height``, both even).

    ``grain`` is the film grain's standard deviation in luma code values (0: none; the engine
    matches the source's own, see :func:`estimate_noise`); the grain is a fixed, slightly soft noise
    field drawn from ``seed``, shown through a different window each frame, so it moves like grain
    without costing a random draw per pixel per frame.
    Render from one thread at a time: a still camera without grain gives the same picture frame
    after frame, which is returned again (read-only) instead of being warped anew.
    """

    def __init__(self, picture: np.ndarray, width: int, height: int, *, grain: float, seed: int) -> None:
        self.width, self.height = width, height
        self._planes = yuv_planes(picture, width, height)
        self.grain = grain
        self._grain_field: np.ndarray | None = None
        if grain > 0:
            rng = np.random.default_rng([seed & 0xFFFF_FFFF_FFFF_FFFF, 0x6772616E])  # "gran": own stream
            noise = rng.standard_normal((height + 2 * GRAIN_MARGIN, width + 2 * GRAIN_MARGIN), np.float32)
            noise = cv2.GaussianBlur(noise, (0, 0), 0.7)  # Film grain is a little soft, not pixel-sharp.
            noise *= _GRAIN_LEVELS / max(float(noise.std()), 1e-6)
            self._grain_field = np.clip(noise + 128.0, 0, 255).astype(np.uint8)
        self._last: tuple[bytes, np.ndarray] | None = None  # (matrix, picture) of the last grainless render

    def render(
        self, matrix: np.ndarray, grain_weight: float = 1.0, grain_at: tuple[int, int] = (0, 0)
    ) -> np.ndarray:
        """The picture warped by the forward 2×3 ``matrix`` (source → output pixel coordinates), as a
        packed yuv420p array; grain at ``grain_weight`` × ``grain``, from the grain field window at
        offset ``grain_at`` (each in 0 .. 2 × GRAIN_MARGIN)."""
        grainy = self._grain_field is not None and grain_weight > 0
        key = np.asarray(matrix, np.float64).tobytes()
        if not grainy and self._last is not None and self._last[0] == key:
            return self._last[1]
        out = np.empty((self.height * 3 // 2, self.width), np.uint8)
        y_out, u_out, v_out = yuv_planes(out, self.width, self.height)
        y, u, v = self._planes
        full = np.vstack([matrix, [0.0, 0.0, 1.0]])
        chroma = (_TO_CHROMA @ full @ _FROM_CHROMA)[:2]
        cv2.warpAffine(y, matrix, (self.width, self.height), y_out, cv2.INTER_CUBIC, cv2.BORDER_REFLECT)
        for plane, target in ((u, u_out), (v, v_out)):
            cv2.warpAffine(plane, chroma, target.shape[::-1], target, cv2.INTER_LINEAR, cv2.BORDER_REFLECT)
        if grainy:
            assert self._grain_field is not None
            ox, oy = grain_at
            window = self._grain_field[oy : oy + self.height, ox : ox + self.width]
            alpha = self.grain * grain_weight / _GRAIN_LEVELS
            # y + alpha * (g - 128), saturated to 0..255, in one pass.
            cv2.addWeighted(y_out, 1.0, window, alpha, -128.0 * alpha, y_out)
        else:
            out.flags.writeable = False
            self._last = (key, out)
        return out


def to_video_frame(picture: np.ndarray, pts: int, duration: int, time_base: object) -> VideoFrame:
    """A yuv420p VideoFrame of a packed array, with its timing."""
    frame = VideoFrame.from_ndarray(picture, format="yuv420p")
    frame.pts = pts
    frame.duration = duration
    frame.time_base = time_base
    return frame
