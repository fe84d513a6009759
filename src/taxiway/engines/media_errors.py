"""Media failures inside an engine become EngineErrors users can read, all with one reason; and the
decode-to-encode frame every engine runs inside."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av

from taxiway.engines.base import EngineError
from taxiway.media.containers import describe_av_error
from taxiway.media.decode import DecodeError, VideoDecoder
from taxiway.media.encode import H264Writer
from taxiway.media.input_warnings import InputWarnings

# The reason of every failure caused by input that turned out undecodable part-way through.
REASON_UNDECODABLE = "INPUT_UNDECODABLE"


@contextmanager
def undecodable_input_errors() -> Iterator[None]:
    """Turn decoding failures, and FFmpeg errors from damaged input, into EngineErrors."""
    try:
        yield
    except DecodeError as exc:
        raise EngineError(str(exc), reason=REASON_UNDECODABLE) from exc
    except av.FFmpegError as exc:
        # Damaged input can also surface while muxing (e.g. impossible timestamps).
        raise EngineError(
            f"The video could not be processed: {describe_av_error(exc)}.", reason=REASON_UNDECODABLE
        ) from exc


@contextmanager
def reencoding(
    source: Path,
    target: Path,
    *,
    width: int,
    height: int,
    has_audio: bool,
    crf: int,
    preset: str,
    threads: int,
    until: float | Fraction | None = None,
    pad_audio: bool = False,
    warnings: InputWarnings | None = None,
) -> Iterator[tuple[VideoDecoder, H264Writer]]:
    """Decode `source` and encode `target` at width×height on the source's time line (see
    taxiway.media.timing) and with (if it has one) its audio: the frame of every engine, with
    damaged input turned into EngineErrors and what was repaired told to `warnings`."""
    with (
        undecodable_input_errors(),
        VideoDecoder(source, until=until, warnings=warnings) as decoder,
        H264Writer(
            target,
            width=width,
            height=height,
            time_base=decoder.time_base,
            frame_rate=decoder.frame_rate,
            crf=crf,
            preset=preset,
            audio_source=source if has_audio else None,
            threads=threads,
            pad_audio=pad_audio,
            constant_rate=decoder.constant_rate,
            source_timing=decoder.timing,
            source_span=decoder.source_span,
        ) as writer,
    ):
        yield decoder, writer
