"""Media failures inside an engine become EngineErrors users can read, all with one reason."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import av

from taxiway.engines.base import EngineError
from taxiway.media.containers import describe_av_error
from taxiway.media.decode import DecodeError

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
