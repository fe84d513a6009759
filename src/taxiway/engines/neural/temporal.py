"""Temporal smoothing of per-frame super-resolution output: motion-compensated blending with the
previous output frame, where the motion is reliably known.

A single-image SR model sees each frame alone, so the detail it invents (GAN-trained models above
all) changes from one frame to the next even where the picture stands still: the video flickers.
:class:`TemporalSmoother` steadies it, one frame after the other:

    source frames t-1, t ── optical flow (DIS), both ways ──▶ reliable where the two agree, the
    (small: the model's input)                                 flow stays inside the frame and the
                                                               warped t-1 matches t
    output t-1 (already smoothed) ── warped along the flow, scaled to the output size, clamped to
        the range of output t's 3×3 neighbourhood ──▶ blended into output t with weight
        ``strength`` where reliable, 0 elsewhere (occlusions, new content), softly in between

The flow is computed on the source frames (cheap: 16× fewer pixels than a x4 output) and resized
with the reliability to the output. The blend is recursive, so a still area averages over several
frames; the clamp (as in games' temporal anti-aliasing) keeps a history the flow misplaced by more
than a pixel from ghosting across edges. When too little of a frame is reliable (a scene cut, a
flash, motion the flow cannot follow) that frame is not blended and the history starts again from
it, so nothing of the previous scene shows in the next.
"""

from __future__ import annotations

import cv2
import numpy as np

from taxiway.core.model_config import MAX_TEMPORAL_SMOOTHING

# Forward-backward check (Sundaram et al. 2010), in source pixels: the two flows must cancel within
# this, plus 1 % of their squared length for fast motion.
FLOW_TOLERANCE_PX2 = 0.5
# The warped previous source frame must match the current one within this many levels of 255 (grey):
# compression noise passes, an uncovered area or a change of light does not.
MATCH_LEVELS = 12.0
# A frame with less than this fraction reliable is a scene cut (or a flash): no blend, history reset.
SCENE_CUT_RELIABLE = 0.4
_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)


def check_strength(strength: float) -> float:
    """``strength`` if it is a valid temporal smoothing (0 = off, up to MAX_TEMPORAL_SMOOTHING)."""
    if not 0.0 <= strength <= MAX_TEMPORAL_SMOOTHING:
        raise ValueError(f"temporal smoothing must be between 0 and {MAX_TEMPORAL_SMOOTHING}, got {strength}")
    return strength


class TemporalSmoother:
    """Blends each SR output frame with the previous one, motion-compensated; one per video, fed in order.

    ``strength``: the weight of the warped previous output where the motion is reliable (0 blends
    nothing). Call it with each source frame (H×W×3 uint8 RGB, what the model got) and the model's
    output for it (any size, uint8 RGB).
    """

    def __init__(self, strength: float) -> None:
        self.strength = check_strength(strength)
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame: the next one is passed through and starts the history."""
        self._previous_gray: np.ndarray | None = None
        self._previous_output: np.ndarray | None = None
        self.cuts = 0  # scene cuts seen (frames not blended for lack of reliable motion)

    def __call__(self, source: np.ndarray, output: np.ndarray) -> np.ndarray:
        """``output`` steadied with the previous frames: a new array, or ``output`` itself when not
        blended (the first frame, a scene cut, strength 0)."""
        gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
        previous_gray, previous_output = self._previous_gray, self._previous_output
        self._previous_gray, self._previous_output = gray, output
        if (
            self.strength == 0
            or previous_gray is None
            or previous_output is None
            or previous_gray.shape != gray.shape
            or previous_output.shape != output.shape
        ):
            return output
        backward, reliable = self._motion(gray, previous_gray)
        if reliable.mean() < SCENE_CUT_RELIABLE:
            self.cuts += 1
            return output
        height, width = output.shape[:2]
        # Soft edges: pixels next to unreliable ones get less of the history.
        weight = cv2.GaussianBlur(cv2.erode(reliable, _NEIGHBOURHOOD).astype(np.float32), (3, 3), 0)
        weight *= self.strength
        history_weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR)
        output_weight = cv2.subtract(1.0, history_weight)
        # The flow in output pixels: scaled at the source size, where it is cheap (resizing commutes).
        scale = np.array([width / gray.shape[1], height / gray.shape[0]], np.float32)
        flow = cv2.resize(backward * scale, (width, height), interpolation=cv2.INTER_LINEAR)
        warped = _warp(previous_output, flow)
        # The history kept within what this frame shows around each pixel.
        warped = cv2.min(
            cv2.max(warped, cv2.erode(output, _NEIGHBOURHOOD)), cv2.dilate(output, _NEIGHBOURHOOD)
        )
        blended = cv2.blendLinear(output, warped, output_weight, history_weight)
        self._previous_output = blended
        return blended

    def _motion(self, gray: np.ndarray, previous_gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The backward flow (where each pixel of ``gray`` was in ``previous_gray``, H×W×2 float32
        offsets) and a uint8 mask of the pixels where it is reliable."""
        height, width = gray.shape
        backward = self._flow.calc(gray, previous_gray, None)
        forward = self._flow.calc(previous_gray, gray, None)
        forward_there = _warp(forward, backward)
        round_trip = np.sum((backward + forward_there) ** 2, axis=2)
        lengths = np.sum(backward**2, axis=2) + np.sum(forward_there**2, axis=2)
        consistent = round_trip <= 0.01 * lengths + FLOW_TOLERANCE_PX2
        x = backward[..., 0] + np.arange(width, dtype=np.float32)
        y = backward[..., 1] + np.arange(height, dtype=np.float32)[:, None]
        inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
        matches = cv2.absdiff(gray, _warp(previous_gray, backward)) <= MATCH_LEVELS
        return backward, (consistent & inside & matches).astype(np.uint8)


def _warp(image: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``image`` sampled at each pixel's position plus its offset (bilinear; edges repeated)."""
    return cv2.remap(
        image, offsets, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
