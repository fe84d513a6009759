"""What an upload sends: the body (streamed from a path or a stream), its filename and media type."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from taxiway.client.effects import ByteSource, UploadBody

# Containers the contract accepts, by extension: mimetypes does not know all of them everywhere.
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def guess_content_type(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    guessed = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0]
    return guessed if guessed and guessed.startswith(("video/", "image/")) else None


def upload_body(
    source: str | os.PathLike[str] | ByteSource, name: str | None, content_type: str | None
) -> tuple[str, UploadBody]:
    """The asset's name and its body. A file path is streamed from disk (and can be re-sent);
    a stream is read once, in chunks."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        name = name or path.name
        return name, UploadBody(_content_type(name, content_type), path=path, size=path.stat().st_size)
    name = name or getattr(source, "name", None) or "upload"
    name = os.path.basename(str(name))
    return name, UploadBody(_content_type(name, content_type), stream=source)


def _content_type(name: str, given: str | None) -> str:
    content_type = given or guess_content_type(name)
    if not content_type:
        raise ValueError(
            f"cannot tell the media type of {name!r} from its extension; pass content_type "
            f"(one of {', '.join(sorted(set(CONTENT_TYPES.values())))})"
        )
    return content_type
