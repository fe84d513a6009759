"""Every endpoint of the contract as a Request: paths, query strings and JSON bodies."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import quote

from taxiway.client.effects import ByteSource, Request, UploadBody
from taxiway.client.models import Asset, Task

AssetRef = str | Asset
TaskRef = str | Task
AspectRatio = Literal["landscape", "portrait"]
# Expand's: landscape and portrait mean 5:3 and 3:5, as the contract's responses show.
ExpandAspect = Literal["landscape", "portrait", "5:3", "3:5", "16:9", "9:16"]

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


class TaskOptions(TypedDict, total=False):
    """Fields every operation takes (all optional)."""

    explore_mode: bool
    reply_url: str
    reply_ref: str
    max_jobs: int
    email: str
    model: str  # extension: a configured model by name, or "classic"


_OPTION_FIELDS = {
    "explore_mode": "exploreMode",
    "reply_url": "replyUrl",
    "reply_ref": "replyRef",
    "max_jobs": "maxJobs",
    "email": "email",
    "model": "model",
}


def asset_id(asset: AssetRef) -> str:
    return asset.asset_id if isinstance(asset, Asset) else asset


def task_id(task: TaskRef) -> str:
    return task.task_id if isinstance(task, Task) else task


def _segment(value: str) -> str:
    # Composite ids and emails contain ':' and '@', which are legal in a path segment.
    return quote(value, safe=":@")


def _body(fields: dict[str, object], options: TaskOptions) -> dict[str, object]:
    body = {key: value for key, value in fields.items() if value is not None}
    for name, value in options.items():
        if name not in _OPTION_FIELDS:
            raise TypeError(f"unknown option {name!r}; expected one of {', '.join(_OPTION_FIELDS)}")
        if value is not None:
            body[_OPTION_FIELDS[name]] = value
    return body


# Operations ------------------------------------------------------------------------------------


def upscale(asset: AssetRef, options: TaskOptions) -> Request:
    return Request("POST", "videos/upscale", json=_body({"videoAssetId": asset_id(asset)}, options))


def restyle(
    asset: AssetRef,
    prompt: str,
    *,
    strength: float | None,
    aspect_ratio: AspectRatio | None,
    seconds: int | None,
    seed: int | None,
    options: TaskOptions,
) -> Request:
    fields = {
        "assetId": asset_id(asset),
        "text_prompt": prompt,
        "structure_transformation": strength,
        "aspect_ratio": aspect_ratio,
        "seconds": seconds,
        "seed": seed,
    }
    return Request("POST", "gen3turbo/video", json=_body(fields, options))


def expand(
    asset: AssetRef,
    *,
    aspect_ratio: ExpandAspect | None,
    image: AssetRef | None,
    prompt: str | None,
    seconds: int | None,
    seed: int | None,
    options: TaskOptions,
) -> Request:
    fields = {
        "videoAssetId": asset_id(asset),
        "imageAssetId": asset_id(image) if image is not None else None,
        "text_prompt": prompt,
        "outpaint_aspect_ratio": aspect_ratio,
        "seconds": seconds,
        "seed": seed,
    }
    return Request("POST", "gen3turbo/expand", json=_body(fields, options))


def extend(
    asset: AssetRef,
    *,
    seconds: int | None,
    prompt: str | None,
    seed: int | None,
    turbo: bool,
    options: TaskOptions,
) -> Request:
    fields = {"assetId": asset_id(asset), "text_prompt": prompt, "seed": seed}
    if turbo:
        if seconds is not None:
            raise ValueError("gen3turbo/extend always adds 8 seconds; leave seconds out with turbo=True")
        return Request("POST", "gen3turbo/extend", json=_body(fields, options))
    return Request("POST", "gen3/extend", json=_body(fields | {"seconds": seconds}, options))


def operation(path: str, body: dict[str, object]) -> Request:
    """Any operation endpoint by its path under the base URL, with a body in the contract's names."""
    return Request("POST", path.strip("/"), json=body)


