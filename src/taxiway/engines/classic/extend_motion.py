"""Global camera motion for the classic extend engine: measure it at the end of a clip, decide how
it goes on, and turn that into one affine warp per new frame.

A motion is a similarity transform of the whole picture about its centre, written as a 4-vector
``[dx, dy, zoom, turn]``: how far the content at the centre moves (pixels, x right, y down), the log
of the scale factor (positive: the content grows, i.e. a zoom in) and the rotation in radians
(positive: clockwise on screen). Velocities are these per second.

Measuring: corners of each of the last frames are tracked into the next with pyramidal
Lucas-Kanade optical flow on downscaled luma, kept only when tracking back lands where it
started, and one similarity is fitted to all tracks by least squares with outliers (independently
moving objects) dropped. A single global fit is stable where per-pixel flow would smear.

Continuing: the measured velocity fades out over ``FADE_OUT_S`` while the chosen camera move fades
in over ``FADE_IN_S`` (smoothstep curves, so the seam has neither a jump in position nor in speed).
Camera moves come from a small prompt vocabulary (:func:`move_from_prompt`) or from the seed
(:func:`move_from_seed`). When translation or rotation would expose the picture's edges, the path
adds a gradual zoom (at most ``MAX_COVER_ZOOM``) so that the warped frame still covers the output;
beyond that, and for zoom-outs, the renderer fills edges by reflection.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

DX, DY, ZOOM, TURN = range(4)

# Motion is measured on luma downscaled so that its longer side is at most this: accurate to a few
# hundredths of a pixel on real footage, and a few milliseconds per frame pair at any source size.
ANALYSIS_SIDE = 480
MAX_CORNERS = 400
MIN_TRACKS = 16  # Fewer trackable corners (flat or blank pictures): no measurable motion.
FORWARD_BACKWARD_PX = 0.5  # A track is kept when tracking it back lands within this (analysis px).
INLIER_PX = 0.75  # A track follows the fitted motion when it lands within this (analysis px).
# The share of corners that follow the fitted motion: at or below NO_MOTION_SHARE there is no single
# camera motion (a cut, a flash, a crowd) and nothing is continued; from FULL_MOTION_SHARE on the
# motion is continued in full; in between, in part.
NO_MOTION_SHARE = 0.3
FULL_MOTION_SHARE = 0.6
_LK_PARAMS = {
    "winSize": (21, 21),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01),
}

FADE_OUT_S = 1.0  # The measured motion fades out over this...
FADE_IN_S = 2.0  # ...while the camera move fades in over this.
COVER_FADE_S = 1.5  # The covering zoom is eased in over this.
MAX_COVER_ZOOM = 1.3

# Camera move speeds, per second: a slow move over a 5-10 s extension.
ZOOM_IN_RATE = 0.02  # log scale: 10 s -> 1.22x
ZOOM_OUT_RATE = 0.012  # slower: a zoom out has to invent its edges (reflection)
PAN_RATE = 0.012  # share of the frame width (height for tilts): 10 s -> 12 %


@dataclass(frozen=True)
class CameraMove:
    """A camera move as a constant velocity ``[dx, dy, zoom, turn]`` per second."""

    velocity: np.ndarray
    description: str  # e.g. "slow zoom in", for the progress text
    origin: str  # e.g. "from the prompt", "drawn from seed 7"


# (pattern, name, axis, sign of the content's motion). Panning the camera left slides the content
# right (+dx); tilting it up slides the content down (+dy).
_VOCABULARY = (
    (r"\b(?:zoom(?:s|ed|ing)?|push(?:es|ed|ing)?|dolly(?:ing)?)\s+in\b", "zoom in", ZOOM, +1),
    (r"\b(?:zoom(?:s|ed|ing)?\s+out|pull(?:s|ed|ing)?\s+(?:back|out)|dolly(?:ing)?\s+out)\b", "zoom out",
     ZOOM, -1),
    (r"\bpan(?:s|ned|ning)?\s+(?:to\s+the\s+)?left\b", "pan left", DX, +1),
    (r"\bpan(?:s|ned|ning)?\s+(?:to\s+the\s+)?right\b", "pan right", DX, -1),
    (r"\btilt(?:s|ed|ing)?\s+up\b", "tilt up", DY, +1),
    (r"\btilt(?:s|ed|ing)?\s+down\b", "tilt down", DY, -1),
)  # fmt: skip
_STATIC = re.compile(r"\b(?:static|locked[\s-]?off|still\s+camera|tripod)\b")


def _axis_speed(axis: int, sign: int, width: int, height: int) -> float:
    if axis == ZOOM:
        return ZOOM_IN_RATE if sign > 0 else -ZOOM_OUT_RATE
    return sign * PAN_RATE * (width if axis == DX else height)


def move_from_prompt(prompt: str | None, width: int, height: int) -> CameraMove | None:
    """The camera move a prompt names, or None when it names none.

    Vocabulary (case-insensitive): "zoom in"/"push in"/"dolly in", "zoom out"/"pull back"/
    "pull out"/"dolly out", "pan left", "pan right", "tilt up", "tilt down", and "static"/
    "locked off"/"still camera"/"tripod" for no move. Moves on different axes combine ("zoom in
    and pan left"); on one axis the first mentioned wins. "Static" applies only when no move is named.
    """
    text = (prompt or "").lower()
    found: dict[int, tuple[int, str, int]] = {}  # axis -> (position, name, sign)
    for pattern, name, axis, sign in _VOCABULARY:
        match = re.search(pattern, text)
        if match and (axis not in found or match.start() < found[axis][0]):
            found[axis] = (match.start(), name, sign)
    if not found:
        if _STATIC.search(text):
            return CameraMove(np.zeros(4), "locked-off camera", "from the prompt")
        return None
    velocity = np.zeros(4)
    for axis, (_, _, sign) in found.items():
        velocity[axis] = _axis_speed(axis, sign, width, height)
    names = [name for _, name, _ in sorted(found.values())]
    return CameraMove(velocity, "slow " + " and ".join(names), "from the prompt")


def move_from_seed(seed: int, width: int, height: int) -> CameraMove:
    """A slow drift drawn from ``seed``: a direction, a speed and a zoom (mostly in)."""
    rng = np.random.default_rng([seed & 0xFFFF_FFFF_FFFF_FFFF, 0x6D6F7665])  # "move": own stream
    angle = rng.uniform(0.0, 2.0 * math.pi)
    drift = rng.uniform(0.3, 0.8)
    zoom = rng.uniform(-0.3, 1.0)
    velocity = np.array(
        [
            drift * math.cos(angle) * PAN_RATE * width,
            drift * math.sin(angle) * PAN_RATE * height,
            zoom * (ZOOM_IN_RATE if zoom > 0 else ZOOM_OUT_RATE),
            0.0,
        ]
    )
    names = []
    if abs(zoom) >= 0.15:
        names.append("zoom in" if zoom > 0 else "zoom out")
    if abs(math.cos(angle)) >= 0.38:  # within ~68° of horizontal
        names.append("pan left" if velocity[DX] > 0 else "pan right")
    if abs(math.sin(angle)) >= 0.38:
        names.append("tilt up" if velocity[DY] > 0 else "tilt down")
    return CameraMove(velocity, "slow " + " and ".join(names), f"drawn from seed {seed}")


@dataclass(frozen=True)
class MotionEstimate:
    """What :func:`estimate_motion` measured."""

    velocity: np.ndarray  # [dx, dy, zoom, turn] per second, already scaled by the confidence
    confidence: float  # 0..1, from the share of tracks that agree on one camera motion
    last_step: np.ndarray | None  # 2×3 matrix taking the second-to-last frame onto the last one


def estimate_motion(lumas: Sequence[np.ndarray], times: Sequence[float]) -> MotionEstimate:
    """The camera motion over the frames ``lumas`` (full-size luma planes, oldest first, shown at
    ``times`` seconds).

    Each consecutive pair is measured separately and the per-component median taken, so one bad
    pair (a flash, a cut) does not decide. No measurable motion gives zeros and confidence 0.
    """
    if len(lumas) < 2:
        return MotionEstimate(np.zeros(4), 0.0, None)
    height, width = lumas[0].shape
    factor = max(1.0, max(width, height) / ANALYSIS_SIDE)
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = [cv2.resize(y, size, interpolation=cv2.INTER_AREA) if factor > 1 else y for y in lumas]
    rates, shares = [], []
    motion: np.ndarray | None = None
    for i in range(len(small) - 1):
        dt = times[i + 1] - times[i]
        fitted = _pair_motion(small[i], small[i + 1]) if dt > 0 else None
        if fitted is None:
            motion = None
            rates.append(np.zeros(4))
            shares.append(0.0)
            continue
        motion, share = fitted
        motion[[DX, DY]] *= factor  # The centre's displacement scales with the picture.
        rates.append(motion / dt)
        shares.append(share)
    share = float(np.median(shares))
    confidence = float(np.clip((share - NO_MOTION_SHARE) / (FULL_MOTION_SHARE - NO_MOTION_SHARE), 0, 1))
    last_step = None if motion is None else _matrices(motion[None], width, height)[0]
    return MotionEstimate(np.median(np.array(rates), axis=0) * confidence, confidence, last_step)


def _pair_motion(prev: np.ndarray, nxt: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The similarity ``[dx, dy, zoom, turn]`` taking ``prev`` to ``nxt`` and the share of tracks
    that agree with it, or None when too few corners track reliably."""
    height, width = prev.shape
    corners = cv2.goodFeaturesToTrack(
        prev, MAX_CORNERS, qualityLevel=0.01, minDistance=max(3, max(width, height) // 60), blockSize=5
    )
    if corners is None or len(corners) < MIN_TRACKS:
        return None
    forward, ok, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, corners, None, **_LK_PARAMS)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(nxt, prev, forward, None, **_LK_PARAMS)
    src, dst = corners.reshape(-1, 2), forward.reshape(-1, 2)
    good = (ok.ravel() == 1) & (ok_back.ravel() == 1)
    good &= np.linalg.norm(back.reshape(-1, 2) - src, axis=1) <= FORWARD_BACKWARD_PX
    if good.sum() < MIN_TRACKS:
        return None
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    params, inliers = fit_similarity(src[good] - centre, dst[good] - centre)
    a, b, tx, ty = params
    motion = np.array([tx, ty, math.log(max(math.hypot(a, b), 1e-6)), math.atan2(b, a)])
    return motion, inliers / len(corners)


def fit_similarity(src: np.ndarray, dst: np.ndarray, rounds: int = 5) -> tuple[np.ndarray, int]:
    """Least-squares ``[a, b, tx, ty]`` with ``dst ≈ [[a, -b], [b, a]] @ src + [tx, ty]`` for (n, 2)
    point arrays (centred coordinates), fitted only to the points that follow it.

    Starts from the median displacement (a pure translation: right whenever most points move with
    the camera, whatever the rest do), then ``rounds`` times keeps the points within INLIER_PX of
    the model and refits on them, so a zoom is picked up from the centre outwards. Returns the
    parameters and the number of points that follow them. Deterministic.
    """
    shift = np.median(dst - src, axis=0)
    params = np.array([1.0, 0.0, shift[0], shift[1]])
    keep = np.linalg.norm(apply_similarity(params, src) - dst, axis=1) <= INLIER_PX
    for _ in range(rounds):
        if keep.sum() < 3:
            break
        x, y = src[keep, 0], src[keep, 1]
        ones, zeros = np.ones_like(x), np.zeros_like(x)
        design = np.concatenate([np.stack([x, -y, ones, zeros], 1), np.stack([y, x, zeros, ones], 1)])
        target = np.concatenate([dst[keep, 0], dst[keep, 1]])
        params = np.linalg.lstsq(design, target, rcond=None)[0]
        keep = np.linalg.norm(apply_similarity(params, src) - dst, axis=1) <= INLIER_PX
    return params, int(keep.sum())


def apply_similarity(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[a, b, tx, ty]`` applied to (n, 2) points."""
    a, b, tx, ty = params
    x, y = points[:, 0], points[:, 1]
    return np.stack([a * x - b * y + tx, b * x + a * y + ty], 1)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 → 1 with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def plan_path(
    start: np.ndarray, move: CameraMove, count: int, fps: float, width: int, height: int
) -> np.ndarray:
    """``count`` 2×3 affine matrices (forward: last source frame → new frame k+1) continuing the
    velocity ``start`` (per second) into ``move``; see the module docstring."""
    t = (
        np.arange(1, count + 1) - 0.5
    ) / fps  # Mid-frame times: integrates the velocity exactly for linear parts.
    velocity = start[None] * (1.0 - smoothstep(t / FADE_OUT_S))[:, None]
    velocity += move.velocity[None] * smoothstep(t / FADE_IN_S)[:, None]
    position = np.cumsum(velocity, axis=0) / fps  # (count, 4)
    matrices = _matrices(position, width, height)
    # Cover what translation and rotation expose, not what a deliberate zoom out reveals.
    covering = _matrices(position * [1, 1, 0, 1] + np.maximum(position * [0, 0, 1, 0], 0), width, height)
    needed = np.maximum.accumulate(_cover_zoom(covering, width, height))
    zoom = 1.0 + (needed - 1.0) * smoothstep((t + 0.5 / fps) / COVER_FADE_S)
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    matrices[:, :, :2] *= zoom[:, None, None]
    matrices[:, :, 2] = zoom[:, None] * (matrices[:, :, 2] - centre) + centre
    return matrices


def _matrices(position: np.ndarray, width: int, height: int) -> np.ndarray:
    """Affine matrices of similarity positions ``[dx, dy, zoom, turn]`` about the frame centre."""
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    scale = np.exp(position[:, ZOOM])
    cos, sin = scale * np.cos(position[:, TURN]), scale * np.sin(position[:, TURN])
    linear = np.stack([np.stack([cos, -sin], 1), np.stack([sin, cos], 1)], 1)  # (n, 2, 2)
    shift = centre + position[:, [DX, DY]] - linear @ centre
    return np.concatenate([linear, shift[:, :, None]], axis=2)


def _cover_zoom(matrices: np.ndarray, width: int, height: int) -> np.ndarray:
    """Per matrix, the extra zoom about the centre after which the warped frame covers the whole
    output (1 when it already does), capped at MAX_COVER_ZOOM."""
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    linear_inv = np.linalg.inv(matrices[:, :, :2])
    # The source point shown at the output centre, and the source offsets of the output corners.
    seen = np.einsum("nij,nj->ni", linear_inv, centre - matrices[:, :, 2])
    corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]]) * centre
    offsets = np.einsum("nij,kj->nki", linear_inv, corners)  # (n, 4, 2)
    high = np.array([width - 1, height - 1])
    room = np.where(offsets > 0, high - seen[:, None], seen[:, None])  # Distance to the edge faced.
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(room > 0, np.abs(offsets) / room, np.inf)
    return np.clip(needed.reshape(len(matrices), -1).max(axis=1), 1.0, MAX_COVER_ZOOM)
