"""The operation endpoints of the contract: their fields, task types, prices and engine operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from taxiway.accounts.service import EMAIL_HINT, EMAIL_PATTERN, MAX_EMAIL_LENGTH
from taxiway.core import ids
from taxiway.core.fields import FieldSpec
from taxiway.media.expand_layout import ASPECT_NAMES, ASPECTS
from taxiway.webhooks.addresses import CALLBACK_URL_HINT, CALLBACK_URL_PATTERN

EngineOperation = Literal["upscale", "video_to_video", "expand", "extend"]
PriceClass = Literal["upscale", "gen3turbo", "gen3"]

MAX_SEED = 4294967294
MAX_UPSCALE_SOURCE_SECONDS = 40.0
MAX_EXTENSIONS = 3
MAX_EXTENDED_SECONDS = 40.0
GEN3TURBO_EXTEND_SECONDS = 8
MAX_PROMPT_LENGTH = 1000

COMMON_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "exploreMode",
        "boolean",
        "Free relaxed generation for accounts on the unlimited plan; scheduled after paid work.",
        default=False,
    ),
    FieldSpec(
        "replyUrl",
        "string",
        "Callback URL that receives the task on every status change; defaults to the account's.",
        max_length=1024,
        pattern=CALLBACK_URL_PATTERN,
        pattern_hint=CALLBACK_URL_HINT,
    ),
    FieldSpec("replyRef", "string", "Your reference, returned with the task.", max_length=1024),
    FieldSpec(
        "maxJobs",
        "integer",
        "Concurrent task limit for this request's account; defaults to the account's maxJobs.",
        minimum=1,
        maximum=10,
    ),
    FieldSpec(
        "email",
        "string",
        "Extension: the account to run on. Defaults to the input asset's account, or any account "
        "of yours with free capacity.",
        max_length=MAX_EMAIL_LENGTH,
        pattern=EMAIL_PATTERN,
        pattern_hint=EMAIL_HINT,
    ),
    FieldSpec(
        "model",
        "string",
        "Extension: the engine to run, by model name ('classic' for the classic engine); "
        "GET /v1/runwayml/engines lists them. Defaults to the operation's configured default.",
        max_length=64,
    ),
)


def _seed() -> FieldSpec:
    return FieldSpec("seed", "integer", "Seed for reproducible output.", minimum=1, maximum=MAX_SEED)


def _prompt(required: bool, description: str) -> FieldSpec:
    return FieldSpec(
        "text_prompt",
        "string",
        description,
        required=required,
        max_length=MAX_PROMPT_LENGTH,
        allow_empty=not required,
    )


def _asset(name: str, description: str, required: bool = True) -> FieldSpec:
    return FieldSpec(
        name,
        "string",
        description,
        required=required,
        max_length=500,
        pattern=ids.ref_pattern("asset"),
        pattern_hint=ids.ref_hint("asset"),
    )


@dataclass(frozen=True)
class Operation:
    path: str  # under /v1/runwayml/
    engine_operation: EngineOperation
    task_type: str
    price_class: PriceClass
    video_field: str
    image_field: str | None
    fields: tuple[FieldSpec, ...]
    summary: str
    # videos/upscale's examples show progressRatio as a string ("0" … "1"); the others a number.
    ratio_as_text: bool = False
    # The word a 404 for the video uses (videos/upscale's page says "assetId" for videoAssetId).
    missing_video_word: str | None = None

    @property
    def all_fields(self) -> tuple[FieldSpec, ...]:
        return self.fields + COMMON_FIELDS


OPERATIONS: dict[str, Operation] = {
    op.path: op
    for op in (
        Operation(
            path="gen3alpha/upscale",
            engine_operation="upscale",
            task_type="harrods",
            price_class="upscale",
            video_field="assetId",
            image_field=None,
            fields=(_asset("assetId", "The video asset to upscale to 4K."),),
            summary="Upscale a video to 4K (source aspect ratio kept).",
        ),
        Operation(
            path="videos/upscale",
            engine_operation="upscale",
            task_type="harrods",
            price_class="upscale",
            video_field="videoAssetId",
            image_field=None,
            fields=(_asset("videoAssetId", "Any video asset of at most 40 seconds."),),
            summary="Upscale any video of up to 40 seconds to 4K.",
            ratio_as_text=True,
            missing_video_word="assetId",
        ),
        Operation(
            path="gen3turbo/video",
            engine_operation="video_to_video",
            task_type="gen3a_turbo",
            price_class="gen3turbo",
            video_field="assetId",
            image_field=None,
            fields=(
                _asset("assetId", "The video asset to restyle."),
                _prompt(True, "Describe the desired changes."),
                FieldSpec(
                    "structure_transformation",
                    "number",
                    "How far the output may move from the input's structure.",
                    default=3,
                    minimum=0,
                    maximum=10,
                ),
                FieldSpec(
                    "aspect_ratio",
                    "string",
                    "Output orientation.",
                    default="landscape",
                    choices=("landscape", "portrait"),
                ),
                FieldSpec("seconds", "integer", "Output length in seconds.", default=10, choices=(5, 10)),
                FieldSpec("resolution", "string", "Output resolution.", default="720p", choices=("720p",)),
                _seed(),
            ),
            summary="Restyle a video guided by a text prompt (video to video).",
        ),
        Operation(
            path="gen3turbo/expand",
            engine_operation="expand",
            task_type="gen3a_turbo",
            price_class="gen3turbo",
            video_field="videoAssetId",
            image_field="imageAssetId",
            fields=(
                _asset("videoAssetId", "The video asset to expand (outpaint)."),
                _asset("imageAssetId", "Optional image guiding the new area.", required=False),
                _prompt(False, "Optional text prompt."),
                FieldSpec(
                    "seconds",
                    "integer",
                    "Output length; the video's own duration (at most 10 s) when absent.",
                    choices=(5, 10),
                ),
                _seed(),
                FieldSpec(
                    "outpaint_aspect_ratio",
                    "string",
                    "Output aspect ratio: landscape (5:3, as the hosted API renders it) or portrait "
                    "(3:5); 5:3, 3:5, 16:9 and 9:16 are accepted too.",
                    default="landscape",
                    choices=(*ASPECT_NAMES, *ASPECTS),
                ),
            ),
            summary="Expand (outpaint) a video to another aspect ratio.",
        ),
        Operation(
            path="gen3/extend",
            engine_operation="extend",
            task_type="gen3a",
            price_class="gen3",
            video_field="assetId",
            image_field=None,
            fields=(
                _asset("assetId", "The video asset to extend."),
                _prompt(False, "Optional text prompt describing the shot."),
                FieldSpec("seconds", "integer", "Seconds to add.", default=5, choices=(5, 10)),
                _seed(),
            ),
            summary="Extend a video by 5 or 10 seconds (at most three times, 40 s in all).",
        ),
        Operation(
            path="gen3turbo/extend",
            engine_operation="extend",
            task_type="gen3a_turbo",
            price_class="gen3turbo",
            video_field="assetId",
            image_field=None,
            fields=(
                _asset("assetId", "The video asset to extend."),
                _prompt(False, "Optional text prompt describing the shot."),
                _seed(),
            ),
            summary=f"Extend a video by {GEN3TURBO_EXTEND_SECONDS} seconds (Gen-3 Alpha Turbo).",
        ),
    )
}
