"""Upscale through HTTP: the contract's sizes, odd shapes, rotation, VFR, audio and determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from mediafiles import make_video
from support import Api, Server
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file


@pytest.fixture
def user(make_server) -> Api:  # type: ignore[no-untyped-def]
    server: Server = make_server(workers=1)
    api = server.new_user()
    api.create_account("up@example.com", max_jobs=10)
    return api


def _upscale(user: Api, clip: Path, tmp_path: Path, name: str) -> tuple[dict[str, Any], Path]:
    asset = user.upload(clip, "video/mp4")
    task = user.wait(user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()["taskId"])
    assert task["status"] == "SUCCEEDED", task["error"]
    out = tmp_path / name
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    return task, out


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


@pytest.mark.parametrize(
    ("width", "height", "rotation", "expected"),
    [
        (1280, 720, 0, (4096, 2304)),  # the contract's landscape example
        (1080, 1920, 0, (2160, 3840)),  # the contract's portrait example
        (1920, 1080, 90, (2160, 3840)),  # a phone clip stored landscape, shown portrait
        (322, 181, 0, four_k_class(322, 181)),  # odd sizes still give even output
    ],
    ids=["1280x720", "1080x1920", "rotated", "odd"],
)
def test_output_size_follows_the_4k_class_rule(
    user: Api, tmp_path: Path, width: int, height: int, rotation: int, expected: tuple[int, int]
) -> None:
    # 4:2:0 needs even sizes; a genuinely odd-sized source is 4:4:4.
    pix_fmt = "yuv444p" if width % 2 or height % 2 else "yuv420p"
    clip = make_video(
        tmp_path / "src.mp4",
        width=width,
        height=height,
        seconds=0.5,
        fps=12,
        audio=True,
        rotation=rotation,
        pix_fmt=pix_fmt,
    )
    task, out = _upscale(user, clip, tmp_path, "out.mp4")
    info = probe_file(out, "video")
    assert (info.width, info.height) == expected
    assert info.rotation == 0  # upright pixels, no rotation flag left for players to apply
    assert task["artifacts"][0]["metadata"]["dimensions"] == list(expected)
    assert (task["options"]["width"], task["options"]["height"]) == expected
    assert abs(info.duration - 0.5) <= 1 / 12 + 1e-3
    assert info.has_audio and abs(_audio_seconds(out) - info.duration) <= 0.05


def test_variable_frame_rate_and_silent_sources(user: Api, tmp_path: Path) -> None:
    # Frames at uneven times: the output keeps them where they were.
    times = [0.0, 0.04, 0.12, 0.2, 0.45, 0.5, 0.7, 0.9]
    vfr = make_video(tmp_path / "vfr.mp4", width=160, height=90, fps=25, audio=False, timestamps=times)
    _, out = _upscale(user, vfr, tmp_path, "vfr-4k.mp4")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        pts = sorted(float(frame.pts * stream.time_base) for frame in container.decode(stream))
    assert len(pts) == len(times)
    assert max(abs(a - b) for a, b in zip(pts, times, strict=True)) < 0.011
    assert not probe_file(out, "video").has_audio


def test_same_input_gives_the_same_bytes(user: Api, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "same.mp4", width=160, height=90, seconds=0.5, fps=12, audio=True)
    _, first = _upscale(user, clip, tmp_path, "first.mp4")
    _, second = _upscale(user, clip, tmp_path, "second.mp4")
    assert first.read_bytes() == second.read_bytes()
