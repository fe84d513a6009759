"""The server's own disks: a free-space floor, and "disk full" told apart from other failures.

A full disk is the operator's problem, not the caller's input: it answers 507 naming the store that
filled up, never a 500, and a task that runs out of space fails as STORAGE_FULL (refunded) rather
than as a bad input. Under the floor (``min_free_disk_mb``) uploads and new tasks are refused up
front, so the disk never fills in the middle of someone's work, and ``/health`` says so.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taxiway.core.errors import ApiError
from taxiway.core.settings import Settings

MB = 1024**2
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# As SQLite, PostgreSQL and FFmpeg word it where no errno survives.
_FULL_MESSAGES = ("database or disk is full", "No space left on device", "Disk quota exceeded")


@dataclass(frozen=True)
class Store:
    """A place on this machine's disks that the server writes to."""

    name: str  # as a user reads it: "scratch space", "file storage", "database"
    path: Path

    def free_bytes(self) -> int:
        path = self.path
        while not path.exists() and path != path.parent:  # not created yet: its disk is the parent's
            path = path.parent
        return shutil.disk_usage(path).free


def local_stores(settings: Settings, *, database: bool = True) -> list[Store]:
    """The stores on local disks: scratch always; files and the database when they are local
    (``database=False`` in a worker, which never touches it)."""
    stores = [Store("scratch space", settings.scratch_dir)]
    if settings.blob_backend == "local":
        stores.append(Store("file storage", settings.resolved_blob_dir))
    url = settings.resolved_database_url
    if database and url.startswith("sqlite:///"):
        stores.append(Store("database", Path(url.removeprefix("sqlite:///")).parent))
    return stores


class StorageFull(ApiError):
    """507: a store of this server has no room (or less than the floor) for more work."""

    REASON = "STORAGE_FULL"

    def __init__(self, message: str) -> None:
        super().__init__(507, message)


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB"


def _measured(settings: Settings) -> list[tuple[Store, int, bool]]:
    """Each local store, its free bytes, and whether that is under the floor: the one reading that
    refusals and /health share, so that they always agree."""
    floor = settings.min_free_disk_mb * MB
    frees = [(store, store.free_bytes()) for store in local_stores(settings)]
    return [(store, free, free < floor) for store, free in frees]


def check_floor(settings: Settings) -> None:
    """Raise StorageFull when a local store has less free space than ``min_free_disk_mb``."""
    floor = settings.min_free_disk_mb * MB
    for store, free, under in _measured(settings):
        if under:
            raise StorageFull(
                f"The server's {store.name} is almost full ({_mb(free)} free, under the floor of "
                f"{_mb(floor)}, TAXIWAY_MIN_FREE_DISK_MB): uploads and new tasks are refused until the "
                "operator frees space"
            )


def full_disk_error(
    settings: Settings, exc: BaseException, what: str = "This request", *, database: bool = True
) -> StorageFull:
    """The error for ``exc``, a write that found a disk full, naming the store it wrote to."""
    store = _store_written(local_stores(settings, database=database), exc)
    return StorageFull(
        f"{what} could not be completed: the server's {store.name} is full; nothing was kept, "
        "try again once the operator frees space"
    )


def _store_written(stores: list[Store], exc: BaseException) -> Store:
    """The store holding the file ``exc`` names, else the one with the least free space."""
    for error in _chain(exc):
        name = getattr(error, "filename", None)
        if isinstance(name, str | Path):
            path = Path(name).resolve()
            for store in sorted(stores, key=lambda store: len(store.path.parts), reverse=True):
                if path.is_relative_to(store.path.resolve()):
                    return store
    return min(stores, key=lambda store: store.free_bytes())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a write that found no room on a disk."""
    return any(
        (isinstance(error, OSError) and error.errno in _FULL_ERRNOS)
        or any(message in str(error) for message in _FULL_MESSAGES)
        for error in _chain(exc)
    )


def disk_report(settings: Settings) -> dict[str, Any]:
    """For /health: each local store's free space and whether it is under the floor."""
    stores = [
        {"store": store.name, "freeMB": round(free / MB), "underFloor": under}
        for store, free, under in _measured(settings)
    ]
    return {"floorMB": settings.min_free_disk_mb, "stores": stores}
