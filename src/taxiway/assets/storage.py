"""Moving a media file into the blob store with its previews: shared by uploads and workers."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from taxiway.blobs.base import BlobStore
from taxiway.media.previews import make_previews
from taxiway.media.probe import MediaInfo, MediaKind, probe_file


@dataclass(frozen=True)
class StoredMedia:
    info: MediaInfo
    blob_key: str
    preview_keys: list[str]
    size: int


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
    """Probe `source` (MediaError if unusable), store previews, then the file (which is consumed)."""
    info = probe_file(source, kind, content_type, max_pixels=max_pixels)
    with tempfile.TemporaryDirectory(dir=scratch_dir) as preview_dir:
        preview_keys = []
        for index, preview in enumerate(make_previews(source, info, Path(preview_dir))):
            key = f"{key_prefix}/preview-{index}.jpg"
            blobs.put_file(key, preview)
            preview_keys.append(key)
    blob_key = f"{key_prefix}/{basename}{source.suffix or '.bin'}"
    size = blobs.put_file(blob_key, source)
    return StoredMedia(info, blob_key, preview_keys, size)
