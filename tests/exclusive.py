"""A machine-wide readers-writer lock between pytest-xdist's processes.

Every test holds the machine shared while it runs; a test marked ``exclusive`` (one that measures
how long real work takes, such as the queue-estimate check) holds it alone, so the others' encodes
do not make its measurements lie on two cores. A gate taken before the shared lock keeps a waiting
exclusive test from starving: once it holds the gate, no new test starts until it has run.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def machine_share(lock_dir: Path, *, exclusive: bool) -> Iterator[None]:
    gate, machine = lock_dir / "machine.gate", lock_dir / "machine.lock"
    if exclusive:
        with _flock(gate, fcntl.LOCK_EX), _flock(machine, fcntl.LOCK_EX):
            yield
        return
    with contextlib.ExitStack() as held:
        with _flock(gate, fcntl.LOCK_SH):
            held.enter_context(_flock(machine, fcntl.LOCK_SH))
        yield
