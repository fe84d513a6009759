"""Moving a media file into the blob store with its previews: shared by uploads (API servers) and
worker outputs, so it sits with the blob store, below both."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxiway.blobs.base import BlobStore
from taxiway.media.formats import FORMATS
from taxiway.media.previews import make_previews
from taxiway.media.probe import MediaInfo, MediaKind, probe_file


@dataclass(frozen=True)
class StoredMedia:
    """A media file in the blob store: an upload, or a worker's output (sent back as data)."""

    info: MediaInfo
    blob_key: str
    preview_keys: list[str]
    size: int
    content_type: str  # of what the file holds, whatever was declared

    def asset_columns(self) -> dict[str, Any]:
        """The asset row's columns that describe the stored media."""
        return {
            "media_type": self.info.kind,
            "content_type": self.content_type,
            "blob_key": self.blob_key,
            "preview_keys": self.preview_keys,
            "file_size": self.size,
            "width": self.info.width,
            "height": self.info.height,
            "duration": self.info.duration,
            "frame_rate": self.info.frame_rate,
            "has_audio": self.info.has_audio,
        }


def store_media(
    blobs: BlobStore,
    source: Path,
    *,
    kind: MediaKind,
    content_type: str | None,
    key_prefix: str,
    basename: str,
    scratch_dir: Path,
    max_pixels: int,
) -> StoredMedia:
    """Probe `source` (MediaError if unusable), store previews, then the file (which is consumed)
    under the extension of the container it holds."""
    info = probe_file(source, kind, content_type, max_pixels=max_pixels)
    with tempfile.TemporaryDirectory(dir=scratch_dir) as preview_dir:
        preview_keys = []
        for index, preview in enumerate(make_previews(source, info, Path(preview_dir))):
            key = f"{key_prefix}/preview-{index}.jpg"
            blobs.put_file(key, preview)
            preview_keys.append(key)
    content_type, extension = FORMATS.get(info.container, (content_type, source.suffix.lstrip(".")))
    blob_key = f"{key_prefix}/{basename}.{extension or 'bin'}"
    size = blobs.put_file(blob_key, source)
    return StoredMedia(info, blob_key, preview_keys, size, content_type or "application/octet-stream")