# Tasks -----------------------------------------------------------------------------------------


def get_task(task: TaskRef) -> Request:
    return Request("GET", f"tasks/{_segment(task_id(task))}")


def list_tasks(*, offset: int, limit: int | None, statuses: list[str] | None, email: str | None) -> Request:
    params: dict[str, str | int] = {"offset": offset}
    if limit is not None:
        params["limit"] = limit
    if statuses:
        params["statuses"] = ",".join(statuses)
    if email:
        params["email"] = email
    return Request("GET", "tasks/", params=params)


def cancel_task(task: TaskRef) -> Request:
    """DELETE scheduler/{id}: cancels a live task (204); never deletes a finished one."""
    return Request("DELETE", f"scheduler/{_segment(task_id(task))}")


def delete_task(task: TaskRef) -> Request:
    """Cancels a live task (200 with the task), deletes a finished one (204)."""
    return Request("DELETE", f"tasks/{_segment(task_id(task))}")


# Assets ----------------------------------------------------------------------------------------


def guess_content_type(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    guessed = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0]
    return guessed if guessed and guessed.startswith(("video/", "image/")) else None


def upload(
    source: str | os.PathLike[str] | ByteSource,
    *,
    name: str | None,
    email: str | None,
    content_type: str | None,
) -> Request:
    """A file path is streamed from disk (and can be re-sent); a stream is read once, in chunks."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        name = name or path.name
        body = UploadBody(_content_type(name, content_type), path=path, size=path.stat().st_size)
    else:
        name = name or getattr(source, "name", None) or "upload"
        name = os.path.basename(str(name))
        body = UploadBody(_content_type(name, content_type), stream=source)
    params: dict[str, str | int] = {"name": name}
    if email:
        params["email"] = email
    return Request("POST", "assets/", params=params, upload=body)


def _content_type(name: str, given: str | None) -> str:
    content_type = given or guess_content_type(name)
    if not content_type:
        raise ValueError(
            f"cannot tell the media type of {name!r} from its extension; pass content_type "
            f"(one of {', '.join(sorted(set(CONTENT_TYPES.values())))})"
        )
    return content_type


def get_asset(asset: AssetRef) -> Request:
    return Request("GET", f"assets/{_segment(asset_id(asset))}")


def list_assets(
    *,
    offset: int,
    limit: int | None,
    media_type: str | None,
    email: str | None,
    group: str | None = None,
    sha256: str | None = None,
) -> Request:
    """``group`` and ``sha256`` are taxiway's filters; other servers may ignore them."""
    params: dict[str, str | int] = {"offset": offset}
    if limit is not None:
        params["limit"] = limit
    if media_type:
        params["mediaType"] = media_type
    if email:
        params["email"] = email
    if group:
        params["assetGroupId"] = group
    if sha256:
        params["sha256"] = sha256
    return Request("GET", "assets/", params=params)


def delete_asset(asset: AssetRef) -> Request:
    return Request("DELETE", f"assets/{_segment(asset_id(asset))}")


# Accounts --------------------------------------------------------------------------------------


def set_account(email: str, *, max_jobs: int, reply_url: str | None) -> Request:
    body: dict[str, object] = {"email": email, "maxJobs": max_jobs}
    if reply_url is not None:
        body["replyUrl"] = reply_url
    return Request("POST", f"accounts/{_segment(email)}", json=body)


def list_accounts() -> Request:
    return Request("GET", "accounts")


def get_account(email: str) -> Request:
    return Request("GET", f"accounts/{_segment(email)}")


def delete_account(email: str) -> Request:
    return Request("DELETE", f"accounts/{_segment(email)}")


def features(email: str | None) -> Request:
    return Request("GET", "features", params={"email": email} if email else None)


# Extensions ------------------------------------------------------------------------------------


def engines() -> Request:
    return Request("GET", "engines")
