"""Typed views of the contract's JSON (pydantic models). Lenient on purpose: every field of the
contract is optional, null means absent, other servers format numbers as strings, and fields the
models do not name are kept (as attributes, and in `raw`, the whole object as received)."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)
from pydantic.alias_generators import to_camel

LIVE_STATUSES = frozenset({"PENDING", "THROTTLED", "RUNNING"})
FINISHED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _text_or(default: str | None) -> BeforeValidator:
    return BeforeValidator(lambda value: value if isinstance(value, str) else default)


def _only(kind: type | tuple[type, ...], default: Any) -> BeforeValidator:
    """Anything not of `kind` reads as `default`: a wrong shape never fails a whole response."""
    return BeforeValidator(lambda value: value if isinstance(value, kind) else default)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


Number = Annotated[float | None, BeforeValidator(_number)]
Integer = Annotated[int | None, BeforeValidator(_integer)]
Text = Annotated[str | None, _text_or(None)]
Name = Annotated[str, _text_or("")]
Texts = Annotated[tuple[str, ...], BeforeValidator(_strings)]
Object = Annotated[dict[str, Any], _only(dict, {})]


def _ids(*names: str) -> Any:
    # Task and asset objects carry their composite id (taskId, assetId) and a bare uuid (id).
    return Field("", validation_alias=AliasChoices(*names), serialization_alias=names[0])


class Model(BaseModel):
    """Base of the response models: camelCase in, snake_case out, immutable, `raw` kept."""

    # defer_build: schemas are built on first use, not when the CLI starts.
    model_config = ConfigDict(
        extra="allow", frozen=True, populate_by_name=True, alias_generator=to_camel, defer_build=True
    )
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if not isinstance(data, dict):
            return handler(data)
        model = handler({key: value for key, value in data.items() if value is not None})
        model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The object exactly as the server sent it."""
        return self._raw

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Parse a decoded JSON object; raises pydantic.ValidationError when it is not an object."""
        return cls.model_validate(data)


def _side(name: str, index: int) -> Any:
    # Servers send size {width, height}, dimensions [w, h] or plain width/height: the first found wins.
    return Field(
        None, validation_alias=AliasChoices(AliasPath("size", name), AliasPath("dimensions", index), name)
    )


class MediaInfo(Model):
    """What the server measured of a video or image."""

    width: Integer = _side("width", 0)
    height: Integer = _side("height", 1)
    duration: Number = None
    frame_rate: Number = None


Media = Annotated[MediaInfo, _only(dict, {})]


class Artifact(Model):
    """One output file of a finished task; `url` is a signed download link."""

    asset_id: str = _ids("assetId", "id")
    filename: Text = None
    url: Text = None
    file_size: Integer = None
    preview_urls: Texts = ()
    media: Media = Field(default_factory=MediaInfo, alias="metadata")


class Features(Model):
    """GET features, and the `features` every task carries: credits permitted and used, storage."""

    email: Text = None
    # GET features nests them ({"permitted": {"numPlanCredits": n}}); a task's features are flat.
    permitted: Integer = Field(
        None,
        validation_alias=AliasChoices(AliasPath("permitted", "numPlanCredits"), "numPlanCredits_permitted"),
    )
    used: Integer = Field(
        None, validation_alias=AliasChoices(AliasPath("used", "numPlanCredits"), "numPlanCredits_used")
    )
    storage_gb: Number = Field(None, alias="storageGB")
    # taxiway's additive fields (None from servers without them).
    storage_used_gb: Number = Field(None, alias="storageUsedGB")
    plan: Text = None

    @property
    def available(self) -> int | None:
        return None if self.permitted is None or self.used is None else self.permitted - self.used


Credits = Features  # the name the client first gave GET features' answer


class Task(Model):
    """A task as every create, GET tasks/{taskId} and callback answers it."""

    task_id: str = _ids("taskId", "id")
    status: Annotated[str, _text_or("UNKNOWN")] = "UNKNOWN"
    name: Text = None
    task_type: Text = None
    progress_ratio: Annotated[float, BeforeValidator(lambda v: min(1.0, max(0.0, _number(v) or 0.0)))] = 0.0
    progress_text: Text = None
    estimated_time_to_start: Number = Field(None, alias="estimatedTimeToStartSeconds")
    queue_position: Integer = None  # taxiway's, while waiting: 1 = the next to run (None elsewhere)
    preview_urls: Texts = ()  # taxiway's, while running: a link to a recent still of the output
    error: Annotated[dict[str, Any] | str | None, _only((dict, str), None)] = None
    artifacts: Annotated[tuple[Artifact, ...], BeforeValidator(_objects)] = ()
    options: Object = Field(default_factory=dict)
    created_at: Text = None
    updated_at: Text = None
    reply_url: Text = None
    reply_ref: Text = None
    features: Annotated[Features | None, _only(dict, None)] = None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def error_message(self) -> str | None:
        """The server's reason for a failure, in one line."""
        if isinstance(self.error, str):
            return self.error
        if isinstance(self.error, dict):
            for key in ("message", "errorMessage", "reason"):
                if isinstance(self.error.get(key), str) and self.error[key]:
                    return self.error[key]
            return str(self.error)
        return None

    @property
    def engine(self) -> str | None:
        """Which engine produced the result (a taxiway extension in `options`)."""
        engine = self.options.get("engine")
        return engine if isinstance(engine, str) else None


class Asset(Model):
    """An upload or an artifact, as GET assets/{assetId} answers it."""

    asset_id: str = _ids("assetId", "id")
    name: Text = None
    media_type: Text = None
    url: Text = None
    file_size: Integer = None
    preview_urls: Texts = ()
    media: Media = Field(default_factory=MediaInfo, alias="metadata")
    email: Text = None
    created_at: Text = None
    # taxiway's additive fields (None from servers without them).
    group_id: Text = Field(None, alias="assetGroupId")
    sha256: Text = Field(None, alias="contentSha256")


class Account(Model):
    """An account (POST/GET accounts/{email}): the bucket of credits and its concurrency limit."""

    email: Name = ""
    max_jobs: Integer = None
    reply_url: Text = None
    plan: Text = None  # taxiway's


class EngineInfo(Model):
    """One engine a server offers for an operation (taxiway's GET engines extension)."""

    model: Name = ""  # what a request's `model` names: a configured model, or "classic"
    engine: Name = ""  # what tasks show in options.engine
    kind: Name = ""  # "classic", "spandrel", "wan-vace", ...
    # What a request naming no model gets.
    default: Annotated[bool, BeforeValidator(lambda value: value is True)] = False
    status: Annotated[str, _text_or("unknown")] = "unknown"  # "ready", "missing weights" or "not installed"
    problem: Text = None
    path: Text = None
    settings: Object = Field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def _engine_lists(value: Any) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(value, dict):
        return {}
    return {str(operation): _objects(items) for operation, items in value.items() if isinstance(items, list)}


class Engines(Model):
    """The engines offered per operation (default first) and the device neural ones run on."""

    device: Object = Field(default_factory=dict)
    operations: Annotated[dict[str, list[EngineInfo]], BeforeValidator(_engine_lists)] = Field(
        default_factory=dict
    )

    def default(self, operation: str) -> EngineInfo | None:
        """The engine a request for `operation` (e.g. "upscale") gets when it names no model."""
        offered = self.operations.get(operation, [])
        return next((engine for engine in offered if engine.default), offered[0] if offered else None)
