"""A running attempt's live preview: every few seconds one of the frames its engine offers becomes a
JPEG still in the blob store, whose key goes to the supervisor with the attempt's progress.

Engines offer frames freely (``progress.preview(frame)``): taking none costs a clock read, so the
throttle lives here rather than in every engine. Stills are written by the worker itself, as its
artifact is, because a worker may run on another machine (a Ray actor) than the process that
records the task: only the key crosses over.

Each still has a key of its own (``<attempt's output prefix>/live/<n>.jpg``), so every refresh is a
new URL that no browser or proxy has cached, whatever signs the links (S3 presigned links cannot
take a cache-busting parameter). The two latest are kept: a client that has just read the task
still finds the still it was shown while the next one is recorded. A preview is best effort: one
that fails to be written is logged and skipped, never a failed task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame

from taxiway.blobs.base import BlobStore
from taxiway.media.previews import Stills

log = logging.getLogger(__name__)

MAX_SIDE = 640
KEEP = 2  # stills kept in the store: the one recorded and the one before it


class LivePreviews:
    """Turns offered frames into at most one stored still per ``interval`` seconds (0: none)."""

    def __init__(
        self,
        blobs: BlobStore,
        prefix: str,
        work_dir: Path,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._blobs = blobs
        self._prefix = prefix
        self._work_dir = work_dir
        self._interval = interval
        self._clock = clock
        self._next_at = clock()  # the first frame offered is taken at once
        self._stills = Stills(MAX_SIDE)
        self._written: list[str] = []
        self._lock = threading.Lock()  # engines may offer frames from another thread than progress
        self.key: str | None = None  # the latest still stored

    def offer(self, frame: VideoFrame | np.ndarray) -> bool:
        """Store ``frame`` as the new still if one is due; True when it was."""
        if self._interval <= 0 or self._clock() < self._next_at:
            return False
        with self._lock:
            now = self._clock()
            if now < self._next_at:
                return False
            self._next_at = now + self._interval
            number = len(self._written)
            key = f"{self._prefix}/{number}.jpg"
            try:
                still = self._stills.write(frame, self._work_dir / f"live-preview-{number}.jpg")
                self._blobs.put_file(key, still)
            except Exception:
                log.warning("a live preview still could not be stored under %s", key, exc_info=True)
                return False
            self._written.append(key)
            self.key = key
            if len(self._written) > KEEP:
                self._forget(self._written[-KEEP - 1])
            return True

    def _forget(self, key: str) -> None:
        try:
            self._blobs.delete(key)
        except Exception:  # what is left goes with the attempt's files
            log.warning("an old live preview still %s could not be deleted", key, exc_info=True)
