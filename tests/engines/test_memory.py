"""Memory stays flat with video length: engines stream frames instead of holding the video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mediafiles import make_video

# Runs one engine in a fresh process and prints its peak resident memory (KiB on Linux).
RUN_ENGINE = """
import json, resource, sys
from pathlib import Path
from taxiway.core.settings import Settings
from taxiway.engines.base import EngineJob
from taxiway.engines.catalog import choose
from taxiway.engines.registry import build_engine
from taxiway.media.probe import probe_file

operation, source, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
params = json.loads(sys.argv[4])
info = probe_file(source, "video")
settings = Settings(x264_preset="ultrafast")
engine = build_engine(choose(operation, settings), settings)
engine.run(EngineJob(operation, params, video=source, video_info=info, output_dir=out_dir), lambda *a: None)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CASES = {
    "upscale": {},
    "expand": {"outpaint_aspect_ratio": "portrait", "output_seconds": None},
    "extend": {"extend_seconds": 5, "seed": 3},
    "video_to_video": {
        "text_prompt": "oil painting",
        "width": 1280,
        "height": 768,
        "structure_transformation": 3,
    },
}


def peak_kib(operation: str, source: Path, out_dir: Path) -> int:
    params = json.dumps(CASES[operation])
    result = subprocess.run(
        [sys.executable, "-c", RUN_ENGINE, operation, str(source), str(out_dir), params],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("operation", CASES)
def test_peak_memory_does_not_grow_with_length(operation: str, tmp_path: Path) -> None:
    short = make_video(tmp_path / "short.mp4", width=320, height=180, seconds=2, fps=12, audio=True)
    long = make_video(tmp_path / "long.mp4", width=320, height=180, seconds=10, fps=12, audio=True)
    first = peak_kib(operation, short, tmp_path / "a")
    second = peak_kib(operation, long, tmp_path / "b")
    # Five times the frames may not cost more than a little extra memory (allocator noise).
    assert second <= first * 1.15 + 16 * 1024, (operation, first, second)
