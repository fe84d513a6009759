"""From a validated request to a plan: input assets, output length, name and echoed options.

Each operation's own rules live here (the 40 s upscale limit, extension lineage, how `seconds`
resolves), so admission itself is the same for every endpoint.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from taxiway.assets.presenter import group_of
from taxiway.assets.service import get_owned_asset
from taxiway.core import ids
from taxiway.core.errors import BadRequest
from taxiway.core.model_config import AnyWanModel
from taxiway.core.settings import Settings
from taxiway.engines.catalog import EngineChoice
from taxiway.engines.classic.looks import resolve_look
from taxiway.engines.neural.frame_plan import generation_size
from taxiway.media.expand_layout import aspect_ratio
from taxiway.media.geometry import four_k_class
from taxiway.store.models import Asset
from taxiway.tasks.operations import (
    GEN3TURBO_EXTEND_SECONDS,
    MAX_EXTENDED_SECONDS,
    MAX_EXTENSIONS,
    MAX_SEED,
    MAX_UPSCALE_SOURCE_SECONDS,
    Operation,
)

# gen3turbo/video renders 720p-class frames at these sizes (the contract's options show them).
VIDEO_TO_VIDEO_SIZES = {"landscape": (1280, 768), "portrait": (768, 1280)}
EXPAND_DEFAULT_MAX_SECONDS = 10.0


@dataclass
class Plan:
    operation: Operation
    params: dict[str, Any]  # what the engine receives: validated values plus resolved ones
    inputs: dict[str, Asset]  # role ("video", "image") -> asset
    output_seconds: float  # seconds the task is charged for
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def input_asset_ids(self) -> dict[str, str]:
        return {role: asset.id for role, asset in self.inputs.items()}


# Extensions dropped from a source's name before an artifact's filename is made from it.
MEDIA_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts"}
    | {".mts", ".wmv", ".flv", ".3gp", ".ogv"}
)


def name_stem(name: str) -> str:
    """``holiday.mp4`` → ``holiday``: a filename built from it gets one extension, not two."""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 and name[dot:].lower() in MEDIA_EXTENSIONS else name


def artifact_filename(base: str) -> str:
    """``base`` + ``.mp4`` as a safe filename: no path separators or control characters, and short
    enough for the asset's name column (a prompt can be 1000 characters)."""
    clean = "".join("-" if ch in "/\\" or not ch.isprintable() else ch for ch in base).strip()
    return f"{clean[:480] or 'output'}.mp4"


def credits_for(plan: Plan, settings: Settings) -> int:
    rate = {
        "upscale": settings.credits_per_second_upscale,
        "gen3turbo": settings.credits_per_second_gen3turbo,
        "gen3": settings.credits_per_second_gen3,
    }[plan.operation.price_class]
    # Round up, with a little slack so 2.0000001 s is not billed as a whole extra credit.
    return math.ceil(rate * plan.output_seconds - 1e-6)


def _video_input(session: Session, user_id: str, op: Operation, values: dict[str, Any]) -> Asset:
    field_name = op.video_field
    asset = get_owned_asset(session, user_id, values[field_name], field_name, op.missing_video_word)
    if asset.media_type != "video":
        raise BadRequest(
            f"{field_name} {values[field_name]} is an {asset.media_type}; {op.path} needs a video asset"
        )
    return asset


def _image_input(session: Session, user_id: str, op: Operation, values: dict[str, Any]) -> Asset | None:
    if not op.image_field or not values.get(op.image_field):
        return None
    asset = get_owned_asset(session, user_id, values[op.image_field], op.image_field)
    if asset.media_type != "image":
        raise BadRequest(
            f"{op.image_field} {values[op.image_field]} is a {asset.media_type}; it must be an image asset"
        )
    return asset


def _duration(asset: Asset) -> float:
    return float(asset.duration or 0.0)


def _common_options(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "exploreMode": values["exploreMode"]}


def _generative_options(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        **_common_options(name, values),
        "text_prompt": values.get("text_prompt"),
        "seed": values["seed"],
        "seconds": values["seconds"],
        "watermark": False,
        "assetGroupName": "Generative Video",
        "recordingEnabled": True,
    }


def _plan_upscale(op: Operation, values: dict[str, Any], video: Asset) -> Plan:
    duration = _duration(video)
    if duration > MAX_UPSCALE_SOURCE_SECONDS:
        raise BadRequest(
            f"{op.video_field} duration ({duration:.2f}s) exceeds maximum "
            f"{MAX_UPSCALE_SOURCE_SECONDS:g}s for video upscale"
        )
    width, height = four_k_class(video.width, video.height)
    name = f"Upscaled {video.name}"
    options = _common_options(name, values) | {
        "asset_id": video.id,
        "asset_type": "video",
        "video_name": video.name,
        "scale_factor": round(max(width, height) / max(video.width, video.height), 3),
        "width": width,
        "height": height,
    }
    # Both pages show the source's group; gen3alpha/upscale also the artifact it upscales.
    options["parent_asset_group_id"] = group_of(video)
    if op.path == "gen3alpha/upscale":
        options["task_artifact_id"] = video.id
    if op.path == "videos/upscale":
        options |= {
            "creationSource": "apps",
            "creationSourceAppId": "upscale-video",
            "recordingEnabled": True,
        }
    # videos/upscale's page: "<source name> 4K.mp4"; gen3alpha/upscale shows none, so the same.
    params = {
        "width": width,
        "height": height,
        "artifact_name": artifact_filename(f"{name_stem(video.name)} 4K"),
    }
    return Plan(op, params, {"video": video}, duration, name, options)


