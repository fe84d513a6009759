"""Benchmark: the spandrel super-resolution upscale engine against spandrel's default usage.

Both run the same full-size architecture with random weights (the compute is that of the real
checkpoint): Real-ESRGAN x4plus (RRDBNet, 64 features, 23 blocks), or realesr-general-x4v3
(Compact, 64 features, 32 convs) with --model compact. Both turn the same generated clip into the
4K-class size with Lanczos and encode libx264 with the same preset and CRF.

- baseline: what spandrel's README shows, per frame: fp32, eager, one frame per call, then resize
  and encode, one stage after the other;
- ours: SpandrelUpscale (bf16/fp16 where the model allows on a GPU, channels-last, cuDNN's
  autotuner, batches, tiles, the resize to 4K on the GPU, and decode / model / encode overlapping on
  three threads). Loading it turns ``cudnn.benchmark`` on for the process, so the baseline runs first;
- ours-cpu-resize (on CUDA only): the same with the resize left to swscale's Lanczos on the CPU,
  to show what the on-device resize saves;
- ours+compile (``--compile``): the same with the model setting ``compile = true``, timed after a
  warm-up that compiles it (its time is printed apart: a resident model pays it once).

Prints frames per second of each, the ratio ours / baseline (wall time; < 1 is faster), and the
peak GPU memory on CUDA.

    PYTHONPATH=src python bench/bench_sr_upscale.py [--model x4plus|compact] [--size 1280x720] [--frames 48]
        [--compile]
    PYTHONPATH=src python bench/bench_sr_upscale.py --count-flops  # model FLOPs per frame, no GPU needed

Defaults follow the device: 1280×720 × 48 frames on CUDA (the issue's target: ≥ 8 frames/s end to
end), 160×90 × 6 frames on a CPU (where x4plus is far too slow for more).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from common import (
    FPS,
    H100_DENSE_BF16_TFLOPS,
    count_tflops,
    machine_line,
    make_pattern_clip,
    required_throughput,
    stopwatch,
)
from spandrel import ModelLoader
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN

from taxiway.engines.base import EngineJob
from taxiway.engines.neural.sr_upscale import SpandrelUpscale
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file

GOAL_FPS = 8.0  # the goal for x4plus on 720p input, end to end on an H100


def build_model(kind: str) -> torch.nn.Module:
    """The published architecture, random weights."""
    if kind == "x4plus":
        return ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=23, scale=4)
    return Compact(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4)


def build_checkpoint(kind: str, path: Path) -> Path:
    """The published architecture with random weights, saved as a user's .pth would be."""
    torch.manual_seed(0)
    torch.save(build_model(kind).state_dict(), path)
    return path


def frame_tflop(kind: str, width: int, height: int) -> float:
    """The model's work on one frame, counted on the meta device."""
    with torch.device("meta"):
        model, frame = build_model(kind).eval(), torch.randn(1, 3, height, width)
        return sum(count_tflops(lambda: model(frame)).values())


def model_work(fps: float, tflop: float) -> str:
    """The model's work done per second of wall time (decode and encode included), against the peak."""
    rate = fps * tflop
    return f", model work {rate:.3g} TFLOP/s ({rate / H100_DENSE_BF16_TFLOPS:.0%} of an H100's bf16 peak)"


def count_flops(kind: str, width: int, height: int) -> int:
    """The model's work per frame and what the fps goal asks of a GPU."""
    tflop = frame_tflop(kind, width, height)
    print(f"{kind} on {width}×{height}: {tflop:.2f} TFLOP per frame (model only)")
    print(f"{GOAL_FPS:g} frames/s needs {required_throughput(tflop * GOAL_FPS, 1.0)}")
    return 0


