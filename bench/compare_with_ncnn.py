"""An artifact of the spandrel engine against the original ncnn model, frame by frame (not a test).

For the outside check of an imported model: upscale a clip through a running server with the
converted model, download the artifact, then

    python bench/compare_with_ncnn.py SOURCE.mp4 ARTIFACT.mp4 MODEL.param

runs the original ncnn model (``pip install ncnn``) on every source frame, takes its output to the
artifact's size as the engine takes its model's (engines/neural/sr_upscale.py: RGB by bicubic
swscale, the model on 0..1, clamped and rounded, Lanczos to yuv420p BT.709) and prints the mean
absolute difference per frame, next to the plain Lanczos enlargement's (what a model that did
nothing would give). The artifact is x264 at the server's CRF, so a few tenths of a level remain.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np

from taxiway.engines.neural import ncnn
from taxiway.media.scale import Scaler


def _planes(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray().astype(np.float32)  # yuv420p: Y, then U and V, as FFmpeg lays them


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("artifact", type=Path)
    parser.add_argument("param", type=Path, help="the ncnn .param the model was imported from")
    args = parser.parse_args()

    model = ncnn.read_model(args.param)
    with av.open(str(args.artifact)) as container:
        produced = [_planes(frame) for frame in container.decode(video=0)]
    height, width = produced[0].shape[0] * 2 // 3, produced[0].shape[1]
    to_model, to_plain = [], []
    with av.open(str(args.source)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n == 0:
                to_rgb = Scaler(
                    frame.width, frame.height, pix_fmt="rgb24", full_range=True, interpolation="bicubic"
                )
                to_output = Scaler(width, height)
            rgb = to_rgb(frame).to_ndarray().astype(np.float32) / 255
            pixels = np.round(np.clip(ncnn.run_ncnn(model, rgb, threads=2), 0, 1) * 255).astype(np.uint8)
            expected = _planes(to_output(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            to_model.append(float(np.abs(produced[n] - expected).mean()))
            to_plain.append(float(np.abs(produced[n] - _planes(to_output(frame))).mean()))
    print(f"frames: artifact {len(produced)}, source {len(to_model)}; artifact {width}×{height}")
    print(f"|artifact − ncnn, resized|: mean {np.mean(to_model):.3f}, worst frame {max(to_model):.3f} of 255")
    print(f"|artifact − plain Lanczos|: mean {np.mean(to_plain):.3f}, closest frame {min(to_plain):.3f}")


if __name__ == "__main__":
    main()
