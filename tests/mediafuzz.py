"""Mutants of real media files, for fuzzing uploads and engines: bit flips, truncations and edited
header fields (sizes, durations, time scales, sample rates, stream counts), made deterministically
from a seed so that a failure names a file anyone can rebuild.

Header fields are found by their container's own markers (MP4 boxes, AVI chunks, Matroska element
ids, PNG chunks) and overwritten in place; nothing is re-muxed, as a broken writer or a damaged
disk would leave them.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

Edit = Callable[[bytearray], bool]  # edits in place; False when the file has no such field


def _at(marker: bytes, offset: int, value: bytes) -> Edit:
    """Overwrite ``value`` at ``offset`` bytes after the first ``marker`` (a box or chunk type)."""

    def edit(data: bytearray) -> bool:
        found = data.find(marker)
        if found < 0 or found + offset + len(value) > len(data):
            return False
        data[found + offset : found + offset + len(value)] = value
        return True

    return edit


def _rename(marker: bytes, to: bytes) -> Edit:
    def edit(data: bytearray) -> bool:
        found = data.find(marker)
        if found < 0:
            return False
        data[found : found + len(to)] = to
        return True

    return edit


def _ebml(element: bytes, value: Callable[[int], bytes]) -> Edit:
    """Overwrite the value of the first Matroska ``element`` (by id, with a one-byte size) with
    ``value(its length)``."""

    def edit(data: bytearray) -> bool:
        start = 0
        while (found := data.find(element, start)) >= 0:
            size_at = found + len(element)
            if size_at < len(data) and data[size_at] & 0x80:
                length = data[size_at] & 0x7F
                if 0 < length <= 8 and size_at + 1 + length <= len(data):
                    data[size_at + 1 : size_at + 1 + length] = value(length)
                    return True
            start = found + 1
        return False

    return edit


def _huge_float(length: int) -> bytes:
    return struct.pack(">d", 1e300) if length == 8 else struct.pack(">f", 3e38)


def _png_ihdr(width: int, height: int) -> Edit:
    """A PNG whose IHDR claims ``width``×``height`` (CRC recomputed, so only the size lies)."""

    def edit(data: bytearray) -> bool:
        found = data.find(b"IHDR")
        if found < 0:
            return False
        data[found + 4 : found + 12] = struct.pack(">II", width, height)
        crc = zlib.crc32(bytes(data[found : found + 17]))
        data[found + 17 : found + 21] = struct.pack(">I", crc)
        return True

    return edit


U32_MAX = b"\xff\xff\xff\xff"
ZERO = b"\0\0\0\0"

# By container: (name, edit). Offsets count from the box/chunk type (4 bytes after its start).
HEADER_EDITS: dict[str, list[tuple[str, Edit]]] = {
    "mp4": [
        ("mvhd-timescale-0", _at(b"mvhd", 16, ZERO)),
        ("mvhd-duration-max", _at(b"mvhd", 20, U32_MAX)),
        ("tkhd-size-huge", _at(b"tkhd", 80, b"\x7f\xff\x00\x00\x7f\xff\x00\x00")),
        ("mdhd-timescale-0", _at(b"mdhd", 16, ZERO)),
        ("stts-delta-0", _at(b"stts", 16, ZERO)),
        ("stts-count-max", _at(b"stts", 12, U32_MAX)),
        ("stsz-count-max", _at(b"stsz", 12, U32_MAX)),
        ("stco-offset-max", _at(b"stco", 12, U32_MAX)),
        ("mp4a-rate-0", _at(b"mp4a", 28, ZERO)),
        ("mp4a-channels-0", _at(b"mp4a", 20, b"\0\0")),
        ("hdlr-video-as-sound", _rename(b"vide", b"soun")),
        ("avc1-size-0", _at(b"avc1", 28, b"\0\0\0\0")),
    ],
    "avi": [  # chunk data starts 8 bytes after its type (the type, then a 4-byte size)
        ("avih-frame-time-0", _at(b"avih", 8, ZERO)),
        ("avih-frames-max", _at(b"avih", 24, U32_MAX)),
        ("avih-streams-9", _at(b"avih", 32, struct.pack("<I", 9))),
        ("strh-rate-0", _at(b"strh", 32, ZERO)),
        ("strf-width-huge", _at(b"strf", 12, struct.pack("<i", 1 << 30))),
    ],
    "webm": [  # Matroska element ids
        ("timecode-scale-0", _ebml(b"\x2a\xd7\xb1", lambda n: b"\0" * n)),
        ("duration-huge", _ebml(b"\x44\x89", _huge_float)),
        ("pixel-width-0", _ebml(b"\xb0", lambda n: b"\0" * n)),
        ("sampling-frequency-0", _ebml(b"\xb5", lambda n: b"\0" * n)),
        ("channels-0", _ebml(b"\x9f", lambda n: b"\0" * n)),
    ],
    "png": [
        ("ihdr-huge", _png_ihdr(1 << 30, 1 << 30)),
        ("ihdr-zero", _png_ihdr(0, 16)),
    ],
}


def _flip(data: bytearray, rng: random.Random, count: int, start: int) -> None:
    for _ in range(count):
        position = rng.randrange(start, len(data))
        data[position] ^= 1 << rng.randrange(8)


def mutants(source: Path, kind: str, out_dir: Path, *, seed: int = 0) -> list[Path]:
    """Every mutant of ``source`` (a ``kind`` of HEADER_EDITS), written to ``out_dir``."""
    original = source.read_bytes()
    rng = random.Random(f"{seed}:{source.name}")
    made: dict[str, bytes] = {}
    for name, edit in HEADER_EDITS[kind]:
        data = bytearray(original)
        if edit(data):
            made[name] = bytes(data)
    for fraction in (0.1, 0.5, 0.9):
        made[f"truncated-{int(fraction * 100)}"] = original[: int(len(original) * fraction)]
    for label, count, start in (("header", 8, 0), ("body", 200, len(original) // 4)):
        data = bytearray(original)
        _flip(data, rng, count, min(start, len(data) - 1))
        made[f"bitflips-{label}"] = bytes(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in made.items():
        path = out_dir / f"{source.stem}.{name}{source.suffix}"
        path.write_bytes(data)
        paths.append(path)
    return paths
