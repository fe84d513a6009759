"""Benchmark: ClassicUpscale against the ffmpeg CLI doing the same work.

Both upscale the same generated 1280×720 24 fps clip (testsrc2 pattern + AAC tone) to 4096×2304
with swscale Lanczos and encode libx264 (same preset and CRF, yuv420p, BT.709 tags, audio copied,
faststart MP4). Prints wall times, frames per second and the ratio ours / CLI (goal: <= 1.10).

    PYTHONPATH=src python bench/bench_upscale.py [--frames 240] [--preset veryfast] [--crf 18] [--repeat 3]

The ffmpeg binary comes from imageio-ffmpeg (a test/benchmark dependency, never used at runtime).
With --repeat N the two contenders alternate N times; the best and median wall times of each are
reported (best is the usual figure on a machine shared with other work), plus CPU time (user +
system, all threads), which shows whether the two do the same amount of work. The script also
checks that both produce bit-identical H.264.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

import av
from common import FPS, SOURCE_SIZE, Timing, ffmpeg, machine_line, make_source, run_timed, stopwatch

from taxiway.engines.base import EngineJob
from taxiway.engines.classic.upscale import ClassicUpscale
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file


def run_cli(source: Path, output: Path, preset: str, crf: int) -> Timing:
    """The reference: what an operator would type to do the same upscale with ffmpeg."""
    w, h = four_k_class(*SOURCE_SIZE)
    cmd = ffmpeg(
        "-i", str(source),
        # The colour options state what taxiway assumes for untagged HD video (BT.709, limited
        # range). Without them, ffmpeg 7+ treats the untagged source as BT.601 because of the
        # -colorspace output tag below and adds a matrix conversion taxiway does not do.
        "-vf", f"scale={w}:{h}:flags=lanczos:in_color_matrix=bt709:out_color_matrix=bt709"
               ":in_range=limited:out_range=limited",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "copy", "-movflags", "+faststart", str(output),
    )  # fmt: skip
    return run_timed(cmd)


def run_ours(source: Path, output_dir: Path, preset: str, crf: int) -> Timing:
    """The engine as a worker runs it; the probe is timed too, as the CLI's own probing is."""
    elapsed = stopwatch()
    info = probe_file(source, "video")
    job = EngineJob("upscale", {}, video=source, video_info=info, output_dir=output_dir)
    ClassicUpscale(preset=preset, crf=crf).run(job, lambda done, total, text=None: None)
    return elapsed()


def video_digest(path: Path) -> str:
    """A hash of the encoded video packets: equal digests mean both did exactly the same work."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            digest.update(bytes(packet))
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="taxiway-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        make_source(source, args.frames)
        cli_runs: list[Timing] = []
        our_runs: list[Timing] = []
        for i in range(args.repeat):  # Alternate, so load changes hit both alike.
            cli_runs.append(run_cli(source, work / f"cli-{i}.mp4", args.preset, args.crf))
            our_runs.append(run_ours(source, work / f"ours-{i}", args.preset, args.crf))
            print(
                f"run {i + 1}: cli {cli_runs[-1].wall:.2f} s (cpu {cli_runs[-1].cpu:.1f} s), "
                f"ours {our_runs[-1].wall:.2f} s (cpu {our_runs[-1].cpu:.1f} s), "
                f"load {os.getloadavg()[0]:.2f}",
                file=sys.stderr,
            )
        ours_info = probe_file(work / "ours-0" / "output.mp4", "video")
        cli_info = probe_file(work / "cli-0.mp4", "video")
        same_video = video_digest(work / "ours-0" / "output.mp4") == video_digest(work / "cli-0.mp4")

    w, h = four_k_class(*SOURCE_SIZE)
    print(machine_line())
    print(f"source: {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} {FPS} fps, {args.frames} frames -> {w}x{h}")
    print(f"libx264 preset={args.preset} crf={args.crf}, swscale lanczos, audio copied, faststart")
    print(f"outputs: cli {cli_info.width}x{cli_info.height} {cli_info.frame_count} frames; "
          f"ours {ours_info.width}x{ours_info.height} {ours_info.frame_count} frames")  # fmt: skip
    print(f"H.264 bitstreams identical: {'yes' if same_video else 'no'}")
    for label, pick in (("best", min), ("median", statistics.median)):
        cli = pick(r.wall for r in cli_runs)
        ours = pick(r.wall for r in our_runs)
        print(
            f"{label:6} wall: cli {cli:6.2f} s ({args.frames / cli:5.2f} fps), "
            f"ours {ours:6.2f} s ({args.frames / ours:5.2f} fps), ratio ours/CLI {ours / cli:.3f}"
        )
    cli_cpu = statistics.median(r.cpu for r in cli_runs)
    our_cpu = statistics.median(r.cpu for r in our_runs)
    print(f"median cpu: cli {cli_cpu:6.1f} s, ours {our_cpu:6.1f} s, ratio {our_cpu / cli_cpu:.3f}")
    print("goal: best wall ratio <= 1.10")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
