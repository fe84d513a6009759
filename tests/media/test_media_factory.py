"""The test clip factory itself: fast, and producing what it says."""

from __future__ import annotations

import itertools
from pathlib import Path

import av

from mediafiles import make_audio_only, make_image, make_video


def test_the_default_clip_is_two_seconds_of_320x240_with_aac(tmp_path: Path) -> None:
    # (How quickly it is made is no test's business: timings belong in bench/, not in assertions.)
    path = make_video(tmp_path / "a.mp4")
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height, video.frames) == (320, 240, 48)
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]


def test_frames_change_every_frame(tmp_path: Path) -> None:
    with av.open(str(make_video(tmp_path / "a.mkv", seconds=0.25, audio=False))) as c:
        frames = [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]
    assert all(abs(a - b).mean() > 1 for a, b in itertools.pairwise(frames))


def test_rotation_is_stored_as_a_display_matrix(tmp_path: Path) -> None:
    with av.open(str(make_video(tmp_path / "r.mp4", rotation=90, seconds=0.1, audio=False))) as c:
        # FFmpeg reports display rotation counter-clockwise: a 90° clockwise turn reads as -90.
        assert next(c.decode(video=0)).rotation == -90


def test_webm_uses_vp9_and_opus(tmp_path: Path) -> None:
    with av.open(str(make_video(tmp_path / "a.webm", seconds=0.25))) as c:
        assert c.streams.video[0].codec_context.name == "vp9"
        assert c.streams.audio[0].codec_context.name == "opus"


def test_images_and_audio(tmp_path: Path) -> None:
    for name in ("a.png", "a.jpg", "a.webp"):
        with av.open(str(make_image(tmp_path / name, width=30, height=20))) as c:
            frame = next(c.decode(video=0))
            assert (frame.width, frame.height) == (30, 20)
    with av.open(str(make_audio_only(tmp_path / "a.m4a", seconds=0.5))) as c:
        assert not c.streams.video and c.streams.audio
