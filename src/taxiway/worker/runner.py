"""Runs one claimed attempt with resident engines: inputs in, artifact stored, result as data.

Used inside every kind of worker process (the local executor's children today, Ray actors
later), so it touches only the blob store, never the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from taxiway.blobs.base import BlobNotFound, BlobStore
from taxiway.blobs.stored_media import StoredMedia, store_media
from taxiway.core import metrics
from taxiway.core.disk import StorageFull, full_disk_error, is_disk_full
from taxiway.core.scratch import sweep, working_dir
from taxiway.core.settings import Settings
from taxiway.engines.base import Engine, EngineError, EngineJob, Frame, StopRequested
from taxiway.engines.catalog import UnknownModel, choose
from taxiway.engines.registry import build_engine
from taxiway.media.input_warnings import InputWarnings
from taxiway.media.probe import MediaError, MediaInfo, probe_file
from taxiway.worker.contract import ClaimedTask, JobDone
from taxiway.worker.previews import LivePreviews

log = logging.getLogger(__name__)

# Engine progress fills the bar up to here; storing the artifact takes it to 1.
ENGINE_SHARE = 0.98
PROGRESS_INTERVAL_SECONDS = 0.25

# (ratio, text or None, the latest live preview still's blob key or None)
ReportProgress = Callable[[float, str | None, str | None], None]


class JobRunner:
    """Holds engines across tasks (built on first use) and runs attempts one at a time.

    Engines are kept by name, so one model serving several operations is loaded once. At most
    ``settings.resident_models`` neural engines stay loaded: loading another one first unloads
    the least recently used (classic engines hold no model and always stay).
    """

    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self._engines: dict[str, Engine] = {}  # by engine name, least recently used first
        self._neural: set[str] = set()
        self.sweep_scratch()

    @property
    def loaded(self) -> list[str]:
        """The engines this worker holds, by name, least recently used first."""
        return list(self._engines)

    def _engine(self, job: ClaimedTask) -> Engine:
        """The engine admission chose for ``job``, built here from this worker's configuration of
        the model it named (never a choice of the worker's own)."""
        model = job.params.get("model")
        try:
            choice = choose(job.operation, self.settings, model)
        except UnknownModel as exc:
            raise EngineError(
                f"This worker has no model {model!r} for {job.operation} ({exc}): the API servers and "
                "workers must share one models configuration.",
                reason="ENGINE_UNAVAILABLE",
            ) from exc
        if job.engine is not None and choice.engine != job.engine:
            raise EngineError(
                f"This worker's model {model!r} is {choice.engine}, but the task was admitted for "
                f"{job.engine}: the API servers and workers must share one models configuration.",
                reason="ENGINE_UNAVAILABLE",
            )
        engine = self._engines.pop(choice.engine, None)
        if engine is None:
            if choice.neural:
                self._unload_neural(keep=self.settings.resident_models - 1)
            engine = build_engine(choice, self.settings)
            if choice.neural:
                self._neural.add(choice.engine)
        self._engines[choice.engine] = engine
        return engine

    def _unload_neural(self, keep: int) -> None:
        loaded = [name for name in self._engines if name in self._neural]
        for name in loaded[: max(0, len(loaded) - keep)]:
            engine = self._engines.pop(name)
            self._neural.discard(name)
            close = getattr(engine, "close", None)
            if close is not None:
                close()
            log.info("unloaded %s to make room for another model", name)

    def run(self, job: ClaimedTask, report: ReportProgress, stop_requested: Callable[[], bool]) -> JobDone:
        progress = _ThrottledProgress(report, stop_requested)
        warnings = InputWarnings(on_change=progress.note)

        def done(**outcome: Any) -> JobDone:
            return JobDone(job.task_id, job.attempt, input_warnings=tuple(warnings.messages), **outcome)

        self.sweep_scratch()
        try:
            with working_dir(self.settings.scratch_dir / "jobs", f"{job.task_id}-{job.attempt}-") as work_dir:
                interval = self.settings.preview_interval_seconds
                progress.previews = LivePreviews(self.blobs, job.live_preview_prefix, work_dir, interval)
                return done(artifact=self._run(job, work_dir, progress, warnings))
        except StopRequested:
            return done(cancelled=True)
        except Exception as exc:
            if not is_disk_full(exc):
                return done(**_failure(job, exc))
            # Told apart from bad input (FFmpeg reports it as an encoding error): the operator's to fix.
            log.error("task %s attempt %s: a disk is full: %s", job.task_id, job.attempt, exc)
            full = full_disk_error(self.settings, exc, "The task", database=False)
            return done(error=full.message, reason=StorageFull.REASON)

    def sweep_scratch(self) -> None:
        """Delete the working files of attempts whose process died (a killed worker or server)."""
        for parent in ("jobs", "downloads"):
            for path in sweep(self.settings.scratch_dir / parent):
                log.info("removed %s, left by a worker that died", path)

    def _run(
        self, job: ClaimedTask, work_dir: Path, progress: _ThrottledProgress, warnings: InputWarnings
    ) -> StoredMedia:
        engine = self._engine(job)
        with ExitStack() as stack:
            paths = {
                role: stack.enter_context(self.blobs.local_path(ref.blob_key))
                for role, ref in job.inputs.items()
            }
            infos: dict[str, MediaInfo] = {
                role: probe_file(
                    paths[role], ref.media_type, ref.content_type, max_pixels=self.settings.max_video_pixels
                )
                for role, ref in job.inputs.items()
            }
            output_dir = work_dir / "out"
            output_dir.mkdir()
            started = time.monotonic()
            output = engine.run(
                EngineJob(
                    operation=job.operation,
                    params=job.params,
                    video=paths.get("video"),
                    video_info=infos.get("video"),
                    image=paths.get("image"),
                    image_info=infos.get("image"),
                    output_dir=output_dir,
                    warnings=warnings,
                ),
                progress,
            )
            engine_seconds = time.monotonic() - started
        progress.check_stop()
        try:
            stored = store_media(
                self.blobs,
                output,
                kind="video",
                content_type="video/mp4",
                key_prefix=job.output_prefix,
                basename="output",
                scratch_dir=work_dir,
                max_pixels=self.settings.max_video_pixels * 4,
            )
        except MediaError as exc:
            raise EngineError(
                f"The {engine.name} engine produced an unreadable output: {exc}", "INTERNAL_ERROR"
            ) from exc
        # Observed here, in the worker process: its metrics join the server's (multiprocess mode).
        metrics.engine_ran(engine.name, stored.info.frame_count or 0, engine_seconds)
        return stored


def _failure(job: ClaimedTask, exc: Exception) -> dict[str, str]:
    """The error and reason an attempt that raised ``exc`` reports."""
    if isinstance(exc, EngineError):
        return {"error": str(exc), "reason": exc.reason}
    if isinstance(exc, MediaError):
        return {"error": f"The input could not be used: {exc}", "reason": "INVALID_INPUT"}
    if isinstance(exc, BlobNotFound):
        return {
            "error": f"An input file is missing from storage ({exc}); was the asset deleted?",
            "reason": "INPUT_MISSING",
        }
    log.exception("task %s attempt %s failed inside the engine", job.task_id, job.attempt, exc_info=exc)
    return {
        "error": f"Internal error while running {job.operation}: {type(exc).__name__}: {exc}",
        "reason": "INTERNAL_ERROR",
    }


class _ThrottledProgress:
    """The Progress callback engines see: stop checks on every call, reports a few per second, and
    the live preview (every report names its latest still)."""

    def __init__(self, report: ReportProgress, stop_requested: Callable[[], bool]) -> None:
        self._report_to = report
        self._stop_requested = stop_requested
        self._last_sent = 0.0
        self._ratio = 0.0
        self._lock = threading.Lock()  # an engine may offer previews from another thread
        self.previews: LivePreviews | None = None

    def _report(self, ratio: float, text: str | None) -> None:
        with self._lock:
            self._report_to(ratio, text, self.previews.key if self.previews is not None else None)

    def preview(self, frame: Frame) -> None:
        """An output frame offered for the live preview; a new still is reported at once."""
        if self.previews is not None and self.previews.offer(frame):
            self._last_sent = time.monotonic()
            self._report(self._ratio, None)

    def check_stop(self) -> None:
        if self._stop_requested():
            raise StopRequested()

    def __call__(self, done: float, total: float, text: str | None = None) -> None:
        self.check_stop()
        # Kept even when not sent now: a preview or a note sent next shows the progress reached.
        self._ratio = (min(max(done / total, 0.0), 1.0) if total > 0 else 0.0) * ENGINE_SHARE
        now = time.monotonic()
        if now - self._last_sent < PROGRESS_INTERVAL_SECONDS and text is None:
            return
        self._last_sent = now
        self._report(self._ratio, text)

    def note(self, text: str) -> None:
        """Show ``text`` (an input warning) as the progress text now, at the progress reached."""
        self._last_sent = time.monotonic()
        self._report(self._ratio, text)
