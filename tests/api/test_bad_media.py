"""Bad media is refused with a clear message: at upload when probing can tell, else at task start."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mediafiles import (
    make_audio_only,
    make_corrupt_payload,
    make_empty_video,
    make_garbage,
    make_hls_playlist,
    make_image,
    make_truncated,
    make_video,
    make_video_cli,
)
from support import Api, Server

Maker = Callable[[Path], Path]

TOO_DAMAGED = (
    r"^Only \d+% of the video's frames could be decoded \(damaged from [\d.]+ s\): "
    r"too little is left to make the output\.$"
)


def _text(d: Path) -> Path:
    path = d / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    return path


def _gif(d: Path) -> Path:
    return make_video_cli(d / "a.gif", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=0.5")


def _cover_art(d: Path) -> Path:
    mp3 = make_audio_only(d / "song.mp3")
    cover = make_image(d / "cover.png", width=64, height=64)
    return make_video_cli(
        d / "song-art.mp3",
        "-i", str(mp3), "-i", str(cover),
        "-map", "0", "-map", "1", "-c:a", "copy", "-c:v", "png", "-disposition:v", "attached_pic",
    )  # fmt: skip


CASES: list[tuple[str, Maker, str, str]] = [
    (
        "garbage",
        lambda d: make_garbage(d / "g.mp4", 50_000),
        "video/mp4",
        "The file is not a decodable video: the format is not recognised or the data is corrupt.",
    ),
    ("text", _text, "video/mp4", "The file is not a decodable video: "),
    (
        "truncated-no-index",
        lambda d: make_truncated(make_video(d / "a.mp4", seconds=1), d / "cut.mp4", 0.5),
        "video/mp4",
        "The file is not a decodable video: the format is not recognised or the data is corrupt.",
    ),
    (
        "truncated-index-first",
        lambda d: make_truncated(make_video(d / "a.mp4", seconds=1, faststart=True), d / "cut.mp4", 0.6),
        "video/mp4",
        "The file is truncated: only 60% of its video data is present (was the upload interrupted?).",
    ),
    (
        "corrupt-frames",
        lambda d: make_corrupt_payload(make_video(d / "a.mp4", seconds=1, faststart=True), d / "noise.mp4"),
        "video/mp4",
        "The file is not a decodable video: no frame could be decoded; the file is truncated or corrupt.",
    ),
    (
        "zero-frames",
        lambda d: make_empty_video(d / "none.mkv"),
        "video/x-matroska",
        "The video contains no frames.",
    ),
    (
        "audio-only",
        lambda d: make_audio_only(d / "tone.m4a"),
        "video/mp4",
        "The file has no video stream: it contains only audio.",
    ),
    (
        "audio-with-cover-art",
        _cover_art,
        "video/mpeg",
        "The file has no video stream: it contains only audio.",
    ),
    (
        "image-as-video",
        lambda d: make_image(d / "a.png"),
        "video/mp4",
        "The file is an image (PNG), not a video.",
    ),
    (
        "video-as-image",
        lambda d: make_video(d / "a.mp4", seconds=0.5),
        "image/png",
        "The file is a video (mp4, h264), not an image.",
    ),
    ("gif-as-image", _gif, "image/webp", "GIF files are not accepted as images: use PNG, JPEG or WebP."),
    (
        "absurd-duration",
        lambda d: make_video(d / "long.mkv", timestamps=[0.0, 90_000.0], audio=False),
        "video/x-matroska",
        "The video's duration is not plausible (90,000 s; the limit is 86,400 s).",
    ),
    (
        "one-pixel-wide",
        lambda d: make_video(
            d / "thin.mov", width=1, height=64, codec="png", pix_fmt="rgb24", seconds=0.25, audio=False
        ),
        "video/quicktime",
        "The video frame size 1×64 is not usable (the minimum is 2×2).",
    ),
    (
        "playlist-pointing-at-local-files",
        lambda d: make_hls_playlist(d / "evil.m3u8", make_video(d / "seg.ts", seconds=0.5)),
        "video/mp4",
        "The file is not a decodable video: ",
    ),
]


@pytest.fixture
def user(make_server) -> Api:  # type: ignore[no-untyped-def]
    server: Server = make_server(workers=1, max_video_pixels=2_000_000)
    api = server.new_user()
    api.create_account("bad@example.com")
    return api


@pytest.mark.parametrize(
    ("maker", "content_type", "message"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_bad_media_is_refused_at_upload(
    user: Api, tmp_path: Path, maker: Maker, content_type: str, message: str
) -> None:
    path = maker(tmp_path)
    response = user.http.post(
        "/assets/",
        params={"name": path.name},
        content=path.read_bytes(),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["error"].startswith("The uploaded file was refused: " + message)
    assert user.http.get("/assets/").json() == []


def test_frames_over_the_pixel_limit_are_refused(user: Api, tmp_path: Path) -> None:
    big = make_video(tmp_path / "big.mp4", width=2560, height=1440, seconds=0.2, fps=10, audio=False)
    response = user.http.post(
        "/assets/", params={"name": "big"}, content=big.read_bytes(), headers={"Content-Type": "video/mp4"}
    )
    assert response.json()["error"] == (
        "The uploaded file was refused: The video is 2560×1440 (3,686,400 pixels), "
        "larger than the limit of 2,000,000 pixels."
    )


def test_media_that_breaks_mid_way_fails_the_task_clearly(user: Api, tmp_path: Path) -> None:
    full = make_video(tmp_path / "full.mp4", width=160, height=90, seconds=2, faststart=True)
    broken = make_corrupt_payload(full, tmp_path / "mostly-noise.mp4", from_fraction=0.3)
    asset = user.upload(broken, "video/mp4")  # the start decodes: probing cannot tell
    task = user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    done = user.wait(task["taskId"])
    assert done["status"] == "FAILED"
    assert done["error"]["reason"] == "INPUT_UNDECODABLE"
    assert re.match(
        TOO_DAMAGED,
        done["error"]["errorMessage"],
    )
    assert done["artifacts"] == []
    assert user.http.get("/features").json()["used"]["numPlanCredits"] == 0
