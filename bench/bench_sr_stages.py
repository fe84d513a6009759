"""Where an SR upscale's time goes on a GPU: each stage of `SpandrelUpscale`'s pipeline alone.

`bench_sr_upscale.py` times the whole task; this times its stages apart on the same shapes, so a
run that misses its frames-per-second goal says which stage holds it back:

- model: `upscale_batch` on a batch of 720p frames (bf16, channels-last, resized to 4K on the
  device, copied back), warm, with and without the copy back;
- encode: libx264 at the engine's preset and CRF taking 4K RGB frames (the encode thread's work:
  `from_ndarray`, swscale to yuv420p, x264), alone.

The slowest stage bounds the pipeline's frames per second.

    cd bench && PYTHONPATH=../src python bench_sr_stages.py [--model x4plus|compact]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from bench_sr_upscale import build_checkpoint
from common import FPS, machine_line, stopwatch

from taxiway.engines.neural.sr_upscale import SpandrelUpscale
from taxiway.media.geometry import four_k_class


def time_model(engine: SpandrelUpscale, batch: np.ndarray, size: tuple[int, int], rounds: int) -> float:
    """Seconds per frame of `upscale_batch`, warm (first call untimed)."""
    engine.upscale_batch(batch, size=size)
    elapsed = stopwatch()
    for _ in range(rounds):
        engine.upscale_batch(batch, size=size)
    return elapsed().wall / (rounds * len(batch))


def time_model_on_device(engine: SpandrelUpscale, batch: np.ndarray, rounds: int) -> float:
    """Seconds per frame of the model call alone (input already on the GPU, nothing copied back)."""
    from taxiway.engines.neural.sr_upscale import model_dtype, upscale_tensor

    with torch.inference_mode():
        x = torch.from_numpy(batch).to(engine.device).permute(0, 3, 1, 2).to(model_dtype(engine.model)) / 255
        if engine.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        upscale_tensor(engine.model, x, scale=engine.scale, tile=0, overlap=0)
        torch.cuda.synchronize()
        elapsed = stopwatch()
        for _ in range(rounds):
            upscale_tensor(engine.model, x, scale=engine.scale, tile=0, overlap=0)
        torch.cuda.synchronize()
    return elapsed().wall / (rounds * len(batch))


def time_encode(width: int, height: int, frames: int, preset: str, crf: int, path: Path) -> float:
    """Seconds per frame for libx264 taking RGB frames of the output size, as the encode thread does."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as dst:
        stream = dst.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": str(crf)}
        stream.codec_context.thread_type = "AUTO"
        elapsed = stopwatch()
        for i in range(frames):
            rgb = np.roll(base, 8 * i, axis=1)  # motion, so x264 has work like a real clip
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
        return elapsed().wall / frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=("x4plus", "compact"), default="x4plus")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--frames", type=int, default=32, help="frames for the encode-alone run")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    width, height = map(int, args.size.split("x"))
    out_width, out_height = four_k_class(width, height)
    print(machine_line(), f"torch {torch.__version__}, device {device}")
    print(f"{args.model}: {width}×{height} → {out_width}×{out_height}, batches of {args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = build_checkpoint(args.model, work / f"{args.model}.pth")
        engine = SpandrelUpscale(checkpoint, device=device, batch_size=args.batch)
        rng = np.random.default_rng(1)
        batch = rng.integers(0, 255, (args.batch, height, width, 3), dtype=np.uint8)
        stages: dict[str, float] = {}
        if device == "cuda":
            stages["model alone (on the GPU)"] = time_model_on_device(engine, batch, args.rounds)
        stages["model + resize + copy back"] = time_model(engine, batch, (out_width, out_height), args.rounds)
        stages["encode alone (libx264)"] = time_encode(
            out_width, out_height, args.frames, args.preset, args.crf, work / "encode.mp4"
        )
        for name, seconds in stages.items():
            print(f"{name:>28}: {seconds * 1000:8.1f} ms/frame  ({1 / seconds:6.2f} frames/s)")
        slowest = max(stages, key=stages.__getitem__)
        print(f"the slowest stage, which bounds the pipeline: {slowest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
