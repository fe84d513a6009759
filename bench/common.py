"""What every engine benchmark shares: the source clip, the ffmpeg CLI, timing wall and CPU."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

SOURCE_SIZE = (1280, 720)
FPS = 24


def ffmpeg(*args: str) -> list[str]:
    """An ffmpeg CLI command line (the binary imageio-ffmpeg ships), quiet and overwriting."""
    import imageio_ffmpeg  # here, not at the top: the GPU benchmarks run without it (no ffmpeg CLI)

    return [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]


def make_source(path: Path, frames: int) -> None:
    """A detailed, moving 1280×720 clip with audio, encoded like a typical upload."""
    w, h = SOURCE_SIZE
    cmd = ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={FPS}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", f"{frames / FPS}", "-frames:v", str(frames),
        "-c:v", "libx264", "-preset", "fast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", str(path),
    )  # fmt: skip
    subprocess.run(cmd, check=True)


def make_pattern_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """FFmpeg's testsrc2 pattern at FPS, encoded with PyAV: no ffmpeg CLI needed (GPU machines)."""
    from av.filter import Graph

    graph = Graph()
    graph.add("testsrc2", f"size={width}x{height}:rate={FPS}").link_to(graph.add("buffersink"))
    graph.configure()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "fast", "crf": "20"}
        for _ in range(frames):
            frame = graph.pull().reformat(format="yuv420p")
            frame.pts = None  # numbered by the encoder at FPS
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds
    cpu: float  # user + system seconds, all threads


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def stopwatch(*, children: bool = False) -> Callable[[], Timing]:
    """Start timing now; the function returned gives the wall and CPU time since then, of this
    process or (children=True) of the child processes it has waited for."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    cpu, start = _cpu(who), time.perf_counter()
    return lambda: Timing(time.perf_counter() - start, _cpu(who) - cpu)


def run_timed(cmd: list[str]) -> Timing:
    """Run a CLI command to completion and time it."""
    elapsed = stopwatch(children=True)
    subprocess.run(cmd, check=True)
    return elapsed()


def machine_line() -> str:
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, av {av.__version__}"
    )


# NVIDIA's datasheet figure for an H100 SXM (and H200, the same compute): dense bf16/fp16 on tensor
# cores, without sparsity. The goals are set on an H100.
H100_DENSE_BF16_TFLOPS = 989.4


def count_tflops(run: Callable[[], object]) -> dict[str, float]:
    """Floating-point operations of ``run()`` in TFLOP per aten op, counted by torch's FlopCounterMode
    (matmuls, convolutions, attention). Run it on the meta device: the count needs shapes, not a GPU."""
    import torch  # here: the classic benchmarks run without torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        run()
    return {str(op): flops / 1e12 for op, flops in counter.get_flop_counts()["Global"].items()}


def required_throughput(tflop: float, seconds: float) -> str:
    """What doing ``tflop`` within ``seconds`` asks of the GPU, against an H100's dense bf16 peak."""
    rate = tflop / seconds
    return f"{rate:.0f} TFLOP/s sustained = {rate / H100_DENSE_BF16_TFLOPS:.0%} of an H100's dense bf16 peak"
