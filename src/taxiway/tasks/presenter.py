"""Tasks as the contract shows them (GET tasks, create responses and callbacks)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from taxiway.accounts.service import TASK_FEATURES_SCHEMA, task_features_json
from taxiway.assets.presenter import ARTIFACT_SCHEMA, artifact_json
from taxiway.blobs.links import Links
from taxiway.core import ids
from taxiway.core.json_schema import (
    INTEGER,
    NULL,
    NUMBER,
    OBJECT,
    STRING,
    TIMESTAMP,
    array,
    closed,
    described,
    enum,
    nullable,
)
from taxiway.core.timestamps import iso
from taxiway.store import states
from taxiway.store.models import Asset, Task
from taxiway.store.states import ALL_STATUSES
from taxiway.tasks.operations import OPERATIONS
from taxiway.tasks.queue import queue_positions


@dataclass
class TaskView:
    task: Task
    artifacts: list[Asset]
    inputs: dict[str, Asset]  # role -> asset, for the input links the options show
    queue_position: int | None = None  # while waiting: 1 = the next task of its kind to be claimed


def task_ref(task: Task) -> str:
    return ids.compose("task", task.user_id, task.account.email, task.id)


def load_views(session: Session, tasks: Sequence[Task]) -> list[TaskView]:
    """Artifacts and inputs of many tasks in one query, and the waiting ones' queue positions."""
    task_ids = {task.id for task in tasks}
    input_ids = {asset_id for task in tasks for asset_id in (task.input_asset_ids or {}).values()}
    artifacts: dict[str, list[Asset]] = defaultdict(list)
    by_id: dict[str, Asset] = {}
    if tasks:
        for asset in session.scalars(
            select(Asset)
            .where(or_(Asset.task_id.in_(task_ids), Asset.id.in_(input_ids)))
            .order_by(Asset.created_at)
        ):
            if asset.task_id in task_ids:
                artifacts[asset.task_id].append(asset)
            if asset.id in input_ids:
                by_id[asset.id] = asset
    positions = queue_positions(session, tasks)
    return [
        TaskView(
            task,
            artifacts.get(task.id, []),
            {
                role: by_id[asset_id]
                for role, asset_id in (task.input_asset_ids or {}).items()
                if asset_id in by_id
            },
            positions.get(task.id),
        )
        for task in tasks
    ]


def load_view(session: Session, task: Task) -> TaskView:
    return load_views(session, [task])[0]


def _input_links(view: TaskView, links: Links) -> dict[str, Any]:
    """The option fields that point at inputs, signed fresh on every read."""
    task = view.task
    video = view.inputs.get("video")
    image = view.inputs.get("image")
    video_url = links.blob(video.blob_key) if video else None
    video_previews = links.blobs(video.preview_keys) if video else []
    match task.operation:
        case "gen3alpha/upscale":
            return {"asset_url": video_url, "asset_preview_urls": video_previews}
        case "gen3turbo/video":
            return {"video_prompt": video_url}
        case "gen3turbo/expand":
            return {
                "outpaint_input_video": video_url,
                "outpaint_input_video_preview_image": video_previews[0] if video_previews else None,
                "outpaint_guiding_image": links.blob(image.blob_key) if image else None,
            }
        case "gen3/extend" | "gen3turbo/extend":
            return {"init_video": video_url}
    return {}


def _progress_ratio(task: Task) -> float | str | None:
    """As the endpoint's page shows it: a string from "0" to "1" for videos/upscale, else a number
    (null until the task first reports progress)."""
    ratio = task.progress_ratio
    if OPERATIONS[task.operation].ratio_as_text:
        return f"{round(ratio or 0.0, 4):g}"
    return ratio


def _live_preview_links(task: Task, links: Links) -> list[str]:
    """While RUNNING, a link to the latest still of its output; [] otherwise (a finished task's
    artifacts carry their own previewUrls). Each still has its own key, so a new one is a new URL."""
    if task.status != states.RUNNING or not task.preview_key:
        return []
    return links.blobs([task.preview_key])


def task_json(view: TaskView, links: Links) -> dict[str, Any]:
    task = view.task
    options = dict(task.options) | _input_links(view, links) | {"engine": task.engine}
    return {
        "taskId": task_ref(task),
        "id": task.id,
        "name": task.name,
        "image": None,
        "createdAt": iso(task.created_at),
        "updatedAt": iso(task.updated_at),
        "taskType": OPERATIONS[task.operation].task_type,
        "options": options,
        "status": task.status,
        "error": task.error,
        "progressText": task.progress_text,
        "progressRatio": _progress_ratio(task),
        "estimatedTimeToStartSeconds": round(task.estimated_time_to_start or 0),
        "queuePosition": view.queue_position,
        "previewUrls": _live_preview_links(task, links),
        "artifacts": [artifact_json(asset, links) for asset in view.artifacts],
        "sharedAsset": None,
        "sourceAssetId": None,
        "features": task_features_json(task.account),
        "replyUrl": task.reply_url,
        "replyRef": task.reply_ref,
        "code": 200,
    }


def running_task_json(task: Task) -> dict[str, Any]:
    """One entry of a 429 body's runningTasks and of GET scheduler."""
    return {
        "email": task.account.email,
        "taskId": task_ref(task),
        "id": task.id,
        "status": task.status,
        "replyUrl": task.reply_url,
        "replyRef": task.reply_ref,
    }


# The schemas of what task_json and running_task_json send (OpenAPI components Task, RunningTask).

TASK_SCHEMA = closed(
    {
        "taskId": STRING,
        "id": STRING,
        "name": STRING,
        "image": NULL,
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "taskType": enum(sorted({op.task_type for op in OPERATIONS.values()})),
        "options": described(OBJECT, "The request's options as the operation's page shows them, and engine."),
        "status": enum(ALL_STATUSES),
        "error": described(
            nullable(closed({"errorMessage": STRING, "reason": STRING, "message": STRING})),
            "Why a FAILED task failed; null otherwise.",
        ),
        "progressText": nullable(STRING),
        "progressRatio": described(
            {"anyOf": [NUMBER, STRING, NULL]},
            'From 0 to 1: a string ("0" … "1") for videos/upscale, a number (or null) for the others.',
        ),
        "estimatedTimeToStartSeconds": INTEGER,
        "queuePosition": described(
            nullable(INTEGER | {"minimum": 1}),
            "While PENDING or THROTTLED: 1 + the waiting tasks of its kind (classic or neural) to be claimed "
            "before it; null once it runs or has finished.",
        ),
        "previewUrls": described(
            array(STRING),
            "While RUNNING: one signed link to a recent still of the output (JPEG, at most 640 px on its "
            "longer side), a new link each time the still is refreshed; [] before the first and once the "
            "task has left RUNNING.",
        ),
        "artifacts": array(ARTIFACT_SCHEMA),
        "sharedAsset": NULL,
        "sourceAssetId": NULL,
        "features": TASK_FEATURES_SCHEMA,
        "replyUrl": nullable(STRING),
        "replyRef": nullable(STRING),
        "code": enum((200,)),
    }
)

RUNNING_TASK_SCHEMA = closed(
    {
        "email": STRING,
        "taskId": STRING,
        "id": STRING,
        "status": enum(ALL_STATUSES),
        "replyUrl": nullable(STRING),
        "replyRef": nullable(STRING),
    }
)
