"""The attempt contract: the job a worker runs, its inputs, its outcome, and the closed set of
messages between a supervisor and the worker process it owns.

Workers never touch the database, so nothing here imports it: a worker process (local child or
Ray actor) loads neither SQLAlchemy nor Alembic (tests/unit/test_import_rules.py holds it).
Errors cross the process boundary as data (JobDone.error), never as exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taxiway.blobs.stored_media import StoredMedia
from taxiway.core.settings import Settings
from taxiway.media.probe import MediaKind


def worker_settings(settings: Settings) -> dict[str, Any]:
    """The settings a worker process (local child or Ray actor) is built from: what engines and the
    blob store need, nothing more.

    Paths are made absolute because a worker's working directory may not be ours (Ray's is not).
    The database URL and the link-signing key stay behind: workers never touch the database or
    sign links, so a compromised engine cannot reach either.
    """
    data = settings.model_dump(mode="json")
    data["data_dir"] = str(settings.data_dir.resolve())
    if settings.blob_dir is not None:
        data["blob_dir"] = str(settings.blob_dir.resolve())
    data["database_url"] = ""
    data["secret_key"] = ""
    return data


@dataclass(frozen=True)
class InputRef:
    blob_key: str
    content_type: str
    media_type: MediaKind


@dataclass(frozen=True)
class ClaimedTask:
    """Everything a worker needs to run one attempt; no database access required."""

    task_id: str
    attempt: int
    operation: str  # engine operation, e.g. "upscale"
    params: dict[str, Any]  # params["model"]: the model admission chose
    inputs: dict[str, InputRef]
    engine: str | None = None  # the engine admission chose for it (what options.engine shows)

    @property
    def output_prefix(self) -> str:
        return f"artifacts/{self.task_id}/{self.attempt}"

    @property
    def live_preview_prefix(self) -> str:
        """Where this attempt's live preview stills go: inside its output prefix, so whatever deletes
        an attempt's files (lost, stale, killed) deletes them too."""
        return f"{self.output_prefix}/live"


# Supervisor -> worker
@dataclass(frozen=True)
class RunJob:
    job: ClaimedTask


@dataclass(frozen=True)
class CancelJob:
    task_id: str
    attempt: int


@dataclass(frozen=True)
class Shutdown:
    pass


# Worker -> supervisor
@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class JobProgress:
    task_id: str
    attempt: int
    ratio: float
    text: str | None
    # The attempt's latest live preview still in the blob store (every report repeats it, so that
    # coalescing reports loses none); None before its first.
    preview_key: str | None = None


@dataclass(frozen=True)
class JobDone:
    task_id: str
    attempt: int
    artifact: StoredMedia | None = None
    error: str | None = None
    reason: str | None = None
    cancelled: bool = False
    input_warnings: tuple[str, ...] = ()  # what was wrong with the input and how it was handled

    @property
    def succeeded(self) -> bool:
        return self.artifact is not None