def _video_to_video_size(aspect_ratio: str, engine: EngineChoice) -> tuple[int, int]:
    width, height = VIDEO_TO_VIDEO_SIZES[aspect_ratio]
    if isinstance(engine.config, AnyWanModel):  # the contract's 5:3 (or 3:5) at the model's resolution
        return generation_size(width, height, engine.config.resolution)
    return width, height


def _plan_video_to_video(op: Operation, values: dict[str, Any], video: Asset, engine: EngineChoice) -> Plan:
    width, height = _video_to_video_size(values["aspect_ratio"], engine)
    seconds = min(float(values["seconds"]), _duration(video))
    name = f"Gen-3 Alpha Turbo {values['seed']}, {values['text_prompt']}"[:1000]
    options = _generative_options(name, values)
    if not engine.neural:
        # Shown before the task runs, so users see at once which look their prompt selected.
        look = resolve_look(values["text_prompt"])
        options |= {"look": look.name, "look_note": look.describe()}
    options |= {
        "structure_transformation": values["structure_transformation"] / 10,
        "flip": values["aspect_ratio"] == "portrait",
        "width": width,
        "height": height,
        "resolution": values["resolution"],
        "enhance_prompt": False,
    }
    params = {
        "width": width,
        "height": height,
        "output_seconds": seconds,
        "artifact_name": artifact_filename(name_stem(name)),
    }
    return Plan(op, params, {"video": video}, seconds, name, options)


def _plan_expand(op: Operation, values: dict[str, Any], video: Asset, image: Asset | None) -> Plan:
    duration = _duration(video)
    requested = values["seconds"]
    seconds = min(float(requested), duration) if requested else min(duration, EXPAND_DEFAULT_MAX_SECONDS)
    # Echoed as the page shows it: a whole number of seconds is an integer (5, not 5.0).
    shown = round(seconds, 3)
    values = values | {"seconds": requested if requested else int(shown) if shown.is_integer() else shown}
    name = f"Expanded {video.name}"
    # The contract's responses show the ratio ("5:3" for landscape), and the engines get it too.
    ratio = aspect_ratio(values["outpaint_aspect_ratio"])
    options = _generative_options(name, values) | {"outpaint_aspect_ratio": ratio}
    inputs = {"video": video} | ({"image": image} if image else {})
    params = {
        "outpaint_aspect_ratio": ratio,
        "output_seconds": seconds,
        "artifact_name": artifact_filename(f"Expanded {name_stem(video.name)}"),
    }
    return Plan(op, params, inputs, seconds, name, options)


def _plan_extend(op: Operation, values: dict[str, Any], video: Asset) -> Plan:
    seconds = values.get("seconds") or GEN3TURBO_EXTEND_SECONDS
    values = values | {"seconds": seconds}
    field_name = op.video_field
    if video.extended_count >= MAX_EXTENSIONS:
        raise BadRequest(
            f"{field_name} has already been extended {video.extended_count} times; "
            f"a video can be extended at most {MAX_EXTENSIONS} times"
        )
    total = _duration(video) + seconds
    if total > MAX_EXTENDED_SECONDS + 1e-6:
        raise BadRequest(
            f"{field_name} is {_duration(video):.2f}s long; extending it by {seconds}s would make "
            f"{total:.2f}s, over the {MAX_EXTENDED_SECONDS:g}s maximum of an extended video"
        )
    extended_count = video.extended_count + 1
    parent_task = (
        ids.compose("task", video.user_id, video.account.email, video.task_id) if video.task_id else None
    )
    name = f"{video.name} extended by {seconds}s"
    options = _generative_options(name, values) | {
        "extended_from_task_id": parent_task,
        "image_as_end_frame": False,
        "extended_count": extended_count,
    }
    params = {
        "extend_seconds": seconds,
        "extended_count": extended_count,
        "artifact_name": artifact_filename(f"{name_stem(video.name)} extended by {seconds}s"),
    }
    # Charged for the generated seconds only: the source part is copied, not generated.
    return Plan(op, params, {"video": video}, float(seconds), name, options)


def plan_task(
    session: Session, user_id: str, op: Operation, values: dict[str, Any], engine: EngineChoice
) -> Plan:
    """Resolve inputs and apply the operation's rules for ``engine``; raises BadRequest / NotFound."""
    video = _video_input(session, user_id, op, values)
    image = _image_input(session, user_id, op, values)
    if "seed" in values and values["seed"] is None:
        # A drawn seed is recorded in the options, so any output can be reproduced.
        values = values | {"seed": 1 + secrets.randbelow(MAX_SEED)}
    match op.engine_operation:
        case "upscale":
            plan = _plan_upscale(op, values, video)
        case "video_to_video":
            plan = _plan_video_to_video(op, values, video, engine)
        case "expand":
            plan = _plan_expand(op, values, video, image)
        case "extend":
            plan = _plan_extend(op, values, video)
    if plan.output_seconds <= 0:
        raise BadRequest(f"{op.video_field} has no duration; it cannot be processed")
    engine_values = {k: v for k, v in values.items() if k not in ("replyUrl", "replyRef", "maxJobs", "email")}
    # The worker builds the engine the model names (the API servers' and workers' catalogs agree).
    # What the task makes joins its source's asset group.
    plan.params = engine_values | plan.params | {"model": engine.model, "asset_group_id": group_of(video)}
    plan.options["model"] = engine.model
    return plan
