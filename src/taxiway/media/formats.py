"""What each container the probe recognises is stored and served as.

An upload's declared Content-Type only says which kind of media to expect; the file is stored under
the extension and served with the media type of what it really holds (MP4 bytes sent as
``video/x-msvideo`` are an ``.mp4``), so that players and browsers are never told a wrong type.
"""

from __future__ import annotations

import mimetypes

# probe container name -> (media type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "mp4": ("video/mp4", "mp4"),
    "mov": ("video/quicktime", "mov"),
    "webm": ("video/webm", "webm"),
    "matroska": ("video/x-matroska", "mkv"),
    "avi": ("video/x-msvideo", "avi"),
    "mpeg": ("video/mpeg", "mpeg"),
    "mpegts": ("video/mp2t", "ts"),
    "png": ("image/png", "png"),
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
}
_BY_EXTENSION = {extension: media_type for media_type, extension in FORMATS.values()}


def content_type_of(filename: str) -> str:
    """The media type a stored file is served with, by its extension (the system's table is only
    a fallback: it differs between machines, and it calls ``.ts`` a translation file)."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _BY_EXTENSION.get(extension) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
