"""probe_file: good media of every supported kind, and every kind of bad media with its message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import pytest

import taxiway.media.containers as containers
from mediafiles import (
    make_audio_only,
    make_corrupt_payload,
    make_empty_video,
    make_garbage,
    make_hls_playlist,
    make_raw_h264,
    make_truncated,
    make_video,
    make_video_cli,
)
from taxiway.media.probe import MediaError, MediaInfo, probe_file

FRAME = 1 / 24


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("a.mp4", "h264", "mp4"),
        ("a.mov", "h264", "mov"),
        ("a.mkv", "h264", "matroska"),
        ("a.webm", "vp9", "webm"),
        ("a.avi", "mpeg4", "avi"),
        ("a.mpg", "mpeg2video", "mpeg"),
        ("a.ts", "h264", "mpegts"),
    ],
)
def test_probe_containers(clip: Callable[..., Path], name: str, codec: str, container: str) -> None:
    info = probe_file(clip(name), "video")
    assert info.kind == "video"
    assert (info.width, info.height) == (320, 240)
    assert info.duration is not None and abs(info.duration - 2.0) <= FRAME + 1e-6
    assert info.frame_rate == pytest.approx(24.0)
    assert info.frame_count is not None and abs(info.frame_count - 48) <= 1
    assert info.has_audio is True
    assert info.rotation == 0
    assert info.codec == codec
    assert info.container == container


@pytest.mark.parametrize("codec", ["libx265", "mpeg4", "libvpx-vp9", "libsvtav1"])
def test_probe_other_codecs_in_mkv(clip: Callable[..., Path], codec: str) -> None:
    info = probe_file(clip("c.mkv", codec=codec, seconds=0.5, audio=False), "video")
    assert info.codec == {"libx265": "hevc", "mpeg4": "mpeg4", "libvpx-vp9": "vp9", "libsvtav1": "av1"}[codec]
    assert (info.width, info.height, info.has_audio) == (320, 240, False)


def test_probe_without_audio(clip: Callable[..., Path]) -> None:
    info = probe_file(clip("a.mp4", audio=False), "video")
    assert info.has_audio is False


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_probe_rotation(clip: Callable[..., Path], suffix: str, rotation: int) -> None:
    info = probe_file(clip("r" + suffix, rotation=rotation, seconds=0.25, audio=False), "video")
    assert info.rotation == rotation
    # Display dimensions: 90/270 swap the stored 320x240.
    assert (info.width, info.height) == ((240, 320) if rotation in (90, 270) else (320, 240))


def test_probe_portrait_without_rotation(clip: Callable[..., Path]) -> None:
    info = probe_file(clip("p.mp4", width=180, height=320, seconds=0.25), "video")
    assert (info.width, info.height, info.rotation) == (180, 320, 0)


def test_probe_odd_size(clip: Callable[..., Path]) -> None:
    info = probe_file(clip("odd.mkv", width=321, height=241, pix_fmt="yuv444p", seconds=0.25), "video")
    assert (info.width, info.height) == (321, 241)


def test_probe_non_square_pixels(media_dir: Path) -> None:
    path = make_video_cli(
        media_dir / "sar.mp4",
        "-f", "lavfi", "-i", "testsrc2=size=240x240:rate=25:duration=0.4",
        "-vf", "setsar=4/3", "-c:v", "libx264", "-preset", "ultrafast",
    )  # fmt: skip
    info = probe_file(path, "video")
    assert (info.width, info.height) == (320, 240)


def test_probe_variable_frame_rate(clip: Callable[..., Path]) -> None:
    times = [0.0, 0.04, 0.1, 0.2, 0.21, 0.5, 0.6]
    info = probe_file(clip("vfr.mp4", timestamps=times, audio=False), "video")
    assert info.frame_count == 7  # exact: MP4 counts its samples
    assert info.duration == pytest.approx(0.6 + FRAME, abs=0.01)


def test_probe_mislabelled_container_is_accepted(clip: Callable[..., Path]) -> None:
    path = clip("really-matroska.mp4", container="matroska", seconds=0.5)
    info = probe_file(path, "video", "video/mp4")
    assert info.container == "matroska"
    assert info.kind == "video"


def test_probe_raw_stream_without_duration(media_dir: Path, clip: Callable[..., Path]) -> None:
    raw = make_raw_h264(clip("a.mp4"), media_dir / "raw.h264")
    info = probe_file(raw, "video")
    assert info.codec == "h264"
    assert info.duration == pytest.approx(2.0, abs=0.1)  # from packet durations: no container header


@pytest.mark.parametrize(("name", "codec", "container"), [("a.png", "png", "png"), ("a.jpg", "mjpeg", "jpeg"),
                                                         ("a.webp", "webp", "webp")])  # fmt: skip
def test_probe_images(image: Callable[..., Path], name: str, codec: str, container: str) -> None:
    info = probe_file(image(name, width=64, height=48), "image", "image/whatever")
    assert info == MediaInfo(
        kind="image",
        width=64,
        height=48,
        duration=None,
        frame_rate=None,
        frame_count=None,
        has_audio=False,
        rotation=0,
        codec=codec,
        container=container,
    )


@pytest.mark.parametrize(("orientation", "rotation"), [(6, 90), (3, 180), (8, 270)])
def test_probe_jpeg_exif_orientation(image: Callable[..., Path], orientation: int, rotation: int) -> None:
    info = probe_file(image("o.jpg", width=64, height=48, exif_orientation=orientation), "image")
    assert info.rotation == rotation
    assert (info.width, info.height) == ((48, 64) if rotation in (90, 270) else (64, 48))


# --- bad media ----------------------------------------------------------------------------------


def _error(path: Path, kind: str = "video", content_type: str | None = None, **kwargs: int) -> str:
    with pytest.raises(MediaError) as caught:
        probe_file(path, kind, content_type, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_garbage_is_not_decodable(media_dir: Path) -> None:
    path = make_garbage(media_dir / "garbage.mp4", 200_000)
    assert _error(path) == (
        "The file is not a decodable video: the format is not recognised or the data is corrupt."
    )
    assert _error(path, "image") == (
        "The file is not a decodable image: the format is not recognised or the data is corrupt."
    )


def test_text_file_is_not_decodable(media_dir: Path) -> None:
    path = media_dir / "notes.mp4"
    path.write_text("hello, this is not a video\n" * 100)
    assert _error(path).startswith("The file is not a decodable video: ")


def test_empty_file(media_dir: Path) -> None:
    path = media_dir / "empty.mp4"
    path.write_bytes(b"")
    assert _error(path) == "The file is empty: it is not a decodable video."


def test_missing_file(media_dir: Path) -> None:
    assert _error(media_dir / "does-not-exist.mp4") == "The video file could not be read."


def test_truncated_without_index(media_dir: Path, clip: Callable[..., Path]) -> None:
    # PyAV writes the MP4 index (moov) last: cutting the file loses it.
    path = make_truncated(clip("a.mp4"), media_dir / "cut.mp4", 0.5)
    assert _error(path) == (
        "The file is not a decodable video: the format is not recognised or the data is corrupt."
    )


@pytest.mark.parametrize("keep", [0.05, 0.6])
def test_truncated_with_index_first(media_dir: Path, clip: Callable[..., Path], keep: float) -> None:
    path = make_truncated(clip("fs.mp4", faststart=True), media_dir / f"cut-{keep}.mp4", keep)
    message = _error(path)
    assert message.startswith("The file is truncated: only ")
    assert message.endswith("% of its video data is present (was the upload interrupted?).")
    assert f"{round(keep * 100)}%" in message


def test_corrupt_frames(media_dir: Path, clip: Callable[..., Path]) -> None:
    path = make_corrupt_payload(clip("fs.mp4", faststart=True), media_dir / "noise.mp4")
    assert _error(path) == (
        "The file is not a decodable video: no frame could be decoded; the file is truncated or corrupt."
    )


def test_zero_frames(media_dir: Path) -> None:
    path = make_empty_video(media_dir / "noframes.mkv")
    assert _error(path) == "The video contains no frames."


def test_audio_only(media_dir: Path) -> None:
    m4a = make_audio_only(media_dir / "tone.m4a")
    assert _error(m4a) == "The file has no video stream: it contains only audio."
    assert _error(m4a, "image") == "The file is not an image: it contains only audio."
    mp3 = make_audio_only(media_dir / "tone.mp3")
    assert _error(mp3) == "The file has no video stream: it contains only audio."


def test_audio_with_cover_art_is_not_a_video(media_dir: Path, image: Callable[..., Path]) -> None:
    mp3 = make_audio_only(media_dir / "song.mp3")
    tagged = make_video_cli(
        media_dir / "song-with-art.mp3",
        "-i", str(mp3), "-i", str(image("cover.png", width=64, height=64)),
        "-map", "0", "-map", "1", "-c:a", "copy", "-c:v", "png", "-disposition:v", "attached_pic",
    )  # fmt: skip
    assert _error(tagged) == "The file has no video stream: it contains only audio."


def test_image_given_as_video(image: Callable[..., Path]) -> None:
    assert _error(image("a.png")) == "The file is an image (PNG), not a video."
    assert _error(image("a.jpg")) == "The file is an image (JPEG), not a video."


def test_video_given_as_image(clip: Callable[..., Path]) -> None:
    assert _error(clip("a.mp4"), "image") == "The file is a video (mp4, h264), not an image."


def test_gif_is_not_an_image(media_dir: Path) -> None:
    gif = make_video_cli(media_dir / "a.gif", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=0.5")
    assert _error(gif, "image") == "GIF files are not accepted as images: use PNG, JPEG or WebP."
    assert probe_file(gif, "video").codec == "gif"  # anything FFmpeg decodes is a video


def test_declared_kind_must_match(clip: Callable[..., Path], image: Callable[..., Path]) -> None:
    assert _error(clip("a.mp4"), "video", "image/png") == (
        "The file was sent as image/png but contains a video (mp4, h264)."
    )
    assert _error(image("a.png"), "image", "video/mp4") == (
        "The file was sent as video/mp4 but contains an image (PNG)."
    )
    # Kinds that say nothing about video vs image are ignored.
    assert probe_file(clip("a.mp4"), "video", "application/octet-stream").kind == "video"


def test_too_many_pixels(clip: Callable[..., Path]) -> None:
    path = clip("a.mp4")
    assert _error(path, max_pixels=100 * 100) == (
        "The video is 320×240 (76,800 pixels), larger than the limit of 100×100 (10,000 pixels)."
    )
    assert _error(path, max_pixels=76_799) == (
        "The video is 320×240 (76,800 pixels), larger than the limit of 76,799 pixels."
    )
    assert probe_file(path, "video", max_pixels=76_800).width == 320


def test_rotated_size_checked_after_rotation(clip: Callable[..., Path]) -> None:
    path = clip("r.mp4", rotation=90, seconds=0.25, audio=False)
    assert _error(path, max_pixels=40_000).startswith("The video is 240×320 ")


def test_unusably_small_frame(clip: Callable[..., Path]) -> None:
    path = clip("thin.mov", width=1, height=64, codec="png", pix_fmt="rgb24", seconds=0.25, audio=False)
    assert _error(path) == "The video frame size 1×64 is not usable (the minimum is 2×2)."


def test_absurd_duration(clip: Callable[..., Path]) -> None:
    path = clip("long.mkv", timestamps=[0.0, 90_000.0], audio=False)  # second frame 25 hours in
    assert _error(path) == "The video's duration is not plausible (90,000 s; the limit is 86,400 s)."


def test_playlist_cannot_read_other_files(media_dir: Path, clip: Callable[..., Path]) -> None:
    playlist = make_hls_playlist(media_dir / "evil.m3u8", clip("a.ts"))
    # The attack is real: FFmpeg opened by path follows the playlist to the other local file...
    with av.open(str(playlist)) as naive:
        assert naive.format.name == "hls" and naive.streams.video
    # ...but probe_file refuses nested opens.
    assert _error(playlist).startswith("The file is not a decodable video: ")


def test_probe_reads_little_of_a_large_file(media_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No full decode or scan: a long clip is probed from its header and first frame only."""
    path = make_video(media_dir / "long.mp4", seconds=20, fps=24, audio=False)
    size = path.stat().st_size
    read = 0

    class Counting:
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def read(self, n: int = -1) -> bytes:
            nonlocal read
            data = self._inner.read(n)  # type: ignore[attr-defined]
            read += len(data)
            return data

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    real_open = open
    monkeypatch.setattr(containers, "open", lambda p, mode="rb": Counting(real_open(p, mode)), raising=False)
    info = probe_file(path, "video")
    assert info.frame_count == 480
    assert 0 < read < size * 0.2, f"read {read} of {size} bytes"
