"""Every operation through HTTP on awkward sources: odd sizes, rotation, variable frame rate, audio.

Each case checks the artifact's dimensions against the operation's rule, its duration to within a
frame, and that audio is present (and as long as the video) exactly when the source has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from mediafiles import make_video
from support import Api, Server, free_port, settings_for_test
from taxiway.media.expand_layout import expand_layout
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import MediaInfo, probe_file

VFR_TIMES = [0.0, 0.05, 0.15, 0.2, 0.4, 0.45, 0.7, 0.8, 0.95, 1.2, 1.3, 1.45]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    server = Server(settings_for_test(tmp_path_factory.mktemp("ops"), port=free_port())).start()
    user = server.new_user()
    user.create_account("ops@example.com", max_jobs=10)
    yield user
    server.stop()


SOURCES: dict[str, dict[str, Any]] = {
    # 4:2:0 needs even sizes: a genuinely odd-sized source is 4:4:4.
    "odd-size-with-audio": {"width": 161, "height": 91, "seconds": 1.5, "fps": 12, "pix_fmt": "yuv444p"},
    "rotated-no-audio": {
        "width": 192,
        "height": 108,
        "seconds": 1.5,
        "fps": 12,
        "rotation": 90,
        "audio": False,
    },
    "vfr-with-audio": {"width": 160, "height": 90, "fps": 20, "timestamps": VFR_TIMES},
    "av1-matroska": {
        "width": 160,
        "height": 90,
        "seconds": 1.5,
        "fps": 12,
        "codec": "libsvtav1",
        "suffix": ".mkv",
    },
}
CONTENT_TYPES = {".mp4": "video/mp4", ".mkv": "video/x-matroska"}
OPERATIONS = {
    "videos/upscale": lambda asset: {"videoAssetId": asset},
    "gen3turbo/expand": lambda asset: {"videoAssetId": asset, "outpaint_aspect_ratio": "portrait"},
    "gen3/extend": lambda asset: {"assetId": asset, "seconds": 5, "seed": 7},
    "gen3turbo/video": lambda asset: {"assetId": asset, "text_prompt": "sepia", "seconds": 5},
}


def _even(value: int) -> int:
    return value + value % 2


def expected(operation: str, source: MediaInfo) -> tuple[tuple[int, int], float]:
    """(width, height) and duration the contract and the engines' documented rules promise."""
    duration = source.duration or 0.0
    match operation:
        case "videos/upscale":
            return four_k_class(source.width, source.height), duration
        case "gen3turbo/expand":
            layout = expand_layout(source.width, source.height, "portrait")
            return (layout.width, layout.height), duration
        case "gen3/extend":
            return (_even(source.width), _even(source.height)), duration + 5
        case _:
            return (1280, 768), min(5.0, duration)


def _audio_seconds(path: Path) -> float | None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


@pytest.mark.parametrize("source_kind", SOURCES)
def test_every_operation_on_awkward_sources(api: Api, tmp_path: Path, source_kind: str) -> None:
    options = {"audio": True, **SOURCES[source_kind]}
    suffix = options.pop("suffix", ".mp4")
    clip = make_video(tmp_path / f"{source_kind}{suffix}", **options)
    info = probe_file(clip, "video")
    asset = api.upload(clip, CONTENT_TYPES[suffix])["assetId"]
    tasks = {op: api.create(op, body(asset)).json()["taskId"] for op, body in OPERATIONS.items()}
    for operation, task_id in tasks.items():
        task = api.wait(task_id, timeout=300)
        assert task["status"] == "SUCCEEDED", (operation, task["error"])
        out = tmp_path / f"{operation.replace('/', '-')}.mp4"
        out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
        result = probe_file(out, "video")
        size, duration = expected(operation, info)
        frame = 1 / (info.frame_rate or 12)
        assert (result.width, result.height) == size, operation
        assert result.rotation == 0, operation
        assert abs(result.duration - duration) <= frame + 1e-3, (operation, result.duration, duration)
        audio = _audio_seconds(out)
        if options["audio"]:
            assert audio is not None and abs(audio - result.duration) <= 0.05, (operation, audio)
        else:
            assert audio is None, operation
