"""Test media factory: small, fast, deterministic clips, images and deliberately broken files.

Import from tests as ``from mediafiles import make_video, make_image, ...`` (pytest runs with
``-o pythonpath=tests``). Everything is generated in-process with PyAV; only ``make_video_cli``
shells out to the imageio-ffmpeg binary, for files PyAV cannot write itself.

A 2 s 320×240 H.264 + AAC clip takes about 0.1 s to generate.
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48_000
TONE_HZ = 440.0

# Containers whose conventional video codec is not H.264: the default codec="libx264" is swapped
# for these so `make_video(tmp / "x.webm")` just works.
_CONTAINER_VIDEO_CODEC = {".webm": "libvpx-vp9", ".avi": "mpeg4", ".mpg": "mpeg2video", ".mpeg": "mpeg2video"}
# Audio codec per container when audio_codec is not given.
_CONTAINER_AUDIO_CODEC = {
    ".mp4": "aac",
    ".mov": "aac",
    ".m4a": "aac",
    ".mkv": "aac",
    ".webm": "libopus",
    ".avi": "libmp3lame",
    ".mpg": "mp2",
    ".mpeg": "mp2",
    ".ts": "aac",
    ".mp3": "libmp3lame",
    ".wav": "pcm_s16le",
    ".ogg": "libopus",
    ".opus": "libopus",
}
_SUFFIX_FORMAT = {".mkv": "matroska", ".mpg": "mpeg", ".ts": "mpegts", ".m4a": "mp4", ".opus": "ogg"}


def pattern_frame(width: int, height: int, index: int) -> np.ndarray:
    """An RGB test picture that changes every frame: moving gradients, a checkerboard and a box."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.int32)
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xx * 255 // max(width - 1, 1) + index * 7) % 256
    img[..., 1] = (yy * 255 // max(height - 1, 1) + index * 3) % 256
    img[..., 2] = (((xx + index * 2) // 16 + yy // 16) % 2) * 200 + 28
    # A bright box sweeping left to right makes motion (and frame order) visible.
    box = max(4, min(width, height) // 6)
    x0 = (index * 5) % max(width - box, 1)
    y0 = (height - box) // 2
    img[y0 : y0 + box, x0 : x0 + box] = 255
    return img


def _tone(start: int, count: int, channels: int = 2) -> np.ndarray:
    t = np.arange(start, start + count) / SAMPLE_RATE
    mono = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.stack([mono] * channels)


def _add_audio(out: av.container.OutputContainer, codec: str) -> av.audio.stream.AudioStream:
    stream = out.add_stream(codec, rate=SAMPLE_RATE)
    stream.layout = "stereo"
    return stream


def _write_tone(
    out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float
) -> None:
    total = round(seconds * SAMPLE_RATE)
    pos = 0
    while pos < total:
        n = min(1024, total - pos)
        frame = av.AudioFrame.from_ndarray(_tone(pos, n), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pos
        frame.time_base = Fraction(1, SAMPLE_RATE)
        out.mux(stream.encode(frame))
        pos += n
    out.mux(stream.encode(None))


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    seconds: float = 2.0,
    fps: int | Fraction = 24,
    audio: bool = True,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    audio_codec: str | None = None,
    container: str | None = None,
    faststart: bool = False,
    timestamps: Sequence[float] | None = None,
    frames: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write a moving test clip (plus a 440 Hz tone when ``audio``) and return ``path``.

    The container comes from the suffix (.mp4 .mov .mkv .webm .avi .mpg .ts) unless ``container``
    names an FFmpeg muxer, which makes deliberately mislabelled files (Matroska called .mp4).
    The default codec is swapped for the container's own for .webm (VP9 + Opus), .avi (MPEG-4 Part 2
    + MP3) and .mpg (MPEG-2 + MP2). ``rotation`` is the clockwise display rotation stored as a
    display matrix (what phones write; ``probe_file`` reports it back as ``MediaInfo.rotation``).
    ``timestamps`` (seconds, one per frame) makes a variable-frame-rate clip; ``frames`` supplies
    the RGB pictures instead of the built-in pattern.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if codec == "libx264":
        codec = _CONTAINER_VIDEO_CODEC.get(suffix, codec)
    fmt = container or _SUFFIX_FORMAT.get(suffix)
    options = {"movflags": "+faststart"} if faststart else {}
    count = len(frames) if frames is not None else len(timestamps) if timestamps else round(seconds * fps)
    # A fine time base for VFR clips, otherwise one tick per frame.
    time_base = Fraction(1, 1000) if timestamps else 1 / Fraction(fps)

    out = av.open(str(path), "w", format=fmt, options=options)
    try:
        vstream = out.add_stream(codec, rate=Fraction(fps))
        vstream.width, vstream.height, vstream.pix_fmt = width, height, pix_fmt
        vstream.codec_context.time_base = time_base
        if codec in ("libvpx-vp9", "libvpx"):
            # Realtime settings keep VP9 generation in the same ballpark as x264.
            vstream.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        elif codec == "libx264":
            vstream.codec_context.options = {"preset": "ultrafast"}
        if rotation % 360:
            # PyAV takes counter-clockwise degrees; our rotation is clockwise (the old `rotate` tag).
            vstream.set_display_rotation(-(rotation % 360))
        astream = _add_audio(out, audio_codec or _CONTAINER_AUDIO_CODEC.get(suffix, "aac")) if audio else None
        for i in range(count):
            picture = frames[i] if frames is not None else pattern_frame(width, height, i)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = round(timestamps[i] / time_base) if timestamps else i
            frame.time_base = time_base
            out.mux(vstream.encode(frame))
        out.mux(vstream.encode(None))
        if astream is not None:
            seconds_out = timestamps[-1] + 1 / float(fps) if timestamps else count / float(fps)
            _write_tone(out, astream, seconds_out)
    finally:
        out.close()
    return path


def make_audio_only(path: Path, *, seconds: float = 1.0, codec: str | None = None) -> Path:
    """An audio-only file (.m4a/.mp4 AAC, .mp3, .wav, .ogg, .mkv...) holding a 440 Hz tone."""
    path = Path(path)
    suffix = path.suffix.lower()
    out = av.open(str(path), "w", format=_SUFFIX_FORMAT.get(suffix))
    try:
        stream = _add_audio(out, codec or _CONTAINER_AUDIO_CODEC.get(suffix, "aac"))
        _write_tone(out, stream, seconds)
    finally:
        out.close()
    return path


def _exif_orientation_segment(orientation: int) -> bytes:
    """A minimal JPEG APP1/EXIF segment holding only the Orientation tag (0x0112)."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def make_image(path: Path, *, width: int = 320, height: int = 240, exif_orientation: int = 1) -> Path:
    """A still picture (.png, .jpg/.jpeg or .webp) of the test pattern.

    ``exif_orientation`` (JPEG only) writes an EXIF Orientation tag: 6 means "rotate 90° clockwise
    to display", 8 "rotate 270°", 3 "rotate 180°".
    """
    path = Path(path)
    suffix = path.suffix.lower()
    picture = av.VideoFrame.from_ndarray(pattern_frame(width, height, 0), format="rgb24")
    codec, pix_fmt, fmt = {
        ".png": ("png", "rgb24", "image2"),
        ".jpg": ("mjpeg", "yuvj420p", "image2"),
        ".jpeg": ("mjpeg", "yuvj420p", "image2"),
        ".webp": ("libwebp", "yuv420p", "webp"),
    }[suffix]
    out = av.open(str(path), "w", format=fmt, options={"update": "1"} if fmt == "image2" else {})
    try:
        stream = out.add_stream(codec, pix_fmt=pix_fmt)
        stream.width, stream.height = width, height
        frame = picture.reformat(format=pix_fmt)
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    finally:
        out.close()
    if exif_orientation != 1:
        if codec != "mjpeg":
            raise ValueError("exif_orientation is only supported for JPEG")
        data = path.read_bytes()
        path.write_bytes(data[:2] + _exif_orientation_segment(exif_orientation) + data[2:])
    return path


def make_truncated(src: Path, dst: Path, keep_fraction: float) -> Path:
    """Copy the first ``keep_fraction`` of ``src``'s bytes to ``dst`` (an interrupted upload)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep_fraction)])
    return Path(dst)


def make_garbage(path: Path, size: int, *, seed: int = 0, header: bytes = b"") -> Path:
    """``size`` random bytes, optionally after ``header`` (e.g. a real-looking magic number)."""
    rng = np.random.default_rng(seed)
    Path(path).write_bytes(header + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return Path(path)


def make_corrupt_payload(src: Path, dst: Path, *, from_fraction: float | None = None, seed: int = 1) -> Path:
    """Keep ``src``'s size and container structure but overwrite media data with noise.

    By default everything after the MP4 ``mdat`` header is noise: for a faststart MP4 the index
    stays intact, the file opens and lists its streams, and nothing decodes. With
    ``from_fraction`` only the bytes from that fraction of the file on are overwritten: the start
    plays, then decoding fails.
    """
    data = bytearray(Path(src).read_bytes())
    if from_fraction is None:
        mdat = data.find(b"mdat")
        start = mdat + 8 if mdat >= 0 else len(data) // 20
    else:
        start = int(len(data) * from_fraction)
    rng = np.random.default_rng(seed)
    data[start:] = rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def make_empty_video(path: Path, *, width: int = 320, height: int = 240, audio_seconds: float = 1.0) -> Path:
    """A file with a declared H.264 video track that holds no frames, plus an audio track.

    Use .mkv/.webm/.avi: FFmpeg's MP4 reader drops empty tracks, so an empty .mp4 reads as
    "no video stream" instead.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    out = av.open(str(path), "w", format=_SUFFIX_FORMAT.get(suffix))
    try:
        stream = out.add_stream(_CONTAINER_VIDEO_CODEC.get(suffix, "libx264"), rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        astream = _add_audio(out, _CONTAINER_AUDIO_CODEC.get(suffix, "aac"))
        _write_tone(out, astream, audio_seconds)
    finally:
        out.close()
    return path


def make_hls_playlist(path: Path, segment: Path) -> Path:
    """An HLS playlist pointing at a local file: the classic "read another file" upload attack."""
    Path(path).write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile://{Path(segment).resolve()}\n#EXT-X-ENDLIST\n"
    )
    return Path(path)


def ffmpeg_exe() -> str:
    """The ffmpeg CLI shipped by imageio-ffmpeg (tests and benchmarks only)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video_cli(path: Path, *args: str) -> Path:
    """Run the ffmpeg CLI with ``args`` as the middle of the command, writing ``path``.

    For the odd files PyAV cannot write itself, e.g. ``make_video_cli(p, "-f", "lavfi", "-i",
    "testsrc2=size=320x240:rate=24:duration=1", "-c:v", "libx264")``.
    """
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return Path(path)


def make_raw_h264(src: Path, dst: Path) -> Path:
    """Copy ``src``'s H.264 video into a bare elementary stream: no container, index or timestamps."""
    return make_video_cli(dst, "-i", str(src), "-c:v", "copy", "-an", "-f", "h264")
