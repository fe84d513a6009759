"""Benchmark: ClassicRestyle, look by look, against the ffmpeg CLI doing comparable work.

Both read the same generated 1280×720 24 fps clip (testsrc2 pattern + AAC tone), centre-crop it
to 1200×720, scale it to 1280×768 (swscale bicubic), apply a look and encode libx264 (same preset
and CRF, yuv420p, BT.709 tags, audio copied, faststart MP4). Prints, per look, wall times, frames
per second and the ratio ours / CLI.

The CLI baseline uses ffmpeg's nearest colour filter where one exists: ``hue=s=0,eq=contrast=1.2``
for noir, a ``colorchannelmixer`` sepia matrix, ``colortemperature`` for warm and cool,
``eq``+``colorbalance`` for night and cinematic. FFmpeg has no equivalent of the cartoon, sketch,
oil painting, watercolor and neon looks, so for those the CLI does the plain crop + scale + encode
(marked "plain" in the table): the ratio then shows the whole cost of the stylization.

    PYTHONPATH=src python bench/bench_restyle.py [--seconds 5 | --frames 120] [--looks noir,cartoon]
        [--preset veryfast] [--crf 18] [--repeat 1]

The ffmpeg binary comes from imageio-ffmpeg (a test/benchmark dependency, never used at runtime).
With --repeat N the two contenders alternate N times per look and the best wall time is kept.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

from common import FPS, SOURCE_SIZE, ffmpeg, machine_line, make_source, run_timed, stopwatch

from taxiway.engines.base import EngineJob
from taxiway.engines.classic.looks import LOOK_NAMES
from taxiway.engines.classic.restyle import ClassicRestyle
from taxiway.media.probe import probe_file
from taxiway.media.restyle_frames import centre_crop

OUTPUT_SIZE = (1280, 768)
TARGET_FPS = 8.0  # The brief's floor for every look at 1280×768, encode included.

# The CLI's nearest equivalent of each look; None: no equivalent, plain crop + scale.
CLI_FILTERS: dict[str, str | None] = {
    "cinematic": "eq=contrast=1.15:saturation=1.05,colorbalance=rs=-0.08:bs=0.08:rh=0.08:bh=-0.08",
    "noir": "hue=s=0,eq=contrast=1.2",
    "sepia": "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131",
    "cartoon": None,
    "sketch": None,
    "oil painting": None,
    "watercolor": None,
    "neon": None,
    "warm": "colortemperature=temperature=4500",
    "cool": "colortemperature=temperature=9000",
    "night": "eq=brightness=-0.25:saturation=0.4,colorbalance=bs=0.3:bm=0.2",
}


def run_cli(source: Path, output: Path, look: str, preset: str, crf: int) -> float:
    """What an operator would type: crop + scale (+ the nearest colour filter) + libx264."""
    cw, ch, x, y = centre_crop(*SOURCE_SIZE, *OUTPUT_SIZE)
    chain = [
        f"crop={cw}:{ch}:{x}:{y}",
        # The colour options state what taxiway assumes for untagged HD video (BT.709, limited).
        f"scale={OUTPUT_SIZE[0]}:{OUTPUT_SIZE[1]}:flags=bicubic:in_color_matrix=bt709:out_color_matrix=bt709"
        ":in_range=limited:out_range=limited",
    ]
    if CLI_FILTERS[look]:
        chain.append(CLI_FILTERS[look])
    cmd = ffmpeg(
        "-i", str(source), "-vf", ",".join(chain),
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "copy", "-movflags", "+faststart", str(output),
    )  # fmt: skip
    return run_timed(cmd).wall


def run_ours(source: Path, output_dir: Path, look: str, preset: str, crf: int) -> float:
    """The engine as a worker runs it (probe included), at the default strength 3."""
    elapsed = stopwatch()
    info = probe_file(source, "video")
    params = {
        "text_prompt": look,
        "structure_transformation": 3,
        "width": OUTPUT_SIZE[0],
        "height": OUTPUT_SIZE[1],
        "output_seconds": 10.0,
        "seed": 1,
    }
    job = EngineJob("video_to_video", params, video=source, video_info=info, output_dir=output_dir)
    ClassicRestyle(preset=preset, crf=crf).run(job, lambda done, total, text=None: None)
    return elapsed().wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float, default=5.0)
    length.add_argument("--frames", type=int)
    parser.add_argument("--looks", default=",".join(LOOK_NAMES), help="comma-separated look names")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    frames = args.frames or round(args.seconds * FPS)
    looks = [name.strip() for name in args.looks.split(",")]
    unknown = [name for name in looks if name not in CLI_FILTERS]
    if unknown:
        parser.error(f"unknown look(s): {', '.join(unknown)}")

    print(machine_line())
    crop_w, crop_h, _, _ = centre_crop(*SOURCE_SIZE, *OUTPUT_SIZE)
    print(f"source: {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} {FPS} fps, {frames} frames -> "
          f"crop {crop_w}x{crop_h} -> {OUTPUT_SIZE[0]}x{OUTPUT_SIZE[1]}")  # fmt: skip
    print(
        f"libx264 preset={args.preset} crf={args.crf}, swscale bicubic, audio copied, faststart, strength 3"
    )
    header = ("look", "cli filter", "cli s", "cli fps", "ours s", "ours fps", "ratio")
    print("{:13} {:10} {:>7} {:>8} {:>7} {:>8} {:>6}".format(*header))
    slowest = float("inf")
    with tempfile.TemporaryDirectory(prefix="taxiway-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        make_source(source, frames)
        for look in looks:
            cli_times, our_times = [], []
            for i in range(args.repeat):  # Alternate, so load changes hit both alike.
                cli_times.append(run_cli(source, work / f"cli-{i}.mp4", look, args.preset, args.crf))
                our_times.append(run_ours(source, work / f"ours-{i}", look, args.preset, args.crf))
            out = probe_file(work / "ours-0" / "output.mp4", "video")
            assert (out.width, out.height, out.frame_count) == (*OUTPUT_SIZE, frames), out
            cli, ours = min(cli_times), min(our_times)
            slowest = min(slowest, frames / ours)
            kind = "colour" if CLI_FILTERS[look] else "plain"
            print(
                f"{look:13} {kind:10} {cli:7.2f} {frames / cli:8.2f} {ours:7.2f} {frames / ours:8.2f} "
                f"{ours / cli:6.2f}  (load {os.getloadavg()[0]:.2f})"
            )
            sys.stdout.flush()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"slowest look: {slowest:.1f} fps (floor {TARGET_FPS:g} fps); cpu time of our runs {cpu:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
