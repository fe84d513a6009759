"""Benchmark: ClassicExtend against the ffmpeg CLI doing a frozen-last-frame extension.

Both take the same generated 1280×720 24 fps clip (testsrc2 pattern + AAC tone, 5 s by default)
and write source + ``--extend`` seconds (5 by default) at 1280×720 with libx264 (same preset and
CRF, yuv420p, BT.709 tags), AAC audio padded with silence to the end, faststart MP4. The CLI holds
the last frame still (``tpad=stop_mode=clone``, ``apad``): the least work an extension can be.
Ours also measures the final motion, warps the last frame along a camera path and adds grain:
every new frame differs, so libx264 has real work where the CLI's copies cost it almost nothing.
To separate that from our own overhead, the CLI also re-encodes our output (same pictures, same
settings): the encoding floor. Prints wall times, output frames per second and the ratios.

    PYTHONPATH=src python bench/bench_extend.py [--seconds 5] [--extend 5] [--preset veryfast]
        [--crf 18] [--repeat 3] [--prompt static]

``--prompt static`` makes our new frames still too (no move): then both encode the same kind of
pictures and the ratio is our pipeline's own overhead.

The ffmpeg binary comes from imageio-ffmpeg (a test/benchmark dependency, never used at runtime).
With --repeat N the two contenders alternate N times; best and median wall times are reported
(best is the usual figure on a machine shared with other work), plus CPU time (user + system, all
threads). Ours also reports when it finished re-encoding the source, i.e. where its time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import FPS, SOURCE_SIZE, Timing, ffmpeg, machine_line, make_source, run_timed, stopwatch

from taxiway.engines.base import EngineJob
from taxiway.engines.classic.extend import ClassicExtend
from taxiway.media.probe import probe_file


def run_cli(source: Path, output: Path, extend: float, preset: str, crf: int) -> Timing:
    """The reference: what an operator would type to append a frozen last frame and silence."""
    w, h = SOURCE_SIZE
    cmd = ffmpeg(
        "-i", str(source),
        # The same-size scale only pins the colour interpretation taxiway uses (BT.709, limited);
        # without it ffmpeg 7+ would treat the untagged source as BT.601 and convert.
        "-vf", f"scale={w}:{h}:in_color_matrix=bt709:out_color_matrix=bt709:in_range=limited"
               f":out_range=limited,tpad=stop_mode=clone:stop_duration={extend}",
        "-af", "apad", "-shortest",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "aac", "-movflags", "+faststart", str(output),
    )  # fmt: skip
    return run_timed(cmd)


def run_cli_reencode(ours: Path, output: Path, preset: str, crf: int) -> Timing:
    """The encoding floor: the CLI re-encoding our own output, i.e. the same moving pictures."""
    cmd = ffmpeg(
        "-i", str(ours),
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "aac", "-movflags", "+faststart", str(output),
    )  # fmt: skip
    return run_timed(cmd)


@dataclass(frozen=True)
class ExtendTiming(Timing):
    source_done: float | None = None  # seconds until the source part was encoded


def run_ours(
    source: Path, output_dir: Path, extend: float, preset: str, crf: int, prompt: str | None
) -> ExtendTiming:
    """The engine as a worker runs it; the probe is timed too, as the CLI's own probing is."""
    elapsed = stopwatch()
    info = probe_file(source, "video")
    source_frames = info.frame_count or 0
    reached: list[float] = []

    def progress(done: float, total: float, text: str | None = None) -> None:
        if not reached and done >= source_frames:
            reached.append(elapsed().wall)

    params = {"extend_seconds": extend, "seed": 1, "text_prompt": prompt, "extended_count": 1}
    job = EngineJob("extend", params, video=source, video_info=info, output_dir=output_dir)
    ClassicExtend(preset=preset, crf=crf).run(job, progress)
    total = elapsed()
    return ExtendTiming(total.wall, total.cpu, reached[0] if reached else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the generated source")
    parser.add_argument("--extend", type=float, default=5.0, help="seconds to add")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--prompt", default=None, help='text_prompt for ours (default none: a seeded move; "static": no move)'
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="taxiway-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        make_source(source, round(args.seconds * FPS))
        cli_runs: list[Timing] = []
        our_runs: list[ExtendTiming] = []
        floor_runs: list[Timing] = []
        for i in range(args.repeat):  # Alternate, so load changes hit both alike.
            cli_runs.append(run_cli(source, work / f"cli-{i}.mp4", args.extend, args.preset, args.crf))
            our_runs.append(
                run_ours(source, work / f"ours-{i}", args.extend, args.preset, args.crf, args.prompt)
            )
            ours_output = work / f"ours-{i}" / "output.mp4"
            floor_runs.append(run_cli_reencode(ours_output, work / f"floor-{i}.mp4", args.preset, args.crf))
            print(
                f"run {i + 1}: cli {cli_runs[-1].wall:.2f} s (cpu {cli_runs[-1].cpu:.1f} s), "
                f"ours {our_runs[-1].wall:.2f} s (cpu {our_runs[-1].cpu:.1f} s, source part "
                f"{our_runs[-1].source_done or 0:.2f} s), cli re-encoding ours {floor_runs[-1].wall:.2f} s, "
                f"load {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
            )
        ours_info = probe_file(work / "ours-0" / "output.mp4", "video")
        cli_info = probe_file(work / "cli-0.mp4", "video")

    frames = ours_info.frame_count or 0
    w, h = SOURCE_SIZE
    print(machine_line())
    print(
        f"source: {w}x{h} {FPS} fps, {args.seconds:g} s + {args.extend:g} s extension, prompt {args.prompt!r}"
    )
    print(f"libx264 preset={args.preset} crf={args.crf}, AAC audio padded with silence, faststart")
    print(f"outputs: cli {cli_info.width}x{cli_info.height} {cli_info.frame_count} frames "
          f"{cli_info.duration:.3f} s; ours {ours_info.width}x{ours_info.height} {frames} frames "
          f"{ours_info.duration:.3f} s")  # fmt: skip
    for label, pick in (("best", min), ("median", statistics.median)):
        cli = pick(r.wall for r in cli_runs)
        ours = pick(r.wall for r in our_runs)
        print(
            f"{label:6} wall: cli {cli:6.2f} s ({frames / cli:6.1f} fps), "
            f"ours {ours:6.2f} s ({frames / ours:6.1f} fps), ratio ours/CLI {ours / cli:.3f}"
        )
    floor = min(r.wall for r in floor_runs)
    print(
        f"floor  wall: cli re-encoding our output (same moving pictures) {floor:6.2f} s "
        f"({frames / floor:6.1f} fps); ours / that {min(r.wall for r in our_runs) / floor:.3f}"
    )
    cli_cpu = statistics.median(r.cpu for r in cli_runs)
    our_cpu = statistics.median(r.cpu for r in our_runs)
    source_part = statistics.median(r.source_done or 0.0 for r in our_runs)
    print(f"median cpu: cli {cli_cpu:6.1f} s, ours {our_cpu:6.1f} s, ratio {our_cpu / cli_cpu:.3f}")
    print(f"ours, median: source part done after {source_part:.2f} s")
    print("goal: best wall ratio <= 1.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
