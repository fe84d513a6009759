"""Benchmark: ClassicExpand against the ffmpeg CLI doing comparable work.

Both expand the same generated 1280×720 24 fps clip (testsrc2 pattern + AAC tone) to a 9:16
portrait canvas. The exact canvas would be 1280×2276 (720 × 16/9 = 2275.6 rounded up to even);
its long side is capped at 1920, so canvas and picture scale by 1920 / 2275.6 = 0.84375: the output
is 1080×1920 with the picture scaled to 1080×608 in the middle. The fill is a Gaussian blur of the
video, sigma 1/32 of the canvas's long side (60 px). The CLI baseline:

    [0:v]split[a][b];
    [a]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,gblur=sigma=60[bg];
    [b]scale=1080:608:flags=lanczos[fg];            (the picture must shrink too: 1280 > 1080)
    [bg][fg]overlay=(W-w)/2:(H-h)/2

then libx264 with the same preset and CRF, yuv420p, BT.709 tags, audio copied, faststart MP4. The
engine additionally smooths the fill over time, dims it and feathers the picture's edge; it blurs at
a small working size instead of full size (same look, far less work).

    PYTHONPATH=src python bench/bench_expand.py [--seconds 5 | --frames 120] [--preset veryfast]
        [--crf 18] [--aspect portrait] [--repeat 1]

Prints wall times, frames per second, CPU time (user + system, all threads) and the ratio ours / CLI.
The ffmpeg binary comes from imageio-ffmpeg (a benchmark dependency, never used at runtime).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import FPS, SOURCE_SIZE, Timing, ffmpeg, machine_line, make_source, run_timed, stopwatch

from taxiway.engines.base import EngineJob
from taxiway.engines.classic.expand import ClassicExpand
from taxiway.media.expand_fill import BLUR_FRACTION
from taxiway.media.expand_layout import expand_layout
from taxiway.media.probe import probe_file


def run_cli(source: Path, output: Path, aspect: str, preset: str, crf: int) -> Timing:
    """The reference: what an operator would type to make the same reframe with ffmpeg."""
    layout = expand_layout(*SOURCE_SIZE, aspect)
    w, h, pw, ph = layout.width, layout.height, layout.picture_width, layout.picture_height
    sigma = max(w, h) * BLUR_FRACTION
    graph = (
        f"[0:v]split[a][b];[a]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},"
        f"gblur=sigma={sigma:g}[bg];[b]scale={pw}:{ph}:flags=lanczos[fg];"
        "[bg][fg]overlay=(W-w)/2:(H-h)/2,format=yuv420p"
    )
    cmd = ffmpeg(
        "-i", str(source), "-filter_complex", graph,
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "copy", "-movflags", "+faststart", str(output),
    )  # fmt: skip
    return run_timed(cmd)


def run_ours(source: Path, output_dir: Path, aspect: str, preset: str, crf: int) -> Timing:
    """The engine as a worker runs it; the probe is timed too, as the CLI's own probing is."""
    elapsed = stopwatch()
    info = probe_file(source, "video")
    job = EngineJob(
        "expand",
        {"outpaint_aspect_ratio": aspect, "output_seconds": info.duration, "seed": 0},
        video=source,
        video_info=info,
        output_dir=output_dir,
    )
    ClassicExpand(preset=preset, crf=crf).run(job, lambda done, total, text=None: None)
    return elapsed()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="source length (default 5 s)")
    parser.add_argument("--frames", type=int, default=None, help="source length in frames (overrides)")
    parser.add_argument("--aspect", choices=("portrait", "landscape"), default="portrait")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    frames = args.frames or round(args.seconds * FPS)

    with tempfile.TemporaryDirectory(prefix="taxiway-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        make_source(source, frames)
        cli_runs: list[Timing] = []
        our_runs: list[Timing] = []
        for i in range(args.repeat):  # Alternate, so load changes hit both alike.
            cli_runs.append(run_cli(source, work / f"cli-{i}.mp4", args.aspect, args.preset, args.crf))
            our_runs.append(run_ours(source, work / f"ours-{i}", args.aspect, args.preset, args.crf))
            print(
                f"run {i + 1}: cli {cli_runs[-1].wall:.2f} s (cpu {cli_runs[-1].cpu:.1f} s), "
                f"ours {our_runs[-1].wall:.2f} s (cpu {our_runs[-1].cpu:.1f} s), "
                f"load {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
            )
        ours_info = probe_file(work / "ours-0" / "output.mp4", "video")
        cli_info = probe_file(work / "cli-0.mp4", "video")
        sizes = (work / "cli-0.mp4").stat().st_size, (work / "ours-0" / "output.mp4").stat().st_size

    layout = expand_layout(*SOURCE_SIZE, args.aspect)
    print(machine_line())
    print(
        f"source: {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} {FPS} fps, {frames} frames -> {args.aspect} "
        f"{layout.width}x{layout.height}, picture {layout.picture_width}x{layout.picture_height}"
    )
    print(f"libx264 preset={args.preset} crf={args.crf}, audio copied, faststart")
    for label, info, size in (("cli", cli_info, sizes[0]), ("ours", ours_info, sizes[1])):
        print(f"output {label}: {info.width}x{info.height}, {info.frame_count} frames, {size:,} bytes")
    for label, pick in (("best", min), ("median", statistics.median)):
        cli = pick(r.wall for r in cli_runs)
        ours = pick(r.wall for r in our_runs)
        print(
            f"{label:6} wall: cli {cli:6.2f} s ({frames / cli:5.2f} fps), "
            f"ours {ours:6.2f} s ({frames / ours:5.2f} fps), ratio ours/CLI {ours / cli:.3f}"
        )
    cli_cpu = statistics.median(r.cpu for r in cli_runs)
    our_cpu = statistics.median(r.cpu for r in our_runs)
    print(f"median cpu: cli {cli_cpu:.1f} s, ours {our_cpu:.1f} s, ratio {our_cpu / cli_cpu:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
