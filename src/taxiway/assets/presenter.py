"""Assets as the contract shows them."""

from __future__ import annotations

from typing import Any

from taxiway.blobs.links import Links
from taxiway.core import ids
from taxiway.core.json_schema import (
    BOOLEAN,
    INTEGER,
    NULL,
    NUMBER,
    STRING,
    TIMESTAMP,
    array,
    closed,
    described,
    enum,
    nullable,
)
from taxiway.core.timestamps import iso
from taxiway.store.models import Asset


def asset_ref(asset: Asset) -> str:
    return ids.compose("asset", asset.user_id, asset.account.email, asset.id)


def _round(value: float | None, digits: int = 3) -> float | int | None:
    if value is None:
        return None
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded


def group_of(asset: Asset) -> str:
    """The asset's group: the upload it comes from (every asset from before groups is its own)."""
    return asset.group_id or asset.id


def asset_metadata(asset: Asset) -> dict[str, Any]:
    return {
        "frameRate": _round(asset.frame_rate),
        "duration": _round(asset.duration),
        "width": asset.width,
        "height": asset.height,
        "dimensions": [asset.width, asset.height],
        "size": {"width": asset.width, "height": asset.height},
        "hasAudio": asset.has_audio,
    }


def asset_json(asset: Asset, links: Links) -> dict[str, Any]:
    task_ref = (
        ids.compose("task", asset.user_id, asset.account.email, asset.task_id) if asset.task_id else None
    )
    return {
        "assetId": asset_ref(asset),
        "id": asset.id,
        "createdAt": iso(asset.created_at),
        "updatedAt": iso(asset.updated_at),
        "name": asset.name,
        "url": links.blob(asset.blob_key),
        "previewUrls": links.blobs(asset.preview_keys),
        "mediaType": asset.media_type,
        "mediaSubtype": None,
        "fileCount": 1,
        "fileSize": asset.file_size,
        "fileExtStandardized": asset.blob_key.rsplit(".", 1)[-1],
        "isUserUpload": asset.is_user_upload,
        "metadata": asset_metadata(asset),
        "taskId": task_ref,
        "email": asset.account.email,
        "assetGroupId": group_of(asset),
        "contentSha256": asset.content_sha256,
    }


def artifact_json(asset: Asset, links: Links) -> dict[str, Any]:
    """An asset as it appears in a task's artifacts list (fileSize is a string there)."""
    metadata = asset_metadata(asset)
    return {
        "id": asset.id,
        "assetId": asset_ref(asset),
        "createdAt": iso(asset.created_at),
        "filename": asset.name,
        "url": links.blob(asset.blob_key),
        "fileSize": str(asset.file_size),
        "previewUrls": links.blobs(asset.preview_keys),
        "metadata": {
            "frameRate": metadata["frameRate"],
            "duration": metadata["duration"],
            "dimensions": metadata["dimensions"],
            "size": metadata["size"],
        },
    }


# The schemas of what asset_json and artifact_json send (OpenAPI components Asset and Artifact).

_DIMENSIONS = described(array(INTEGER) | {"minItems": 2, "maxItems": 2}, "[width, height]")
_SIZE = closed({"width": INTEGER, "height": INTEGER})
_SECONDS = nullable(NUMBER)  # null for images

ASSET_SCHEMA = closed(
    {
        "assetId": STRING,
        "id": STRING,
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "name": STRING,
        "url": described(STRING, "Signed download link; it expires."),
        "previewUrls": array(STRING),
        "mediaType": enum(("video", "image")),
        "mediaSubtype": NULL,
        "fileCount": INTEGER,
        "fileSize": described(INTEGER, "Bytes."),
        "fileExtStandardized": STRING,
        "isUserUpload": BOOLEAN,
        "metadata": closed(
            {
                "frameRate": _SECONDS,
                "duration": _SECONDS,
                "width": INTEGER,
                "height": INTEGER,
                "dimensions": _DIMENSIONS,
                "size": _SIZE,
                "hasAudio": BOOLEAN,
            }
        ),
        "taskId": described(nullable(STRING), "The task that made this asset; null for uploads."),
        "email": STRING,
        "assetGroupId": STRING,
        "contentSha256": nullable(STRING),
    }
)

ARTIFACT_SCHEMA = closed(
    {
        "id": STRING,
        "assetId": STRING,
        "createdAt": TIMESTAMP,
        "filename": STRING,
        "url": described(STRING, "Signed download link; it expires."),
        "fileSize": described(STRING, "Bytes, as a string (the contract's artifacts show it so)."),
        "previewUrls": array(STRING),
        "metadata": closed(
            {"frameRate": _SECONDS, "duration": _SECONDS, "dimensions": _DIMENSIONS, "size": _SIZE}
        ),
    }
)
