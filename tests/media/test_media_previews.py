"""make_previews: count, names, sizes, timing of the stills, rotation, images."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from mediafiles import make_raw_h264, make_video, pattern_frame
from taxiway.media.previews import make_previews, preview_times
from taxiway.media.probe import MediaError, MediaInfo, probe_file


def _rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def _red_corners(rgb: np.ndarray) -> list[str]:
    corners = {"TL": rgb[:8, :8], "TR": rgb[:8, -8:], "BL": rgb[-8:, :8], "BR": rgb[-8:, -8:]}
    return [name for name, px in corners.items() if px[..., 0].mean() > 200 and px[..., 1].mean() < 80]


def test_preview_times() -> None:
    assert preview_times(2.0, 48, 5) == pytest.approx([0.2, 0.6, 1.0, 1.4, 1.8])
    assert preview_times(2.0, 3, 5) == pytest.approx([1 / 3, 1.0, 5 / 3])
    assert preview_times(0.04, 1, 5) == pytest.approx([0.02])


def test_video_previews(clip: Callable[..., Path], tmp_path: Path) -> None:
    path = clip("a.mp4")
    info = probe_file(path, "video")
    previews = make_previews(path, info, tmp_path / "p")
    assert [p.name for p in previews] == [f"preview-{i}.jpg" for i in range(5)]
    for p in previews:
        assert p.read_bytes()[:2] == b"\xff\xd8"  # JPEG SOI
        assert _rgb(p).shape == (240, 320, 3)


def test_previews_are_the_frames_at_evenly_spaced_times(clip: Callable[..., Path], tmp_path: Path) -> None:
    """Each still must be the first frame at or after its target time (0.2 s, 0.6 s... of 2 s)."""
    path = clip("a.mp4")
    previews = make_previews(path, probe_file(path, "video"), tmp_path)
    with av.open(str(path)) as container:
        sources = [f.to_ndarray(format="rgb24").astype(float) for f in container.decode(video=0)]
    chosen = []
    for p in previews:
        still = _rgb(p).astype(float)
        chosen.append(int(np.argmin([np.mean((still - s) ** 2) for s in sources])))
    assert chosen == [5, 15, 24, 34, 44]  # ceil(t * 24) for t in 0.2, 0.6, 1.0, 1.4, 1.8


def test_previews_of_other_containers(clip: Callable[..., Path], tmp_path: Path) -> None:
    for path in (
        clip("a.webm", seconds=1),
        clip("vfr.mkv", timestamps=[0, 0.1, 0.15, 0.5, 0.9], audio=False),
    ):
        previews = make_previews(path, probe_file(path, "video"), tmp_path / path.stem)
        assert len(previews) == 5


def test_previews_of_a_raw_stream(clip: Callable[..., Path], media_dir: Path, tmp_path: Path) -> None:
    # No container: no index, no timestamps. Seeking is unreliable; stills still come out in order.
    raw = make_raw_h264(clip("a.mp4"), media_dir / "prev.h264")
    previews = make_previews(raw, probe_file(raw, "video"), tmp_path)
    assert len(previews) == 5
    stills = [_rgb(p).astype(float) for p in previews]
    assert all(np.mean(np.abs(a - b)) > 1 for a, b in itertools.pairwise(stills))


def test_fewer_frames_fewer_previews(clip: Callable[..., Path], tmp_path: Path) -> None:
    path = clip("three.mp4", seconds=3 / 24, audio=False)
    info = probe_file(path, "video")
    assert info.frame_count == 3
    assert len(make_previews(path, info, tmp_path / "a")) == 3
    assert len(make_previews(path, info, tmp_path / "b", count=1)) == 1


def test_single_frame_video(clip: Callable[..., Path], tmp_path: Path) -> None:
    path = clip("one.mp4", seconds=1 / 24, audio=False)
    assert len(make_previews(path, probe_file(path, "video"), tmp_path)) == 1


@pytest.mark.parametrize(("size", "expected"), [((1280, 720), (360, 640)), ((180, 320), (320, 180))])
def test_preview_size(
    clip: Callable[..., Path], tmp_path: Path, size: tuple[int, int], expected: tuple
) -> None:
    path = clip("s.mp4", width=size[0], height=size[1], seconds=0.25, audio=False)
    (first, *_) = make_previews(path, probe_file(path, "video"), tmp_path)
    assert _rgb(first).shape[:2] == expected  # (rows, columns): longer side <= 640, never upscaled


def test_max_side(clip: Callable[..., Path], tmp_path: Path) -> None:
    path = clip("a.mp4")
    (first, *_) = make_previews(path, probe_file(path, "video"), tmp_path, max_side=100)
    assert _rgb(first).shape[:2] == (76, 100)  # 75 rounded to the nearest even number


@pytest.mark.parametrize(("rotation", "corner"), [(0, "TL"), (90, "TR"), (180, "BR"), (270, "BL")])
def test_previews_are_upright(media_dir: Path, tmp_path: Path, rotation: int, corner: str) -> None:
    # A red block in the stored picture's top-left corner; a display rotation of 90° clockwise
    # (what ffmpeg's autorotate and players do) moves it to the top-right, and so on.
    picture = np.full((240, 320, 3), 128, np.uint8)
    picture[:40, :40] = (255, 0, 0)
    path = make_video(
        media_dir / f"marker-{rotation}.mp4", frames=[picture] * 3, audio=False, rotation=rotation
    )
    info = probe_file(path, "video")
    (first, *_) = make_previews(path, info, tmp_path, count=1)
    rgb = _rgb(first)
    assert rgb.shape[:2] == ((320, 240) if rotation in (90, 270) else (240, 320))
    assert _red_corners(rgb) == [corner]


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp"])
def test_image_preview(image: Callable[..., Path], tmp_path: Path, name: str) -> None:
    path = image(name, width=800, height=600)
    previews = make_previews(path, probe_file(path, "image"), tmp_path)
    assert [p.name for p in previews] == ["preview-0.jpg"]
    rgb = _rgb(previews[0]).astype(float)
    assert rgb.shape == (480, 640, 3)
    # It is the picture, scaled: compare with the pattern at preview size (block-averaged).
    expected = pattern_frame(800, 600, 0).astype(float)
    expected_small = av.VideoFrame.from_ndarray(expected.astype(np.uint8), format="rgb24").reformat(
        640, 480, interpolation="AREA"
    )
    assert np.mean(np.abs(rgb - expected_small.to_ndarray().astype(float))) < 12


def test_image_preview_honours_exif_orientation(image: Callable[..., Path], tmp_path: Path) -> None:
    path = image("o.jpg", width=64, height=48, exif_orientation=6)
    (preview,) = make_previews(path, probe_file(path, "image"), tmp_path)
    assert _rgb(preview).shape[:2] == (64, 48)


def test_undecodable_file_raises_media_error(media_dir: Path, tmp_path: Path) -> None:
    garbage = media_dir / "not-really.mp4"
    garbage.write_bytes(b"\x00" * 1000)
    info = MediaInfo("video", 320, 240, 1.0, 24.0, 24, False, 0, "h264", "mp4")
    with pytest.raises(MediaError, match=r"^No preview could be made: "):
        make_previews(garbage, info, tmp_path)
