"""Benchmark: what the SR engine's encode thread does per frame before libx264, by frame size.

On a GPU the model outruns the encode thread, which takes each upscaled RGB frame, wraps it in a
``VideoFrame`` and converts it with swscale to yuv420p at the output size. This times those two
steps for an x4 frame of 720p (5120×2880, resized with Lanczos on the CPU) against a frame already
at the 4K-class size (3840×2160, resized on the GPU: colour conversion only). Median of 6 frames.

    PYTHONPATH=src python bench/bench_encode_handoff.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from av.video.frame import VideoFrame
from common import machine_line

from taxiway.media.scale import Scaler

FRAMES = 8  # the first two warm up


def handoff_ms(pixels: np.ndarray, scaler: Scaler) -> tuple[float, float]:
    wrap, scale = [], []
    for _ in range(FRAMES):
        started = time.perf_counter()
        frame = VideoFrame.from_ndarray(pixels, format="rgb24")
        wrapped = time.perf_counter()
        scaler(frame)
        wrap.append(wrapped - started)
        scale.append(time.perf_counter() - wrapped)
    return statistics.median(wrap[2:]) * 1e3, statistics.median(scale[2:]) * 1e3


def main() -> None:
    print(machine_line())
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    cases = {
        "5120×2880 (x4 of 720p), Lanczos on the CPU": np.repeat(np.repeat(source, 4, 0), 4, 1),
        "3840×2160 (resized on the GPU)": rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8),
    }
    for name, pixels in cases.items():
        wrap, scale = handoff_ms(pixels, Scaler(3840, 2160))
        total = wrap + scale
        print(f"{name}: from_ndarray {wrap:.1f} ms, swscale {scale:.1f} ms, total {total:.1f} ms, "
              f"ceiling {1000 / total:.0f} frames/s")  # fmt: skip


if __name__ == "__main__":
    main()