def run_baseline(checkpoint: Path, source: Path, output: Path, device: str, preset: str, crf: int) -> int:
    """spandrel's documented usage, frame by frame, fp32, then resize and encode in turn."""
    model = ModelLoader(device=device).load_from_file(checkpoint).eval()
    frames = 0
    with av.open(str(source)) as src, av.open(str(output), "w") as dst:
        stream_in = src.streams.video[0]
        width, height = four_k_class(stream_in.width, stream_in.height)
        stream_out = dst.add_stream("libx264", rate=Fraction(FPS))
        stream_out.width, stream_out.height, stream_out.pix_fmt = width, height, "yuv420p"
        stream_out.options = {"preset": preset, "crf": str(crf)}
        for frame in src.decode(stream_in):
            rgb = frame.to_ndarray(format="rgb24")
            image = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div(255).to(device)
            with torch.inference_mode():
                result = model(image)
            upscaled = result.clamp(0, 1).mul(255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
            resized = cv2.resize(
                np.ascontiguousarray(upscaled), (width, height), interpolation=cv2.INTER_LANCZOS4
            )
            for packet in stream_out.encode(av.VideoFrame.from_ndarray(resized, format="rgb24")):
                dst.mux(packet)
            frames += 1
        for packet in stream_out.encode():
            dst.mux(packet)
    return frames


def run_ours(checkpoint: Path, source: Path, output_dir: Path, device: str, preset: str, crf: int) -> int:
    engine = SpandrelUpscale(checkpoint, device=device, preset=preset, crf=crf)
    return upscale_with(engine, source, output_dir)


def run_ours_cpu_resize(
    checkpoint: Path, source: Path, output_dir: Path, device: str, preset: str, crf: int
) -> int:
    engine = SpandrelUpscale(checkpoint, device=device, preset=preset, crf=crf, resize_on_device=False)
    return upscale_with(engine, source, output_dir)


def compiled_engine(checkpoint: Path, source: Path, device: str, preset: str, crf: int) -> SpandrelUpscale:
    """The engine with ``compile`` (model setting), warmed up: one batch of the source's size compiled."""
    engine = SpandrelUpscale(checkpoint, device=device, preset=preset, crf=crf, compile=True)
    info = probe_file(source, "video")
    engine.upscale_batch(np.zeros((engine.batch_size, info.height, info.width, 3), np.uint8))
    return engine


def upscale_with(engine: SpandrelUpscale, source: Path, output_dir: Path) -> int:
    info = probe_file(source, "video")
    job = EngineJob("upscale", {}, video=source, video_info=info, output_dir=output_dir)
    engine.run(job, lambda done, total, text=None: None)
    return int(probe_file(output_dir / "output.mp4", "video").frame_count or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("x4plus", "compact"), default="x4plus")
    parser.add_argument("--size", default=None, help="source WxH (default: 1280x720 on CUDA, 160x90 on CPU)")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument(
        "--compile", action="store_true", help="also time ours with compile = true (after its warm-up)"
    )
    parser.add_argument(
        "--count-flops", action="store_true", help="count the model's FLOPs per frame (default 1280x720)"
    )
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.count_flops:
        return count_flops(args.model, *map(int, (args.size or "1280x720").split("x")))
    width, height = map(int, (args.size or ("1280x720" if device == "cuda" else "160x90")).split("x"))
    frames = args.frames or (48 if device == "cuda" else 6)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = build_checkpoint(args.model, work / f"{args.model}.pth")
        source = work / "source.mp4"
        make_pattern_clip(source, width, height, frames)
        print(machine_line(), f"torch {torch.__version__}, device {device}")
        if device == "cuda":
            print("gpu:", torch.cuda.get_device_name(0))
        print(f"{args.model}: {width}×{height} → {four_k_class(width, height)}, {frames} frames")

        tflop = frame_tflop(args.model, width, height)
        results = {}
        variants = [("baseline", run_baseline), ("ours", run_ours)]
        if device == "cuda":
            variants.append(("ours-cpu-resize", run_ours_cpu_resize))
        for name, run in variants:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            target = work / f"{name}.mp4" if name == "baseline" else work / name
            elapsed = stopwatch()
            done = run(checkpoint, source, target, device, args.preset, args.crf)
            timing = elapsed()
            peak = ""
            if device == "cuda":
                peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
            fps = done / timing.wall
            print(f"{name:>15}: {timing.wall:7.2f} s wall, {fps:6.2f} frames/s{peak}{model_work(fps, tflop)}")
            results[name] = timing.wall
        print(f"ratio ours / baseline (wall): {results['ours'] / results['baseline']:.3f}")
        if args.compile:
            warm_up = stopwatch()
            engine = compiled_engine(checkpoint, source, device, args.preset, args.crf)
            print(f"ours+compile: load and compile (untimed below): {warm_up().wall:.1f} s")
            elapsed = stopwatch()
            done = upscale_with(engine, source, work / "compiled")
            wall = elapsed().wall
            fps = done / wall
            print(f"ours+compile: {wall:7.2f} s wall, {fps:6.2f} frames/s{model_work(fps, tflop)}")
            print(f"ratio ours+compile / baseline (wall, warm): {wall / results['baseline']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
