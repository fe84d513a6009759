"""Opening untrusted media safely with PyAV, and choosing the streams we work on.

Every reader in taxiway (probe, previews, engines) opens input through :func:`open_input` so they all
see the same streams and share the same protections:

* the file is handed to FFmpeg as an already-open Python file object and nested opens are refused
  (``protocol_whitelist=none``). A playlist upload (HLS ``.m3u8``, ``ffconcat``...) therefore cannot
  make FFmpeg read other local files or reach the network;
* an interrupt timeout bounds how long FFmpeg may spend opening the file and reading one packet,
  so hostile input cannot hang a worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import av
from av.container import InputContainer
from av.stream import Disposition

# Seconds FFmpeg may spend in avformat_open_input + find_stream_info, and on reading one packet.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0

# Demuxers that only follow references to other files; never media in their own right.
_REFERENCE_DEMUXERS = frozenset({"hls", "dash", "concat", "ffconcat", "ffmetadata"})
_DURATION_TAG = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


class UnsafeInput(Exception):
    """The file is a playlist or reference format that would make FFmpeg open other resources."""


def open_input(path: Path) -> InputContainer:
    """Open ``path`` for demuxing with nested opens disabled and timeouts set.

    Raises ``av.FFmpegError`` (or ``OSError``) when FFmpeg cannot open it and :class:`UnsafeInput`
    for reference formats. Close it with :func:`close_input`, which also closes the Python file
    object (PyAV does not).
    """
    handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - owned by the container, see close_input
    try:
        container = av.open(
            handle,
            mode="r",
            options={"protocol_whitelist": "none"},
            metadata_errors="ignore",
            timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except BaseException:
        handle.close()
        raise
    if container.format.name in _REFERENCE_DEMUXERS:
        close_input(container)
        raise UnsafeInput(container.format.name)
    return container


def close_input(container: InputContainer) -> None:
    """Close a container from :func:`open_input` and the file object underneath it."""
    # container.file is PyAV's IO wrapper; .file is the Python file object we opened.
    handle = getattr(container.file, "file", None)
    try:
        container.close()
    finally:
        if handle is not None:
            handle.close()


def pick_video_stream(container: InputContainer) -> av.video.stream.VideoStream | None:
    """The video stream to work on: the default one, else the first; cover art does not count.

    MP3/M4A files carry album art as an "attached picture" video stream; it is not a video.
    """
    candidates = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not candidates:
        return None
    defaults = [s for s in candidates if s.disposition & Disposition.default]
    return (defaults or candidates)[0]


def pick_audio_stream(container: InputContainer) -> av.audio.stream.AudioStream | None:
    """The audio stream to carry along: the default one, else the first."""
    candidates = list(container.streams.audio)
    if not candidates:
        return None
    defaults = [s for s in candidates if s.disposition & Disposition.default]
    return (defaults or candidates)[0]


def truncated_fraction(container: InputContainer, size: int) -> float | None:
    """For indexed containers (MP4/MOV, AVI, Matroska with cues): the fraction of the media data
    present when the index points past the end of the file (an interrupted upload), else None.

    One lookup per stream and no reads, so it is free even for huge files. FFmpeg's demuxers end
    such files quietly at the cut instead of reporting an error, so this is the only sign.
    """
    end = 0
    for stream in container.streams:
        entries = stream.index_entries
        if entries is not None and len(entries):
            last = entries[len(entries) - 1]
            end = max(end, last.pos + last.size)
    return size / end if end > size else None


def describe_av_error(exc: BaseException) -> str:
    """A short, user-readable reason for an FFmpeg/PyAV failure (no paths, no errno numbers)."""
    if isinstance(exc, av.error.InvalidDataError):
        return "the format is not recognised or the data is corrupt"
    if isinstance(exc, av.error.ExitError):
        return "reading the file took too long"
    if isinstance(exc, av.error.EOFError):
        return "the file ends unexpectedly"
    if isinstance(exc, av.error.PatchWelcomeError | av.error.DecoderNotFoundError):
        return "the codec is not supported"
    if isinstance(exc, av.FFmpegError):
        text = (exc.strerror or type(exc).__name__).strip()
        return text[:1].lower() + text[1:]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return "the file could not be read"  # Anything else: say nothing about our internals.


def stated_durations(
    container: InputContainer, stream: av.stream.Stream, *, include_container: bool = True
) -> list[float]:
    """The stream's length in seconds as the file's headers state it, most specific first: the
    stream's own, Matroska's per-track DURATION tag, the container's (unless not
    ``include_container``: with several streams it may be another stream's). Nothing is read.

    Matroska's durations are where the segment ends, not how long it lasts: a file whose timestamps
    start at 1000 s states 1004 s for 4 s of video, so the stream's start is subtracted there.
    """
    candidates: list[float] = []
    if stream.duration and stream.time_base:
        candidates.append(float(stream.duration * stream.time_base))
    offset = 0.0
    if container.format.name.startswith("matroska") and stream.start_time and stream.time_base:
        offset = max(0.0, float(stream.start_time * stream.time_base))
    tag = _DURATION_TAG.match(str(stream.metadata.get("DURATION", "")).strip())
    if tag:
        candidates.append(int(tag[1]) * 3600 + int(tag[2]) * 60 + float(tag[3]) - offset)
    if container.duration and include_container:
        candidates.append(container.duration / av.time_base - offset)
    return candidates
