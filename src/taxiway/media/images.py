"""Still images given as inputs (expand's guide image): the first picture, upright."""

from __future__ import annotations

from pathlib import Path

import av
from av.video.frame import VideoFrame

from taxiway.media.containers import close_input, describe_av_error, open_input, pick_video_stream
from taxiway.media.decode import Uprighter, clockwise_rotation


class ImageError(Exception):
    """The image file holds no decodable picture; ``str(exc)`` says why, in lower case, for users."""


def load_image(path: Path) -> VideoFrame:
    """The first picture of an image file, upright (EXIF orientation applied). Raises ImageError."""
    try:
        container = open_input(path)
    except Exception as exc:  # av.FFmpegError, OSError, UnsafeInput: all mean "not an image we can read"
        raise ImageError(describe_av_error(exc)) from exc
    try:
        stream = pick_video_stream(container)
        if stream is not None:
            for packet in container.demux(stream):
                for frame in stream.decode(packet):
                    return Uprighter()(frame, clockwise_rotation(frame))
    except av.FFmpegError as exc:
        raise ImageError(describe_av_error(exc)) from exc
    finally:
        close_input(container)
    raise ImageError("it holds no picture")
