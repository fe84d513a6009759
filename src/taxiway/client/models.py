"""Typed views of the contract's JSON. Lenient on purpose: every field of the contract is optional,
and other servers speaking it format numbers as strings; `raw` keeps the whole object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dimensions(metadata: dict[str, Any]) -> tuple[int | None, int | None]:
    size = metadata.get("size")
    if isinstance(size, dict):
        return _integer(size.get("width")), _integer(size.get("height"))
    dims = metadata.get("dimensions")
    if isinstance(dims, list | tuple) and len(dims) == 2:
        return _integer(dims[0]), _integer(dims[1])
    return _integer(metadata.get("width")), _integer(metadata.get("height"))


@dataclass(frozen=True)
class MediaInfo:
    """What the server measured of a video or image."""

    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None

    @classmethod
    def from_json(cls, metadata: Any) -> MediaInfo:
        if not isinstance(metadata, dict):
            return cls()
        width, height = _dimensions(metadata)
        return cls(width, height, _number(metadata.get("duration")), _number(metadata.get("frameRate")))


@dataclass(frozen=True)
class Artifact:
    """One output file of a finished task; `url` is a signed download link."""

    asset_id: str
    filename: str | None
    url: str | None
    file_size: int | None
    media: MediaInfo
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            asset_id=_text(data.get("assetId")) or _text(data.get("id")) or "",
            filename=_text(data.get("filename")),
            url=_text(data.get("url")),
            file_size=_integer(data.get("fileSize")),
            media=MediaInfo.from_json(data.get("metadata")),
            raw=data,
        )


@dataclass(frozen=True)
class Task:
    task_id: str
    status: str
    name: str | None
    task_type: str | None
    progress_ratio: float
    progress_text: str | None
    estimated_time_to_start: float | None
    error: dict[str, Any] | str | None
    artifacts: tuple[Artifact, ...]
    options: dict[str, Any]
    created_at: str | None
    updated_at: str | None
    reply_ref: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        artifacts = data.get("artifacts")
        options = data.get("options")
        return cls(
            task_id=_text(data.get("taskId")) or _text(data.get("id")) or "",
            status=_text(data.get("status")) or "UNKNOWN",
            name=_text(data.get("name")),
            task_type=_text(data.get("taskType")),
            progress_ratio=min(1.0, max(0.0, _number(data.get("progressRatio")) or 0.0)),
            progress_text=_text(data.get("progressText")),
            estimated_time_to_start=_number(data.get("estimatedTimeToStartSeconds")),
            error=data.get("error") if isinstance(data.get("error"), dict | str) else None,
            artifacts=tuple(Artifact.from_json(item) for item in artifacts or [] if isinstance(item, dict))
            if isinstance(artifacts, list)
            else (),
            options=options if isinstance(options, dict) else {},
            created_at=_text(data.get("createdAt")),
            updated_at=_text(data.get("updatedAt")),
            reply_ref=_text(data.get("replyRef")),
            raw=data,
        )

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
        return _text(self.options.get("engine"))


@dataclass(frozen=True)
class Asset:
    asset_id: str
    name: str | None
    media_type: str | None
    url: str | None
    file_size: int | None
    media: MediaInfo
    email: str | None
    created_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    # taxiway's additive fields (None from servers without them).
    group_id: str | None = None
    sha256: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Asset:
        return cls(
            asset_id=_text(data.get("assetId")) or _text(data.get("id")) or "",
            name=_text(data.get("name")),
            media_type=_text(data.get("mediaType")),
            url=_text(data.get("url")),
            file_size=_integer(data.get("fileSize")),
            media=MediaInfo.from_json(data.get("metadata")),
            email=_text(data.get("email")),
            created_at=_text(data.get("createdAt")),
            raw=data,
            group_id=_text(data.get("assetGroupId")),
            sha256=_text(data.get("contentSha256")),
        )


@dataclass(frozen=True)
class Account:
    email: str
    max_jobs: int | None
    reply_url: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(
            email=_text(data.get("email")) or "",
            max_jobs=_integer(data.get("maxJobs")),
            reply_url=_text(data.get("replyUrl")),
            raw=data,
        )


@dataclass(frozen=True)
class Credits:
    """GET features: the credits an account may spend and has spent."""

    email: str | None
    permitted: int | None
    used: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def available(self) -> int | None:
        return None if self.permitted is None or self.used is None else self.permitted - self.used

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credits:
        def credits(kind: str) -> int | None:
            nested = data.get(kind)
            if isinstance(nested, dict) and "numPlanCredits" in nested:
                return _integer(nested["numPlanCredits"])
            return _integer(data.get(f"numPlanCredits_{kind}"))

        return cls(
            email=_text(data.get("email")), permitted=credits("permitted"), used=credits("used"), raw=data
        )


@dataclass(frozen=True)
class EngineInfo:
    """One engine a server offers for an operation (taxiway's GET engines extension)."""

    model: str  # what a request's `model` field names: a configured model, or "classic"
    engine: str  # what tasks show in options.engine
    kind: str  # "classic", "spandrel", "wan-vace", ...
    default: bool  # what a request naming no model gets
    status: str  # "ready", "missing weights" or "not installed"
    problem: str | None
    path: str | None
    settings: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineInfo:
        settings = data.get("settings")
        return cls(
            model=_text(data.get("model")) or "",
            engine=_text(data.get("engine")) or "",
            kind=_text(data.get("kind")) or "",
            default=data.get("default") is True,
            status=_text(data.get("status")) or "unknown",
            problem=_text(data.get("problem")),
            path=_text(data.get("path")),
            settings=settings if isinstance(settings, dict) else {},
            raw=data,
        )


@dataclass(frozen=True)
class Engines:
    """The engines offered per operation (default first) and the device neural ones run on."""

    device: dict[str, Any]
    operations: dict[str, list[EngineInfo]]
    raw: dict[str, Any] = field(repr=False, compare=False)

    def default(self, operation: str) -> EngineInfo | None:
        """The engine a request for `operation` (e.g. "upscale") gets when it names no model."""
        offered = self.operations.get(operation, [])
        return next((engine for engine in offered if engine.default), offered[0] if offered else None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Engines:
        device = data.get("device")
        operations = data.get("operations")
        return cls(
            device=device if isinstance(device, dict) else {},
            operations={
                str(operation): [EngineInfo.from_json(item) for item in items if isinstance(item, dict)]
                for operation, items in (operations.items() if isinstance(operations, dict) else [])
                if isinstance(items, list)
            },
            raw=data,
        )
