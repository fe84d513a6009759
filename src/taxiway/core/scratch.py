"""Scratch space: working directories held by their process while it lives, swept once it does not.

Every working directory (an attempt's, an upload's, a download's) holds an exclusive ``flock`` on
its ``.owner`` file for as long as its process works in it. The kernel drops that lock when the
process dies, even by SIGKILL, so a sweep can tell what is garbage without asking the database or
knowing which executor made it: it deletes each directory whose lock it can take. Workers sweep at
start and before each job, API servers at start and before each upload (local and Ray alike), so
the leftovers of a killed worker or server go as soon as anything works there again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".owner"
# A directory found without its lock file is being made right now, unless it is older than this.
UNLOCKED_GRACE_SECONDS = 60.0


@contextmanager
def working_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A new directory under ``parent``, held by this process until the block ends, then deleted."""
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    # Locked before it gets its name, so that a sweep never finds the lock file unlocked.
    lock = os.open(path / f"{LOCK_NAME}.new", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.rename(path / f"{LOCK_NAME}.new", path / LOCK_NAME)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock)


def sweep(parent: Path) -> list[Path]:
    """Delete what under ``parent`` no live process holds; returns what was deleted."""
    try:
        entries = list(parent.iterdir())
    except FileNotFoundError:
        return []
    return [entry for entry in entries if _abandoned(entry) and _remove(entry)]


def _abandoned(entry: Path) -> bool:
    try:
        lock = os.open(entry / LOCK_NAME, os.O_RDWR)
    except (FileNotFoundError, NotADirectoryError):
        # Not ours to hold (a stray file, a directory from before locks): gone once it is old.
        try:
            return time.time() - entry.lstat().st_mtime > UNLOCKED_GRACE_SECONDS
        except FileNotFoundError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its process is alive and working in it
    finally:
        os.close(lock)  # also releases the lock just taken: deleting needs no lock
    return True


def _remove(entry: Path) -> bool:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
    return not entry.exists()
